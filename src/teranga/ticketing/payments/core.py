"""Shared pieces of the payment use cases: the gateway, views, lookups, events.

``service`` (start, callbacks, reconciliation) and ``refunds`` build on these; other code
should import from ``service``, which re-exports what callers need.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from teranga.audit import api as audit
from teranga.platform.clock import Clock
from teranga.platform.errors import NotFound
from teranga.platform.uow import UnitOfWork
from teranga.ticketing.payments.base import (
    Fulfilment,
    PaymentProvider,
    PaymentRef,
)
from teranga.ticketing.payments.models import (
    Payment,
)

log = logging.getLogger(__name__)

TOPIC_SUCCEEDED = "ticketing.payment.succeeded"
TOPIC_FAILED = "ticketing.payment.failed"
TOPIC_NEEDS_REVIEW = "ticketing.payment.needs_review"
TOPIC_REFUNDED = "ticketing.payment.refunded"
TOPIC_REFUNDED_LATE = "ticketing.payment.refunded_late"
TOPIC_REFUND_FAILED = "ticketing.payment.refund_failed"

MAX_KEY = 200


@dataclass
class PaymentGateway:
    providers: Mapping[str, PaymentProvider]
    fulfilment: Fulfilment
    clock: Clock
    callback_base_url: str
    payment_ttl: dt.timedelta = dt.timedelta(minutes=15)
    # How long after its deadline a pending payment is still given to the provider.
    expiry_grace: dt.timedelta = dt.timedelta(minutes=2)

    def provider(self, code: str) -> PaymentProvider:
        found = self.providers.get(code)
        if found is None:
            raise NotFound("unknown_provider", f"payment provider {code!r} is not available")
        return found

    def callback_url(self, code: str) -> str:
        return f"{self.callback_base_url.rstrip('/')}/api/v1/payments/{code}/callback"


@dataclass(frozen=True)
class PaymentView:
    payment_id: uuid.UUID
    order_id: uuid.UUID
    provider: str
    status: str
    amount_xof: int
    refunded_xof: int
    action_kind: str | None
    redirect_url: str | None
    instructions: str | None
    qr_payload: str | None
    expires_at: dt.datetime | None
    error: str | None
    fulfilment: str | None


@dataclass(frozen=True)
class CallbackResult:
    outcome: str  # settled outcome, "duplicate", "unknown_payment", "still_pending", ...
    payment_id: uuid.UUID | None
    duplicate: bool = False


@dataclass(frozen=True)
class RefundView:
    refund_id: uuid.UUID
    payment_id: uuid.UUID
    amount_xof: int
    status: str
    reason: str
    notify_buyer: bool


@dataclass
class ReconcileReport:
    checked: int = 0
    settled: int = 0
    linked: int = 0
    expired: int = 0
    errors: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def emit(
    uow: UnitOfWork, topic: str, payload: dict[str, Any], *, actor_id: uuid.UUID | None = None
) -> None:
    """Queue the event (outbox) and write the audit entry, both in this transaction.

    Payloads hold ids, amounts and codes only, never personal data.
    """
    uow.publish(topic, payload)
    audit.record(
        uow,
        action=topic,
        actor_id=actor_id,
        target_type="payment",
        target_id=str(payload["payment_id"]),
        details={k: v for k, v in payload.items() if k != "payment_id"},
    )


# -- references ---------------------------------------------------------------------


def make_client_reference(tenant_id: uuid.UUID, payment_id: uuid.UUID) -> str:
    """Our reference at the provider: tenant hex then payment hex (64 chars, [0-9a-f]).

    Providers with one webhook URL per merchant (Wave) echo it back, which is how a
    callback finds its tenant before any row can be read under row-level security.
    """
    return f"{tenant_id.hex}{payment_id.hex}"


def tenant_of_reference(reference: str | None) -> uuid.UUID | None:
    if not reference or len(reference) != 64:
        return None
    try:
        return uuid.UUID(hex=reference[:32])
    except ValueError:
        return None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ref_of(p: Payment) -> PaymentRef:
    if p.provider_ref is None:
        raise RuntimeError("payment not linked to a provider intent")
    return PaymentRef(p.provider_ref, p.client_reference, p.amount_xof)


def view(p: Payment) -> PaymentView:
    return PaymentView(
        payment_id=p.id,
        order_id=p.order_id,
        provider=p.provider,
        status=p.status,
        amount_xof=p.amount_xof,
        refunded_xof=p.refunded_xof,
        action_kind=p.action_kind,
        redirect_url=p.redirect_url,
        instructions=p.instructions,
        qr_payload=p.qr_payload,
        expires_at=p.expires_at,
        error=p.last_error,
        fulfilment=p.fulfilment,
    )


# -- queries ------------------------------------------------------------------------


_LOCKED = "payments.locked"


def locked(q: sa.Select[Payment]) -> sa.Select[Payment]:
    """``q``'s payments read under their row lock.

    populate_existing: the row read after waiting for the lock must replace what the
    identity map already holds, or a concurrent settlement would go unseen.
    FOR NO KEY UPDATE: rows that reference the payment (events, ledger, refunds) take
    KEY SHARE locks on it when inserted, which this mode does not conflict with."""
    return q.with_for_update(key_share=True).execution_options(populate_existing=True)


def load(uow: UnitOfWork, payment_id: uuid.UUID, *, lock: bool = False) -> Payment:
    q = sa.select(Payment).where(
        Payment.id == payment_id, Payment.tenant_id == uow.require_tenant()
    )
    if lock:
        q = locked(q)
    found = uow.session.scalars(q).one_or_none()
    if found is None:
        raise NotFound("payment_not_found", "payment not found")
    return found


def get_payment(uow: UnitOfWork, payment_id: uuid.UUID) -> PaymentView:
    return view(load(uow, payment_id))


def payments_for_order(uow: UnitOfWork, order_id: uuid.UUID) -> list[PaymentView]:
    rows = uow.session.scalars(
        sa.select(Payment)
        .where(Payment.tenant_id == uow.require_tenant(), Payment.order_id == order_id)
        .order_by(Payment.created_at)
    )
    return [view(p) for p in rows]


def lock_payment(uow: UnitOfWork, p: Payment) -> Payment:
    """Re-read a payment under a row lock (PostgreSQL; SQLite serialises writers anyway),
    once per transaction: a payment this transaction already locked is current."""
    if p.id in locked_payments(uow):
        return p
    found = load(uow, p.id, lock=True)
    locked_payments(uow).add(found.id)
    return found


def locked_payments(uow: UnitOfWork) -> set[uuid.UUID]:
    """Ids of the payments locked in the current transaction (row locks last until it ends;
    callers do not lock inside a savepoint they roll back)."""
    txn = uow.session.get_transaction()
    held = uow.session.info.get(_LOCKED)
    if held is None or held[0] is not txn:
        held = (txn, set())
        uow.session.info[_LOCKED] = held
    found: set[uuid.UUID] = held[1]
    return found
