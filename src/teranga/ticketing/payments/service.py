"""Payment use cases. Each takes the caller's unit of work and never commits.

Entry points for ticketing (checkout, refunds) and for the web/task layers:

- ``start_payment(uow, gateway, *, order_id, amount_xof, provider, phone, return_url,
  idempotency_key)`` opens (or, for the same idempotency key, returns) one payment attempt.
- ``handle_callback(uow, gateway, *, provider, headers, body)`` authenticates a provider
  callback, records it in the inbox (duplicates are counted, not processed), then settles
  the payment from the provider's *authoritative* status query, never from the callback.
- ``reconcile_pending(uow, gateway, *, older_than)`` settles pending payments whose callback
  never came, links intents whose create response was lost and expires stale ones.
- ``refund(uow, gateway, *, payment_id, amount_xof, reason)``.

``gateway`` (``PaymentGateway``) carries the configured providers, ticketing's fulfilment
functions and the clock; get it with ``teranga.ticketing.payments.wiring.gateway(container)``.

Fulfilment runs in the same transaction as the status change: a payment is ``succeeded``
with its ledger entry and its tickets, or not at all. Provider HTTP calls happen inside the
unit of work; a provider failure during settlement raises ``ProviderTimeout`` so the whole
callback is rolled back (the provider retries, or the reconciler settles it later).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from teranga.platform.errors import Conflict, Unauthorized, ValidationFailed
from teranga.platform.ids import new_id
from teranga.platform.uow import UnitOfWork, insert_for
from teranga.ticketing.payments.base import (
    CallbackHint,
    CreatePayment,
    PaymentProvider,
    PaymentRef,
    ProviderError,
    ProviderPayment,
    ProviderRejected,
    ProviderTimeout,
)
from teranga.ticketing.payments.core import (
    MAX_KEY,
    TOPIC_FAILED,
    TOPIC_NEEDS_REVIEW,
    TOPIC_REFUNDED,
    TOPIC_REFUNDED_LATE,
    TOPIC_SUCCEEDED,
    CallbackResult,
    PaymentGateway,
    PaymentView,
    ReconcileReport,
    RefundView,
    emit,
    get_payment,
    load,
    lock_payment,
    locked,
    locked_payments,
    log,
    make_client_reference,
    payments_for_order,
    ref_of,
    tenant_of_reference,
    token_hash,
    view,
)
from teranga.ticketing.payments.domain import (
    PaymentStatus,
    ProviderState,
    apply_provider_status,
)
from teranga.ticketing.payments.models import (
    Payment,
    PaymentEvent,
    PaymentLedgerEntry,
)
from teranga.ticketing.payments.refunds import refund, refund_now, retry_failed_refunds

# -- start --------------------------------------------------------------------------


def _safe_url(url: str) -> bool:
    """Where a buyer may be sent back to: http(s) URLs or local paths, nothing else."""
    if not url or len(url) > 2000 or any(c in url for c in "\r\n\\"):
        return False
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        return url.startswith("/") and not url.startswith("//")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def check_request(
    gateway: PaymentGateway,
    *,
    provider: str,
    return_url: str | None,
    cancel_url: str | None = None,
    field: str = "",
) -> None:
    """What ``start_payment`` refuses before any write: an unknown provider, an unsafe URL.
    ``field`` prefixes the names in the error (``payment.`` inside a larger request)."""
    if provider not in gateway.providers:
        raise ValidationFailed(field + "provider", f"unknown payment provider {provider!r}")
    for name, url in (("return_url", return_url), ("cancel_url", cancel_url)):
        if url is not None and not _safe_url(url):
            raise ValidationFailed(
                field + name, "an http(s) URL or a path on this site is required"
            )


def start_payment(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    *,
    order_id: uuid.UUID,
    amount_xof: int,
    provider: str,
    phone: str | None,
    return_url: str,
    idempotency_key: str,
    cancel_url: str | None = None,
) -> PaymentView:
    """Open one payment attempt for an order, or return the one this key already opened.

    Same key and same parameters: the same payment (if its create response was lost, the
    intent is looked up by reference, or the create is retried with the same reference, so
    the provider holds at most one intent per attempt). Same key, other parameters: 422.
    """
    tenant_id = uow.require_tenant()
    if isinstance(amount_xof, bool) or not isinstance(amount_xof, int) or amount_xof <= 0:
        raise ValidationFailed("amount_xof", "must be a positive whole number of francs")
    if not idempotency_key or len(idempotency_key) > MAX_KEY:
        raise ValidationFailed("idempotency_key", f"1 to {MAX_KEY} characters required")
    check_request(gateway, provider=provider, return_url=return_url, cancel_url=cancel_url)
    prov = gateway.provider(provider)

    existing = uow.session.scalars(
        sa.select(Payment).where(
            Payment.tenant_id == tenant_id, Payment.idempotency_key == idempotency_key
        )
    ).one_or_none()
    if existing is not None:
        if (existing.order_id, existing.amount_xof, existing.provider) != (
            order_id,
            amount_xof,
            provider,
        ):
            raise ValidationFailed("idempotency_key", "this key was used with different parameters")
        if existing.provider_ref is None and existing.status == PaymentStatus.PENDING:
            existing = lock_payment(uow, existing)
            if existing.provider_ref is None:
                _open_at_provider(uow, gateway, prov, existing, phone, return_url, cancel_url)
        return view(existing)

    paid = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(Payment)
        .where(
            Payment.tenant_id == tenant_id,
            Payment.order_id == order_id,
            Payment.status.in_(
                [
                    PaymentStatus.SUCCEEDED,
                    PaymentStatus.PARTIALLY_REFUNDED,
                    PaymentStatus.NEEDS_REVIEW,
                ]
            ),
        )
    )
    if paid:
        raise Conflict("order_already_paid", "this order already has a payment")

    now = gateway.clock.now()
    pid = new_id()
    payment = Payment(
        id=pid,
        tenant_id=tenant_id,
        order_id=order_id,
        provider=provider,
        amount_xof=amount_xof,
        currency="XOF",
        status=PaymentStatus.PENDING.value,
        idempotency_key=idempotency_key,
        client_reference=make_client_reference(tenant_id, pid),
        refunded_xof=0,
        expires_at=now + gateway.payment_ttl,
        created_at=now,
        updated_at=now,
    )
    try:
        with uow.session.begin_nested():
            uow.session.add(payment)
    except IntegrityError as exc:
        raise Conflict("idempotency_conflict", "a request with this key is in progress") from exc
    _open_at_provider(uow, gateway, prov, payment, phone, return_url, cancel_url, fresh=True)
    return view(payment)


def _open_at_provider(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    prov: PaymentProvider,
    payment: Payment,
    phone: str | None,
    return_url: str,
    cancel_url: str | None,
    *,
    fresh: bool = False,
) -> None:
    """Create the intent at the provider, or link the one an earlier attempt created.
    ``fresh``: the payment row was created in this transaction, so no earlier attempt can
    have reached the provider and the lookup by reference is skipped."""
    now = gateway.clock.now()
    found: ProviderPayment | None = None
    if prov.info.caps.lookup and not fresh:
        try:
            found = prov.lookup(payment.client_reference)
        except ProviderError as exc:
            payment.last_error = exc.code
            payment.updated_at = now
            return
    if found is None:
        if not prov.info.caps.sandbox:
            # External providers need absolute URLs to send the buyer back to.
            base = gateway.callback_base_url.rstrip("/")
            return_url = base + return_url if return_url.startswith("/") else return_url
            if cancel_url and cancel_url.startswith("/"):
                cancel_url = base + cancel_url
        req = CreatePayment(
            tenant_id=payment.tenant_id,
            payment_id=payment.id,
            order_id=payment.order_id,
            client_reference=payment.client_reference,
            amount_xof=payment.amount_xof,
            phone=phone,
            return_url=return_url,
            cancel_url=cancel_url or return_url,
            callback_url=gateway.callback_url(payment.provider),
            expires_at=payment.expires_at,
        )
        try:
            found = prov.create_payment(req)
        except ProviderRejected as exc:
            payment.status = PaymentStatus.FAILED.value
            payment.last_error = exc.code
            payment.updated_at = payment.settled_at = now
            _record(uow, payment, kind="create", dedupe=f"create:{payment.id}", outcome=exc.code)
            return
        except ProviderError as exc:
            # Unknown outcome: stay pending; a retry with the same key or the reconciler
            # finds the intent by reference, or expires the attempt.
            payment.last_error = exc.code
            payment.updated_at = now
            _record(uow, payment, kind="create", dedupe=f"create:{payment.id}", outcome=exc.code)
            return
    _link(payment, found, now)


def _link(payment: Payment, found: ProviderPayment, now: dt.datetime) -> None:
    payment.provider_ref = found.provider_ref
    payment.action_kind = found.action.kind.value
    payment.redirect_url = found.action.redirect_url
    payment.instructions = found.action.instructions
    payment.qr_payload = found.action.qr_payload
    if found.callback_token:
        payment.callback_token_hash = token_hash(found.callback_token)
    # Our deadline (the hold's) wins over a longer provider window; the reconciler then
    # expires the intent at the provider so nobody pays for places we released.
    if found.expires_at is not None and (
        payment.expires_at is None or found.expires_at < payment.expires_at
    ):
        payment.expires_at = found.expires_at
    payment.last_error = None
    payment.updated_at = now


def _record(
    uow: UnitOfWork,
    payment: Payment,
    *,
    kind: str,
    dedupe: str,
    outcome: str,
    summary: dict[str, Any] | None = None,
) -> None:
    """Log something we did (not a callback); repeated keys just bump the counter."""
    existing = uow.session.scalars(
        sa.select(PaymentEvent).where(
            PaymentEvent.tenant_id == payment.tenant_id,
            PaymentEvent.provider == payment.provider,
            PaymentEvent.dedupe_key == dedupe,
        )
    ).one_or_none()
    now = payment.updated_at
    if existing is not None:
        existing.duplicates += 1
        existing.outcome = outcome
        existing.last_seen_at = now
        return
    uow.session.add(
        PaymentEvent(
            tenant_id=payment.tenant_id,
            provider=payment.provider,
            dedupe_key=dedupe,
            payment_id=payment.id,
            kind=kind,
            outcome=outcome,
            duplicates=0,
            summary=summary or {},
            received_at=now,
            last_seen_at=now,
        )
    )


# -- callbacks ----------------------------------------------------------------------


def authenticate_callback(
    gateway: PaymentGateway, *, provider: str, headers: Mapping[str, str], body: bytes
) -> CallbackHint:
    """Verify a callback's signature (raises Unauthorized); used to route it to a tenant."""
    return gateway.provider(provider).verify_callback(headers, body, now=gateway.clock.now())


