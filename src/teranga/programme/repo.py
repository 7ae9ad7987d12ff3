"""Programme queries. Never commits; always filters by tenant (RLS is the second lock)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from teranga.programme.models import CompetitionSession, Sport, Venue

SessionRow = tuple[CompetitionSession, Venue, Sport | None]


def venues(session: Session, tenant_id: uuid.UUID) -> list[Venue]:
    stmt = sa.select(Venue).where(Venue.tenant_id == tenant_id).order_by(Venue.city, Venue.name)
    return list(session.scalars(stmt))


def venue_by_code(session: Session, tenant_id: uuid.UUID, code: str) -> Venue | None:
    stmt = sa.select(Venue).where(Venue.tenant_id == tenant_id, Venue.code == code)
    return session.scalar(stmt)


def sports(session: Session, tenant_id: uuid.UUID) -> list[Sport]:
    stmt = sa.select(Sport).where(Sport.tenant_id == tenant_id).order_by(Sport.code)
    return list(session.scalars(stmt))


def sport_by_code(session: Session, tenant_id: uuid.UUID, code: str) -> Sport | None:
    stmt = sa.select(Sport).where(Sport.tenant_id == tenant_id, Sport.code == code)
    return session.scalar(stmt)


def sessions(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    day: dt.date | None = None,
    sport_id: uuid.UUID | None = None,
    venue_id: uuid.UUID | None = None,
    session_ids: list[uuid.UUID] | None = None,
) -> list[SessionRow]:
    """Sessions with their venue and sport in one query (no N+1), in time order."""
    stmt = (
        sa.select(CompetitionSession, Venue, Sport)
        .join(Venue, Venue.id == CompetitionSession.venue_id)
        .outerjoin(Sport, Sport.id == CompetitionSession.sport_id)
        .where(CompetitionSession.tenant_id == tenant_id)
        .order_by(CompetitionSession.starts_at, CompetitionSession.code)
    )
    if day is not None:
        stmt = stmt.where(CompetitionSession.day == day)
    if sport_id is not None:
        stmt = stmt.where(CompetitionSession.sport_id == sport_id)
    if venue_id is not None:
        stmt = stmt.where(CompetitionSession.venue_id == venue_id)
    if session_ids is not None:
        stmt = stmt.where(CompetitionSession.id.in_(session_ids))
    return [(row[0], row[1], row[2]) for row in session.execute(stmt)]


def session_counts_by_day(session: Session, tenant_id: uuid.UUID) -> dict[dt.date, int]:
    stmt = (
        sa.select(CompetitionSession.day, sa.func.count())
        .where(CompetitionSession.tenant_id == tenant_id)
        .group_by(CompetitionSession.day)
    )
    return {row[0]: int(row[1]) for row in session.execute(stmt)}


def by_code(session: Session, model: Any, tenant_id: uuid.UUID) -> dict[str, Any]:
    """Every row of ``model`` for the tenant, keyed by code (for idempotent loading)."""
    return {
        row.code: row
        for row in session.scalars(sa.select(model).where(model.tenant_id == tenant_id))
    }
