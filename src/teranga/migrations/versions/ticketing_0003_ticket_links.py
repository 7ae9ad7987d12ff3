"""ticketing: per-ticket access secret for transfer recipients, SMS to send after commit

Revision ID: ticketing_0003
Revises: ticketing_0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from teranga.platform.db import UTCDateTime
from teranga.platform.rls import disable_rls, enable_rls

revision: str = "ticketing_0003"
down_revision: str | Sequence[str] | None = "ticketing_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticketing_tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("access_hash", sa.String(length=64), nullable=True))
        batch_op.create_index("uq_ticketing_tickets_access_hash", ["access_hash"], unique=True)

    t = "ticketing_sms"
    op.create_table(
        t,
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticketing_tickets.id"],
            name=op.f(f"fk_{t}_ticket_id_ticketing_tickets"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{t}_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
    )
    with op.batch_alter_table(t, schema=None) as batch_op:
        batch_op.create_index("ix_ticketing_sms_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f(f"ix_{t}_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(batch_op.f(f"ix_{t}_ticket_id"), ["ticket_id"], unique=False)
    enable_rls(op, t)


def downgrade() -> None:
    disable_rls(op, "ticketing_sms")
    op.drop_table("ticketing_sms")
    with op.batch_alter_table("ticketing_tickets", schema=None) as batch_op:
        batch_op.drop_index("uq_ticketing_tickets_access_hash")
        batch_op.drop_column("access_hash")
