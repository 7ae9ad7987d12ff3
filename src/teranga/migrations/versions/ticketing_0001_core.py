"""ticketing: events, sessions, zones, seats, categories, quotas, holds, orders, tickets

Revision ID: ticketing_0001
Revises: 0001_platform
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from teranga.platform.db import UTCDateTime
from teranga.platform.rls import disable_rls, enable_rls

revision: str = "ticketing_0001"
down_revision: str | Sequence[str] | None = "0001_platform"
branch_labels: str | Sequence[str] | None = ("ticketing",)
depends_on: str | Sequence[str] | None = None

TABLES = [
    "ticketing_events",
    "ticketing_idempotency_keys",
    "ticketing_sessions",
    "ticketing_signing_keys",
    "ticketing_channel_quotas",
    "ticketing_holds",
    "ticketing_zones",
    "ticketing_categories",
    "ticketing_orders",
    "ticketing_seats",
    "ticketing_order_lines",
    "ticketing_tickets",
]


def upgrade() -> None:
    op.create_table(
        "ticketing_events",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("programme_event_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ticketing_events_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticketing_events")),
    )
    with op.batch_alter_table("ticketing_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticketing_events_tenant_id"), ["tenant_id"], unique=False
        )
    enable_rls(op, "ticketing_events")

    op.create_table(
        "ticketing_idempotency_keys",
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ticketing_idempotency_keys_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticketing_idempotency_keys")),
        sa.UniqueConstraint(
            "tenant_id",
            "scope",
            "key",
            name=op.f("uq_ticketing_idempotency_keys_tenant_id_scope_key"),
        ),
    )
    with op.batch_alter_table("ticketing_idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticketing_idempotency_keys_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ticketing_idempotency_keys_tenant_id"), ["tenant_id"], unique=False
        )
    enable_rls(op, "ticketing_idempotency_keys")

    op.create_table(
        "ticketing_sessions",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("programme_session_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("venue_id", sa.String(length=100), nullable=True),
        sa.Column("venue_name", sa.String(length=200), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("sale_starts_at", UTCDateTime(), nullable=False),
        sa.Column("sale_ends_at", UTCDateTime(), nullable=False),
        sa.Column("hold_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.Column("per_order_limit", sa.Integer(), nullable=False),
        sa.Column("per_person_limit", sa.Integer(), nullable=True),
        sa.Column("require_id_number", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("illustrative", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("per_order_limit >= 1", name=op.f("ck_ticketing_sessions_per_order")),
        sa.CheckConstraint(
            "taken >= 0 AND (capacity IS NULL OR taken <= capacity)",
            name=op.f("ck_ticketing_sessions_taken"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["ticketing_events.id"],
            name=op.f("fk_ticketing_sessions_event_id_ticketing_events"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ticketing_sessions_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticketing_sessions")),
    )
    with op.batch_alter_table("ticketing_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticketing_sessions_event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ticketing_sessions_tenant_id"), ["tenant_id"], unique=False
        )
    enable_rls(op, "ticketing_sessions")

    op.create_table(
        "ticketing_signing_keys",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.BigInteger(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("private_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["ticketing_events.id"],
            name=op.f("fk_ticketing_signing_keys_event_id_ticketing_events"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ticketing_signing_keys_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticketing_signing_keys")),
        sa.UniqueConstraint(
            "tenant_id", "key_id", name=op.f("uq_ticketing_signing_keys_tenant_id_key_id")
        ),
    )
    with op.batch_alter_table("ticketing_signing_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticketing_signing_keys_event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ticketing_signing_keys_tenant_id"), ["tenant_id"], unique=False
        )
    enable_rls(op, "ticketing_signing_keys")

    op.create_table(
        "ticketing_channel_quotas",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "taken >= 0 AND taken <= quota", name=op.f("ck_ticketing_channel_quotas_taken")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["ticketing_sessions.id"],
            name=op.f("fk_ticketing_channel_quotas_session_id_ticketing_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ticketing_channel_quotas_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticketing_channel_quotas")),
        sa.UniqueConstraint(
            "session_id", "channel", name=op.f("uq_ticketing_channel_quotas_session_id_channel")
        ),
    )
    with op.batch_alter_table("ticketing_channel_quotas", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticketing_channel_quotas_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ticketing_channel_quotas_tenant_id"), ["tenant_id"], unique=False
        )
    enable_rls(op, "ticketing_channel_quotas")

    op.create_table(
        "ticketing_holds",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["ticketing_sessions.id"],
            name=op.f("fk_ticketing_holds_session_id_ticketing_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ticketing_holds_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticketing_holds")),
    )
    with op.batch_alter_table("ticketing_holds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ticketing_holds_sweep", ["session_id", "status", "expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ticketing_holds_tenant_id"), ["tenant_id"], unique=False
        )
    enable_rls(op, "ticketing_holds")

    op.create_table(
        "ticketing_zones",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("seated", sa.Boolean(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "taken >= 0 AND taken <= capacity", name=op.f("ck_ticketing_zones_taken")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["ticketing_sessions.id"],
            name=op.f("fk_ticketing_zones_session_id_ticketing_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ticketing_zones_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticketing_zones")),
        sa.UniqueConstraint(
            "session_id", "number", name=op.f("uq_ticketing_zones_session_id_number")
        ),
    )
    with op.batch_alter_table("ticketing_zones", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticketing_zones_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ticketing_zones_tenant_id"), ["tenant_id"], unique=False
        )
    enable_rls(op, "ticketing_zones")

    op.create_table(
        "ticketing_categories",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("zone_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("price_xof", sa.Integer(), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=True),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("price_xof >= 0", name=op.f("ck_ticketing_categories_price")),
        sa.CheckConstraint(
            "taken >= 0 AND (quota IS NULL OR taken <= quota)",
            name=op.f("ck_ticketing_categories_taken"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["ticketing_sessions.id"],
            name=op.f("fk_ticketing_categories_session_id_ticketing_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ticketing_categories_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["ticketing_zones.id"],
            name=op.f("fk_ticketing_categories_zone_id_ticketing_zones"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticketing_categories")),
        sa.UniqueConstraint(
            "session_id", "number", name=op.f("uq_ticketing_categories_session_id_number")
        ),
    )
    with op.batch_alter_table("ticketing_categories", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticketing_categories_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ticketing_categories_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ticketing_categories_zone_id"), ["zone_id"], unique=False
        )
    enable_rls(op, "ticketing_categories")

    op.create_table(
        "ticketing_orders",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=12), nullable=False),
        sa.Column("access_hash", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("total_xof", sa.Integer(), nullable=False),
        sa.Column("refunded_xof", sa.Integer(), nullable=False),
        sa.Column("phone_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("phone_index", sa.String(length=128), nullable=True),
        sa.Column("id_number_index", sa.String(length=128), nullable=True),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("payment_provider", sa.String(length=40), nullable=True),
        sa.Column("payment_status", sa.String(length=20), nullable=False),
        sa.Column("refund_reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("paid_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "total_xof >= 0 AND refunded_xof >= 0", name=op.f("ck_ticketing_orders_money")
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["ticketing_holds.id"],
            name=op.f("fk_ticketing_orders_hold_id_ticketing_holds"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["ticketing_sessions.id"],
            name=op.f("fk_ticketing_orders_session_id_ticketing_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ticketing_orders_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticketing_orders")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_ticketing_orders_hold_id")),
        sa.UniqueConstraint(
            "tenant_id", "reference", name=op.f("uq_ticketing_orders_tenant_id_reference")
        ),
    )
    with op.batch_alter_table("ticketing_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ticketing_orders_person", ["session_id", "phone_index"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ticketing_orders_tenant_id"), ["tenant_id"], unique=False
        )
    enable_rls(op, "ticketing_orders")

    op.create_table(
        "ticketing_seats",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("zone_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=40), nullable=False),
        sa.Column("row", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=False),
        sa.Column("accessible", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["ticketing_sessions.id"],
            name=op.f("fk_ticketing_seats_session_id_ticketing_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ticketing_seats_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["ticketing_zones.id"],
            name=op.f("fk_ticketing_seats_zone_id_ticketing_zones"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticketing_seats")),
        sa.UniqueConstraint(
            "session_id", "number", name=op.f("uq_ticketing_seats_session_id_number")
        ),
        sa.UniqueConstraint(
            "zone_id",
            "section",
            "row",
            "label",
            name=op.f("uq_ticketing_seats_zone_id_section_row_label"),
        ),
    )
    with op.batch_alter_table("ticketing_seats", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticketing_seats_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ticketing_seats_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ticketing_seats_zone_id"), ["zone_id"], unique=False)
    enable_rls(op, "ticketing_seats")

    op.create_table(
        "ticketing_order_lines",
        sa.Column("hold_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("zone_id", sa.Uuid(), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=False),
        sa.Column("seat_id", sa.Uuid(), nullable=True),
        sa.Column("price_xof", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("price_xof >= 0", name=op.f("ck_ticketing_order_lines_price")),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["ticketing_categories.id"],
            name=op.f("fk_ticketing_order_lines_category_id_ticketing_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["ticketing_holds.id"],
            name=op.f("fk_ticketing_order_lines_hold_id_ticketing_holds"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["ticketing_orders.id"],
            name=op.f("fk_ticketing_order_lines_order_id_ticketing_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["seat_id"],
            ["ticketing_seats.id"],
            name=op.f("fk_ticketing_order_lines_seat_id_ticketing_seats"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["ticketing_sessions.id"],
            name=op.f("fk_ticketing_order_lines_session_id_ticketing_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ticketing_order_lines_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["ticketing_zones.id"],
            name=op.f("fk_ticketing_order_lines_zone_id_ticketing_zones"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticketing_order_lines")),
    )
    with op.batch_alter_table("ticketing_order_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticketing_order_lines_hold_id"), ["hold_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ticketing_order_lines_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ticketing_order_lines_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            "uq_ticketing_order_lines_live_seat",
            ["session_id", "seat_id"],
            unique=True,
            postgresql_where=sa.text("status IN ('held', 'sold') AND seat_id IS NOT NULL"),
            sqlite_where=sa.text("status IN ('held', 'sold') AND seat_id IS NOT NULL"),
        )
    enable_rls(op, "ticketing_order_lines")

    op.create_table(
        "ticketing_tickets",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("line_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("seat_id", sa.Uuid(), nullable=True),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("key_id", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("holder_phone_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("holder_phone_index", sa.String(length=128), nullable=True),
        sa.Column("replaces_id", sa.Uuid(), nullable=True),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["ticketing_order_lines.id"],
            name=op.f("fk_ticketing_tickets_line_id_ticketing_order_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["ticketing_orders.id"],
            name=op.f("fk_ticketing_tickets_order_id_ticketing_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["seat_id"],
            ["ticketing_seats.id"],
            name=op.f("fk_ticketing_tickets_seat_id_ticketing_seats"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["ticketing_sessions.id"],
            name=op.f("fk_ticketing_tickets_session_id_ticketing_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ticketing_tickets_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticketing_tickets")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_ticketing_tickets_tenant_id_code")),
    )
    with op.batch_alter_table("ticketing_tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ticketing_tickets_holder", ["tenant_id", "holder_phone_index"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ticketing_tickets_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(
            "ix_ticketing_tickets_revoked", ["tenant_id", "revoked_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ticketing_tickets_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            "uq_ticketing_tickets_valid_line",
            ["line_id"],
            unique=True,
            postgresql_where=sa.text("status = 'valid'"),
            sqlite_where=sa.text("status = 'valid'"),
        )
        batch_op.create_index(
            "uq_ticketing_tickets_valid_seat",
            ["session_id", "seat_id"],
            unique=True,
            postgresql_where=sa.text("status = 'valid' AND seat_id IS NOT NULL"),
            sqlite_where=sa.text("status = 'valid' AND seat_id IS NOT NULL"),
        )
    enable_rls(op, "ticketing_tickets")


def downgrade() -> None:
    for table in reversed(TABLES):
        disable_rls(op, table)
        op.drop_table(table)
