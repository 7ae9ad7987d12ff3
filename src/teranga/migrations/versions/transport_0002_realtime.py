"""transport: latest GTFS-Realtime state per entity

Revision ID: transport_0002
Revises: transport_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from teranga.platform.db import UTCDateTime
from teranga.platform.rls import enable_rls

revision: str = "transport_0002"
down_revision: str | Sequence[str] | None = "transport_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transport_realtime",
        sa.Column("feed_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_transport_realtime_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transport_realtime")),
        sa.UniqueConstraint(
            "tenant_id",
            "feed_id",
            "kind",
            "entity_id",
            name=op.f("uq_transport_realtime_tenant_id_feed_id_kind_entity_id"),
        ),
    )
    with op.batch_alter_table("transport_realtime", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transport_realtime_tenant_id"), ["tenant_id"], unique=False
        )
    enable_rls(op, "transport_realtime")


def downgrade() -> None:
    with op.batch_alter_table("transport_realtime", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transport_realtime_tenant_id"))

    op.drop_table("transport_realtime")
