"""Turning a confirmed payment into tickets: the contract with ``ticketing.payments``.

The payments package calls :func:`on_payment_confirmed` only after a provider's
authoritative status query said the payment succeeded (callbacks are hints). The call is
idempotent: the order row is locked, and tickets are issued only on the ``pending -> paid``
transition, which happens once; a second call (duplicate callback, reconciler, restart
after a crash between confirmation and issue) returns the tickets already issued. A partial
unique index on ``ticketing_tickets(line_id) WHERE status = 'valid'`` backs this up at the
database level.

When the hold expired before the money arrived, the places are claimed again if they are
still free (same seats, or the same quantity in the same zone and category); otherwise the
result is ``refund_required`` and the payments package refunds the buyer automatically.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Literal

from teranga.platform.uow import UnitOfWork

FulfilmentStatus = Literal["issued", "already_issued", "refund_required"]


@dataclass(frozen=True)
class FulfilmentResult:
    """What happened to the order. ``ticket_ids`` lists the valid tickets of the order."""

    status: FulfilmentStatus
    order_id: uuid.UUID
    ticket_ids: tuple[uuid.UUID, ...] = field(default_factory=tuple)
    reason: str = ""


def on_payment_confirmed(
    uow: UnitOfWork,
    *,
    order_id: uuid.UUID,
    payment_id: uuid.UUID,
    amount_xof: int,
    provider: str,
    now: dt.datetime | None = None,
) -> FulfilmentResult:
    """Mark the order paid and issue one ticket per place, exactly once.

    Returns ``refund_required`` (and changes nothing but the order's payment record) when
    the amount does not match the order total, the order was cancelled, or the hold expired
    and its places were taken by someone else.
    """
    from teranga.ticketing import sales

    return sales.confirm_payment(
        uow,
        order_id=order_id,
        payment_id=payment_id,
        amount_xof=amount_xof,
        provider=provider,
        now=now,
    )


def on_payment_failed(uow: UnitOfWork, order_id: uuid.UUID, payment_id: uuid.UUID) -> None:
    """Record a failed payment. A late failure after success changes nothing (monotonic)."""
    from teranga.ticketing import sales

    sales.record_payment_failure(uow, order_id=order_id, payment_id=payment_id)
