"""access: drop the tenant_id indexes that the scans' and presence's keys already cover

Every entry scan inserts into ``access_scans`` and ``access_presence``; a separate index
on ``tenant_id`` there is maintained on each insert and never chosen, because the unique
key ``(tenant_id, scanner_id, nonce)`` and the primary key ``(tenant_id, list_id,
credential_id)`` start with ``tenant_id`` (they also serve the tenant foreign key).

Revision ID: access_0003
Revises: access_0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "access_0003"
down_revision: str | Sequence[str] | None = "access_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("access_scans", "access_presence")


def upgrade() -> None:
    for table in TABLES:
        op.drop_index(op.f(f"ix_{table}_tenant_id"), table_name=table)


def downgrade() -> None:
    for table in TABLES:
        op.create_index(op.f(f"ix_{table}_tenant_id"), table, ["tenant_id"])
