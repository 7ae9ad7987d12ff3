"""privacy: wrapped per-tenant data keys

Revision ID: privacy_0001
Revises: 0001_platform
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from teranga.platform.db import UTCDateTime
from teranga.platform.rls import enable_rls

revision: str = "privacy_0001"
down_revision: str | Sequence[str] | None = "0001_platform"
branch_labels: str | Sequence[str] | None = ("privacy",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant_data_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kek_id", sa.String(length=100), nullable=False),
        sa.Column("wrapped_dek", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("rewrapped_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_data_keys_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_data_keys")),
        sa.UniqueConstraint(
            "tenant_id", "version", name=op.f("uq_tenant_data_keys_tenant_id_version")
        ),
    )
    op.create_index(
        op.f("ix_tenant_data_keys_tenant_id"), "tenant_data_keys", ["tenant_id"], unique=False
    )
    enable_rls(op, "tenant_data_keys")


def downgrade() -> None:
    op.drop_index(op.f("ix_tenant_data_keys_tenant_id"), table_name="tenant_data_keys")
    op.drop_table("tenant_data_keys")
