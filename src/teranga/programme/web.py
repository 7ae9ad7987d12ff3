"""Public programme: the home page, venue and sport pages, and the open-data JSON API.

Pages work without JavaScript (links and GET forms); with htmx, the day tabs and filters
swap only the ``#programme`` section.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from teranga.container import Container
from teranga.identity.api import public
from teranga.platform.errors import NotFound
from teranga.programme import domain, service
from teranga.programme.domain import SessionInfo, VenueInfo
from teranga.programme.schemas import SessionOut, SportOut, VenueOut
from teranga.web.deps import ContainerDep, PublicTenantDep, public_tenant_id
from teranga.web.templating import render

# Everything here is public: the programme is open data.
router = APIRouter(dependencies=[Depends(public)])
API_PREFIX = "/api/v1/programme"
CodeParam = Annotated[str | None, Query(max_length=63, pattern=r"^[a-z0-9_-]*$")]


def _public_tenant(container: Container) -> uuid.UUID | None:
    """The public site's tenant, or None before the organiser exists (empty programme)."""
    try:
        return public_tenant_id(container)
    except NotFound:
        return None


def _parse_day(raw: str | None) -> dt.date | None:
    if not raw:
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        return None
    return day if domain.GAMES_START <= day <= domain.GAMES_END else None


def _default_day(container: Container) -> dt.date:
    today = container.clock.now().astimezone(dt.UTC).date()
    return today if domain.GAMES_START <= today <= domain.GAMES_END else domain.GAMES_START


def _map(venues: list[VenueInfo], highlight: str | None = None) -> dict[str, Any]:
    points = [
        {"venue": v, "xy": domain.project(v.lat, v.lon), "on": v.code == highlight} for v in venues
    ]
    return {
        "width": domain.MAP_WIDTH,
        "height": domain.MAP_HEIGHT,
        "coast": domain.coastline_points(),
        "points": points,
        "cities": domain.city_labels(venues),
    }


def _wants_fragment(request: Request) -> bool:
    # A history restore after a cache miss needs the whole page, not the fragment.
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Target") == "programme"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def _not_found(request: Request, what: str) -> HTMLResponse:
    return render(request, "programme/not_found.html", {"what": what}, status_code=404)


# -- pages ----------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home(
    request: Request,
    container: ContainerDep,
    day: Annotated[str | None, Query(max_length=10)] = None,
    sport: Annotated[str | None, Query(max_length=63)] = None,
    venue: Annotated[str | None, Query(max_length=63)] = None,
) -> HTMLResponse:
    tenant_id = _public_tenant(container)
    selected = _parse_day(day) or _default_day(container)
    sessions: list[SessionInfo] = []
    venues: list[VenueInfo] = []
    sports: list[Any] = []
    counts: dict[dt.date, int] = {}
    sport_code = venue_code = ""
    if tenant_id is not None:
        with container.uow(tenant_id) as uow:
            venues = service.list_venues(uow)
            sports = service.list_sports(uow)
            counts = service.day_counts(uow)
            # Unknown filter values from a stale link are dropped, not an error page.
            sport_code = sport if sport in {s.code for s in sports} else ""
            venue_code = venue if venue in {v.code for v in venues} else ""
            sessions = service.list_sessions(
                uow, day=selected, sport=sport_code or None, venue=venue_code or None
            )
    context = {
        "days": [(d, counts.get(d, 0)) for d in domain.games_days()],
        "selected_day": selected,
        "sessions": sessions,
        "sports": sports,
        "venues": venues,
        "sport_code": sport_code,
        "venue_code": venue_code,
        "sport_names": {s.code: s for s in sports},
        "map": _map(venues),
    }
    if _wants_fragment(request):
        return render(request, "programme/_programme.html", context)
    return render(request, "programme/home.html", context)


@router.get("/sites/{code}", response_class=HTMLResponse, include_in_schema=False)
def venue_page(request: Request, container: ContainerDep, code: str) -> HTMLResponse:
    tenant_id = _public_tenant(container)
    if tenant_id is None:
        return _not_found(request, "venue")
    with container.uow(tenant_id) as uow:
        try:
            venue = service.get_venue(uow, code)
        except NotFound:
            return _not_found(request, "venue")
        venues = service.list_venues(uow)
        sports = {s.code: s for s in service.list_sports(uow)}
        sessions = service.list_sessions(uow, venue=code)
    held = sorted({s.sport_code for s in sessions if s.sport_code})
    return render(
        request,
        "programme/venue.html",
        {
            "venue": venue,
            "sessions": sessions,
            "sports_here": [sports[c] for c in held if c in sports],
            "sport_names": sports,
            "map": _map(venues, highlight=venue.code),
        },
    )


@router.get("/sports/{code}", response_class=HTMLResponse, include_in_schema=False)
def sport_page(request: Request, container: ContainerDep, code: str) -> HTMLResponse:
    tenant_id = _public_tenant(container)
    if tenant_id is None:
        return _not_found(request, "sport")
    with container.uow(tenant_id) as uow:
        try:
            sport = service.get_sport(uow, code)
        except NotFound:
            return _not_found(request, "sport")
        sessions = service.list_sessions(uow, sport=code)
        venues = {v.code: v for v in service.list_venues(uow)}
    used = sorted({s.venue_code for s in sessions})
    return render(
        request,
        "programme/sport.html",
        {
            "sport": sport,
            "sessions": sessions,
            "venues_used": [venues[c] for c in used if c in venues],
            "sport_names": {sport.code: sport},
        },
    )


# -- JSON API (open data) ----------------------------------------------------------------------
@router.get(f"{API_PREFIX}/venues", tags=["programme"], summary="List venues")
def api_venues(container: ContainerDep, tenant_id: PublicTenantDep) -> list[VenueOut]:
    with container.uow(tenant_id) as uow:
        return [VenueOut.of(v) for v in service.list_venues(uow)]


@router.get(f"{API_PREFIX}/sports", tags=["programme"], summary="List sports and disciplines")
def api_sports(container: ContainerDep, tenant_id: PublicTenantDep) -> list[SportOut]:
    with container.uow(tenant_id) as uow:
        return [SportOut.of(s) for s in service.list_sports(uow)]


@router.get(
    f"{API_PREFIX}/sessions",
    tags=["programme"],
    summary="List sessions, filtered by day, sport and venue",
    responses={422: {"description": "Unknown sport or venue code, or a malformed day"}},
)
def api_sessions(
    container: ContainerDep,
    tenant_id: PublicTenantDep,
    day: Annotated[dt.date | None, Query(description="YYYY-MM-DD")] = None,
    sport: CodeParam = None,
    venue: CodeParam = None,
) -> list[SessionOut]:
    with container.uow(tenant_id) as uow:
        found = service.list_sessions(uow, day=day, sport=sport or None, venue=venue or None)
        return [SessionOut.of(s) for s in found]


@router.get(
    f"{API_PREFIX}/sessions/{{session_id}}",
    tags=["programme"],
    summary="Get one session",
    responses={404: {"description": "No such session"}},
)
def api_session(
    container: ContainerDep, tenant_id: PublicTenantDep, session_id: uuid.UUID
) -> SessionOut:
    with container.uow(tenant_id) as uow:
        return SessionOut.of(service.get_session(uow, session_id))
