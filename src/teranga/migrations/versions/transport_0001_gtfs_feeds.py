"""transport: imported GTFS feeds (stops, routes, trips, stop times, calendars, shapes)

Revision ID: transport_0001
Revises: 0001_platform
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from teranga.platform.db import UTCDateTime
from teranga.platform.rls import enable_rls

revision: str = "transport_0001"
down_revision: str | Sequence[str] | None = "0001_platform"
branch_labels: str | Sequence[str] | None = ("transport",)
depends_on: str | Sequence[str] | None = None

TABLES = (
    "transport_feeds",
    "transport_stops",
    "transport_routes",
    "transport_trips",
    "transport_stop_times",
    "transport_calendars",
    "transport_calendar_dates",
    "transport_frequencies",
    "transport_shape_points",
)


def upgrade() -> None:
    op.create_table(
        "transport_feeds",
        sa.Column("feed_id", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("agencies", sa.JSON(), nullable=False),
        sa.Column("fares", sa.JSON(), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_transport_feeds_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transport_feeds")),
        sa.UniqueConstraint(
            "tenant_id", "feed_id", name=op.f("uq_transport_feeds_tenant_id_feed_id")
        ),
    )
    with op.batch_alter_table("transport_feeds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transport_feeds_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "transport_calendar_dates",
        sa.Column("feed_pk", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.String(length=128), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("exception_type", sa.SmallInteger(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_pk"],
            ["transport_feeds.id"],
            name=op.f("fk_transport_calendar_dates_feed_pk_transport_feeds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_transport_calendar_dates_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transport_calendar_dates")),
    )
    with op.batch_alter_table("transport_calendar_dates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transport_calendar_dates_feed_pk"), ["feed_pk"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transport_calendar_dates_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "transport_calendars",
        sa.Column("feed_pk", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.String(length=128), nullable=False),
        sa.Column("days", sa.String(length=7), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_pk"],
            ["transport_feeds.id"],
            name=op.f("fk_transport_calendars_feed_pk_transport_feeds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_transport_calendars_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transport_calendars")),
        sa.UniqueConstraint(
            "feed_pk", "service_id", name=op.f("uq_transport_calendars_feed_pk_service_id")
        ),
    )
    with op.batch_alter_table("transport_calendars", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transport_calendars_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "transport_frequencies",
        sa.Column("feed_pk", sa.Uuid(), nullable=False),
        sa.Column("trip_id", sa.String(length=128), nullable=False),
        sa.Column("start_time", sa.Integer(), nullable=False),
        sa.Column("end_time", sa.Integer(), nullable=False),
        sa.Column("headway_secs", sa.Integer(), nullable=False),
        sa.Column("exact_times", sa.SmallInteger(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_pk"],
            ["transport_feeds.id"],
            name=op.f("fk_transport_frequencies_feed_pk_transport_feeds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_transport_frequencies_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transport_frequencies")),
    )
    with op.batch_alter_table("transport_frequencies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transport_frequencies_feed_pk"), ["feed_pk"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transport_frequencies_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "transport_routes",
        sa.Column("feed_pk", sa.Uuid(), nullable=False),
        sa.Column("route_id", sa.String(length=128), nullable=False),
        sa.Column("agency_id", sa.String(length=128), nullable=False),
        sa.Column("short_name", sa.String(length=64), nullable=False),
        sa.Column("long_name", sa.String(length=300), nullable=False),
        sa.Column("route_type", sa.Integer(), nullable=False),
        sa.Column("color", sa.String(length=8), nullable=False),
        sa.Column("text_color", sa.String(length=8), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_pk"],
            ["transport_feeds.id"],
            name=op.f("fk_transport_routes_feed_pk_transport_feeds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_transport_routes_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transport_routes")),
        sa.UniqueConstraint(
            "feed_pk", "route_id", name=op.f("uq_transport_routes_feed_pk_route_id")
        ),
    )
    with op.batch_alter_table("transport_routes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transport_routes_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "transport_shape_points",
        sa.Column("feed_pk", sa.Uuid(), nullable=False),
        sa.Column("shape_id", sa.String(length=128), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_pk"],
            ["transport_feeds.id"],
            name=op.f("fk_transport_shape_points_feed_pk_transport_feeds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_transport_shape_points_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "feed_pk", "shape_id", "sequence", name=op.f("pk_transport_shape_points")
        ),
    )
    with op.batch_alter_table("transport_shape_points", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transport_shape_points_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "transport_stop_times",
        sa.Column("feed_pk", sa.Uuid(), nullable=False),
        sa.Column("trip_id", sa.String(length=128), nullable=False),
        sa.Column("stop_sequence", sa.Integer(), nullable=False),
        sa.Column("stop_id", sa.String(length=128), nullable=False),
        sa.Column("arrival", sa.Integer(), nullable=False),
        sa.Column("departure", sa.Integer(), nullable=False),
        sa.Column("pickup_type", sa.SmallInteger(), nullable=False),
        sa.Column("drop_off_type", sa.SmallInteger(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_pk"],
            ["transport_feeds.id"],
            name=op.f("fk_transport_stop_times_feed_pk_transport_feeds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_transport_stop_times_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "feed_pk", "trip_id", "stop_sequence", name=op.f("pk_transport_stop_times")
        ),
    )
    with op.batch_alter_table("transport_stop_times", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transport_stop_times_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "transport_stops",
        sa.Column("feed_pk", sa.Uuid(), nullable=False),
        sa.Column("stop_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=False),
        sa.Column("location_type", sa.SmallInteger(), nullable=False),
        sa.Column("parent_station", sa.String(length=128), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_pk"],
            ["transport_feeds.id"],
            name=op.f("fk_transport_stops_feed_pk_transport_feeds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_transport_stops_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transport_stops")),
        sa.UniqueConstraint("feed_pk", "stop_id", name=op.f("uq_transport_stops_feed_pk_stop_id")),
    )
    with op.batch_alter_table("transport_stops", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transport_stops_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "transport_trips",
        sa.Column("feed_pk", sa.Uuid(), nullable=False),
        sa.Column("trip_id", sa.String(length=128), nullable=False),
        sa.Column("route_id", sa.String(length=128), nullable=False),
        sa.Column("service_id", sa.String(length=128), nullable=False),
        sa.Column("headsign", sa.String(length=300), nullable=False),
        sa.Column("direction_id", sa.SmallInteger(), nullable=True),
        sa.Column("shape_id", sa.String(length=128), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_pk"],
            ["transport_feeds.id"],
            name=op.f("fk_transport_trips_feed_pk_transport_feeds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_transport_trips_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transport_trips")),
        sa.UniqueConstraint("feed_pk", "trip_id", name=op.f("uq_transport_trips_feed_pk_trip_id")),
    )
    with op.batch_alter_table("transport_trips", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transport_trips_tenant_id"), ["tenant_id"], unique=False
        )
    for table in TABLES:
        enable_rls(op, table)


def downgrade() -> None:
    with op.batch_alter_table("transport_trips", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transport_trips_tenant_id"))

    op.drop_table("transport_trips")
    with op.batch_alter_table("transport_stops", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transport_stops_tenant_id"))

    op.drop_table("transport_stops")
    with op.batch_alter_table("transport_stop_times", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transport_stop_times_tenant_id"))

    op.drop_table("transport_stop_times")
    with op.batch_alter_table("transport_shape_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transport_shape_points_tenant_id"))

    op.drop_table("transport_shape_points")
    with op.batch_alter_table("transport_routes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transport_routes_tenant_id"))

    op.drop_table("transport_routes")
    with op.batch_alter_table("transport_frequencies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transport_frequencies_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_transport_frequencies_feed_pk"))

    op.drop_table("transport_frequencies")
    with op.batch_alter_table("transport_calendars", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transport_calendars_tenant_id"))

    op.drop_table("transport_calendars")
    with op.batch_alter_table("transport_calendar_dates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transport_calendar_dates_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_transport_calendar_dates_feed_pk"))

    op.drop_table("transport_calendar_dates")
    with op.batch_alter_table("transport_feeds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transport_feeds_tenant_id"))

    op.drop_table("transport_feeds")
