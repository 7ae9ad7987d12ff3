"""Inventory queries and locks. Never commits.

Lock order, everywhere: order row -> hold row -> session row -> ticket rows -> person
lock (``lock_person``, taken last by checkouts and by transfers to a phone). The session
row is the inventory lock of its session (every counter of the session changes under it).
The sweep that expires stale holds runs under the session lock and takes hold rows with
``SKIP LOCKED``, so it never waits for a hold lock while holding the session lock: a hold
that a payment confirmation is converting right now is skipped and left to that
confirmation. On SQLite ``BEGIN IMMEDIATE`` already serialises writers and ``FOR UPDATE``
is dropped by the dialect.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import sqlalchemy as sa

from teranga.platform.uow import UnitOfWork
from teranga.ticketing.domain import HoldStatus, LineStatus, TicketStatus, check_hold_transition
from teranga.ticketing.models import (
    ChannelQuota,
    Hold,
    Order,
    OrderLine,
    PriceCategory,
    Seat,
    Ticket,
    TicketSession,
    Zone,
)

_QUOTAS = "ticketing.channel_quotas"


def lock_session(uow: UnitOfWork, session_id: uuid.UUID) -> TicketSession | None:
    """``SELECT ... FOR UPDATE`` the session row: the inventory lock of the session.

    Counter rows (zones, categories, quotas) loaded after this lock, in this transaction,
    are current; ``adjust_counters`` relies on it and reads them from the identity map.
    """
    uow.session.info.pop(_QUOTAS, None)
    return uow.session.scalar(
        sa.select(TicketSession)
        .where(TicketSession.id == session_id, TicketSession.tenant_id == uow.require_tenant())
        # FOR NO KEY UPDATE: holds still queue on each other, but the foreign-key checks of
        # inserted orders, lines and tickets (FOR KEY SHARE on this row) do not wait for them.
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )


def lock_hold(uow: UnitOfWork, hold_id: uuid.UUID) -> Hold | None:
    return uow.session.scalar(
        sa.select(Hold)
        .where(Hold.id == hold_id, Hold.tenant_id == uow.require_tenant())
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def lock_order(uow: UnitOfWork, order_id: uuid.UUID) -> Order | None:
    return uow.session.scalar(
        sa.select(Order)
        .where(Order.id == order_id, Order.tenant_id == uow.require_tenant())
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def lines_of_hold(uow: UnitOfWork, hold_id: uuid.UUID) -> list[OrderLine]:
    return list(
        uow.session.scalars(
            sa.select(OrderLine).where(OrderLine.hold_id == hold_id).order_by(OrderLine.id)
        )
    )


def adjust_counters(
    uow: UnitOfWork, session: TicketSession, channel: str, lines: list[OrderLine], sign: int
) -> None:
    """Add (+1) or remove (-1) ``lines`` from every counter they count against.

    Callers hold the session lock, so these read-modify-write updates do not race.
    """
    n = len(lines) * sign
    if not lines:
        return
    session.taken += n
    for zone_id, k in Counter(ln.zone_id for ln in lines).items():
        zone = uow.session.get(Zone, zone_id)
        if zone is not None:
            zone.taken += k * sign
    for cat_id, k in Counter(ln.category_id for ln in lines).items():
        cat = uow.session.get(PriceCategory, cat_id)
        if cat is not None:
            cat.taken += k * sign
    quota = channel_quota(uow, session.id, channel)
    if quota is not None:
        quota.taken += n


def channel_quota(uow: UnitOfWork, session_id: uuid.UUID, channel: str) -> ChannelQuota | None:
    """The channel's quota row, read once per session lock (None: no quota)."""
    cache: dict[tuple[uuid.UUID, str], ChannelQuota | None] = uow.session.info.setdefault(
        _QUOTAS, {}
    )
    key = (session_id, channel)
    if key not in cache:
        cache[key] = uow.session.scalar(
            sa.select(ChannelQuota)
            .where(ChannelQuota.session_id == session_id, ChannelQuota.channel == channel)
            .execution_options(populate_existing=True)
        )
    return cache[key]


def lock_person(uow: UnitOfWork, session_id: uuid.UUID, indexes: list[str]) -> None:
    """Serialise checkouts and incoming transfers of one person in one session (caps).

    PostgreSQL: transaction-scoped advisory locks on ``(session, blind index)``, taken in
    sorted order. SQLite: ``BEGIN IMMEDIATE`` already serialises writers.
    """
    if uow.session.get_bind().dialect.name != "postgresql":
        return
    for index in sorted(indexes):
        uow.session.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
            {"k": f"ticketing.person:{session_id}:{index}"},
        )


