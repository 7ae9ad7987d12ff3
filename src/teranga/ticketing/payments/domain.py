"""Payment state machine: pure rules, no framework.

Statuses and their order (a payment only ever moves forward):

    pending ──► failed | expired          (the buyer did not pay, or gave up)
    pending ──► succeeded | needs_review  (money taken; review when amount/currency disagree)
    failed | expired ──► succeeded        (only on an *authoritative* status query: money taken
                                           after we gave up wins, ticketing then decides)
    succeeded ──► partially_refunded ──► refunded

Callbacks are hints and never move a payment by themselves; the service moves it from the
provider's authoritative status. A late ``failed`` after ``succeeded`` therefore changes
nothing, whatever order the callbacks arrive in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    NEEDS_REVIEW = "needs_review"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class ProviderState(StrEnum):
    """A provider's status, normalised. ``pending`` covers open, processing, initiated."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"


_GAVE_UP = frozenset({PaymentStatus.FAILED, PaymentStatus.EXPIRED})
_PAID = frozenset(
    {PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
)


@dataclass(frozen=True)
class Transition:
    """What applying a provider status to a payment does."""

    new_status: PaymentStatus
    changed: bool
    fulfil: bool = False  # money confirmed: hand the order to ticketing
    release: bool = False  # the buyer did not pay: ticketing may release the hold
    reason: str = ""


def is_paid(status: PaymentStatus) -> bool:
    return status in _PAID


def is_open(status: PaymentStatus) -> bool:
    return status is PaymentStatus.PENDING


def apply_provider_status(
    current: PaymentStatus,
    observed: ProviderState,
    *,
    expected_amount_xof: int,
    expected_currency: str,
    observed_amount_xof: int | None,
    observed_currency: str | None,
) -> Transition:
    """Decide the next status from an authoritative provider status.

    Amount and currency are compared in integer XOF; a success for another amount is never
    fulfilled, it goes to ``needs_review``.
    """
    if current in _PAID or current is PaymentStatus.NEEDS_REVIEW:
        return Transition(current, False, reason="already_settled")
    if observed is ProviderState.PENDING:
        return Transition(current, False, reason="still_pending")
    if observed is ProviderState.SUCCEEDED:
        if (
            observed_amount_xof != expected_amount_xof
            or (observed_currency or "").upper() != expected_currency.upper()
        ):
            return Transition(PaymentStatus.NEEDS_REVIEW, True, reason="amount_mismatch")
        late = current in _GAVE_UP
        return Transition(
            PaymentStatus.SUCCEEDED, True, fulfil=True, reason="late_success" if late else ""
        )
    if current in _GAVE_UP:
        return Transition(current, False, reason="already_closed")
    target = PaymentStatus.FAILED if observed is ProviderState.FAILED else PaymentStatus.EXPIRED
    return Transition(target, True, release=True)


def status_after_refund(amount_xof: int, refunded_xof: int) -> PaymentStatus:
    if refunded_xof <= 0:
        return PaymentStatus.SUCCEEDED
    if refunded_xof >= amount_xof:
        return PaymentStatus.REFUNDED
    return PaymentStatus.PARTIALLY_REFUNDED


def refundable_xof(status: PaymentStatus, amount_xof: int, refunded_xof: int) -> int:
    if status not in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED):
        return 0
    return max(0, amount_xof - refunded_xof)
