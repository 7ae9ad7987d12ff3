"""access: gates, check-in lists, presence, scans, conflicts, badges

Revision ID: access_0001
Revises: 0001_platform
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from teranga.platform.db import UTCDateTime
from teranga.platform.rls import enable_rls

revision: str = "access_0001"
down_revision: str | Sequence[str] | None = "0001_platform"
branch_labels: str | Sequence[str] | None = ("access",)
depends_on: str | Sequence[str] | None = None

TABLES = (
    "access_gates",
    "access_lists",
    "access_presence",
    "access_scans",
    "access_conflicts",
    "access_badge_keys",
    "access_accreditations",
)


def _tenant() -> sa.Column[Any]:
    return sa.Column(
        "tenant_id",
        sa.Uuid(),
        sa.ForeignKey("tenants.id", ondelete="RESTRICT", name=None),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "access_gates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("cluster", sa.String(100), nullable=False),
        sa.Column("list_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _tenant(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_gates")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_access_gates_tenant_id_name")),
    )
    op.create_table(
        "access_lists",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("session_ids", sa.JSON(), nullable=False),
        sa.Column("zone_nos", sa.JSON(), nullable=False),
        sa.Column("category_nos", sa.JSON(), nullable=False),
        sa.Column("badge_zones", sa.JSON(), nullable=False),
        sa.Column("accreditation_roles", sa.JSON(), nullable=False),
        sa.Column("opens_at", UTCDateTime(), nullable=True),
        sa.Column("closes_at", UTCDateTime(), nullable=True),
        sa.Column("allow_reentry", sa.Boolean(), nullable=False),
        sa.Column("exit_scans", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _tenant(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_lists")),
    )
    op.create_table(
        "access_presence",
        sa.Column("list_id", sa.Uuid(), nullable=False),
        sa.Column("credential_id", sa.Uuid(), nullable=False),
        sa.Column("inside", sa.Boolean(), nullable=False),
        sa.Column("gate", sa.String(100), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        _tenant(),
        sa.PrimaryKeyConstraint(
            "tenant_id", "list_id", "credential_id", name=op.f("pk_access_presence")
        ),
    )
    op.create_table(
        "access_scans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scanner_id", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("credential_id", sa.Uuid(), nullable=True),
        sa.Column("list_id", sa.Uuid(), nullable=True),
        sa.Column("gate", sa.String(100), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("override_reason", sa.String(300), nullable=True),
        _tenant(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_scans")),
        sa.UniqueConstraint(
            "tenant_id",
            "scanner_id",
            "nonce",
            name=op.f("uq_access_scans_tenant_id_scanner_id_nonce"),
        ),
    )
    op.create_index(op.f("ix_access_scans_credential_id"), "access_scans", ["credential_id"])
    op.create_table(
        "access_conflicts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("credential_id", sa.Uuid(), nullable=False),
        sa.Column("list_id", sa.Uuid(), nullable=False),
        sa.Column("first_scan_id", sa.Uuid(), nullable=True),
        sa.Column("second_scan_id", sa.Uuid(), nullable=False),
        sa.Column("first_gate", sa.String(100), nullable=False),
        sa.Column("second_gate", sa.String(100), nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("second_at", UTCDateTime(), nullable=False),
        sa.Column("detected_at", UTCDateTime(), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        _tenant(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_conflicts")),
        sa.UniqueConstraint(
            "tenant_id", "second_scan_id", name=op.f("uq_access_conflicts_tenant_id_second_scan_id")
        ),
    )
    op.create_index(
        op.f("ix_access_conflicts_credential_id"), "access_conflicts", ["credential_id"]
    )
    op.create_table(
        "access_badge_keys",
        sa.Column("key_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("private_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _tenant(),
        sa.PrimaryKeyConstraint("tenant_id", "key_id", name=op.f("pk_access_badge_keys")),
    )
    op.create_table(
        "access_accreditations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("zones", sa.JSON(), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=False),
        sa.Column("photo_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("photo_type", sa.String(40), nullable=True),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _tenant(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_accreditations")),
    )
    op.create_index(
        op.f("ix_access_accreditations_revoked_at"), "access_accreditations", ["revoked_at"]
    )
    for table in TABLES:
        op.create_index(op.f(f"ix_{table}_tenant_id"), table, ["tenant_id"])
        enable_rls(op, table)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
