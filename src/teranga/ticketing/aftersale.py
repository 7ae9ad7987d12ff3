"""After the sale: refunds (whole or part), cancellations, transfers, look-ups, revocations.

Refunds here settle places and tickets; the money goes back through the payments package
(``RefundDue`` tells the caller what to send back, in the same unit of work).
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from teranga.audit import api as audit
from teranga.platform.errors import Conflict, NotFound, ValidationFailed
from teranga.platform.sms import mask_phone
from teranga.platform.uow import UnitOfWork
from teranga.ticketing import notify, pii, repo, sales
from teranga.ticketing.domain import (
    HoldStatus,
    Limits,
    LineStatus,
    OrderStatus,
    TicketStatus,
    check_hold_transition,
    check_order_transition,
    check_person_cap,
    code_is_well_formed,
    normalise_code,
)
from teranga.ticketing.models import Hold, Order, OrderLine, Ticket, TicketSession


@dataclass(frozen=True)
class RefundDue:
    order_id: uuid.UUID
    payment_id: uuid.UUID | None  # None: free or cash order (cash is returned at the desk)
    provider: str | None
    amount_xof: int


def _order(uow: UnitOfWork, order_id: uuid.UUID) -> Order:
    order = repo.lock_order(uow, order_id)
    if order is None:
        raise NotFound("ticketing.order_not_found", "no such order")
    return order


def refund_order(
    uow: UnitOfWork,
    *,
    order_id: uuid.UUID,
    line_ids: list[uuid.UUID] | None = None,
    reason: str,
    actor_id: uuid.UUID | None,
    now: dt.datetime,
) -> RefundDue:
    """Refund a paid order, whole (``line_ids`` None) or in part; tickets are voided."""
    if not reason.strip() or len(reason) > 200:
        raise ValidationFailed("reason", "1 to 200 characters")
    order = _order(uow, order_id)
    if order.status != OrderStatus.PAID.value:
        raise Conflict("ticketing.order_not_paid", f"order is {order.status}")
    hold = repo.lock_hold(uow, order.hold_id)
    if hold is None:
        raise NotFound("ticketing.hold_not_found", "order without hold")
    sold = [ln for ln in repo.lines_of_hold(uow, hold.id) if ln.status == LineStatus.SOLD.value]
    if line_ids is not None:
        wanted = set(line_ids)
        chosen = [ln for ln in sold if ln.id in wanted]
        if len(chosen) != len(wanted) or not chosen:
            raise ValidationFailed("line_ids", "only sold places of this order")
    else:
        chosen = sold
    s = sales._locked_session(uow, order.session_id)
    amount = _refund_lines(uow, s, order, hold, chosen, now)
    audit.record(
        uow,
        action="ticketing.order.refunded",
        actor_id=actor_id,
        target_type="order",
        target_id=str(order.id),
        details={"amount_xof": amount, "places": len(chosen), "reason": reason[:64]},
    )
    return RefundDue(order.id, order.payment_id, order.payment_provider, amount)


def _refund_lines(
    uow: UnitOfWork,
    s: TicketSession,
    order: Order,
    hold: Hold,
    lines: list[OrderLine],
    now: dt.datetime,
) -> int:
    ids = [ln.id for ln in lines]
    for t in uow.session.scalars(
        sa.select(Ticket).where(Ticket.line_id.in_(ids), Ticket.status == TicketStatus.VALID.value)
    ):
        t.status = TicketStatus.VOID.value
        t.revoked_at = now
    for ln in lines:
        ln.status = LineStatus.REFUNDED.value
    repo.adjust_counters(uow, s, hold.channel, lines, -1)
    amount = sum(ln.price_xof for ln in lines)
    order.refunded_xof += amount
    left = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(OrderLine)
        .where(OrderLine.hold_id == hold.id, OrderLine.status == LineStatus.SOLD.value)
    )
    if not left:
        check_order_transition(OrderStatus(order.status), OrderStatus.REFUNDED)
        check_hold_transition(HoldStatus(hold.status), HoldStatus.RELEASED)
        order.status = OrderStatus.REFUNDED.value
        hold.status = HoldStatus.RELEASED.value
    uow.session.flush()
    uow.publish(
        "ticketing.order.refunded",
        {"order_id": str(order.id), "session_id": str(s.id), "amount_xof": amount},
    )
    return amount


def cancel_order(
    uow: UnitOfWork, *, order_id: uuid.UUID, actor_id: uuid.UUID | None, now: dt.datetime
) -> sales.OrderView:
    """Cancel an unpaid order: its places go back on sale at once."""
    order = _order(uow, order_id)
    if order.status != OrderStatus.PENDING.value:
        raise Conflict("ticketing.order_not_pending", f"order is {order.status}")
    hold = repo.lock_hold(uow, order.hold_id)
    if hold is None:
        raise NotFound("ticketing.hold_not_found", "order without hold")
    if hold.status == HoldStatus.ACTIVE.value:
        s = sales._locked_session(uow, order.session_id)
        repo.release_hold_places(uow, s, hold, HoldStatus.RELEASED)
    check_order_transition(OrderStatus(order.status), OrderStatus.CANCELLED)
    order.status = OrderStatus.CANCELLED.value
    uow.session.flush()
    audit.record(
        uow,
        action="ticketing.order.cancelled",
        actor_id=actor_id,
        target_type="order",
        target_id=str(order.id),
        details={},
    )
    return sales.order_view(uow, order)


def cancel_session(
    uow: UnitOfWork, *, session_id: uuid.UUID, actor_id: uuid.UUID | None, now: dt.datetime
) -> list[RefundDue]:
    """Cancel a session: no more sales, pending orders cancelled, paid orders refunded."""
    orders = list(
        uow.session.scalars(
            sa.select(Order.id)
            .where(
                Order.session_id == session_id,
                Order.status.in_([OrderStatus.PENDING.value, OrderStatus.PAID.value]),
            )
            .order_by(Order.id)
        )
    )
    dues = []
    for oid in orders:  # order locks before the session lock, as everywhere
        order = _order(uow, oid)
        if order.status == OrderStatus.PAID.value:
            dues.append(
                refund_order(
                    uow,
                    order_id=oid,
                    reason="session cancelled",
                    actor_id=actor_id,
                    now=now,
                )
            )
        elif order.status == OrderStatus.PENDING.value:
            cancel_order(uow, order_id=oid, actor_id=actor_id, now=now)
    s = sales._locked_session(uow, session_id)
    for hold in uow.session.scalars(
        sa.select(Hold).where(Hold.session_id == s.id, Hold.status == HoldStatus.ACTIVE.value)
    ):
        repo.release_hold_places(uow, s, hold, HoldStatus.RELEASED)
    s.status = "cancelled"
    uow.session.flush()
    audit.record(
        uow,
        action="ticketing.session.cancelled",
        actor_id=actor_id,
        target_type="session",
        target_id=str(s.id),
        details={"refunds": len(dues), "amount_xof": sum(d.amount_xof for d in dues)},
    )
    return dues


# -- transfers -------------------------------------------------------------------------


def _ticket_by_code(uow: UnitOfWork, code: str) -> Ticket | None:
    c = normalise_code(code)
    if not code_is_well_formed(c):
        raise ValidationFailed("code", "not a ticket code (check the characters)")
    return uow.session.scalar(
        sa.select(Ticket).where(Ticket.tenant_id == uow.require_tenant(), Ticket.code == c)
    )


@dataclass(frozen=True)
class TransferResult:
    """What the giver learns: not the new ticket's code or QR, which only its holder sees."""

    id: uuid.UUID  # the new ticket, now the recipient's
    replaced_id: uuid.UUID
    to_phone_masked: str
    status: str = "transferred"