def handle_callback(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    *,
    provider: str,
    headers: Mapping[str, str],
    body: bytes,
) -> CallbackResult:
    """Authenticate, record, then settle from the authoritative status.

    Raises Unauthorized (nothing written) on a bad signature or an unknown static token.
    A duplicate delivery is acknowledged and counted. A callback for no known payment is
    recorded as ``unknown_payment`` and acknowledged (retrying would not help).
    """
    tenant_id = uow.require_tenant()
    prov = gateway.provider(provider)
    hint = prov.verify_callback(headers, body, now=gateway.clock.now())
    # One callback per payment at a time: the payment is found under its row lock, before
    # anything references it.
    payment = _find_for_hint(uow, provider, hint)
    now = gateway.clock.now()
    summary = {
        "type": hint.event_type,
        "status": hint.status_hint.value if hint.status_hint else None,
        "provider_ref": hint.provider_ref,
    }
    # ON CONFLICT instead of a savepoint around the insert: a duplicate costs no error.
    event_id = new_id()
    recorded = uow.session.scalar(
        insert_for(uow)(PaymentEvent)
        .values(
            id=event_id,
            tenant_id=tenant_id,
            provider=provider,
            dedupe_key=hint.dedupe_key[:255],
            payment_id=payment.id if payment else None,
            kind="callback",
            status_hint=hint.status_hint.value if hint.status_hint else None,
            outcome="received",
            duplicates=0,
            summary=summary,
            received_at=now,
            last_seen_at=now,
        )
        .on_conflict_do_nothing()
        .returning(PaymentEvent.id)
    )
    if recorded is None:
        dup = uow.session.scalars(
            sa.select(PaymentEvent)
            .where(
                PaymentEvent.tenant_id == tenant_id,
                PaymentEvent.provider == provider,
                PaymentEvent.dedupe_key == hint.dedupe_key[:255],
            )
            .with_for_update()
        ).one()
        dup.duplicates += 1
        dup.last_seen_at = now
        return CallbackResult("duplicate", dup.payment_id, duplicate=True)
    if payment is None:
        outcome = "unknown_payment"
        log.warning("payment callback for an unknown payment (provider=%s)", provider)
    else:
        outcome = _settle(uow, gateway, prov, payment, hinted_ref=hint.provider_ref)
    uow.session.execute(
        sa.update(PaymentEvent).where(PaymentEvent.id == event_id).values(outcome=outcome)
    )
    return CallbackResult(outcome, payment.id if payment else None)


