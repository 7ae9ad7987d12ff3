"""payments: payment attempts, provider event inbox, refunds, ledger

Revision ID: payments_0001
Revises: 0001_platform
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from teranga.platform.db import UTCDateTime
from teranga.platform.rls import enable_rls

revision: str = "payments_0001"
down_revision: str | Sequence[str] | None = "0001_platform"
branch_labels: str | Sequence[str] | None = ("payments",)
depends_on: str | Sequence[str] | None = None


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="RESTRICT",
    )


def _payment_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["payment_id"],
        ["payments.id"],
        name=op.f(f"fk_{table}_payment_id_payments"),
        ondelete="RESTRICT",
    )


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("amount_xof", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("client_reference", sa.String(length=80), nullable=False),
        sa.Column("provider_ref", sa.String(length=200), nullable=True),
        sa.Column("callback_token_hash", sa.String(length=64), nullable=True),
        sa.Column("action_kind", sa.String(length=16), nullable=True),
        sa.Column("redirect_url", sa.String(length=2000), nullable=True),
        sa.Column("instructions", sa.String(length=1000), nullable=True),
        sa.Column("qr_payload", sa.String(length=2000), nullable=True),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.Column("review_reason", sa.String(length=64), nullable=True),
        sa.Column("refunded_xof", sa.BigInteger(), nullable=False),
        sa.Column("fulfilment", sa.String(length=32), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("settled_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("amount_xof > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint(
            "refunded_xof >= 0 AND refunded_xof <= amount_xof", name=op.f("ck_payments_refunded")
        ),
        _tenant_fk("payments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("client_reference", name=op.f("uq_payments_client_reference")),
        sa.UniqueConstraint(
            "provider", "provider_ref", name=op.f("uq_payments_provider_provider_ref")
        ),
        sa.UniqueConstraint(
            "tenant_id", "idempotency_key", name=op.f("uq_payments_tenant_id_idempotency_key")
        ),
    )
    op.create_index(op.f("ix_payments_tenant_id"), "payments", ["tenant_id"])
    op.create_index(op.f("ix_payments_order_id"), "payments", ["order_id"])
    op.create_index(op.f("ix_payments_callback_token_hash"), "payments", ["callback_token_hash"])
    op.create_index(
        "ix_payments_tenant_status_created", "payments", ["tenant_id", "status", "created_at"]
    )
    enable_rls(op, "payments")

    op.create_table(
        "payment_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status_hint", sa.String(length=24), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        _payment_fk("payment_events"),
        _tenant_fk("payment_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_events")),
        sa.UniqueConstraint(
            "tenant_id",
            "provider",
            "dedupe_key",
            name=op.f("uq_payment_events_tenant_id_provider_dedupe_key"),
        ),
    )
    op.create_index(op.f("ix_payment_events_tenant_id"), "payment_events", ["tenant_id"])
    op.create_index(op.f("ix_payment_events_payment_id"), "payment_events", ["payment_id"])
    enable_rls(op, "payment_events")

    op.create_table(
        "payment_refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("amount_xof", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("provider_refund_ref", sa.String(length=200), nullable=True),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.Column("notify_buyer", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("amount_xof > 0", name=op.f("ck_payment_refunds_amount_positive")),
        _payment_fk("payment_refunds"),
        _tenant_fk("payment_refunds"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_refunds")),
        sa.UniqueConstraint(
            "tenant_id",
            "idempotency_key",
            name=op.f("uq_payment_refunds_tenant_id_idempotency_key"),
        ),
    )
    op.create_index(op.f("ix_payment_refunds_tenant_id"), "payment_refunds", ["tenant_id"])
    op.create_index(op.f("ix_payment_refunds_payment_id"), "payment_refunds", ["payment_id"])
    enable_rls(op, "payment_refunds")

    op.create_table(
        "payment_ledger",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("entry_key", sa.String(length=64), nullable=False),
        sa.Column("amount_xof", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _payment_fk("payment_ledger"),
        _tenant_fk("payment_ledger"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_ledger")),
        sa.UniqueConstraint(
            "payment_id", "entry_key", name=op.f("uq_payment_ledger_payment_id_entry_key")
        ),
    )
    op.create_index(op.f("ix_payment_ledger_tenant_id"), "payment_ledger", ["tenant_id"])
    op.create_index(op.f("ix_payment_ledger_payment_id"), "payment_ledger", ["payment_id"])
    enable_rls(op, "payment_ledger")


def downgrade() -> None:
    for table in ("payment_ledger", "payment_refunds", "payment_events"):
        op.drop_table(table)
    op.drop_table("payments")
