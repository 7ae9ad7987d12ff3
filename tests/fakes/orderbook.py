"""A stand-in for ticketing's fulfilment functions, with transactional effects.

It issues once per order and answers ``refund_required`` for orders whose places were
taken; its bookkeeping happens only after commit (``uow.on_commit``) and it writes an
outbox row, so a rolled-back unit of work leaves no trace. ``explode`` raises a database
error after that write, to test that nothing partial survives.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy.exc import OperationalError

from teranga.platform.uow import UnitOfWork


@dataclass(frozen=True)
class Result:
    status: str
    reason: str = ""


@dataclass
class OrderBook:
    """Ticketing stand-in: issues once per order; refuses when the places were taken."""

    taken: set[uuid.UUID] = field(default_factory=set)  # hold expired and places resold
    issued: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)  # committed only
    failed: list[uuid.UUID] = field(default_factory=list)
    explode: bool = False

    def on_payment_confirmed(
        self,
        uow: UnitOfWork,
        *,
        order_id: uuid.UUID,
        payment_id: uuid.UUID,
        amount_xof: int,
        provider: str,
        now: dt.datetime | None = None,
    ) -> Result:
        if order_id in self.issued:
            return Result("already_issued")
        if order_id in self.taken:
            return Result("refund_required", "hold_expired_places_taken")
        uow.publish("test.tickets.issued", {"order_id": str(order_id)})
        if self.explode:
            raise OperationalError("INSERT INTO tickets", {}, Exception("disk full"))
        uow.on_commit(lambda: self.issued.setdefault(order_id, []).append(payment_id))
        return Result("issued")

    def on_payment_failed(
        self, uow: UnitOfWork, order_id: uuid.UUID, payment_id: uuid.UUID
    ) -> None:
        uow.on_commit(lambda: self.failed.append(order_id))
