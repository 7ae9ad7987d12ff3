"""results: units, lines, versions, participants, ODF documents and import log

Revision ID: results_0001
Revises: 0001_platform
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from teranga.platform.db import UTCDateTime
from teranga.platform.rls import enable_rls

revision: str = "results_0001"
down_revision: str | Sequence[str] | None = "0001_platform"
branch_labels: str | Sequence[str] | None = ("results",)
depends_on: str | Sequence[str] | None = None

TABLES = (
    "results_units",
    "results_lines",
    "results_versions",
    "results_participants",
    "results_odf_documents",
    "results_odf_imports",
)


def _tenant(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def upgrade() -> None:
    op.create_table(
        "results_units",
        sa.Column("code", sa.String(length=34), nullable=False),
        sa.Column("sport", sa.String(length=40), nullable=False),
        sa.Column("event", sa.String(length=18), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_fr", sa.String(length=200), nullable=False),
        sa.Column("venue", sa.String(length=200), nullable=False),
        sa.Column("scheduled_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("medal", sa.Boolean(), nullable=False),
        sa.Column("result_status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("official", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        *_tenant("results_units"),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_results_units_tenant_id_code")),
    )
    op.create_index(op.f("ix_results_units_scheduled_at"), "results_units", ["scheduled_at"])
    op.create_index(op.f("ix_results_units_sport"), "results_units", ["sport"])
    op.create_index(op.f("ix_results_units_tenant_id"), "results_units", ["tenant_id"])

    op.create_table(
        "results_lines",
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("participant", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("noc", sa.String(length=3), nullable=False),
        sa.Column("start_order", sa.Integer(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("mark", sa.String(length=40), nullable=False),
        sa.Column("irm", sa.String(length=5), nullable=False),
        *_tenant("results_lines"),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["results_units.id"],
            name=op.f("fk_results_lines_unit_id_results_units"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "unit_id", "participant", name=op.f("uq_results_lines_unit_id_participant")
        ),
    )
    op.create_index(op.f("ix_results_lines_noc"), "results_lines", ["noc"])
    op.create_index(op.f("ix_results_lines_tenant_id"), "results_lines", ["tenant_id"])
    op.create_index(op.f("ix_results_lines_unit_id"), "results_lines", ["unit_id"])

    op.create_table(
        "results_versions",
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("result_status", sa.String(length=20), nullable=False),
        sa.Column("official", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        *_tenant("results_versions"),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["results_units.id"],
            name=op.f("fk_results_versions_unit_id_results_units"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("unit_id", "version", name=op.f("uq_results_versions_unit_id_version")),
    )
    op.create_index(op.f("ix_results_versions_tenant_id"), "results_versions", ["tenant_id"])
    op.create_index(op.f("ix_results_versions_unit_id"), "results_versions", ["unit_id"])

    op.create_table(
        "results_participants",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("noc", sa.String(length=3), nullable=False),
        *_tenant("results_participants"),
        sa.UniqueConstraint(
            "tenant_id", "code", name=op.f("uq_results_participants_tenant_id_code")
        ),
    )
    op.create_index(
        op.f("ix_results_participants_tenant_id"), "results_participants", ["tenant_id"]
    )

    op.create_table(
        "results_odf_documents",
        sa.Column("competition", sa.String(length=20), nullable=False),
        sa.Column("document_code", sa.String(length=34), nullable=False),
        sa.Column("document_type", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        *_tenant("results_odf_documents"),
        sa.UniqueConstraint(
            "tenant_id",
            "competition",
            "document_code",
            "document_type",
            name="uq_results_odf_documents_key",
        ),
    )
    op.create_index(
        op.f("ix_results_odf_documents_tenant_id"), "results_odf_documents", ["tenant_id"]
    )

    op.create_table(
        "results_odf_imports",
        sa.Column("competition", sa.String(length=20), nullable=False),
        sa.Column("document_code", sa.String(length=34), nullable=False),
        sa.Column("document_type", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        *_tenant("results_odf_imports"),
    )
    op.create_index(
        op.f("ix_results_odf_imports_received_at"), "results_odf_imports", ["received_at"]
    )
    op.create_index(op.f("ix_results_odf_imports_tenant_id"), "results_odf_imports", ["tenant_id"])

    for table in TABLES:
        enable_rls(op, table)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
