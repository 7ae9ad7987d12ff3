"""ticketing: waiting rooms and queue entries (rush admission)

Revision ID: ticketing_0002
Revises: ticketing_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from teranga.platform.db import UTCDateTime
from teranga.platform.rls import disable_rls, enable_rls

revision: str = "ticketing_0002"
down_revision: str | Sequence[str] | None = "ticketing_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ["ticketing_waiting_rooms", "ticketing_queue_entries"]


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="RESTRICT",
    )


def _session_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["session_id"],
        ["ticketing_sessions.id"],
        name=op.f(f"fk_{table}_session_id_ticketing_sessions"),
    )


def upgrade() -> None:
    t = "ticketing_waiting_rooms"
    op.create_table(
        t,
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("opens_at", UTCDateTime(), nullable=False),
        sa.Column("admission_minutes", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("secret", sa.LargeBinary(length=32), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("rate_per_minute >= 1", name=op.f(f"ck_{t}_rate")),
        sa.CheckConstraint("admission_minutes >= 1", name=op.f(f"ck_{t}_admission")),
        sa.CheckConstraint("last_seq >= 0", name=op.f(f"ck_{t}_last_seq")),
        _session_fk(t),
        _tenant_fk(t),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("session_id", name=op.f(f"uq_{t}_session_id")),
    )
    with op.batch_alter_table(t, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{t}_tenant_id"), ["tenant_id"], unique=False)
    enable_rls(op, t)

    t = "ticketing_queue_entries"
    op.create_table(
        t,
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("joined_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        _session_fk(t),
        _tenant_fk(t),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("entry_hash", name=op.f(f"uq_{t}_entry_hash")),
        sa.UniqueConstraint("session_id", "seq", name=op.f(f"uq_{t}_session_id_seq")),
    )
    with op.batch_alter_table(t, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{t}_tenant_id"), ["tenant_id"], unique=False)
    enable_rls(op, t)


def downgrade() -> None:
    for table in reversed(TABLES):
        disable_rls(op, table)
        op.drop_table(table)
