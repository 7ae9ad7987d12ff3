"""Holds, checkout, payment confirmation and ticket issue.

Inventory invariants (see ``repo`` for the lock order):

* every claim runs under the session's row lock, after sweeping expired holds, and checks
  session, zone, category and channel counters before incrementing them; CHECK constraints
  back the counters and a partial UNIQUE index backs each seat;
* per-person caps are checked at checkout and on transfers to a phone, under a
  per-(session, person) lock, across every order of the session (phone blind index,
  optional ID number index): a ticket given to another phone counts for its new holder,
  not its buyer (``repo.person_places``); places of a hold that expired but was not swept
  yet still count for its buyer (the safe side);
* tickets are issued only on the order's ``pending -> paid`` transition, under the order
  row lock, once.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from typing import TypeVar

import sqlalchemy as sa

from teranga.audit import api as audit
from teranga.platform.clock import utcnow
from teranga.platform.errors import Conflict, NotFound, TerangaError, ValidationFailed
from teranga.platform.ids import new_id
from teranga.platform.uow import UnitOfWork
from teranga.ticketing import pii, repo, waiting_room
from teranga.ticketing import service as catalogue
from teranga.ticketing.domain import (
    Channel,
    HoldStatus,
    Limits,
    LineStatus,
    OrderStatus,
    TicketClaims,
    TicketStatus,
    b45encode,
    check_hold_transition,
    check_order_transition,
    check_person_cap,
    format_code,
    new_short_code,
    order_total,
    session_tag,
    sign_claims,
)
from teranga.ticketing.fulfilment import FulfilmentResult
from teranga.ticketing.models import (
    Hold,
    Order,
    OrderLine,
    PriceCategory,
    Seat,
    Ticket,
    TicketSession,
    WaitingRoom,
    Zone,
)

_M = TypeVar("_M")

#: A ticket opens this long before the session and closes this long after it.
GATES_OPEN = dt.timedelta(hours=4)
GATES_CLOSE = dt.timedelta(hours=3)


@dataclass(frozen=True)
class PlaceView:
    line_id: uuid.UUID
    zone: str
    category: str
    price_xof: int
    seat: str | None
    accessible: bool
    status: str


@dataclass(frozen=True)
class HoldView:
    id: uuid.UUID
    session_id: uuid.UUID
    status: str
    channel: str
    quantity: int
    expires_at: dt.datetime
    total_xof: int
    places: list[PlaceView]


@dataclass(frozen=True)
class TicketView:
    id: uuid.UUID
    order_id: uuid.UUID
    session_id: uuid.UUID
    code: str
    status: str
    zone: str
    category: str
    seat: str | None
    price_xof: int
    qr: str  # base45 text of the signed payload
    valid_from: dt.datetime
    valid_until: dt.datetime
    issued_at: dt.datetime


@dataclass(frozen=True)
class OrderView:
    id: uuid.UUID
    reference: str
    session_id: uuid.UUID
    hold_id: uuid.UUID
    channel: str
    status: str
    total_xof: int
    refunded_xof: int
    payment_status: str
    hold_expires_at: dt.datetime
    created_at: dt.datetime
    paid_at: dt.datetime | None
    places: list[PlaceView]
    tickets: list[TicketView] = field(default_factory=list)
    # Places whose valid ticket another phone holds now (given away): no code, no QR here.
    transferred_line_ids: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True)
class CheckoutResult:
    order: OrderView
    access_token: str  # shown once; lets the buyer open the order and move its tickets


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else utcnow()


def access_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- views -----------------------------------------------------------------------------


def _seat_label(seat: Seat | None) -> str | None:
    if seat is None:
        return None
    return f"{seat.section} · rang {seat.row} · place {seat.label}"


@dataclass(frozen=True)
class _Fixed:
    name: str
    number: int


_FIXED: dict[tuple[type, uuid.UUID], _Fixed] = {}
_FIXED_MAX = 50_000


def _fixed(
    uow: UnitOfWork, model: type[Zone] | type[PriceCategory], ids: set[uuid.UUID]
) -> dict[uuid.UUID, _Fixed]:
    """Names and numbers of zones or categories. Nothing changes them once created, so
    each process keeps them rather than reading them for every view and every issue."""
    out: dict[uuid.UUID, _Fixed] = {}
    missing = set()
    for i in ids:
        hit = _FIXED.get((model, i))
        if hit is None:
            missing.add(i)
        else:
            out[i] = hit
    if missing:
        if len(_FIXED) > _FIXED_MAX:
            _FIXED.clear()
        for row in _by_ids(uow, model, missing):
            out[row.id] = _FIXED[(model, row.id)] = _Fixed(row.name, row.number)
    return out


def _places(
    uow: UnitOfWork, lines: list[OrderLine], seats: dict[uuid.UUID, Seat] | None = None
) -> list[PlaceView]:
    """``seats``: already read by the caller (a batch reads all its holds' seats at once)."""
    zones = _fixed(uow, Zone, {ln.zone_id for ln in lines})
    cats = _fixed(uow, PriceCategory, {ln.category_id for ln in lines})
    if seats is None:
        seats = _seats_of(uow, [lines])
    out = []
    # Seat order, then creation order: what the buyer reads on the page and the ticket.
    for ln in sorted(lines, key=lambda ln: seats[ln.seat_id].number if ln.seat_id else 0):
        seat = seats.get(ln.seat_id) if ln.seat_id else None
        out.append(
            PlaceView(
                ln.id,
                zones[ln.zone_id].name,
                cats[ln.category_id].name,
                ln.price_xof,
                _seat_label(seat),
                bool(seat and seat.accessible),
                ln.status,
            )
        )
    return out


def _seats_of(uow: UnitOfWork, line_lists: list[list[OrderLine]]) -> dict[uuid.UUID, Seat]:
    ids = {ln.seat_id for lines in line_lists for ln in lines if ln.seat_id is not None}
    return {st.id: st for st in _by_ids(uow, Seat, ids)}


def _by_ids(uow: UnitOfWork, model: type[_M], ids: set[uuid.UUID]) -> list[_M]:
    if not ids:
        return []
    col = model.id  # type: ignore[attr-defined]
    return list(uow.session.scalars(sa.select(model).where(col.in_(ids))))


def hold_view(uow: UnitOfWork, hold: Hold) -> HoldView:
    lines = repo.lines_of_hold(uow, hold.id)
    return _hold_view(hold, lines, _places(uow, lines))


def _hold_view(hold: Hold, lines: list[OrderLine], places: list[PlaceView]) -> HoldView:
    return HoldView(
        hold.id,
        hold.session_id,
        hold.status,
        hold.channel,
        hold.quantity,
        hold.expires_at,
        sum(ln.price_xof for ln in lines),
        places,
    )


def ticket_views(
    uow: UnitOfWork, tickets: list[Ticket], known: list[PlaceView] | None = None
) -> list[TicketView]:
    """``known``: places already built for the tickets' lines (the order view's), reused
    instead of loading the lines, zones and categories a second time."""
    wanted = {t.line_id for t in tickets}
    if known is not None and wanted <= {p.line_id for p in known}:
        ordered = [p for p in known if p.line_id in wanted]
    else:
        lines = {ln.id: ln for ln in _by_ids(uow, OrderLine, wanted)}
        ordered = _places(uow, list(lines.values()))
    places = {p.line_id: p for p in ordered}
    rank = {p.line_id: i for i, p in enumerate(ordered)}
    out = []
    for t in sorted(tickets, key=lambda t: rank[t.line_id]):
        p = places[t.line_id]
        claims_from, claims_until = _window(uow, t.session_id)
        out.append(
            TicketView(
                t.id,
                t.order_id,
                t.session_id,
                format_code(t.code),
                t.status,
                p.zone,
                p.category,
                p.seat,
                p.price_xof,
                b45encode(t.payload),
                claims_from,
                claims_until,
                t.issued_at,
            )
        )
    return out


def held_by_buyer(ticket: Ticket, order: Order) -> bool:
    """Whether the order's own phone still holds the ticket (first issue copies the order's
    phone index onto the ticket; an order without a phone issues tickets without one)."""
    return ticket.holder_phone_index is None or ticket.holder_phone_index == order.phone_index


def order_view(
    uow: UnitOfWork,
    order: Order,
    *,
    with_tickets: bool = True,
    all_holders: bool = False,
    lines: list[OrderLine] | None = None,
) -> OrderView:
    """The order as its buyer sees it: only the tickets its phone still holds, so a ticket
    given away is not readable (nor re-transferable) with the order's secret.
    ``all_holders`` (staff look-ups) lists every valid ticket of the order."""
    hold = uow.session.get(Hold, order.hold_id)
    if hold is None:
        raise NotFound("ticketing.hold_not_found", "order without hold")
    places = _places(uow, lines if lines is not None else repo.lines_of_hold(uow, hold.id))
    tickets: list[TicketView] = []
    given: tuple[uuid.UUID, ...] = ()
    if with_tickets:
        rows = list(
            uow.session.scalars(
                sa.select(Ticket)
                .where(Ticket.order_id == order.id, Ticket.status == TicketStatus.VALID.value)
                .order_by(Ticket.issued_at, Ticket.id)
            )
        )
        if not all_holders:
            given = tuple(t.line_id for t in rows if not held_by_buyer(t, order))
            rows = [t for t in rows if held_by_buyer(t, order)]
        tickets = ticket_views(uow, rows, places)
    return OrderView(
        order.id,
        format_code(order.reference),
        order.session_id,
        order.hold_id,
        order.channel,
        order.status,
        order.total_xof,
        order.refunded_xof,
        order.payment_status,
        hold.expires_at,
        order.created_at,
        order.paid_at,
        places,
        tickets,
        given,
    )


def _window(uow: UnitOfWork, session_id: uuid.UUID) -> tuple[dt.datetime, dt.datetime]:
    s = uow.session.get(TicketSession, session_id)
    if s is None:
        raise NotFound("ticketing.session_not_found", "no such session")
    return s.starts_at - GATES_OPEN, s.ends_at + GATES_CLOSE


# -- holds -----------------------------------------------------------------------------


def _capacity_problem(
    uow: UnitOfWork, s: TicketSession, zone: Zone, cat: PriceCategory, channel: str, qty: int
) -> str | None:
    if s.capacity is not None and s.taken + qty > s.capacity:
        return "session"
    if zone.taken + qty > zone.capacity:
        return "zone"
    if cat.quota is not None and cat.taken + qty > cat.quota:
        return "category"
    quota = repo.channel_quota(uow, s.id, channel)
    if quota is not None and quota.taken + qty > quota.quota:
        return "channel"
    return None


def _locked_session(uow: UnitOfWork, session_id: uuid.UUID) -> TicketSession:
    s = repo.lock_session(uow, session_id)
    if s is None:
        raise NotFound("ticketing.session_not_found", "no such session")
    return s


@dataclass(frozen=True)
class HoldRequest:
    """One buyer's ask: a quantity (GA or best available seats) or chosen seats."""

    category_id: uuid.UUID
    quantity: int | None = None
    seat_ids: tuple[uuid.UUID, ...] = ()
    channel: str = Channel.ONLINE.value
    admission_token: str | None = None


def create_hold(
    uow: UnitOfWork,
    *,
    session_id: uuid.UUID,
    category_id: uuid.UUID,
    quantity: int | None = None,
    seat_ids: list[uuid.UUID] | None = None,
    channel: str = Channel.ONLINE.value,
    now: dt.datetime | None = None,
    admission_token: str | None = None,
) -> HoldView:
    """Hold places for ``hold_minutes``: a quantity (GA or best available seats) or seats.

    Online, when the session has an enabled waiting room, ``admission_token`` must be a
    valid admission token of that room (403 ``ticketing.not_admitted`` otherwise)."""
    req = HoldRequest(category_id, quantity, tuple(seat_ids or ()), channel, admission_token)
    (out,) = create_holds(uow, session_id=session_id, requests=[req], now=now)
    if isinstance(out, TerangaError):
        raise out
    return out


def create_holds(
    uow: UnitOfWork,
    *,
    session_id: uuid.UUID,
    requests: list[HoldRequest],
    now: dt.datetime | None = None,
) -> list[HoldView | TerangaError]:
    """Several buyers' holds on one session under one session lock (group commit).

    Each request is decided in turn exactly as it would be alone, against the counters
    the earlier ones left: it gets its hold or its own error, and a refused request
    writes nothing. The lock, the sweep of expired holds, the waiting room and the
    counter rows are read once for all of them; the inserts and counter updates are
    flushed together. A missing session raises for the whole call.
    """
    moment = _now(now)
    s = _locked_session(uow, session_id)
    repo.sweep_expired(uow, s, moment)
    ctx = _HoldContext(uow, s, moment)
    made: list[tuple[Hold, list[OrderLine]] | TerangaError] = []
    for req in requests:
        try:
            made.append(ctx.hold(req))
        except TerangaError as exc:
            made.append(exc)
    uow.session.flush()
    seats = _seats_of(uow, [m[1] for m in made if not isinstance(m, TerangaError)])
    return [
        m if isinstance(m, TerangaError) else _hold_view(m[0], m[1], _places(uow, m[1], seats))
        for m in made
    ]


class _HoldContext:
    """What the holds of one locked session share: the waiting room, read once, and the
    counter rows, refreshed once after the lock and then kept current in memory."""

    def __init__(self, uow: UnitOfWork, s: TicketSession, moment: dt.datetime) -> None:
        self.uow, self.s, self.moment = uow, s, moment
        self._fresh: set[uuid.UUID] = set()

    @functools.cached_property
    def room(self) -> WaitingRoom | None:
        return waiting_room.room_of(self.uow, self.s.id)

    def _get(self, model: type[_M], ident: uuid.UUID) -> _M | None:
        # The first read after the lock refreshes the row; later ones see this batch's
        # own changes in the identity map.
        found = self.uow.session.get(model, ident, populate_existing=ident not in self._fresh)
        self._fresh.add(ident)
        return found

    def hold(self, req: HoldRequest) -> tuple[Hold, list[OrderLine]]:
        uow, s, moment = self.uow, self.s, self.moment
        try:
            ch = Channel(req.channel)
        except ValueError as exc:
            raise ValidationFailed("channel", "online, box_office or agent") from exc
        if s.status != "scheduled":
            raise Conflict("ticketing.session_cancelled", "this session is cancelled")
        if ch is Channel.ONLINE and not s.sale_starts_at <= moment < s.sale_ends_at:
            raise Conflict("ticketing.not_on_sale", "this session is not on sale now")
        if ch is Channel.ONLINE:
            waiting_room.check_room_admission(self.room, s, req.admission_token, moment)
        cat = self._get(PriceCategory, req.category_id)
        if cat is None or cat.session_id != s.id:
            raise NotFound("ticketing.category_not_found", "no such category in this session")
        zone = self._get(Zone, cat.zone_id)
        if zone is None:
            raise NotFound("ticketing.zone_not_found", "no such zone")
        quantity, seat_ids = req.quantity, list(req.seat_ids)
        chosen: list[uuid.UUID | None]
        if zone.seated:
            if seat_ids:
                if len(set(seat_ids)) != len(seat_ids):
                    raise ValidationFailed("seat_ids", "a seat is listed twice")
                seats = _by_ids(uow, Seat, set(seat_ids))
                if len(seats) != len(seat_ids) or any(st.zone_id != zone.id for st in seats):
                    raise ValidationFailed("seat_ids", "seats must belong to the category's zone")
                if repo.seats_taken(uow, s.id, seat_ids):
                    raise Conflict("ticketing.seat_taken", "a chosen seat is no longer free")
                chosen = list(seat_ids)
            else:
                if not quantity or quantity < 1:
                    raise ValidationFailed("quantity", "give a quantity or seats")
                chosen = list(repo.free_seat_ids(uow, s.id, zone.id, quantity))
                if len(chosen) < quantity:
                    raise Conflict(
                        "ticketing.sold_out", "not enough seats left", remaining=len(chosen)
                    )
        else:
            if seat_ids:
                raise ValidationFailed("seat_ids", "this zone has no numbered seats")
            if not quantity or quantity < 1:
                raise ValidationFailed("quantity", "must be at least 1")
            chosen = [None] * quantity
        qty = len(chosen)
        if qty > s.per_order_limit:
            raise ValidationFailed("quantity", f"at most {s.per_order_limit} places per order")
        problem = _capacity_problem(uow, s, zone, cat, ch.value, qty)
        if problem is not None:
            raise Conflict("ticketing.sold_out", "not enough places left", limit=problem)
        hold = Hold(
            id=new_id(),
            tenant_id=s.tenant_id,
            session_id=s.id,
            channel=ch.value,
            status=HoldStatus.ACTIVE.value,
            quantity=qty,
            expires_at=moment + dt.timedelta(minutes=s.hold_minutes),
            created_at=moment,
        )
        uow.session.add(hold)
        lines = [
            OrderLine(
                id=new_id(),
                tenant_id=s.tenant_id,
                hold_id=hold.id,
                session_id=s.id,
                zone_id=zone.id,
                category_id=cat.id,
                seat_id=seat_id,
                price_xof=cat.price_xof,
                status=LineStatus.HELD.value,
            )
            for seat_id in chosen
        ]
        uow.session.add_all(lines)
        repo.adjust_counters(uow, s, ch.value, lines, +1)
        return hold, lines


def get_hold(uow: UnitOfWork, hold_id: uuid.UUID) -> HoldView:
    hold = uow.session.get(Hold, hold_id)
    if hold is None or hold.tenant_id != uow.require_tenant():
        raise NotFound("ticketing.hold_not_found", "no such hold")
    return hold_view(uow, hold)


def release_hold(uow: UnitOfWork, *, hold_id: uuid.UUID) -> HoldView:
    """The buyer gives the places back before ordering."""
    hold = repo.lock_hold(uow, hold_id)
    if hold is None:
        raise NotFound("ticketing.hold_not_found", "no such hold")
    if hold.status != HoldStatus.ACTIVE.value:
        return hold_view(uow, hold)
    order = uow.session.scalar(sa.select(Order).where(Order.hold_id == hold.id))
    if order is not None:
        raise Conflict("ticketing.hold_ordered", "cancel the order instead")
    s = _locked_session(uow, hold.session_id)
    repo.release_hold_places(uow, s, hold, HoldStatus.RELEASED)
    return hold_view(uow, hold)


# -- checkout --------------------------------------------------------------------------


def checkout(
    uow: UnitOfWork,
    *,
    hold_id: uuid.UUID,
    phone: str | None,
    id_number: str | None = None,
    now: dt.datetime | None = None,
    actor_id: uuid.UUID | None = None,
) -> CheckoutResult:
    """Turn a live hold into a pending order; free orders are issued at once.

    Per-person caps are checked here, under the person lock, across every order and the
    tickets transferred to or away from the buyer's phone.
    """
    moment = _now(now)
    hold = repo.lock_hold(uow, hold_id)
    if hold is None:
        raise NotFound("ticketing.hold_not_found", "no such hold")
    if uow.session.scalar(sa.select(Order.id).where(Order.hold_id == hold.id)) is not None:
        raise Conflict("ticketing.hold_ordered", "this hold already has an order")
    if hold.status != HoldStatus.ACTIVE.value or moment >= hold.expires_at:
        raise Conflict("ticketing.hold_expired", "the hold expired; choose your places again")
    s = catalogue.load_session(uow, hold.session_id)
    phone_e164 = pii.normalise_phone(phone) if phone else None
    if phone_e164 is None and hold.channel == Channel.ONLINE.value:
        raise ValidationFailed("phone", "required")
    if s.require_id_number and not id_number and hold.channel == Channel.ONLINE.value:
        raise ValidationFailed("id_number", "required for this session")
    limits = Limits(s.per_order_limit, s.per_person_limit)
    phone_ix = pii.phone_index(uow, phone_e164) if phone_e164 else None
    id_ix = pii.id_number_index(uow, id_number) if id_number else None
    repo.lock_person(uow, s.id, [ix for ix in (phone_ix, id_ix) if ix])
    for kind, ix in (("phone", phone_ix), ("id_number", id_ix)):
        if ix is None:
            continue
        already = repo.person_places(uow, s.id, index_col=kind, index=ix)
        if not check_person_cap(limits, already, hold.quantity):
            raise Conflict(
                "ticketing.person_limit",
                f"at most {s.per_person_limit} places per person for this session",
                already=already,
            )
    lines = repo.lines_of_hold(uow, hold.id)
    token = secrets.token_urlsafe(24)
    order = Order(
        id=new_id(),
        tenant_id=s.tenant_id,
        session_id=s.id,
        hold_id=hold.id,
        reference=new_short_code(),
        access_hash=access_hash(token),
        channel=hold.channel,
        status=OrderStatus.PENDING.value,
        total_xof=order_total([ln.price_xof for ln in lines]),
        refunded_xof=0,
        phone_sealed=pii.seal_phone(uow, phone_e164) if phone_e164 else None,
        phone_index=phone_ix,
        id_number_index=id_ix,
        payment_status="none",
        created_at=moment,
    )
    uow.session.add(order)
    for ln in lines:
        ln.order_id = order.id
    uow.session.flush()
    if order.total_xof == 0:
        _mark_paid(uow, order, hold, payment_id=None, provider="free", now=moment)
    # A pending order has no tickets yet: only a free order (paid above) lists them.
    view = order_view(uow, order, with_tickets=order.status == OrderStatus.PAID.value, lines=lines)
    audit.record(
        uow,
        action="ticketing.order.created",
        actor_id=actor_id,
        target_type="order",
        target_id=str(order.id),
        details={"total_xof": order.total_xof, "places": len(lines), "channel": order.channel},
    )
    return CheckoutResult(view, token)


def get_order(
    uow: UnitOfWork, order_id: uuid.UUID, *, token: str | None = None, buyer_view: bool = False
) -> OrderView:
    """An order by id; with ``token`` (public access) the bearer secret must match and only
    the tickets the buyer still holds are listed. Without (staff), every valid ticket,
    unless ``buyer_view`` (a reprint for the buyer: not the tickets they gave away)."""
    order = _order(uow, order_id, token)
    return order_view(uow, order, all_holders=token is None and not buyer_view)


def _order(uow: UnitOfWork, order_id: uuid.UUID, token: str | None) -> Order:
    order = uow.session.get(Order, order_id)
    if order is None or order.tenant_id != uow.require_tenant():
        raise NotFound("ticketing.order_not_found", "no such order")
    if token is not None and not secrets.compare_digest(access_hash(token), order.access_hash):
        raise NotFound("ticketing.order_not_found", "no such order")
    return order


def payable_order(uow: UnitOfWork, order_id: uuid.UUID, *, token: str, now: dt.datetime) -> Order:
    """The buyer's pending order whose hold still runs, checked on the rows alone (no view
    is built: starting a payment answers with the payment, not the order)."""
    order = _order(uow, order_id, token)
    if order.status != OrderStatus.PENDING.value:
        raise Conflict("ticketing.order_not_pending", f"order is {order.status}")
    hold = uow.session.get(Hold, order.hold_id)
    if hold is None or hold.tenant_id != uow.require_tenant():
        raise NotFound("ticketing.hold_not_found", "no such hold")
    if hold.status != HoldStatus.ACTIVE.value or now >= hold.expires_at:
        raise Conflict("ticketing.hold_expired", "the hold expired; choose your places again")
    return order


# -- payment confirmation --------------------------------------------------------------


def confirm_payment(
    uow: UnitOfWork,
    *,
    order_id: uuid.UUID,
    payment_id: uuid.UUID,
    amount_xof: int,
    provider: str,
    now: dt.datetime | None = None,
) -> FulfilmentResult:
    """See :func:`teranga.ticketing.fulfilment.on_payment_confirmed`."""
    moment = _now(now)
    order = repo.lock_order(uow, order_id)
    if order is None:
        return FulfilmentResult("refund_required", order_id, reason="unknown_order")
    if order.status == OrderStatus.PAID.value:
        if order.payment_id in (None, payment_id):
            return FulfilmentResult("already_issued", order.id, _valid_ticket_ids(uow, order))
        return FulfilmentResult("refund_required", order.id, reason="order_already_paid")
    if order.status != OrderStatus.PENDING.value:
        return FulfilmentResult("refund_required", order.id, reason="order_cancelled")
    if amount_xof != order.total_xof:
        order.payment_status = "amount_mismatch"
        return FulfilmentResult("refund_required", order.id, reason="amount_mismatch")
    hold = repo.lock_hold(uow, order.hold_id)
    if hold is None:
        return FulfilmentResult("refund_required", order.id, reason="unknown_order")
    if hold.status == HoldStatus.EXPIRED.value and not _reattach(uow, hold, moment):
        check_order_transition(OrderStatus(order.status), OrderStatus.CANCELLED)
        order.status = OrderStatus.CANCELLED.value
        order.payment_status = "refund_required"
        order.refund_reason = "places_taken"
        audit.record(
            uow,
            action="ticketing.order.orphan_payment",
            actor_id=None,
            target_type="order",
            target_id=str(order.id),
            details={"payment_id": str(payment_id), "amount_xof": amount_xof},
        )
        return FulfilmentResult("refund_required", order.id, reason="places_taken")
    if hold.status not in (HoldStatus.ACTIVE.value, HoldStatus.EXPIRED.value):
        return FulfilmentResult("refund_required", order.id, reason="order_cancelled")
    ids = _mark_paid(uow, order, hold, payment_id=payment_id, provider=provider, now=moment)
    return FulfilmentResult("issued", order.id, ids)


def _reattach(uow: UnitOfWork, hold: Hold, now: dt.datetime) -> bool:
    """Claim an expired hold's places again if they are still free (late payment)."""
    s = _locked_session(uow, hold.session_id)
    repo.sweep_expired(uow, s, now)
    lines = [
        ln for ln in repo.lines_of_hold(uow, hold.id) if ln.status == LineStatus.RELEASED.value
    ]
    if not lines or s.status != "scheduled":
        return False
    seat_ids = [ln.seat_id for ln in lines if ln.seat_id is not None]
    if seat_ids and repo.seats_taken(uow, s.id, seat_ids):
        return False
    zone = uow.session.get(Zone, lines[0].zone_id, populate_existing=True)
    cat = uow.session.get(PriceCategory, lines[0].category_id, populate_existing=True)
    if zone is None or cat is None:
        return False
    if _capacity_problem(uow, s, zone, cat, hold.channel, len(lines)) is not None:
        return False
    for ln in lines:
        ln.status = LineStatus.HELD.value
    repo.adjust_counters(uow, s, hold.channel, lines, +1)
    uow.session.flush()
    return True


def _valid_ticket_ids(uow: UnitOfWork, order: Order) -> tuple[uuid.UUID, ...]:
    return tuple(
        uow.session.scalars(
            sa.select(Ticket.id)
            .where(Ticket.order_id == order.id, Ticket.status == TicketStatus.VALID.value)
            .order_by(Ticket.id)
        )
    )


def _mark_paid(
    uow: UnitOfWork,
    order: Order,
    hold: Hold,
    *,
    payment_id: uuid.UUID | None,
    provider: str,
    now: dt.datetime,
) -> tuple[uuid.UUID, ...]:
    check_order_transition(OrderStatus(order.status), OrderStatus.PAID)
    check_hold_transition(HoldStatus(hold.status), HoldStatus.ORDERED)
    order.status = OrderStatus.PAID.value
    order.payment_id = payment_id
    order.payment_provider = provider
    order.payment_status = "succeeded" if payment_id else provider
    order.paid_at = now
    hold.status = HoldStatus.ORDERED.value
    lines = repo.lines_of_hold(uow, hold.id)
    for ln in lines:
        ln.status = LineStatus.SOLD.value
    uow.session.flush()
    issued = issue_tickets(uow, order, lines, now=now)
    audit.record(
        uow,
        action="ticketing.order.paid",
        actor_id=None,
        target_type="order",
        target_id=str(order.id),
        details={"total_xof": order.total_xof, "tickets": len(issued), "provider": provider},
    )
    uow.publish(
        "ticketing.order.paid",
        {
            "order_id": str(order.id),
            "session_id": str(order.session_id),
            "tickets": [str(t) for t in issued],
        },
    )
    return issued


def issue_tickets(
    uow: UnitOfWork,
    order: Order,
    lines: list[OrderLine],
    *,
    now: dt.datetime,
    holder_sealed: bytes | None = None,
    holder_index: str | None = None,
    replaces: dict[uuid.UUID, uuid.UUID] | None = None,
) -> tuple[uuid.UUID, ...]:
    """Sign one ticket per line with the event key. Callers hold the order lock."""
    s = uow.session.get(TicketSession, order.session_id)
    if s is None:
        raise NotFound("ticketing.session_not_found", "no such session")
    key_row = catalogue.active_key_row(uow, s.event_id)
    private_raw = catalogue.private_key(uow, key_row)
    zones = _fixed(uow, Zone, {ln.zone_id for ln in lines})
    cats = _fixed(uow, PriceCategory, {ln.category_id for ln in lines})
    seats = _seats_of(uow, [lines])
    valid_from, valid_until = s.starts_at - GATES_OPEN, s.ends_at + GATES_CLOSE
    ids = []
    for ln in lines:
        tid = new_id()
        claims = TicketClaims(
            key_id=key_row.key_id,
            ticket_id=tid,
            session_tag=session_tag(s.id),
            zone_no=zones[ln.zone_id].number,
            category_no=cats[ln.category_id].number,
            seat_no=seats[ln.seat_id].number if ln.seat_id else 0,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        uow.session.add(
            Ticket(
                id=tid,
                tenant_id=order.tenant_id,
                order_id=order.id,
                line_id=ln.id,
                session_id=s.id,
                seat_id=ln.seat_id,
                code=new_short_code(),
                status=TicketStatus.VALID.value,
                key_id=key_row.key_id,
                payload=sign_claims(claims, private_raw),
                holder_phone_sealed=holder_sealed or order.phone_sealed,
                holder_phone_index=holder_index or order.phone_index,
                replaces_id=(replaces or {}).get(ln.id),
                issued_at=now,
            )
        )
        ids.append(tid)
    uow.session.flush()
    return tuple(ids)


def record_payment_failure(uow: UnitOfWork, *, order_id: uuid.UUID, payment_id: uuid.UUID) -> None:
    """A failed attempt leaves the order pending (the buyer may retry until the hold ends)."""
    order = repo.lock_order(uow, order_id)
    if order is None or order.status != OrderStatus.PENDING.value:
        return  # unknown, or already paid/cancelled: a late failure changes nothing
    order.payment_status = "failed"
    uow.session.flush()


def box_office_sale(
    uow: UnitOfWork,
    *,
    session_id: uuid.UUID,
    category_id: uuid.UUID,
    quantity: int | None = None,
    seat_ids: list[uuid.UUID] | None = None,
    phone: str | None = None,
    actor_id: uuid.UUID | None,
    now: dt.datetime | None = None,
) -> CheckoutResult:
    """Sell at the counter for cash: hold, order and issue in one transaction."""
    moment = _now(now)
    hold = create_hold(
        uow,
        session_id=session_id,
        category_id=category_id,
        quantity=quantity,
        seat_ids=seat_ids,
        channel=Channel.BOX_OFFICE.value,
        now=moment,
    )
    result = checkout(uow, hold_id=hold.id, phone=phone, now=moment, actor_id=actor_id)
    order = repo.lock_order(uow, result.order.id)
    held = repo.lock_hold(uow, hold.id)
    if order is None or held is None:
        raise NotFound("ticketing.order_not_found", "order vanished")
    if order.status == OrderStatus.PENDING.value:
        _mark_paid(uow, order, held, payment_id=None, provider="cash", now=moment)
    return CheckoutResult(order_view(uow, order), result.access_token)