def _owns(ticket: Ticket, order: Order, order_token: str | None, ticket_token: str | None) -> bool:
    """The public caller's proof: the order's secret while the buyer's phone still holds the
    ticket, or the ticket's own secret (a transfer recipient's link)."""
    if ticket_token is not None:
        return ticket.access_hash is not None and secrets.compare_digest(
            sales.access_hash(ticket_token), ticket.access_hash
        )
    if order_token is not None:
        return secrets.compare_digest(
            sales.access_hash(order_token), order.access_hash
        ) and sales.held_by_buyer(ticket, order)
    return True  # staff, behind their permission


def transfer_ticket(
    uow: UnitOfWork,
    *,
    ticket_id: uuid.UUID,
    to_phone: str,
    order_token: str | None,
    ticket_token: str | None = None,
    actor_id: uuid.UUID | None,
    now: dt.datetime,
) -> TransferResult:
    """Give a ticket to another phone: the old code and QR are revoked, new ones issued.

    The public caller proves ownership with the order's bearer secret (``order_token``,
    only for tickets the buyer's phone still holds) or the ticket's own (``ticket_token``,
    sent to a previous recipient); staff call with neither behind their permission. The
    new ticket gets its own secret, sent by SMS to the recipient after commit, and is never
    shown to the giver. Either way the recipient's per-person cap applies (409
    ``ticketing.person_limit``), checked under the recipient's person lock so that their
    checkouts and other transfers to them serialise with this one.
    """
    tenant = uow.require_tenant()
    order_id = uow.session.scalar(
        sa.select(Ticket.order_id).where(Ticket.id == ticket_id, Ticket.tenant_id == tenant)
    )
    if order_id is None:
        raise NotFound("ticketing.ticket_not_found", "no such ticket")
    order = _order(uow, order_id)  # order row before ticket row, as refunds lock them
    ticket = uow.session.scalar(
        sa.select(Ticket)
        .where(Ticket.id == ticket_id, Ticket.tenant_id == tenant)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if ticket is None or not _owns(ticket, order, order_token, ticket_token):
        raise NotFound("ticketing.ticket_not_found", "no such ticket")
    if ticket.status != TicketStatus.VALID.value:
        raise Conflict("ticketing.ticket_not_valid", f"ticket is {ticket.status}")
    s = uow.session.get(TicketSession, ticket.session_id)
    if s is None or s.status != "scheduled" or now >= s.ends_at:
        raise Conflict("ticketing.transfer_closed", "transfers are closed for this session")
    phone = pii.normalise_phone(to_phone)
    to_index = pii.phone_index(uow, phone)
    if to_index == ticket.holder_phone_index:
        raise Conflict("ticketing.same_holder", "this phone already holds this ticket")
    if s.per_person_limit is not None:
        repo.lock_person(uow, s.id, [to_index])
        # Another phone holds the ticket, so it is not among the recipient's places yet.
        already = repo.person_places(uow, s.id, index_col="phone", index=to_index)
        if not check_person_cap(Limits(s.per_order_limit, s.per_person_limit), already, 1):
            raise Conflict(
                "ticketing.person_limit",
                f"at most {s.per_person_limit} places per person for this session",
                already=already,
            )
    ticket.status = TicketStatus.REVOKED.value
    ticket.revoked_at = now
    uow.session.flush()  # frees the partial unique index slot of the line before re-issue
    line = uow.session.get(OrderLine, ticket.line_id)
    if line is None:
        raise NotFound("ticketing.ticket_not_found", "ticket without place")
    (new_id,) = sales.issue_tickets(
        uow,
        order,
        [line],
        now=now,
        holder_sealed=pii.seal_phone(uow, phone),
        holder_index=to_index,
        replaces={line.id: ticket.id},
    )
    new = uow.session.get(Ticket, new_id)
    if new is None:
        raise NotFound("ticketing.ticket_not_found", "re-issued ticket missing")
    secret = secrets.token_urlsafe(16)
    new.access_hash = sales.access_hash(secret)
    uow.session.flush()
    notify.queue_ticket_received(uow, ticket_id=new.id, secret=secret, now=now)
    audit.record(
        uow,
        action="ticketing.ticket.transferred",
        actor_id=actor_id,
        target_type="ticket",
        target_id=str(ticket.id),
        details={"new_ticket_id": str(new_id)},
    )
    uow.publish(
        "ticketing.ticket.revoked",
        {"ticket_id": str(ticket.id), "replaced_by": str(new_id), "session_id": str(s.id)},
    )
    return TransferResult(new_id, ticket.id, mask_phone(phone))


# -- a transfer recipient's ticket ------------------------------------------------------


@dataclass(frozen=True)
class HeldTicket:
    """One ticket as its holder sees it through its own link; ``ticket`` (code and QR)
    only while it is valid."""

    id: uuid.UUID
    status: str
    session_id: uuid.UUID
    zone: str
    category: str
    seat: str | None
    ticket: sales.TicketView | None


def ticket_for_secret(uow: UnitOfWork, secret: str) -> uuid.UUID:
    """The ticket a recipient's link opens (404 for any other secret)."""
    if not secret or len(secret) > 64:
        raise NotFound("ticketing.ticket_not_found", "no such ticket")
    found = uow.session.scalar(
        sa.select(Ticket.id).where(
            Ticket.tenant_id == uow.require_tenant(),
            Ticket.access_hash == sales.access_hash(secret),
        )
    )
    if found is None:
        raise NotFound("ticketing.ticket_not_found", "no such ticket")
    return found


def held_ticket(uow: UnitOfWork, ticket_id: uuid.UUID, *, secret: str) -> HeldTicket:
    """A ticket by id with its own secret (404 when the secret does not match)."""
    t = uow.session.get(Ticket, ticket_id)
    if (
        t is None
        or t.tenant_id != uow.require_tenant()
        or t.access_hash is None
        or not secrets.compare_digest(sales.access_hash(secret), t.access_hash)
    ):
        raise NotFound("ticketing.ticket_not_found", "no such ticket")
    view = sales.ticket_views(uow, [t])[0]
    return HeldTicket(
        t.id,
        t.status,
        t.session_id,
        view.zone,
        view.category,
        view.seat,
        view if t.status == TicketStatus.VALID.value else None,
    )


# -- look-ups and revocations ---------------------------------------------------------


@dataclass(frozen=True)
class CodeCheck:
    valid: bool
    reason: str  # the ticket status: "valid", "revoked" or "void"
    ticket: sales.TicketView | None


def check_code(uow: UnitOfWork, code: str) -> CodeCheck:
    """Online check of a short code (read aloud at a desk, or typed at a gate)."""
    ticket = _ticket_by_code(uow, code)
    if ticket is None:
        raise NotFound("ticketing.code_unknown", "no ticket has this code")
    view = sales.ticket_views(uow, [ticket])[0]
    return CodeCheck(ticket.status == TicketStatus.VALID.value, ticket.status, view)


def orders_by_phone(uow: UnitOfWork, phone: str) -> list[sales.OrderView]:
    ix = pii.phone_index(uow, pii.normalise_phone(phone))
    orders = list(
        uow.session.scalars(
            sa.select(Order)
            .where(Order.tenant_id == uow.require_tenant(), Order.phone_index == ix)
            .order_by(Order.created_at.desc())
            .limit(50)
        )
    )
    ticket_orders = set(
        uow.session.scalars(
            sa.select(Ticket.order_id).where(
                Ticket.tenant_id == uow.require_tenant(), Ticket.holder_phone_index == ix
            )
        )
    )
    seen = {o.id for o in orders}
    for oid in ticket_orders - seen:
        o = uow.session.get(Order, oid)
        if o is not None:
            orders.append(o)
    return [sales.order_view(uow, o, all_holders=True) for o in orders]


@dataclass(frozen=True)
class Revocation:
    ticket_id: uuid.UUID
    session_id: uuid.UUID
    status: str
    revoked_at: dt.datetime


def revocations(uow: UnitOfWork, *, since: dt.datetime | None) -> list[Revocation]:
    q = sa.select(Ticket).where(
        Ticket.tenant_id == uow.require_tenant(), Ticket.revoked_at.is_not(None)
    )
    if since is not None:
        q = q.where(Ticket.revoked_at > since)
    rows = uow.session.scalars(q.order_by(Ticket.revoked_at, Ticket.id).limit(10_000))
    return [Revocation(t.id, t.session_id, t.status, t.revoked_at) for t in rows if t.revoked_at]
