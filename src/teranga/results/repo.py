"""Results queries (never commit). Every query filters by tenant explicitly, RLS or not."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from teranga.results.domain import Line, MedalAward, awards_for_unit
from teranga.results.models import OdfDocument, Participant, Unit, UnitLine


def unit_by_code(
    session: Session, tenant_id: uuid.UUID, code: str, *, lock: bool = False
) -> Unit | None:
    q = sa.select(Unit).where(Unit.tenant_id == tenant_id, Unit.code == code)
    if lock:
        q = q.with_for_update()
    return session.scalar(q)


def unit_lines(session: Session, unit_id: uuid.UUID) -> list[UnitLine]:
    return list(session.scalars(sa.select(UnitLine).where(UnitLine.unit_id == unit_id)))


def to_line(row: UnitLine) -> Line:
    return Line(
        participant=row.participant,
        name=row.name,
        noc=row.noc,
        start_order=row.start_order,
        rank=row.rank,
        mark=row.mark,
        irm=row.irm,
    )


def units_between(
    session: Session, tenant_id: uuid.UUID, start: dt.datetime, end: dt.datetime
) -> list[Unit]:
    return list(
        session.scalars(
            sa.select(Unit)
            .where(Unit.tenant_id == tenant_id, Unit.scheduled_at >= start, Unit.scheduled_at < end)
            .order_by(Unit.scheduled_at, Unit.code)
        )
    )


def units_of_sport(session: Session, tenant_id: uuid.UUID, sport: str) -> list[Unit]:
    return list(
        session.scalars(
            sa.select(Unit)
            .where(Unit.tenant_id == tenant_id, Unit.sport == sport)
            .order_by(Unit.scheduled_at, Unit.code)
        )
    )


def leaders(session: Session, unit_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, UnitLine]:
    """The first-ranked line of each unit (one query for a whole page of units)."""
    if not unit_ids:
        return {}
    rows = session.scalars(
        sa.select(UnitLine)
        .where(UnitLine.unit_id.in_(unit_ids), UnitLine.rank == 1)
        .order_by(UnitLine.participant)
    )
    out: dict[uuid.UUID, UnitLine] = {}
    for r in rows:
        out.setdefault(r.unit_id, r)
    return out


def medal_awards(session: Session, tenant_id: uuid.UUID) -> list[MedalAward]:
    """Medals from the lines of official medal units (ranks 1-3), one query."""
    rows = session.execute(
        sa.select(Unit.code, UnitLine)
        .join(UnitLine, UnitLine.unit_id == Unit.id)
        .where(
            Unit.tenant_id == tenant_id,
            Unit.medal.is_(True),
            Unit.official.is_(True),
            UnitLine.rank.is_not(None),
            UnitLine.rank <= 3,
        )
    ).all()
    awards: list[MedalAward] = []
    for code, line in rows:
        awards.extend(awards_for_unit(code, [to_line(line)]))
    return awards


def participants(session: Session, tenant_id: uuid.UUID, codes: Sequence[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = session.execute(
        sa.select(Participant.code, Participant.name).where(
            Participant.tenant_id == tenant_id, Participant.code.in_(codes)
        )
    ).all()
    return {str(c): str(n) for c, n in rows}


def participant(session: Session, tenant_id: uuid.UUID, code: str) -> Participant | None:
    return session.scalar(
        sa.select(Participant).where(Participant.tenant_id == tenant_id, Participant.code == code)
    )


def odf_document(
    session: Session,
    tenant_id: uuid.UUID,
    competition: str,
    document_code: str,
    document_type: str,
) -> OdfDocument | None:
    return session.scalar(
        sa.select(OdfDocument)
        .where(
            OdfDocument.tenant_id == tenant_id,
            OdfDocument.competition == competition,
            OdfDocument.document_code == document_code,
            OdfDocument.document_type == document_type,
        )
        .with_for_update()
    )
