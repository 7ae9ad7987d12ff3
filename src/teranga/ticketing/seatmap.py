"""Read side of seat maps: which seats of a session are free, and the map a buyer browses.

A seat is taken while an order line holds or sold it (the same rule as the partial UNIQUE
index on order lines). A big zone is shown in blocks of consecutive rows of one section,
so that a phone never loads thousands of seat buttons at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from teranga.platform.errors import NotFound
from teranga.platform.uow import UnitOfWork
from teranga.ticketing import service as catalogue
from teranga.ticketing.domain import LineStatus
from teranga.ticketing.models import OrderLine, Seat, Zone

#: At most this many seats on one page of the map (one row longer than this is one block).
BLOCK_SEATS = 240


@dataclass(frozen=True)
class SeatState:
    id: uuid.UUID
    zone_id: uuid.UUID
    number: int
    section: str
    row: str
    label: str
    accessible: bool
    free: bool


@dataclass(frozen=True)
class RowOutline:
    section: str
    row: str
    seats: int


@dataclass(frozen=True)
class Block:
    section: str
    rows: tuple[str, ...]

    @property
    def first_row(self) -> str:
        return self.rows[0]

    @property
    def last_row(self) -> str:
        return self.rows[-1]


@dataclass(frozen=True)
class MapRow:
    section: str
    row: str
    seats: list[SeatState]


@dataclass(frozen=True)
class SeatMap:
    """One block of a zone's map, ready for the page."""

    zone_id: uuid.UUID
    blocks: list[Block]
    block: int  # index of the block shown
    rows: list[MapRow]
    chosen: frozenset[uuid.UUID]  # seats to show selected (still free)
    lost: list[SeatState]  # seats the buyer had chosen that someone took meanwhile


def _live_seats(session_id: uuid.UUID) -> sa.Select[uuid.UUID | None]:
    return sa.select(OrderLine.seat_id).where(
        OrderLine.session_id == session_id,
        OrderLine.seat_id.is_not(None),
        OrderLine.status.in_([LineStatus.HELD.value, LineStatus.SOLD.value]),
    )


def _zone(uow: UnitOfWork, session_id: uuid.UUID, zone_id: uuid.UUID) -> Zone:
    zone = uow.session.get(Zone, zone_id)
    if zone is None or zone.session_id != session_id or zone.tenant_id != uow.require_tenant():
        raise NotFound("ticketing.zone_not_found", "no such zone in this session")
    return zone


def seat_states(
    uow: UnitOfWork,
    session_id: uuid.UUID,
    *,
    zone_id: uuid.UUID | None = None,
    section: str | None = None,
    rows: tuple[str, ...] | None = None,
    ids: set[uuid.UUID] | None = None,
) -> list[SeatState]:
    """The session's seats in seat order with their availability (tenant-scoped)."""
    catalogue.load_session(uow, session_id)  # 404 for another tenant's session
    q = sa.select(
        Seat,
        sa.exists(_live_seats(session_id).where(OrderLine.seat_id == Seat.id)).label("taken"),
    ).where(Seat.session_id == session_id, Seat.tenant_id == uow.require_tenant())
    if zone_id is not None:
        _zone(uow, session_id, zone_id)
        q = q.where(Seat.zone_id == zone_id)
    if section is not None:
        q = q.where(Seat.section == section)
    if rows is not None:
        q = q.where(Seat.row.in_(rows))
    if ids is not None:
        q = q.where(Seat.id.in_(ids))
    return [
        SeatState(
            st.id, st.zone_id, st.number, st.section, st.row, st.label, st.accessible, not taken
        )
        for st, taken in uow.session.execute(q.order_by(Seat.number))
    ]


def outline(uow: UnitOfWork, zone_id: uuid.UUID) -> list[RowOutline]:
    """Rows of a zone in seat order, with their seat counts (one grouped query)."""
    q = (
        sa.select(Seat.section, Seat.row, sa.func.count())
        .where(Seat.zone_id == zone_id, Seat.tenant_id == uow.require_tenant())
        .group_by(Seat.section, Seat.row)
        .order_by(sa.func.min(Seat.number))
    )
    return [RowOutline(sec, row, int(n)) for sec, row, n in uow.session.execute(q)]


def blocks(rows: list[RowOutline], limit: int = BLOCK_SEATS) -> list[Block]:
    """Consecutive rows of one section, at most ``limit`` seats each (a longer row alone)."""
    out: list[Block] = []
    section: str | None = None
    current: list[str] = []
    size = 0
    for r in rows:
        if current and (r.section != section or size + r.seats > limit):
            out.append(Block(str(section), tuple(current)))
            current, size = [], 0
        section = r.section
        current.append(r.row)
        size += r.seats
    if current:
        out.append(Block(str(section), tuple(current)))
    return out


def seat_map(
    uow: UnitOfWork,
    session_id: uuid.UUID,
    zone_id: uuid.UUID,
    *,
    block: int = 0,
    chosen: list[uuid.UUID] | None = None,
) -> SeatMap:
    """The ``block``-th block of a zone's map (the first if out of range).

    ``chosen`` are seats the buyer had selected (e.g. before a seat was taken under them):
    those still free come back selected, the others are reported in ``lost``.
    """
    _zone(uow, session_id, zone_id)
    found = blocks(outline(uow, zone_id))
    if not found:
        return SeatMap(zone_id, [], 0, [], frozenset(), [])
    index = block if 0 <= block < len(found) else 0
    shown = found[index]
    seats = seat_states(uow, session_id, zone_id=zone_id, section=shown.section, rows=shown.rows)
    by_row: dict[str, list[SeatState]] = {}
    for st in seats:
        by_row.setdefault(st.row, []).append(st)
    wanted = set(chosen or [])
    before = seat_states(uow, session_id, zone_id=zone_id, ids=wanted) if wanted else []
    shown_free = {st.id for st in seats if st.free}
    return SeatMap(
        zone_id,
        found,
        index,
        [MapRow(shown.section, r, by_row[r]) for r in shown.rows if r in by_row],
        frozenset(wanted & shown_free),
        [st for st in before if not st.free],
    )