def _find_for_hint(uow: UnitOfWork, provider: str, hint: CallbackHint) -> Payment | None:
    """The payment a callback names, read under its row lock (as ``lock_payment``)."""
    found = _lookup_for_hint(uow, provider, hint)
    if found is not None:
        locked_payments(uow).add(found.id)
    return found


def _lookup_for_hint(uow: UnitOfWork, provider: str, hint: CallbackHint) -> Payment | None:
    base = locked(
        sa.select(Payment).where(
            Payment.tenant_id == uow.require_tenant(), Payment.provider == provider
        )
    )
    if hint.token is not None:
        found = uow.session.scalars(
            base.where(Payment.callback_token_hash == token_hash(hint.token))
        ).one_or_none()
        if found is None:
            # A static token is the callback's only credential: unknown means forged.
            raise Unauthorized("bad_callback_token", "callback token does not match a payment")
        return found
    if hint.provider_ref:
        found = uow.session.scalars(
            base.where(Payment.provider_ref == hint.provider_ref)
        ).one_or_none()
        if found is not None:
            return found
    if hint.client_reference:
        return uow.session.scalars(
            base.where(Payment.client_reference == hint.client_reference)
        ).one_or_none()
    return None


def _settle(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    prov: PaymentProvider,
    payment: Payment,
    *,
    hinted_ref: str | None = None,
) -> str:
    """Apply the provider's authoritative status to a payment (under a row lock)."""
    payment = lock_payment(uow, payment)
    now = gateway.clock.now()
    if payment.provider_ref is None:
        # The create response was lost; find the intent by our reference.
        found = prov.lookup(payment.client_reference) if prov.info.caps.lookup else None
        if found is None and hinted_ref is not None:
            # A signed callback names the intent: accept it only if the status query
            # confirms it carries our reference.
            probe = prov.query_status(
                PaymentRef(hinted_ref, payment.client_reference, payment.amount_xof)
            )
            if probe.client_reference == payment.client_reference:
                payment.provider_ref = hinted_ref
                payment.updated_at = now
        if found is not None:
            _link(payment, found, now)
        if payment.provider_ref is None:
            return "not_linked"
    status = prov.query_status(ref_of(payment))
    if status.client_reference and status.client_reference != payment.client_reference:
        payment.review_reason = "reference_mismatch"
        payment.updated_at = now
        return "reference_mismatch"
    t = apply_provider_status(
        PaymentStatus(payment.status),
        status.status,
        expected_amount_xof=payment.amount_xof,
        expected_currency=payment.currency,
        observed_amount_xof=status.amount_xof,
        observed_currency=status.currency,
    )
    if not t.changed:
        return t.reason or "unchanged"
    previous = payment.status
    payment.status = t.new_status.value
    payment.updated_at = now
    payment.settled_at = now
    base_payload = {
        "payment_id": str(payment.id),
        "order_id": str(payment.order_id),
        "provider": payment.provider,
        "amount_xof": payment.amount_xof,
    }
    if t.new_status is PaymentStatus.NEEDS_REVIEW:
        payment.review_reason = t.reason
        emit(
            uow,
            TOPIC_NEEDS_REVIEW,
            {
                **base_payload,
                "reason": t.reason,
                "observed_amount_xof": status.amount_xof,
                "observed_currency": status.currency,
            },
        )
        log.warning("payment %s needs review: %s", payment.id, t.reason)
        return "needs_review"
    if t.release:
        gateway.fulfilment.on_payment_failed(uow, payment.order_id, payment.id)
        emit(uow, TOPIC_FAILED, {**base_payload, "status": payment.status})
        return payment.status
    # Money confirmed: one capture in the ledger, then tickets, in this transaction.
    uow.session.add(
        PaymentLedgerEntry(
            tenant_id=payment.tenant_id,
            payment_id=payment.id,
            order_id=payment.order_id,
            entry_key="capture",
            amount_xof=payment.amount_xof,
            provider=payment.provider,
            created_at=now,
        )
    )
    uow.session.flush()
    result = gateway.fulfilment.on_payment_confirmed(
        uow,
        order_id=payment.order_id,
        payment_id=payment.id,
        amount_xof=payment.amount_xof,
        provider=payment.provider,
        now=now,
    )
    payment.fulfilment = result.status
    emit(
        uow,
        TOPIC_SUCCEEDED,
        {**base_payload, "fulfilment": result.status, "late": previous != "pending"},
    )
    if result.status == "refund_required":
        reason = result.reason or "hold_expired"
        refund_view = refund_now(
            uow,
            gateway,
            prov,
            payment,
            amount_xof=payment.amount_xof,
            reason=reason,
            idempotency_key=f"auto:{payment.id}",
            notify_buyer=True,
        )
        emit(
            uow,
            TOPIC_REFUNDED_LATE,
            {
                **base_payload,
                "reason": reason,
                "refund_id": str(refund_view.refund_id),
                "refund_status": refund_view.status,
                "notify_buyer": True,
            },
        )
        return "refund_required"
    return "succeeded"


