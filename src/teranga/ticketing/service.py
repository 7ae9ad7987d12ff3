"""Catalogue use cases: events (with their signing key), sessions, zones, seats, categories.

Sales (holds, orders, tickets) live in ``sales``; after-sale changes in ``aftersale``.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from teranga.platform.errors import Conflict, NotFound, ValidationFailed
from teranga.platform.uow import UnitOfWork
from teranga.ticketing import pii
from teranga.ticketing.domain import Channel, generate_signing_key
from teranga.ticketing.models import (
    ChannelQuota,
    PriceCategory,
    Seat,
    SigningKeyRow,
    TicketedEvent,
    TicketSession,
    Zone,
)


@dataclass(frozen=True)
class EventView:
    id: uuid.UUID
    name: str
    description: str
    status: str
    key_id: int


@dataclass(frozen=True)
class SessionView:
    id: uuid.UUID
    event_id: uuid.UUID
    name: str
    venue_id: str | None
    venue_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    sale_starts_at: dt.datetime
    sale_ends_at: dt.datetime
    hold_minutes: int
    capacity: int | None
    taken: int
    per_order_limit: int
    per_person_limit: int | None
    status: str
    illustrative: bool


@dataclass(frozen=True)
class ZoneView:
    id: uuid.UUID
    session_id: uuid.UUID
    number: int
    name: str
    seated: bool
    capacity: int
    taken: int


@dataclass(frozen=True)
class CategoryView:
    id: uuid.UUID
    session_id: uuid.UUID
    zone_id: uuid.UUID
    number: int
    name: str
    price_xof: int
    quota: int | None
    taken: int


@dataclass(frozen=True)
class SeatSpec:
    section: str
    row: str
    label: str
    accessible: bool = False


def _tenant(uow: UnitOfWork) -> uuid.UUID:
    return uow.require_tenant()


def event_view(e: TicketedEvent, key_id: int) -> EventView:
    return EventView(e.id, e.name, e.description, e.status, key_id)


def session_view(s: TicketSession) -> SessionView:
    return SessionView(
        s.id,
        s.event_id,
        s.name,
        s.venue_id,
        s.venue_name,
        s.starts_at,
        s.ends_at,
        s.sale_starts_at,
        s.sale_ends_at,
        s.hold_minutes,
        s.capacity,
        s.taken,
        s.per_order_limit,
        s.per_person_limit,
        s.status,
        s.illustrative,
    )


def zone_view(z: Zone) -> ZoneView:
    return ZoneView(z.id, z.session_id, z.number, z.name, z.seated, z.capacity, z.taken)


def category_view(c: PriceCategory) -> CategoryView:
    return CategoryView(
        c.id, c.session_id, c.zone_id, c.number, c.name, c.price_xof, c.quota, c.taken
    )


# -- events and keys ---------------------------------------------------------------------


def create_event(
    uow: UnitOfWork,
    *,
    name: str,
    description: str = "",
    programme_event_id: uuid.UUID | None = None,
) -> EventView:
    """Create the event AND its Ed25519 signing key in one transaction.

    The key is never created lazily at the first sale: two concurrent first sales would
    otherwise race to create it and sign tickets with different keys.
    """
    tenant_id = _tenant(uow)
    if not name.strip():
        raise ValidationFailed("name", "required")
    event = TicketedEvent(
        tenant_id=tenant_id,
        name=name.strip(),
        description=description,
        programme_event_id=programme_event_id,
    )
    uow.session.add(event)
    uow.session.flush()
    key = generate_signing_key()
    uow.session.add(
        SigningKeyRow(
            tenant_id=tenant_id,
            event_id=event.id,
            key_id=key.key_id,
            public_key=key.public_raw,
            private_key_sealed=pii.seal_private_key(uow, key.private_raw),
        )
    )
    uow.session.flush()
    return event_view(event, key.key_id)


def get_event(uow: UnitOfWork, event_id: uuid.UUID) -> EventView:
    event = uow.session.get(TicketedEvent, event_id)
    if event is None or event.tenant_id != _tenant(uow):
        raise NotFound("ticketing.event_not_found", "no such event")
    key = active_key_row(uow, event.id)
    return event_view(event, key.key_id)


def list_events(uow: UnitOfWork) -> list[EventView]:
    rows = uow.session.execute(
        sa.select(TicketedEvent, SigningKeyRow.key_id)
        .join(SigningKeyRow, SigningKeyRow.event_id == TicketedEvent.id)
        .where(TicketedEvent.tenant_id == _tenant(uow), SigningKeyRow.retired_at.is_(None))
        .order_by(TicketedEvent.created_at)
    ).all()
    return [event_view(e, k) for e, k in rows]


def active_key_row(uow: UnitOfWork, event_id: uuid.UUID) -> SigningKeyRow:
    row = uow.session.scalar(
        sa.select(SigningKeyRow)
        .where(
            SigningKeyRow.tenant_id == _tenant(uow),
            SigningKeyRow.event_id == event_id,
            SigningKeyRow.retired_at.is_(None),
        )
        .order_by(SigningKeyRow.created_at.desc())
        .limit(1)
    )
    if row is None:
        raise NotFound("ticketing.key_not_found", "the event has no signing key")
    return row


def private_key(uow: UnitOfWork, row: SigningKeyRow) -> bytes:
    return pii.unseal_private_key(uow, row.private_key_sealed)


@dataclass(frozen=True)
class PublicKeyView:
    key_id: int
    event_id: uuid.UUID
    algorithm: str
    public_key: str  # base64 of the raw 32-byte Ed25519 key
    created_at: dt.datetime
    retired_at: dt.datetime | None


def public_keys(uow: UnitOfWork) -> list[PublicKeyView]:
    rows = uow.session.scalars(
        sa.select(SigningKeyRow)
        .where(SigningKeyRow.tenant_id == _tenant(uow))
        .order_by(SigningKeyRow.created_at)
    )
    return [
        PublicKeyView(
            r.key_id,
            r.event_id,
            "Ed25519",
            base64.b64encode(r.public_key).decode(),
            r.created_at,
            r.retired_at,
        )
        for r in rows
    ]


# -- sessions ----------------------------------------------------------------------------


def create_session(
    uow: UnitOfWork,
    *,
    event_id: uuid.UUID,
    name: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    sale_starts_at: dt.datetime,
    sale_ends_at: dt.datetime | None = None,
    venue_id: str | None = None,
    venue_name: str = "",
    capacity: int | None = None,
    per_order_limit: int = 10,
    per_person_limit: int | None = None,
    require_id_number: bool = False,
    hold_minutes: int = 10,
    programme_session_id: uuid.UUID | None = None,
    illustrative: bool = False,
) -> SessionView:
    get_event(uow, event_id)
    if not name.strip():
        raise ValidationFailed("name", "required")
    if ends_at <= starts_at:
        raise ValidationFailed("ends_at", "must be after starts_at")
    sale_end = sale_ends_at or starts_at
    if sale_end <= sale_starts_at:
        raise ValidationFailed("sale_ends_at", "must be after sale_starts_at")
    if capacity is not None and capacity < 0:
        raise ValidationFailed("capacity", "must be >= 0")
    if per_order_limit < 1:
        raise ValidationFailed("per_order_limit", "must be >= 1")
    if per_person_limit is not None and per_person_limit < 1:
        raise ValidationFailed("per_person_limit", "must be >= 1")
    if not 1 <= hold_minutes <= 60:
        raise ValidationFailed("hold_minutes", "between 1 and 60")
    s = TicketSession(
        tenant_id=_tenant(uow),
        event_id=event_id,
        name=name.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        sale_starts_at=sale_starts_at,
        sale_ends_at=sale_end,
        venue_id=venue_id,
        venue_name=venue_name,
        capacity=capacity,
        taken=0,
        per_order_limit=per_order_limit,
        per_person_limit=per_person_limit,
        require_id_number=require_id_number,
        hold_minutes=hold_minutes,
        programme_session_id=programme_session_id,
        illustrative=illustrative,
        status="scheduled",
    )
    uow.session.add(s)
    uow.session.flush()
    return session_view(s)


def load_session(uow: UnitOfWork, session_id: uuid.UUID) -> TicketSession:
    s = uow.session.get(TicketSession, session_id)
    if s is None or s.tenant_id != _tenant(uow):
        raise NotFound("ticketing.session_not_found", "no such session")
    return s


def get_session(uow: UnitOfWork, session_id: uuid.UUID) -> SessionView:
    return session_view(load_session(uow, session_id))


def list_sessions(
    uow: UnitOfWork, *, on_sale_at: dt.datetime | None = None, event_id: uuid.UUID | None = None
) -> list[SessionView]:
    q = sa.select(TicketSession).where(TicketSession.tenant_id == _tenant(uow))
    if event_id is not None:
        q = q.where(TicketSession.event_id == event_id)
    if on_sale_at is not None:
        q = q.where(
            TicketSession.status == "scheduled",
            TicketSession.sale_starts_at <= on_sale_at,
            TicketSession.sale_ends_at > on_sale_at,
        )
    return [session_view(s) for s in uow.session.scalars(q.order_by(TicketSession.starts_at))]


def add_zone(
    uow: UnitOfWork,
    *,
    session_id: uuid.UUID,
    name: str,
    capacity: int | None = None,
    seats: list[SeatSpec] | None = None,
) -> ZoneView:
    """A general-admission zone (``capacity``) or a seated one (``seats``, capacity = seats)."""
    s = load_session(uow, session_id)
    if s.status != "scheduled":
        raise Conflict("ticketing.session_cancelled", "the session is cancelled")
    if (capacity is None) == (seats is None):
        raise ValidationFailed("capacity", "give either a capacity or a list of seats")
    if seats is not None and not seats:
        raise ValidationFailed("seats", "at least one seat")
    cap = len(seats) if seats is not None else int(capacity or 0)
    if cap < 0:
        raise ValidationFailed("capacity", "must be >= 0")
    tenant_id = _tenant(uow)
    number = 1 + (
        uow.session.scalar(
            sa.select(sa.func.coalesce(sa.func.max(Zone.number), 0)).where(
                Zone.session_id == session_id
            )
        )
        or 0
    )
    zone = Zone(
        tenant_id=tenant_id,
        session_id=session_id,
        number=number,
        name=name.strip() or f"Zone {number}",
        seated=seats is not None,
        capacity=cap,
        taken=0,
    )
    uow.session.add(zone)
    uow.session.flush()
    if seats:
        first = 1 + (
            uow.session.scalar(
                sa.select(sa.func.coalesce(sa.func.max(Seat.number), 0)).where(
                    Seat.session_id == session_id
                )
            )
            or 0
        )
        seen: set[tuple[str, str, str]] = set()
        for i, spec in enumerate(seats):
            ident = (spec.section, spec.row, spec.label)
            if ident in seen:
                raise ValidationFailed("seats", f"duplicate seat {'/'.join(ident)}")
            seen.add(ident)
            uow.session.add(
                Seat(
                    tenant_id=tenant_id,
                    session_id=session_id,
                    zone_id=zone.id,
                    number=first + i,
                    section=spec.section,
                    row=spec.row,
                    label=spec.label,
                    accessible=spec.accessible,
                )
            )
        uow.session.flush()
    return zone_view(zone)


def seat_grid(
    section: str, rows: list[str], per_row: int, *, accessible_rows: tuple[str, ...] = ()
) -> list[SeatSpec]:
    """Seats ``section/row/1..per_row`` for each row; whole rows may be marked accessible."""
    return [
        SeatSpec(section, row, str(n), row in accessible_rows)
        for row in rows
        for n in range(1, per_row + 1)
    ]


def add_category(
    uow: UnitOfWork,
    *,
    session_id: uuid.UUID,
    zone_id: uuid.UUID,
    name: str,
    price_xof: int,
    quota: int | None = None,
) -> CategoryView:
    load_session(uow, session_id)
    zone = uow.session.get(Zone, zone_id)
    if zone is None or zone.session_id != session_id or zone.tenant_id != _tenant(uow):
        raise NotFound("ticketing.zone_not_found", "no such zone in this session")
    if isinstance(price_xof, bool) or not isinstance(price_xof, int) or price_xof < 0:
        raise ValidationFailed("price_xof", "a non-negative integer number of francs")
    if quota is not None and quota < 0:
        raise ValidationFailed("quota", "must be >= 0")
    number = 1 + (
        uow.session.scalar(
            sa.select(sa.func.coalesce(sa.func.max(PriceCategory.number), 0)).where(
                PriceCategory.session_id == session_id
            )
        )
        or 0
    )
    c = PriceCategory(
        tenant_id=_tenant(uow),
        session_id=session_id,
        zone_id=zone_id,
        number=number,
        name=name.strip() or f"Catégorie {number}",
        price_xof=price_xof,
        quota=quota,
        taken=0,
    )
    uow.session.add(c)
    uow.session.flush()
    return category_view(c)


def set_channel_quota(uow: UnitOfWork, *, session_id: uuid.UUID, channel: str, quota: int) -> None:
    load_session(uow, session_id)
    try:
        ch = Channel(channel)
    except ValueError as exc:
        raise ValidationFailed("channel", "online, box_office or agent") from exc
    if quota < 0:
        raise ValidationFailed("quota", "must be >= 0")
    row = uow.session.scalar(
        sa.select(ChannelQuota).where(
            ChannelQuota.session_id == session_id, ChannelQuota.channel == ch.value
        )
    )
    if row is None:
        uow.session.add(
            ChannelQuota(
                tenant_id=_tenant(uow), session_id=session_id, channel=ch.value, quota=quota
            )
        )
    else:
        if quota < row.taken:
            raise Conflict("ticketing.quota_below_sold", "quota lower than places already taken")
        row.quota = quota
    uow.session.flush()


def zones_of(uow: UnitOfWork, session_id: uuid.UUID) -> list[ZoneView]:
    return [
        zone_view(z)
        for z in uow.session.scalars(
            sa.select(Zone).where(Zone.session_id == session_id).order_by(Zone.number)
        )
    ]


def categories_of(uow: UnitOfWork, session_id: uuid.UUID) -> list[CategoryView]:
    return [
        category_view(c)
        for c in uow.session.scalars(
            sa.select(PriceCategory)
            .where(PriceCategory.session_id == session_id)
            .order_by(PriceCategory.number)
        )
    ]
