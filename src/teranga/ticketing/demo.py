"""Demo billetterie for the JOJ Dakar 2026 programme (idempotent, flagged illustrative).

Policy from data/joj2026/prices-and-capacities.yaml (``demo_assumption_joj_pricing``):
most sessions are free with registration, capped at 4 places per phone; medal sessions are
paid at 1,000 / 2,000 / 5,000 XOF. These prices are demo assumptions, not JOJ prices, and
every demo session is marked ``illustrative``. Sales stay open 30 days after loading so the
flow can be tried whatever today's date is, and three sessions of the event "Après les JOJ
(démonstration)" are dated from the day of loading (one of them within the next hours), so
that transfers and gate scans (closed once a session is over) can be tried after the Games.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa

from teranga.config import Settings
from teranga.container import build_container
from teranga.platform.errors import NotFound
from teranga.platform.uow import UnitOfWork
from teranga.tenancy import api as tenancy
from teranga.ticketing import service as catalogue
from teranga.ticketing import waiting_room
from teranga.ticketing.models import TicketedEvent, TicketSession

PER_PHONE_CAP = 4
PAID_TIERS_XOF = (("Gradins", 1000), ("Tribune", 2000))
SEATED_PRICE_XOF = 5000
TRIBUNE_ROWS = ("A", "B", "C", "D", "E")
TRIBUNE_PER_ROW = 16
FREE_SESSIONS = 16
PAID_SESSIONS = 8
DEFAULT_CAPACITY = 2000
EVENT_NAME = "JOJ Dakar 2026"
AFTER_EVENT_NAME = "Après les JOJ (démonstration)"


def tribune() -> list[catalogue.SeatSpec]:
    """The seat map of a medal session's tribune: rows A-E, wheelchair places at the aisle
    ends of the front row (a whole accessible row is rarer than a few places)."""
    ends = {"1", "2", str(TRIBUNE_PER_ROW - 1), str(TRIBUNE_PER_ROW)}
    return [
        catalogue.SeatSpec("T", row, str(n), row == "A" and str(n) in ends)
        for row in TRIBUNE_ROWS
        for n in range(1, TRIBUNE_PER_ROW + 1)
    ]


def _paid_zones(uow: UnitOfWork, session_id: uuid.UUID, capacity: int) -> None:
    """Stands at 1,000 and 2,000 XOF (half the places at most at 2,000) and a seated tribune."""
    seats = tribune()
    ga = catalogue.add_zone(
        uow, session_id=session_id, name="Gradins", capacity=capacity - len(seats)
    )
    for name, price in PAID_TIERS_XOF:
        catalogue.add_category(
            uow,
            session_id=session_id,
            zone_id=ga.id,
            name=name,
            price_xof=price,
            quota=(capacity - len(seats)) // 2 if price > 1000 else None,
        )
    seated = catalogue.add_zone(uow, session_id=session_id, name="Tribune d'honneur", seats=seats)
    catalogue.add_category(
        uow,
        session_id=session_id,
        zone_id=seated.id,
        name="Tribune d'honneur",
        price_xof=SEATED_PRICE_XOF,
    )


def _free_zone(uow: UnitOfWork, session_id: uuid.UUID, capacity: int) -> None:
    zone = catalogue.add_zone(uow, session_id=session_id, name="Accès libre", capacity=capacity)
    catalogue.add_category(
        uow,
        session_id=session_id,
        zone_id=zone.id,
        name="Entrée gratuite (inscription)",
        price_xof=0,
    )


def _event_named(uow: UnitOfWork, name: str, description: str) -> uuid.UUID:
    """The demo event of that name, created the first time (loading the demo twice adds
    nothing)."""
    event_id = uow.session.scalar(
        sa.select(TicketedEvent.id).where(
            TicketedEvent.tenant_id == uow.require_tenant(), TicketedEvent.name == name
        )
    )
    if event_id is None:
        event_id = catalogue.create_event(uow, name=name, description=description).id
    return event_id


def _after_games(uow: UnitOfWork, now: dt.datetime, venue: Any) -> int:
    """Sessions dated from today, so every step works in the demo whatever the date: the
    Games' own sessions are past once they ended (transfers close, gates refuse tickets
    after a session). The first one starts in two hours: its gates are open now (they open
    four hours before). Each is created again once the previous one of its name is over."""
    event_id = _event_named(
        uow,
        AFTER_EVENT_NAME,
        "Événements fictifs datés d'aujourd'hui, pour essayer la billetterie "
        "et le contrôle d'accès de bout en bout (tarifs illustratifs).",
    )
    live = set(
        uow.session.scalars(
            sa.select(TicketSession.name).where(
                TicketSession.event_id == event_id, TicketSession.ends_at > now
            )
        )
    )
    hour = now.replace(minute=0, second=0, microsecond=0)
    day = hour.replace(hour=0)
    capacity = min(venue.capacity or DEFAULT_CAPACITY, 5000)
    created = 0
    for name, start, hours, paid in (
        ("Entraînement ouvert au public (démonstration)", hour + dt.timedelta(hours=2), 4, False),
        (
            "Journée portes ouvertes sportives (démonstration)",
            day + dt.timedelta(days=7, hours=10),
            6,
            False,
        ),
        (
            "Match de gala — Dakar en fête (démonstration)",
            day + dt.timedelta(days=14, hours=18),
            3,
            True,
        ),
    ):
        if name in live:
            continue
        s = catalogue.create_session(
            uow,
            event_id=event_id,
            name=name,
            starts_at=start,
            ends_at=start + dt.timedelta(hours=hours),
            sale_starts_at=now - dt.timedelta(days=1),
            sale_ends_at=start + dt.timedelta(hours=hours),
            venue_id=venue.code,
            venue_name=venue.name,
            per_order_limit=PER_PHONE_CAP,
            per_person_limit=PER_PHONE_CAP,
            illustrative=True,
        )
        (_paid_zones if paid else _free_zone)(uow, s.id, capacity)
        created += 1
    return created


def load(settings: Settings) -> list[str]:
    from teranga.programme import api as programme

    container = build_container(settings)
    try:
        with container.uow() as uow:
            tenant_id = tenancy.get_by_slug(uow, settings.default_tenant).id
        now = container.clock.now()
        with container.uow(tenant_id) as uow:
            sessions = programme.list_sessions(uow)
            venues = {v.id: v for v in programme.list_venues(uow)}
            event_id = _event_named(
                uow, EVENT_NAME, "Billetterie de démonstration (tarifs illustratifs)."
            )
            done = set(
                uow.session.scalars(
                    sa.select(TicketSession.programme_session_id).where(
                        TicketSession.tenant_id == tenant_id
                    )
                )
            )
            paid = [s for s in sessions if s.medal][:PAID_SESSIONS]
            free = [s for s in sessions if not s.medal][:FREE_SESSIONS]
            created = after = 0
            for ps in [*paid, *free]:
                if ps.id in done:
                    continue
                venue = venues.get(ps.venue_id)
                capacity = min((venue.capacity if venue else None) or DEFAULT_CAPACITY, 5000)
                s = catalogue.create_session(
                    uow,
                    event_id=event_id,
                    name=ps.title_fr,
                    starts_at=ps.starts_at,
                    ends_at=ps.ends_at,
                    sale_starts_at=now - dt.timedelta(days=1),
                    sale_ends_at=max(ps.starts_at, now + dt.timedelta(days=30)),
                    venue_id=ps.venue_code,
                    venue_name=ps.venue_name,
                    per_order_limit=PER_PHONE_CAP,
                    per_person_limit=PER_PHONE_CAP,
                    programme_session_id=ps.id,
                    illustrative=True,
                )
                if ps.medal:
                    _paid_zones(uow, s.id, capacity)
                else:
                    _free_zone(uow, s.id, capacity)
                created += 1
            if venues:
                biggest = max(venues.values(), key=lambda v: v.capacity or 0)
                after = _after_games(uow, now, biggest)
            if paid:
                # The last final sells behind a waiting room, to show the rush flow; its
                # rate admits a newcomer within seconds.
                first = uow.session.scalar(
                    sa.select(TicketSession.id).where(
                        TicketSession.tenant_id == tenant_id,
                        TicketSession.programme_session_id == paid[-1].id,
                    )
                )
                if first is not None:
                    try:
                        waiting_room.get_room(uow, first, now)
                    except NotFound:
                        waiting_room.configure(
                            uow,
                            session_id=first,
                            enabled=True,
                            rate_per_minute=120,
                            opens_at=now,
                            now=now,
                        )
    finally:
        container.dispose()
    return [
        f"ticketing: {len(paid)} paid medal sessions (1000-5000 XOF, illustrative, "
        f"{len(TRIBUNE_ROWS) * TRIBUNE_PER_ROW}-seat tribune map with wheelchair places), "
        f"{len(free)} free sessions (cap {PER_PHONE_CAP} per phone); created {created}",
        f"ticketing: 3 sessions dated from today ({AFTER_EVENT_NAME}; the first one's gates "
        f"are open now); created {after}",
    ]