def sweep_expired(uow: UnitOfWork, session: TicketSession, now: dt.datetime) -> int:
    """Expire the session's holds whose time is up and give their places back.

    Runs in the lock path of every claim, so correctness never waits for a background job.
    Returns the number of holds expired.
    """
    stale = list(
        uow.session.scalars(
            sa.select(Hold)
            .where(
                Hold.session_id == session.id,
                Hold.status == HoldStatus.ACTIVE.value,
                Hold.expires_at <= now,
            )
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )
    for hold in stale:
        release_hold_places(uow, session, hold, HoldStatus.EXPIRED)
    return len(stale)


def release_hold_places(
    uow: UnitOfWork, session: TicketSession, hold: Hold, target: HoldStatus
) -> list[OrderLine]:
    """Move ``hold`` to ``target`` and return its held places to the counters."""
    check_hold_transition(HoldStatus(hold.status), target)
    held = [ln for ln in lines_of_hold(uow, hold.id) if ln.status == LineStatus.HELD.value]
    for ln in held:
        ln.status = LineStatus.RELEASED.value
    hold.status = target.value
    adjust_counters(uow, session, hold.channel, held, -1)
    uow.session.flush()
    return held


def free_seat_ids(
    uow: UnitOfWork, session_id: uuid.UUID, zone_id: uuid.UUID, limit: int
) -> list[uuid.UUID]:
    """The first ``limit`` free seats of a zone in seat order (best available)."""
    live = sa.select(OrderLine.seat_id).where(
        OrderLine.session_id == session_id,
        OrderLine.seat_id.is_not(None),
        OrderLine.status.in_([LineStatus.HELD.value, LineStatus.SOLD.value]),
    )
    rows = uow.session.scalars(
        sa.select(Seat.id)
        .where(Seat.zone_id == zone_id, Seat.id.not_in(live))
        .order_by(Seat.accessible, Seat.number)
        .limit(limit)
    )
    return list(rows)


def seats_taken(uow: UnitOfWork, session_id: uuid.UUID, seat_ids: list[uuid.UUID]) -> bool:
    n = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(OrderLine)
        .where(
            OrderLine.session_id == session_id,
            OrderLine.seat_id.in_(seat_ids),
            OrderLine.status.in_([LineStatus.HELD.value, LineStatus.SOLD.value]),
        )
    )
    return bool(n)


def person_places(uow: UnitOfWork, session_id: uuid.UUID, *, index_col: str, index: str) -> int:
    """Places a person has in a session: what the per-person cap counts (one statement).

    Their own orders' held or sold places, except those whose valid ticket another phone
    now holds (given away), plus valid tickets of other people's orders transferred to
    their phone. Tickets carry no ID number, so by ID number only the first part counts.
    """
    live = [LineStatus.HELD.value, LineStatus.SOLD.value]
    valid = TicketStatus.VALID.value
    col = Order.phone_index if index_col == "phone" else Order.id_number_index
    given_away = (
        sa.select(Ticket.id)
        .where(
            Ticket.line_id == OrderLine.id,
            Ticket.status == valid,
            Ticket.holder_phone_index.is_not(None),
            sa.or_(Order.phone_index.is_(None), Ticket.holder_phone_index != Order.phone_index),
        )
        .correlate(OrderLine, Order)
        .exists()
    )
    own = (
        sa.select(sa.func.count())
        .select_from(OrderLine)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Order.session_id == session_id,
            col == index,
            OrderLine.status.in_(live),
            ~given_away,
        )
        .scalar_subquery()
    )
    total: sa.ColumnElement[int] = own
    if index_col == "phone":
        received = (
            sa.select(sa.func.count())
            .select_from(Ticket)
            .join(Order, Order.id == Ticket.order_id)
            .where(
                Ticket.tenant_id == uow.require_tenant(),
                Ticket.holder_phone_index == index,
                Ticket.session_id == session_id,
                Ticket.status == valid,
                sa.or_(Order.phone_index.is_(None), Order.phone_index != index),
            )
            .scalar_subquery()
        )
        total = own + received
    return int(uow.session.scalar(sa.select(total)) or 0)