# -- reconciliation -----------------------------------------------------------------


def reconcile_pending(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    *,
    older_than: dt.timedelta,
    limit: int = 200,
) -> ReconcileReport:
    """Settle this tenant's pending payments older than ``older_than`` from the provider.

    Lost callbacks: the status query settles them. Lost create responses: the intent is
    found by reference and linked. Past their deadline (plus grace): expired at the
    provider, re-queried (a payment made at the last second still wins) and closed.
    Provider errors are counted and left for the next run; database errors propagate.
    """
    tenant_id = uow.require_tenant()
    now = gateway.clock.now()
    report = ReconcileReport()
    rows = list(
        uow.session.scalars(
            sa.select(Payment)
            .where(
                Payment.tenant_id == tenant_id,
                Payment.status == PaymentStatus.PENDING.value,
                Payment.created_at <= now - older_than,
            )
            .order_by(Payment.created_at)
            .limit(limit)
        )
    )
    for payment in rows:
        report.checked += 1
        prov = gateway.providers.get(payment.provider)
        if prov is None:
            report.errors += 1
            report.count("provider_unavailable")
            continue
        try:
            outcome = _reconcile_one(uow, gateway, prov, payment, now, report)
        except ProviderError as exc:
            report.errors += 1
            outcome = exc.code
        report.count(outcome)
    for status, n in retry_failed_refunds(uow, gateway).items():
        report.outcomes[f"refund_{status}"] = n
    return report


