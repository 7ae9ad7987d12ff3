"""programme: venues, sports and competition sessions

Revision ID: programme_0001
Revises: 0001_platform
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from teranga.platform.db import UTCDateTime
from teranga.platform.rls import disable_rls, enable_rls

revision: str = "programme_0001"
down_revision: str | Sequence[str] | None = "0001_platform"
branch_labels: str | Sequence[str] | None = ("programme",)
depends_on: str | Sequence[str] | None = None

TABLES = ("programme_sports", "programme_venues", "programme_sessions")


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
        sa.UniqueConstraint("tenant_id", "code", name=op.f(f"uq_{table}_tenant_id_code")),
    ]


def upgrade() -> None:
    op.create_table(
        "programme_sports",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("discipline", sa.String(length=40), nullable=False),
        sa.Column("name_fr", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("discipline_fr", sa.String(length=100), nullable=False),
        sa.Column("discipline_en", sa.String(length=100), nullable=False),
        sa.Column("venue_confidence", sa.String(length=10), nullable=False),
        *_tenant("programme_sports"),
    )
    op.create_table(
        "programme_venues",
        sa.Column("code", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("coords_confidence", sa.String(length=10), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("capacity_note", sa.String(length=300), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("sources", sa.String(length=200), nullable=False),
        *_tenant("programme_venues"),
    )
    op.create_table(
        "programme_sessions",
        sa.Column("code", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("venue_id", sa.Uuid(), nullable=False),
        sa.Column("sport_id", sa.Uuid(), nullable=True),
        sa.Column("title_fr", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("medal", sa.Boolean(), nullable=False),
        sa.Column("illustrative", sa.Boolean(), nullable=False),
        sa.Column("venue_confidence", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["sport_id"],
            ["programme_sports.id"],
            name=op.f("fk_programme_sessions_sport_id_programme_sports"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["venue_id"],
            ["programme_venues.id"],
            name=op.f("fk_programme_sessions_venue_id_programme_venues"),
            ondelete="RESTRICT",
        ),
        *_tenant("programme_sessions"),
    )
    for table in TABLES:
        op.create_index(op.f(f"ix_{table}_tenant_id"), table, ["tenant_id"], unique=False)
    for column in ("day", "sport_id", "venue_id"):
        op.create_index(
            op.f(f"ix_programme_sessions_{column}"), "programme_sessions", [column], unique=False
        )
    for table in TABLES:
        enable_rls(op, table)


def downgrade() -> None:
    for table in reversed(TABLES):
        disable_rls(op, table)
        op.drop_table(table)
