"""Ticketing's data-subject provider: a person's orders and tickets (Loi 2008-12 rights).

Ticketing stores a buyer's phone sealed on the order with its blind index (and optionally
an ID-number blind index), and the holder's phone sealed on each ticket. Erasure drops
those columns (they are nullable: NULL, not a sealed tombstone, so no code path ever
mistakes a tombstone for a phone to send a payment request to). Rows stay: paid and
refunded orders are accounting records (legal hold) and every order anchors inventory
lines; a valid ticket keeps its id, code and signed payload, so the holder can still
enter and the gate's entry records stay consistent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from teranga.platform.uow import UnitOfWork
from teranga.privacy.api import (
    Identifier,
    RetentionClass,
    SubjectRecord,
    ids_of,
    iso,
)
from teranga.ticketing import pii
from teranga.ticketing.domain import HoldStatus, OrderStatus
from teranga.ticketing.models import (
    Hold,
    Order,
    OrderLine,
    PriceCategory,
    Seat,
    Ticket,
    TicketedEvent,
    TicketSession,
    Zone,
)
from teranga.ticketing.payments.models import Payment

UNPAID = "ticketing.unpaid_order_contact"
ORDERS = "ticketing.order_contact"
_UNPAID_STATUSES = (OrderStatus.PENDING.value, OrderStatus.CANCELLED.value)


class TicketingSubjects:
    domain = "ticketing"
    tables = ("ticketing_orders", "ticketing_tickets")
    retention = (
        RetentionClass(
            name=UNPAID,
            processing="ticketing",
            period="P30D",
            anchor="order creation",
            action="drop the phone and ID-number index of orders never paid",
        ),
        RetentionClass(
            name=ORDERS,
            processing="ticketing",
            period="P2Y",
            anchor="end of the session",
            action="drop buyer and holder phones and their indexes; amounts are kept",
        ),
    )

    # -- find ------------------------------------------------------------------------------

    def find(self, uow: UnitOfWork, identifier: Identifier) -> list[SubjectRecord]:
        tid = uow.require_tenant()
        if identifier.kind == "phone":
            ix = pii.phone_index(uow, identifier.value)
            order_ids = uow.session.scalars(
                sa.select(Order.id).where(Order.tenant_id == tid, Order.phone_index == ix)
            )
            tickets = uow.session.scalars(
                sa.select(Ticket.id).where(Ticket.tenant_id == tid, Ticket.holder_phone_index == ix)
            )
        elif identifier.kind == "id_number":
            ix = pii.id_number_index(uow, identifier.value)
            order_ids = uow.session.scalars(
                sa.select(Order.id).where(Order.tenant_id == tid, Order.id_number_index == ix)
            )
            tickets = None
        else:
            return []
        records = [SubjectRecord(self.domain, "order", str(i)) for i in order_ids]
        for t in tickets or ():
            records.append(
                SubjectRecord(
                    self.domain, "ticket", str(t), derived=(Identifier("credential", str(t)),)
                )
            )
        return records

    # -- export ----------------------------------------------------------------------------

    def export(self, uow: UnitOfWork, records: Sequence[SubjectRecord]) -> dict[str, Any]:
        tid = uow.require_tenant()
        order_ids = ids_of(records, "order")
        ticket_ids = ids_of(records, "ticket")
        orders = list(
            uow.session.scalars(
                sa.select(Order)
                .where(Order.tenant_id == tid, Order.id.in_(order_ids))
                .order_by(Order.created_at, Order.id)
            )
        )
        tickets = list(
            uow.session.scalars(
                sa.select(Ticket)
                .where(Ticket.tenant_id == tid, Ticket.id.in_(ticket_ids))
                .order_by(Ticket.issued_at, Ticket.id)
            )
        )
        sessions = _sessions(uow, {o.session_id for o in orders} | {t.session_id for t in tickets})
        refs = dict(
            uow.session.execute(
                sa.select(Order.id, Order.reference).where(
                    Order.id.in_({t.order_id for t in tickets})
                )
            ).all()
        )
        lines = _places(uow, [o.id for o in orders])
        return {
            "orders": [
                {
                    "id": str(o.id),
                    "reference": o.reference,
                    "session": sessions.get(o.session_id),
                    "channel": o.channel,
                    "status": o.status,
                    "total_xof": o.total_xof,
                    "refunded_xof": o.refunded_xof,
                    "payment_status": o.payment_status,
                    "payment_provider": o.payment_provider,
                    "created_at": iso(o.created_at),
                    "paid_at": iso(o.paid_at),
                    "phone": pii.unseal_phone(uow, o.phone_sealed) if o.phone_sealed else None,
                    # Only a keyed hash of the ID number is stored: it cannot be shown back.
                    "id_number_on_file": o.id_number_index is not None,
                    "places": lines.get(o.id, []),
                }
                for o in orders
            ],
            "tickets": [
                {
                    "id": str(t.id),
                    "code": t.code,
                    "order_reference": refs.get(t.order_id),
                    "session": sessions.get(t.session_id),
                    "status": t.status,
                    "holder_phone": (
                        pii.unseal_phone(uow, t.holder_phone_sealed)
                        if t.holder_phone_sealed
                        else None
                    ),
                    "issued_at": iso(t.issued_at),
                    "revoked_at": iso(t.revoked_at),
                }
                for t in tickets
            ],
        }

    # -- erase -----------------------------------------------------------------------------

    def erase(self, uow: UnitOfWork, records: Sequence[SubjectRecord], *, keep_legal: bool) -> int:
        """Drop phones and indexes; without ``keep_legal`` also delete never-paid orders.

        A never-paid order (cancelled, no payment attempt at all, its hold closed) is not
        an accounting record: without legal hold it is deleted and its lines detached, as
        if the hold had expired without an order. Everything else is pseudonymised.
        """
        tid = uow.require_tenant()
        changed = 0
        orders = list(
            uow.session.scalars(
                sa.select(Order)
                .where(Order.tenant_id == tid, Order.id.in_(ids_of(records, "order")))
                .order_by(Order.id)
                .with_for_update()
            )
        )
        for o in orders:
            if o.phone_sealed is not None or o.phone_index or o.id_number_index:
                o.phone_sealed = None
                o.phone_index = None
                o.id_number_index = None
                changed += 1
        tickets = list(
            uow.session.scalars(
                sa.select(Ticket)
                .where(Ticket.tenant_id == tid, Ticket.id.in_(ids_of(records, "ticket")))
                .order_by(Ticket.id)
                .with_for_update()
            )
        )
        for t in tickets:
            if t.holder_phone_sealed is not None or t.holder_phone_index:
                t.holder_phone_sealed = None
                t.holder_phone_index = None
                changed += 1
        uow.session.flush()
        if not keep_legal:
            _delete_never_paid(uow, orders)
        return changed

    # -- retention -------------------------------------------------------------------------

    def purge_expired(
        self, uow: UnitOfWork, cutoffs: Mapping[str, dt.datetime], *, dry_run: bool
    ) -> dict[str, int]:
        tid = uow.require_tenant()
        counts: dict[str, int] = {}
        has_contact = sa.or_(
            Order.phone_sealed.is_not(None),
            Order.phone_index.is_not(None),
            Order.id_number_index.is_not(None),
        )
        if UNPAID in cutoffs:
            unpaid = sa.and_(
                Order.tenant_id == tid,
                Order.status.in_(_UNPAID_STATUSES),
                Order.created_at < cutoffs[UNPAID],
                has_contact,
            )
            counts[UNPAID] = _apply(uow, Order, unpaid, _ORDER_CLEARED, dry_run)
        if ORDERS in cutoffs:
            ended = sa.select(TicketSession.id).where(
                TicketSession.tenant_id == tid, TicketSession.ends_at < cutoffs[ORDERS]
            )
            old_orders = sa.and_(Order.tenant_id == tid, Order.session_id.in_(ended), has_contact)
            old_tickets = sa.and_(
                Ticket.tenant_id == tid,
                Ticket.session_id.in_(ended),
                sa.or_(
                    Ticket.holder_phone_sealed.is_not(None), Ticket.holder_phone_index.is_not(None)
                ),
            )
            counts[ORDERS] = _apply(uow, Order, old_orders, _ORDER_CLEARED, dry_run) + _apply(
                uow, Ticket, old_tickets, _TICKET_CLEARED, dry_run
            )
        return counts


_ORDER_CLEARED: dict[str, Any] = {
    "phone_sealed": None,
    "phone_index": None,
    "id_number_index": None,
}
_TICKET_CLEARED: dict[str, Any] = {"holder_phone_sealed": None, "holder_phone_index": None}


def _apply(
    uow: UnitOfWork,
    model: type[Order] | type[Ticket],
    where: sa.ColumnElement[bool],
    values: dict[str, Any],
    dry_run: bool,
) -> int:
    """Count the matching rows, and clear ``values`` on them unless ``dry_run``."""
    n = int(uow.session.scalar(sa.select(sa.func.count()).select_from(model).where(where)) or 0)
    if n and not dry_run:
        uow.session.execute(
            sa.update(model)
            .where(where)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        uow.session.expire_all()
    return n


def _delete_never_paid(uow: UnitOfWork, orders: list[Order]) -> None:
    candidates = [
        o
        for o in orders
        if o.status == OrderStatus.CANCELLED.value and o.paid_at is None and not o.refunded_xof
    ]
    if not candidates:
        return
    ids = [o.id for o in candidates]
    with_payments = set(
        uow.session.scalars(sa.select(Payment.order_id).where(Payment.order_id.in_(ids)))
    )
    for o in candidates:
        if o.id in with_payments:
            continue
        hold = uow.session.get(Hold, o.hold_id)
        if hold is not None and hold.status == HoldStatus.ACTIVE.value:
            continue
        uow.session.execute(
            sa.update(OrderLine)
            .where(OrderLine.order_id == o.id)
            .values(order_id=None)
            .execution_options(synchronize_session=False)
        )
        uow.session.delete(o)
    uow.session.flush()


def _sessions(uow: UnitOfWork, ids: set[Any]) -> dict[Any, dict[str, Any]]:
    if not ids:
        return {}
    rows = uow.session.execute(
        sa.select(TicketSession, TicketedEvent.name)
        .join(TicketedEvent, TicketedEvent.id == TicketSession.event_id)
        .where(TicketSession.id.in_(ids))
    ).all()
    return {
        s.id: {
            "id": str(s.id),
            "event": event_name,
            "name": s.name,
            "venue": s.venue_name,
            "starts_at": iso(s.starts_at),
            "ends_at": iso(s.ends_at),
        }
        for s, event_name in rows
    }


def _places(uow: UnitOfWork, order_ids: list[Any]) -> dict[Any, list[dict[str, Any]]]:
    if not order_ids:
        return {}
    rows = uow.session.execute(
        sa.select(OrderLine, Zone.name, PriceCategory.name, Seat)
        .join(Zone, Zone.id == OrderLine.zone_id)
        .join(PriceCategory, PriceCategory.id == OrderLine.category_id)
        .outerjoin(Seat, Seat.id == OrderLine.seat_id)
        .where(OrderLine.order_id.in_(order_ids))
        .order_by(OrderLine.id)
    ).all()
    out: dict[Any, list[dict[str, Any]]] = {}
    for line, zone, category, seat in rows:
        out.setdefault(line.order_id, []).append(
            {
                "zone": zone,
                "category": category,
                "seat": f"{seat.section}-{seat.row}-{seat.label}" if seat else None,
                "price_xof": line.price_xof,
                "status": line.status,
            }
        )
    return out


provider = TicketingSubjects()
