"""access: per-gate salt of the short-code digests in offline bundles

Revision ID: access_0002
Revises: access_0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "access_0002"
down_revision: str | Sequence[str] | None = "access_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: existing gates get their salt on their next bundle.
    with op.batch_alter_table("access_gates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code_salt", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("access_gates", schema=None) as batch_op:
        batch_op.drop_column("code_salt")
