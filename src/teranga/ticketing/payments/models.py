"""Payments tables: one row per payment attempt, the provider event inbox, refunds, ledger.

All are tenant-scoped (row-level security on PostgreSQL). Orders belong to ticketing and
are referenced by id only. Callback secrets are stored hashed; phone numbers are not
stored here at all (they go to the provider and nowhere else).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from teranga.platform.clock import utcnow
from teranga.platform.db import Base, IdMixin, TenantScoped


class Payment(IdMixin, TenantScoped, Base):
    __tablename__ = "payments"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "idempotency_key"),
        sa.UniqueConstraint("client_reference"),
        sa.UniqueConstraint("provider", "provider_ref"),
        sa.Index("ix_payments_tenant_status_created", "tenant_id", "status", "created_at"),
        sa.CheckConstraint("amount_xof > 0", name="amount_positive"),
        sa.CheckConstraint("refunded_xof >= 0 AND refunded_xof <= amount_xof", name="refunded"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    provider: Mapped[str] = mapped_column(sa.String(32))
    amount_xof: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3), default="XOF")
    status: Mapped[str] = mapped_column(sa.String(24), default="pending")
    idempotency_key: Mapped[str] = mapped_column(sa.String(200))
    # Sent to the provider as its reference / idempotency key; also carries the tenant so a
    # provider-wide webhook can be routed (see service.tenant_of_reference).
    client_reference: Mapped[str] = mapped_column(sa.String(80))
    provider_ref: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    callback_token_hash: Mapped[str | None] = mapped_column(
        sa.String(64), nullable=True, index=True
    )
    action_kind: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    redirect_url: Mapped[str | None] = mapped_column(sa.String(2000), nullable=True)
    instructions: Mapped[str | None] = mapped_column(sa.String(1000), nullable=True)
    qr_payload: Mapped[str | None] = mapped_column(sa.String(2000), nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    review_reason: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    refunded_xof: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    fulfilment: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    settled_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class PaymentEvent(IdMixin, TenantScoped, Base):
    """Inbox of what providers told us (callbacks) and what we did about it.

    ``dedupe_key`` is the provider's event id, or reference + status: a second delivery
    of the same callback bumps ``duplicates`` instead of being processed again. ``summary``
    holds only non-personal fields (ids, type, status), never the raw body.
    """

    __tablename__ = "payment_events"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "provider", "dedupe_key"),)

    provider: Mapped[str] = mapped_column(sa.String(32))
    dedupe_key: Mapped[str] = mapped_column(sa.String(255))
    payment_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid, sa.ForeignKey("payments.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(24), default="callback")
    status_hint: Mapped[str | None] = mapped_column(sa.String(24), nullable=True)
    outcome: Mapped[str] = mapped_column(sa.String(32), default="received")
    duplicates: Mapped[int] = mapped_column(sa.Integer, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PaymentRefund(IdMixin, TenantScoped, Base):
    __tablename__ = "payment_refunds"
    __table_args__ = (
        sa.CheckConstraint("amount_xof > 0", name="amount_positive"),
        sa.UniqueConstraint("tenant_id", "idempotency_key"),
    )

    payment_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("payments.id", ondelete="RESTRICT"), index=True
    )
    amount_xof: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16))  # succeeded | pending | failed
    idempotency_key: Mapped[str] = mapped_column(sa.String(200))
    provider_refund_ref: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    error: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    # The buyer must be told (automatic refunds: late payment, amount mismatch).
    notify_buyer: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PaymentLedgerEntry(IdMixin, TenantScoped, Base):
    """Money movements: exactly one ``capture`` per payment, one row per refund.

    ``entry_key`` is ``capture`` or ``refund:<refund id>``; the unique constraint makes a
    second capture for the same payment impossible, whatever the callback interleaving.
    """

    __tablename__ = "payment_ledger"
    __table_args__ = (sa.UniqueConstraint("payment_id", "entry_key"),)

    payment_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("payments.id", ondelete="RESTRICT"), index=True
    )
    order_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    entry_key: Mapped[str] = mapped_column(sa.String(64))
    amount_xof: Mapped[int] = mapped_column(sa.BigInteger)  # + capture, - refund
    provider: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
