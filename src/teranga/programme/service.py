"""Programme use cases. Take a unit of work, never commit."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import asdict

from teranga.platform.errors import NotFound, ValidationFailed
from teranga.platform.uow import UnitOfWork
from teranga.programme import repo
from teranga.programme.domain import (
    CONFIDENCE_LEVELS,
    SESSION_KINDS,
    PlannedSession,
    SessionInfo,
    SportInfo,
    SportSpec,
    VenueInfo,
    VenueSpec,
)
from teranga.programme.models import CompetitionSession, Sport, Venue


def _venue(v: Venue) -> VenueInfo:
    return VenueInfo(
        id=v.id,
        code=v.code,
        name=v.name,
        city=v.city,
        lat=v.lat,
        lon=v.lon,
        coords_confidence=v.coords_confidence,
        capacity=v.capacity,
        capacity_note=v.capacity_note,
        kind=v.kind,
        sources=v.sources,
    )


def _sport(s: Sport) -> SportInfo:
    return SportInfo(
        id=s.id,
        code=s.code,
        discipline=s.discipline,
        name_fr=s.name_fr,
        name_en=s.name_en,
        discipline_fr=s.discipline_fr,
        discipline_en=s.discipline_en,
        venue_confidence=s.venue_confidence,
    )


def _session(row: repo.SessionRow) -> SessionInfo:
    s, v, sp = row
    return SessionInfo(
        id=s.id,
        code=s.code,
        kind=s.kind,
        day=s.day,
        starts_at=s.starts_at,
        ends_at=s.ends_at,
        venue_id=v.id,
        venue_code=v.code,
        venue_name=v.name,
        city=v.city,
        sport_id=sp.id if sp else None,
        sport_code=sp.code if sp else None,
        title_fr=s.title_fr,
        title_en=s.title_en,
        phase=s.phase,
        medal=s.medal,
        illustrative=s.illustrative,
        venue_confidence=s.venue_confidence,
    )


# -- reads ------------------------------------------------------------------------------------
def list_venues(uow: UnitOfWork) -> list[VenueInfo]:
    return [_venue(v) for v in repo.venues(uow.session, uow.require_tenant())]


def get_venue(uow: UnitOfWork, code: str) -> VenueInfo:
    v = repo.venue_by_code(uow.session, uow.require_tenant(), code)
    if v is None:
        raise NotFound("programme.venue_not_found", f"no venue '{code}'")
    return _venue(v)


def list_sports(uow: UnitOfWork) -> list[SportInfo]:
    return [_sport(s) for s in repo.sports(uow.session, uow.require_tenant())]


def get_sport(uow: UnitOfWork, code: str) -> SportInfo:
    s = repo.sport_by_code(uow.session, uow.require_tenant(), code)
    if s is None:
        raise NotFound("programme.sport_not_found", f"no sport '{code}'")
    return _sport(s)


def list_sessions(
    uow: UnitOfWork,
    *,
    day: dt.date | None = None,
    sport: str | None = None,
    venue: str | None = None,
) -> list[SessionInfo]:
    """Sessions in time order, filtered by day, sport code and venue code.

    An unknown sport or venue code is bad input (422), not an empty programme.
    """
    tenant_id = uow.require_tenant()
    sport_id = venue_id = None
    if sport:
        found_sport = repo.sport_by_code(uow.session, tenant_id, sport)
        if found_sport is None:
            raise ValidationFailed("sport", f"unknown sport '{sport}'")
        sport_id = found_sport.id
    if venue:
        found_venue = repo.venue_by_code(uow.session, tenant_id, venue)
        if found_venue is None:
            raise ValidationFailed("venue", f"unknown venue '{venue}'")
        venue_id = found_venue.id
    rows = repo.sessions(uow.session, tenant_id, day=day, sport_id=sport_id, venue_id=venue_id)
    return [_session(r) for r in rows]


def get_session(uow: UnitOfWork, session_id: uuid.UUID) -> SessionInfo:
    rows = repo.sessions(uow.session, uow.require_tenant(), session_ids=[session_id])
    if not rows:
        raise NotFound("programme.session_not_found", "no such session")
    return _session(rows[0])


def get_sessions(uow: UnitOfWork, session_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, SessionInfo]:
    """Several sessions in one query, keyed by id (unknown ids are simply absent)."""
    if not session_ids:
        return {}
    rows = repo.sessions(uow.session, uow.require_tenant(), session_ids=list(session_ids))
    return {info.id: info for info in map(_session, rows)}


def day_counts(uow: UnitOfWork) -> dict[dt.date, int]:
    return repo.session_counts_by_day(uow.session, uow.require_tenant())


# -- writes -----------------------------------------------------------------------------------
def _check_confidence(field: str, value: str) -> None:
    if value not in CONFIDENCE_LEVELS:
        raise ValidationFailed(field, f"one of {', '.join(CONFIDENCE_LEVELS)}")


def publish_programme(
    uow: UnitOfWork,
    *,
    venues: Sequence[VenueSpec],
    sports: Sequence[SportSpec],
    sessions: Sequence[PlannedSession],
) -> dict[str, int]:
    """Create or update venues, sports and sessions by code (idempotent).

    Nothing is deleted: other domains keep session and venue ids (tickets, gates, trips).
    Returns how many rows of each kind were created.
    """
    tenant_id = uow.require_tenant()
    db = uow.session
    created = {"venues": 0, "sports": 0, "sessions": 0}

    existing_venues: dict[str, Venue] = repo.by_code(db, Venue, tenant_id)
    for vs in venues:
        _check_confidence("coords_confidence", vs.coords_confidence)
        venue = existing_venues.get(vs.code)
        if venue is None:
            venue = Venue(tenant_id=tenant_id, **asdict(vs))
            db.add(venue)
            existing_venues[vs.code] = venue
            created["venues"] += 1
        else:
            for key, value in asdict(vs).items():
                setattr(venue, key, value)

    existing_sports: dict[str, Sport] = repo.by_code(db, Sport, tenant_id)
    for ss in sports:
        _check_confidence("venue_confidence", ss.venue_confidence)
        sport = existing_sports.get(ss.code)
        if sport is None:
            sport = Sport(tenant_id=tenant_id, **asdict(ss))
            db.add(sport)
            existing_sports[ss.code] = sport
            created["sports"] += 1
        else:
            for key, value in asdict(ss).items():
                setattr(sport, key, value)
    db.flush()

    existing_sessions: dict[str, CompetitionSession] = repo.by_code(
        db, CompetitionSession, tenant_id
    )
    for ps in sessions:
        if ps.kind not in SESSION_KINDS:
            raise ValidationFailed("kind", f"one of {', '.join(SESSION_KINDS)}")
        if ps.ends_at <= ps.starts_at:
            raise ValidationFailed("ends_at", f"session {ps.code} ends before it starts")
        target_venue = existing_venues.get(ps.venue_code)
        if target_venue is None:
            raise ValidationFailed("venue", f"unknown venue '{ps.venue_code}'")
        target_sport = None
        if ps.sport_code is not None:
            target_sport = existing_sports.get(ps.sport_code)
            if target_sport is None:
                raise ValidationFailed("sport", f"unknown sport '{ps.sport_code}'")
        values = {
            "kind": ps.kind,
            "day": ps.day,
            "starts_at": ps.starts_at,
            "ends_at": ps.ends_at,
            "venue_id": target_venue.id,
            "sport_id": target_sport.id if target_sport else None,
            "title_fr": ps.title_fr,
            "title_en": ps.title_en,
            "phase": ps.phase,
            "medal": ps.medal,
            "illustrative": ps.illustrative,
            "venue_confidence": ps.venue_confidence,
        }
        row = existing_sessions.get(ps.code)
        if row is None:
            db.add(CompetitionSession(tenant_id=tenant_id, code=ps.code, **values))
            created["sessions"] += 1
        else:
            for key, value in values.items():
                if getattr(row, key) != value:
                    setattr(row, key, value)
    db.flush()
    return created
