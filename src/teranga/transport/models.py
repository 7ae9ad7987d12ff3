"""Transport tables: imported GTFS feeds, tenant-scoped (row-level security on PostgreSQL).

Stop times carry no surrogate id: a Dakar feed has ~300,000 of them and they are written in
bulk and always read per feed. Agencies and fares (small, read as a whole) live as JSON on
the feed row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from teranga.platform.clock import utcnow
from teranga.platform.db import Base, IdMixin, TenantScoped


def _feed_fk() -> sa.ForeignKey:
    return sa.ForeignKey("transport_feeds.id", ondelete="CASCADE")


class TransportFeed(IdMixin, TenantScoped, Base):
    __tablename__ = "transport_feeds"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "feed_id"),)

    feed_id: Mapped[str] = mapped_column(sa.String(64))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    overrides: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    report: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    agencies: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    fares: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TransportStop(IdMixin, TenantScoped, Base):
    __tablename__ = "transport_stops"
    __table_args__ = (sa.UniqueConstraint("feed_pk", "stop_id"),)

    feed_pk: Mapped[uuid.UUID] = mapped_column(sa.Uuid, _feed_fk())
    stop_id: Mapped[str] = mapped_column(sa.String(128))
    name: Mapped[str] = mapped_column(sa.String(300))
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    code: Mapped[str] = mapped_column(sa.String(64), default="")
    zone_id: Mapped[str] = mapped_column(sa.String(64), default="")
    location_type: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    parent_station: Mapped[str] = mapped_column(sa.String(128), default="")


class TransportRoute(IdMixin, TenantScoped, Base):
    __tablename__ = "transport_routes"
    __table_args__ = (sa.UniqueConstraint("feed_pk", "route_id"),)

    feed_pk: Mapped[uuid.UUID] = mapped_column(sa.Uuid, _feed_fk())
    route_id: Mapped[str] = mapped_column(sa.String(128))
    agency_id: Mapped[str] = mapped_column(sa.String(128), default="")
    short_name: Mapped[str] = mapped_column(sa.String(64), default="")
    long_name: Mapped[str] = mapped_column(sa.String(300), default="")
    route_type: Mapped[int] = mapped_column(sa.Integer)
    color: Mapped[str] = mapped_column(sa.String(8), default="")
    text_color: Mapped[str] = mapped_column(sa.String(8), default="")


class TransportTrip(IdMixin, TenantScoped, Base):
    __tablename__ = "transport_trips"
    __table_args__ = (sa.UniqueConstraint("feed_pk", "trip_id"),)

    feed_pk: Mapped[uuid.UUID] = mapped_column(sa.Uuid, _feed_fk())
    trip_id: Mapped[str] = mapped_column(sa.String(128))
    route_id: Mapped[str] = mapped_column(sa.String(128))
    service_id: Mapped[str] = mapped_column(sa.String(128))
    headsign: Mapped[str] = mapped_column(sa.String(300), default="")
    direction_id: Mapped[int | None] = mapped_column(sa.SmallInteger, nullable=True)
    shape_id: Mapped[str] = mapped_column(sa.String(128), default="")


class TransportStopTime(TenantScoped, Base):
    __tablename__ = "transport_stop_times"

    feed_pk: Mapped[uuid.UUID] = mapped_column(sa.Uuid, _feed_fk(), primary_key=True)
    trip_id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    stop_sequence: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    stop_id: Mapped[str] = mapped_column(sa.String(128))
    arrival: Mapped[int] = mapped_column(sa.Integer)  # seconds after service-day midnight
    departure: Mapped[int] = mapped_column(sa.Integer)
    pickup_type: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    drop_off_type: Mapped[int] = mapped_column(sa.SmallInteger, default=0)


class TransportCalendar(IdMixin, TenantScoped, Base):
    __tablename__ = "transport_calendars"
    __table_args__ = (sa.UniqueConstraint("feed_pk", "service_id"),)

    feed_pk: Mapped[uuid.UUID] = mapped_column(sa.Uuid, _feed_fk())
    service_id: Mapped[str] = mapped_column(sa.String(128))
    days: Mapped[str] = mapped_column(sa.String(7))  # "1111100": Monday first
    start_date: Mapped[dt.date] = mapped_column(sa.Date)
    end_date: Mapped[dt.date] = mapped_column(sa.Date)


class TransportCalendarDate(IdMixin, TenantScoped, Base):
    __tablename__ = "transport_calendar_dates"

    feed_pk: Mapped[uuid.UUID] = mapped_column(sa.Uuid, _feed_fk(), index=True)
    service_id: Mapped[str] = mapped_column(sa.String(128))
    date: Mapped[dt.date] = mapped_column(sa.Date)
    exception_type: Mapped[int] = mapped_column(sa.SmallInteger)


class TransportFrequency(IdMixin, TenantScoped, Base):
    __tablename__ = "transport_frequencies"

    feed_pk: Mapped[uuid.UUID] = mapped_column(sa.Uuid, _feed_fk(), index=True)
    trip_id: Mapped[str] = mapped_column(sa.String(128))
    start_time: Mapped[int] = mapped_column(sa.Integer)
    end_time: Mapped[int] = mapped_column(sa.Integer)
    headway_secs: Mapped[int] = mapped_column(sa.Integer)
    exact_times: Mapped[int] = mapped_column(sa.SmallInteger, default=0)


class TransportShapePoint(TenantScoped, Base):
    __tablename__ = "transport_shape_points"

    feed_pk: Mapped[uuid.UUID] = mapped_column(sa.Uuid, _feed_fk(), primary_key=True)
    shape_id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    sequence: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)


class TransportRealtime(IdMixin, TenantScoped, Base):
    """Latest GTFS-Realtime state per entity (delay, vehicle, alert) of one feed."""

    __tablename__ = "transport_realtime"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "feed_id", "kind", "entity_id"),)

    feed_id: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(16))
    entity_id: Mapped[str] = mapped_column(sa.String(200))
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