def _reconcile_one(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    prov: PaymentProvider,
    payment: Payment,
    now: dt.datetime,
    report: ReconcileReport,
) -> str:
    payment = lock_payment(uow, payment)
    if payment.status != PaymentStatus.PENDING:
        return "already_settled"
    was_linked = payment.provider_ref is not None
    outcome = _settle(uow, gateway, prov, payment)
    if not was_linked and payment.provider_ref is not None:
        report.linked += 1
    if payment.status != PaymentStatus.PENDING:
        report.settled += 1
        return outcome
    deadline = payment.expires_at
    if deadline is None or now < deadline + gateway.expiry_grace:
        return outcome
    if payment.provider_ref is not None:
        if prov.info.caps.expire:
            # Best effort: the re-query below is what decides.
            with contextlib.suppress(ProviderError):
                prov.expire(ref_of(payment))
        outcome = _settle(uow, gateway, prov, payment)
        if payment.status != PaymentStatus.PENDING:
            report.settled += 1
            if payment.status == PaymentStatus.EXPIRED:
                report.expired += 1
            return outcome
    # The provider still calls it open (or never had it): close it on our side.
    payment.status = PaymentStatus.EXPIRED.value
    payment.updated_at = payment.settled_at = now
    gateway.fulfilment.on_payment_failed(uow, payment.order_id, payment.id)
    emit(
        uow,
        TOPIC_FAILED,
        {
            "payment_id": str(payment.id),
            "order_id": str(payment.order_id),
            "provider": payment.provider,
            "amount_xof": payment.amount_xof,
            "status": payment.status,
        },
    )
    report.expired += 1
    report.settled += 1
    return "expired"


__all__ = [
    "TOPIC_FAILED",
    "TOPIC_NEEDS_REVIEW",
    "TOPIC_REFUNDED",
    "TOPIC_REFUNDED_LATE",
    "TOPIC_SUCCEEDED",
    "CallbackResult",
    "PaymentGateway",
    "PaymentView",
    "ProviderState",
    "ProviderTimeout",
    "ReconcileReport",
    "RefundView",
    "authenticate_callback",
    "get_payment",
    "handle_callback",
    "load",
    "make_client_reference",
    "payments_for_order",
    "reconcile_pending",
    "refund",
    "retry_failed_refunds",
    "start_payment",
    "tenant_of_reference",
    "view",
]
