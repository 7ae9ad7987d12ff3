"""Refunds: operator refunds (ticketing's order refunds) and automatic ones.

Every refund is a ``payment_refunds`` row with its own idempotency key, sent to the
provider as such; what the provider accepted is booked as a negative ledger entry. A
refund the provider could not make is kept (``failed``, retried by the reconciler; or
``manual_required`` where the provider has no refund API) and flagged for an operator.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from teranga.platform.errors import Conflict, ValidationFailed
from teranga.platform.ids import new_id
from teranga.platform.uow import UnitOfWork
from teranga.ticketing.payments.base import (
    PaymentProvider,
    ProviderError,
)
from teranga.ticketing.payments.core import (
    MAX_KEY,
    TOPIC_REFUND_FAILED,
    TOPIC_REFUNDED,
    PaymentGateway,
    RefundView,
    emit,
    load,
    log,
    ref_of,
)
from teranga.ticketing.payments.domain import (
    PaymentStatus,
    refundable_xof,
    status_after_refund,
)
from teranga.ticketing.payments.models import (
    Payment,
    PaymentLedgerEntry,
    PaymentRefund,
)

# -- refunds ------------------------------------------------------------------------


def refund(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    *,
    payment_id: uuid.UUID,
    amount_xof: int,
    reason: str,
    idempotency_key: str | None = None,
    actor_id: uuid.UUID | None = None,
) -> RefundView:
    """Refund part or all of a paid payment (ticketing's order refunds call this)."""
    if isinstance(amount_xof, bool) or not isinstance(amount_xof, int) or amount_xof <= 0:
        raise ValidationFailed("amount_xof", "must be a positive whole number of francs")
    if not reason or len(reason) > 64:
        raise ValidationFailed("reason", "1 to 64 characters required")
    key = idempotency_key or f"refund:{new_id()}"
    if len(key) > MAX_KEY:
        raise ValidationFailed("idempotency_key", f"at most {MAX_KEY} characters")
    payment = load(uow, payment_id, lock=True)
    existing = uow.session.scalars(
        sa.select(PaymentRefund).where(
            PaymentRefund.tenant_id == payment.tenant_id, PaymentRefund.idempotency_key == key
        )
    ).one_or_none()
    if existing is not None:
        if (existing.payment_id, existing.amount_xof) != (payment.id, amount_xof):
            raise ValidationFailed("idempotency_key", "this key was used with different parameters")
        return _refund_view(existing)
    prov = gateway.provider(payment.provider)
    return refund_now(
        uow,
        gateway,
        prov,
        payment,
        amount_xof=amount_xof,
        reason=reason,
        idempotency_key=key,
        notify_buyer=False,
        actor_id=actor_id,
    )


def _refund_view(r: PaymentRefund) -> RefundView:
    return RefundView(r.id, r.payment_id, r.amount_xof, r.status, r.reason, r.notify_buyer)


def refund_now(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    prov: PaymentProvider,
    payment: Payment,
    *,
    amount_xof: int,
    reason: str,
    idempotency_key: str,
    notify_buyer: bool,
    actor_id: uuid.UUID | None = None,
) -> RefundView:
    """Record a refund and ask the provider for it.

    Automatic refunds (``notify_buyer``: late payments) never raise for provider reasons:
    the money was taken, so the refund row is kept as ``manual_required`` (no refund API)
    or ``failed`` (retried by the reconciler) and the callback still settles.
    """
    available = refundable_xof(
        PaymentStatus(payment.status), payment.amount_xof, payment.refunded_xof
    )
    if amount_xof > available:
        raise ValidationFailed(
            "amount_xof", f"at most {available} XOF can be refunded on this payment"
        )
    caps = prov.info.caps
    if not caps.refund and not notify_buyer:
        raise Conflict("refund_unsupported", f"{prov.info.label} has no refund API")
    if amount_xof < available and not caps.partial_refund:
        raise ValidationFailed("amount_xof", f"{prov.info.label} refunds only the full amount")
    now = gateway.clock.now()
    record = PaymentRefund(
        id=new_id(),
        tenant_id=payment.tenant_id,
        payment_id=payment.id,
        amount_xof=amount_xof,
        reason=reason,
        status="pending",
        idempotency_key=idempotency_key,
        notify_buyer=notify_buyer,
        created_at=now,
    )
    uow.session.add(record)
    uow.session.flush()
    if not caps.refund:
        record.status = "manual_required"
        record.error = "refund_unsupported"
        payment.review_reason = "manual_refund_required"
        payment.updated_at = now
        emit(uow, TOPIC_REFUND_FAILED, {**_refund_payload(payment, record), "error": record.error})
        return _refund_view(record)
    _attempt_refund(uow, gateway, prov, payment, record, actor_id=actor_id)
    return _refund_view(record)


def _refund_payload(payment: Payment, record: PaymentRefund) -> dict[str, Any]:
    return {
        "payment_id": str(payment.id),
        "order_id": str(payment.order_id),
        "refund_id": str(record.id),
        "amount_xof": record.amount_xof,
        "reason": record.reason,
        "notify_buyer": record.notify_buyer,
    }


def _attempt_refund(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    prov: PaymentProvider,
    payment: Payment,
    record: PaymentRefund,
    *,
    actor_id: uuid.UUID | None = None,
) -> None:
    """Call the provider (idempotency key: the refund id) and book the result."""
    now = gateway.clock.now()
    payload = _refund_payload(payment, record)
    try:
        result = prov.refund(ref_of(payment), record.amount_xof, idempotency_key=str(record.id))
    except ProviderError as exc:
        # Kept and visible; the reconciler retries it (and an operator sees the flag).
        record.status = "failed"
        record.error = exc.code
        payment.review_reason = "refund_failed"
        payment.updated_at = now
        emit(uow, TOPIC_REFUND_FAILED, {**payload, "error": exc.code}, actor_id=actor_id)
        log.warning("refund of payment %s failed: %s", payment.id, exc.code)
        return
    record.status = result.status
    record.error = None
    record.provider_refund_ref = result.provider_refund_ref
    payment.refunded_xof += record.amount_xof
    payment.status = status_after_refund(payment.amount_xof, payment.refunded_xof).value
    if payment.review_reason == "refund_failed":
        payment.review_reason = None
    payment.updated_at = now
    uow.session.add(
        PaymentLedgerEntry(
            tenant_id=payment.tenant_id,
            payment_id=payment.id,
            order_id=payment.order_id,
            entry_key=f"refund:{record.id}",
            amount_xof=-record.amount_xof,
            provider=payment.provider,
            created_at=now,
        )
    )
    emit(uow, TOPIC_REFUNDED, payload, actor_id=actor_id)


def retry_failed_refunds(
    uow: UnitOfWork, gateway: PaymentGateway, *, limit: int = 50
) -> dict[str, int]:
    """Retry this tenant's refunds that failed at the provider (same idempotency key)."""
    counts: dict[str, int] = {}
    rows = list(
        uow.session.scalars(
            sa.select(PaymentRefund)
            .where(
                PaymentRefund.tenant_id == uow.require_tenant(),
                PaymentRefund.status == "failed",
            )
            .order_by(PaymentRefund.created_at)
            .limit(limit)
        )
    )
    for record in rows:
        payment = load(uow, record.payment_id, lock=True)
        prov = gateway.providers.get(payment.provider)
        if prov is None:
            counts["provider_unavailable"] = counts.get("provider_unavailable", 0) + 1
            continue
        _attempt_refund(uow, gateway, prov, payment, record)
        counts[record.status] = counts.get(record.status, 0) + 1
    return counts
