"""Results over HTTP: the public JSON API, the scorer API, the public pages and the form.

Snapshots (API and pages) read the topic's last sequence number *before* the rows, so
every message after that number may be applied on top of them (see service.py). Each
snapshot names its topic (``topic``, namespaced by the public tenant's slug): clients
follow that name rather than building one. Pages render fully on the server (readable
without JavaScript) and embed the same snapshot for the small live client served at
``/resultats/live.js``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from teranga.container import Container
from teranga.identity.api import CsrfToken, Principal, public, require
from teranga.platform.errors import NotFound, TerangaError, ValidationFailed
from teranga.platform.uow import UnitOfWork
from teranga.results import service
from teranga.results.domain import (
    SPORTS,
    DomainError,
    Irm,
    Line,
    ResultStatus,
    ScheduleStatus,
    parse_rsc,
)
from teranga.results.schemas import (
    ImportOut,
    LinesIn,
    MedalsOut,
    OfficialIn,
    ScheduleOut,
    SportOut,
    StatusIn,
    UnitIn,
    UnitOut,
    UnitSummaryOut,
    VersionOut,
)
from teranga.web import fastpath
from teranga.web.deps import ContainerDep, PublicTenantDep
from teranga.web.errors import error_body
from teranga.web.i18n import N_
from teranga.web.i18n import gettext as _
from teranga.web.templating import render

router = APIRouter()
Public = [Depends(public)]
Scorer = Annotated[Principal, Depends(require("results.unit.write"))]
Importer = Annotated[Principal, Depends(require("results.odf.import"))]
Reader = Annotated[Principal, Depends(require("results.read"))]

STATIC = Path(__file__).parent / "static" / "results"


class PayloadTooLarge(TerangaError):
    status = 413
    code = "payload_too_large"


MAX_ODF_BYTES = 2_000_000

STATUS_LABELS: dict[str, str] = {
    "SCHEDULED": N_("Scheduled"),
    "GETTING_READY": N_("Getting ready"),
    "RUNNING": N_("In progress"),
    "INTERRUPTED": N_("Interrupted"),
    "DELAYED": N_("Delayed"),
    "POSTPONED": N_("Postponed"),
    "CANCELLED": N_("Cancelled"),
    "FINISHED": N_("Finished"),
    "START_LIST": N_("Start list"),
    "LIVE": N_("Live"),
    "INTERMEDIATE": N_("Intermediate"),
    "PARTIAL": N_("Partial"),
    "UNCONFIRMED": N_("Unconfirmed"),
    "UNOFFICIAL": N_("Unofficial"),
    "PROTESTED": N_("Protested"),
    "OFFICIAL": N_("Official"),
}
SPORT_LABELS: dict[str, str] = {
    "athletics": N_("Athletics"),
    "aquatics": N_("Swimming"),
    "archery": N_("Archery"),
    "badminton": N_("Badminton"),
    "baseball_softball": N_("Baseball5"),
    "basketball": N_("3x3 basketball"),
    "boxing": N_("Boxing"),
    "breaking": N_("Breaking"),
    "cycling": N_("Road cycling"),
    "equestrian": N_("Jumping"),
    "fencing": N_("Fencing"),
    "football": N_("Futsal"),
    "gymnastics": N_("Artistic gymnastics"),
    "handball": N_("Beach handball"),
    "judo": N_("Judo"),
    "rowing": N_("Coastal rowing"),
    "rugby": N_("Rugby sevens"),
    "sailing": N_("Sailing"),
    "skateboarding": N_("Skateboarding"),
    "table_tennis": N_("Table tennis"),
    "taekwondo": N_("Taekwondo"),
    "triathlon": N_("Triathlon"),
    "volleyball": N_("Beach volleyball"),
    "wrestling": N_("Beach wrestling"),
    "wushu": N_("Wushu"),
}


# --- snapshots (shared by API and pages) -----------------------------------------------

_SLUGS = "results.tenant_slugs"


async def _slug(container: Any, tid: uuid.UUID) -> str:
    """The tenant's slug (its topics' namespace), cached per process: slugs never change."""
    cache: dict[uuid.UUID, str] = container.extras.setdefault(_SLUGS, {})
    slug = cache.get(tid)
    if slug is None:

        def read() -> str:
            with container.uow(tid) as uow:
                return service.tenant_slug(uow)

        slug = cache[tid] = await run_in_threadpool(read)
    return slug


async def _unit_snapshot(container: Any, tid: uuid.UUID, code: str) -> dict[str, Any]:
    try:
        parse_rsc(code)
    except DomainError:
        # No unit can have this code (and it may not fit in a topic name).
        raise NotFound("results.unit_not_found", f"no unit {code[:40]}") from None
    topic = service.unit_topic(await _slug(container, tid), code)
    seq = await container.broker.last_seq(topic)

    def read() -> dict[str, Any]:
        with container.uow(tid) as uow:
            return service.unit_view(uow, code)

    snap = await run_in_threadpool(read)
    snap.update(seq=seq, topic=topic)
    return snap


def _days(container: Any, tid: Any) -> list[dt.date]:
    with container.uow(tid) as uow:
        return service.days(uow)


async def _schedule_snapshot(container: Any, tid: uuid.UUID, day: dt.date) -> dict[str, Any]:
    topic = service.schedule_topic(await _slug(container, tid))
    seq = await container.broker.last_seq(topic)

    def read() -> list[dict[str, Any]]:
        with container.uow(tid) as uow:
            return service.schedule_view(uow, day)

    units = await run_in_threadpool(read)
    return {"day": day, "seq": seq, "topic": topic, "units": units}


def _check_sport(sport: str) -> None:
    if sport not in SPORTS:
        raise ValidationFailed("sport", "unknown sport")


async def _sport_snapshot(container: Any, tid: uuid.UUID, sport: str) -> dict[str, Any]:
    _check_sport(sport)
    topic = service.sport_topic(await _slug(container, tid), sport)
    seq = await container.broker.last_seq(topic)

    def read() -> list[dict[str, Any]]:
        with container.uow(tid) as uow:
            return service.sport_view(uow, sport)

    units = await run_in_threadpool(read)
    return {"sport": sport, "seq": seq, "topic": topic, "units": units}


async def _medals_snapshot(container: Any, tid: uuid.UUID) -> dict[str, Any]:
    topic = service.medals_topic(await _slug(container, tid))
    seq = await container.broker.last_seq(topic)

    def read() -> list[dict[str, Any]]:
        with container.uow(tid) as uow:
            return [r.as_dict() for r in service.medal_rows(uow)]

    rows = await run_in_threadpool(read)
    return {"seq": seq, "topic": topic, "rows": rows}


# --- public JSON API -------------------------------------------------------------------


@router.get("/api/v1/results/units/{code}", dependencies=Public, tags=["results"])
async def api_unit(code: str, container: ContainerDep, tid: PublicTenantDep) -> UnitOut:
    """A unit's snapshot: header, lines, ``seq`` and ``topic``; then follow ``topic``
    (``public.<tenant-slug>.results.unit.<code>``) from ``seq`` on ``/api/v1/streams/{topic}``."""
    return UnitOut.model_validate(await _unit_snapshot(container, tid, code))


@router.get("/api/v1/results/schedule", dependencies=Public, tags=["results"])
async def api_schedule(
    container: ContainerDep,
    tid: PublicTenantDep,
    day: Annotated[dt.date | None, Query(description="YYYY-MM-DD (Dakar time = UTC)")] = None,
) -> ScheduleOut:
    """Units of the day with their leader; then follow ``topic``
    (``public.<tenant-slug>.schedule``) from ``seq``."""
    when = day or container.clock.now().date()
    return ScheduleOut.model_validate(await _schedule_snapshot(container, tid, when))


@router.get("/api/v1/results/sports/{sport}", dependencies=Public, tags=["results"])
async def api_sport(sport: str, container: ContainerDep, tid: PublicTenantDep) -> SportOut:
    """Every unit of a sport; then follow ``topic``
    (``public.<tenant-slug>.results.sport.<sport>``) from ``seq``."""
    return SportOut.model_validate(await _sport_snapshot(container, tid, sport))


@router.get("/api/v1/results/medals", dependencies=Public, tags=["results"])
async def api_medals(container: ContainerDep, tid: PublicTenantDep) -> MedalsOut:
    """Medal standings by NOC (gold, then silver, then bronze); then follow ``topic``
    (``public.<tenant-slug>.medals``) from ``seq``."""
    return MedalsOut.model_validate(await _medals_snapshot(container, tid))


# --- scorer API ------------------------------------------------------------------------


def _summary(u: Any) -> UnitSummaryOut:
    return UnitSummaryOut.model_validate(service.unit_summary(u, None))


@router.put("/api/v1/results/units/{code}", tags=["results"])
def api_put_unit(code: str, body: UnitIn, p: Scorer, container: ContainerDep) -> UnitSummaryOut:
    """Create or update a unit of the schedule."""
    with container.uow(p.tenant_id) as uow:
        spec = service.UnitSpec(code=code, **body.model_dump())
        u = service.upsert_unit(uow, spec, author_id=p.user_id)
        return _summary(u)


@router.post("/api/v1/results/units/{code}/status", tags=["results"])
def api_unit_status(
    code: str, body: StatusIn, p: Scorer, container: ContainerDep
) -> UnitSummaryOut:
    with container.uow(p.tenant_id) as uow:
        u = service.set_status(uow, code=code, status=body.status, author_id=p.user_id)
        return _summary(u)


@router.post("/api/v1/results/units/{code}/lines", tags=["results"])
def api_unit_lines(code: str, body: LinesIn, p: Scorer, container: ContainerDep) -> UnitSummaryOut:
    """Enter or correct the start list or results: a new version of the unit."""
    with container.uow(p.tenant_id) as uow:
        return _record_lines(uow, code, body, p)


def _record_lines(uow: UnitOfWork, code: str, body: LinesIn, p: Principal) -> UnitSummaryOut:
    u = service.record_lines(
        uow,
        code=code,
        lines=[ln.to_line() for ln in body.lines],
        result_status=body.result_status,
        author_id=p.user_id,
        expected_version=body.expected_version,
    )
    return _summary(u)


async def _fast_lines(
    container: Container, params: dict[str, str], body: bytes, p: Principal
) -> bytes | None:
    """``POST /api/v1/results/units/{code}/lines`` on the fast path (``teranga.web.fastpath``):
    the scorer's live updates skip routing across the platform's routes and the dependency
    machinery (10-20 % of an update request's CPU in-process). None, or a refusal raised
    before the commit, leaves the request to the route above, which answers with its usual
    error."""
    try:
        data = LinesIn.model_validate_json(body)
    except ValidationError:
        return None

    def run() -> bytes:
        with container.uow(p.tenant_id) as uow:
            # Encoded before the commit: nothing after it may fail and send the update
            # through the full path a second time.
            return _record_lines(uow, params["code"], data, p).model_dump_json().encode()

    return await run_in_threadpool(run)


def setup(app: object, container: Container) -> None:
    fastpath.register(
        container,
        fastpath.FastRoute(
            "POST",
            re.compile(r"/api/v1/results/units/(?P<code>[A-Z0-9-]{34})/lines"),
            "results.unit.write",
            functools.partial(_fast_lines, container),
            max_body=64 * 1024,
        ),
    )


@router.post("/api/v1/results/units/{code}/official", tags=["results"])
def api_unit_official(
    code: str, body: OfficialIn, p: Scorer, container: ContainerDep
) -> UnitSummaryOut:
    """Mark the current results official; medal standings follow."""
    with container.uow(p.tenant_id) as uow:
        u = service.mark_official(
            uow, code=code, author_id=p.user_id, expected_version=body.expected_version
        )
        return _summary(u)


@router.get("/api/v1/results/units/{code}/versions", tags=["results"])
def api_unit_versions(code: str, p: Reader, container: ContainerDep) -> list[VersionOut]:
    with container.uow(p.tenant_id) as uow:
        return [VersionOut.model_validate(v) for v in service.versions(uow, code)]


@router.post(
    "/api/v1/results/odf",
    tags=["results"],
    response_model=ImportOut,
    responses={422: {"description": "Message rejected, with the reason"}},
    openapi_extra={"requestBody": {"content": {"application/xml": {"schema": {"type": "string"}}}}},
)
async def api_odf_import(request: Request, p: Importer, container: ContainerDep) -> Any:
    """Import one ODF XML message (DT_SCHEDULE, DT_PARTIC, DT_RESULT, DT_MEDALS).

    200 with the outcome ``applied``, ``duplicate`` or ``stale`` (older than the version held:
    ignored); 422 ``{code, message, details}`` when the message is rejected (malformed or
    invalid), which changes nothing but the import log.
    """
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_ODF_BYTES:
            raise PayloadTooLarge("payload_too_large", "ODF message larger than 2 MB")
    data = bytes(body)

    def run() -> service.ImportReport:
        with container.uow(p.tenant_id) as uow:
            return service.import_odf(uow, data, author_id=p.user_id)

    report = await run_in_threadpool(run)
    if report.outcome == "rejected":
        # Logged (committed) above; the caller gets a 422 with the reason and the report.
        return JSONResponse(
            error_body(
                report.code or "odf_rejected",
                report.reason,
                outcome=report.outcome,
                document_type=report.document_type,
                document_code=report.document_code,
                version=report.version,
            ),
            status_code=422,
        )
    return ImportOut.model_validate(report.as_dict())


@router.get("/api/v1/results/odf/log", tags=["results"])
def api_odf_log(p: Reader, container: ContainerDep) -> list[dict[str, Any]]:
    with container.uow(p.tenant_id) as uow:
        return service.import_log(uow)


# --- pages -----------------------------------------------------------------------------


def _labels() -> dict[str, str]:
    return (
        {k: _(v) for k, v in STATUS_LABELS.items()}
        | {
            "_official": _("Official"),
            "_rank": _("Rank"),
            "_live": _("Live"),
            "_offline": _("Reconnecting…"),
            "_medal": _("Medal"),
        }
        | {f"sport:{k}": _(v) for k, v in SPORT_LABELS.items()}
    )


def _live(kind: str, snap: dict[str, Any], **extra: Any) -> dict[str, Any]:
    state = dict(snap)
    state.pop("day", None)
    return {
        "live_kind": kind,
        # "<" escaped so no value can close the script element it is embedded in.
        "live_state": json.dumps({"kind": kind, **state, **extra}, default=str).replace(
            "<", "\\u003c"
        ),
        "labels": _labels(),
        "labels_json": json.dumps(_labels()),
        "sport_labels": {k: _(v) for k, v in SPORT_LABELS.items()},
    }


@router.get("/resultats/live.js", dependencies=Public, include_in_schema=False)
def live_js() -> Response:
    # Served by us (no CDN), small, cached for an hour; it has no build step.
    return Response(
        (STATIC / "live.js").read_bytes(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/resultats", dependencies=Public, include_in_schema=False)
async def page_schedule(
    request: Request,
    container: ContainerDep,
    tid: PublicTenantDep,
    day: Annotated[dt.date | None, Query()] = None,
) -> Response:
    days = await run_in_threadpool(_days, container, tid)
    today = container.clock.now().date()
    if day is None:
        future = [d for d in days if d >= today]
        day = today if today in days or not days else (future[0] if future else days[-1])
    snap = await _schedule_snapshot(container, tid, day)
    idx = days.index(day) if day in days else -1
    ctx = {
        "day": day,
        "days": days,
        "prev_day": days[idx - 1] if idx > 0 else None,
        "next_day": days[idx + 1] if 0 <= idx < len(days) - 1 else None,
        "units": snap["units"],
        **_live("schedule", snap, day=day.isoformat()),
    }
    return render(request, "results/schedule.html", ctx)


@router.get("/resultats/epreuves/{code}", dependencies=Public, include_in_schema=False)
async def page_unit(
    request: Request, code: str, container: ContainerDep, tid: PublicTenantDep
) -> Response:
    snap = await _unit_snapshot(container, tid, code)
    return render(request, "results/unit.html", {"unit": snap, **_live("unit", snap)})


@router.get("/resultats/sports/{sport}", dependencies=Public, include_in_schema=False)
async def page_sport(
    request: Request, sport: str, container: ContainerDep, tid: PublicTenantDep
) -> Response:
    snap = await _sport_snapshot(container, tid, sport)
    ctx = {"sport": sport, "units": snap["units"], **_live("sport", snap)}
    return render(request, "results/sport.html", ctx)


@router.get("/resultats/medailles", dependencies=Public, include_in_schema=False)
async def page_medals(request: Request, container: ContainerDep, tid: PublicTenantDep) -> Response:
    snap = await _medals_snapshot(container, tid)
    return render(request, "results/medals.html", {"rows": snap["rows"], **_live("medals", snap)})


# --- scorer form -------------------------------------------------------------------------

EXTRA_ROWS = 4


def _form_lines(form: Any) -> list[Line]:
    lines = []
    for i in range(int(form.get("rows", "0") or 0)):
        participant = str(form.get(f"participant_{i}", "")).strip()
        if not participant:
            continue

        def num(name: str, i: int = i) -> int | None:
            raw = str(form.get(f"{name}_{i}", "")).strip()
            if not raw:
                return None
            if not raw.isdigit():
                raise ValidationFailed(f"{name}_{i}", "a whole number")
            return int(raw)

        lines.append(
            Line(
                participant=participant,
                name=str(form.get(f"name_{i}", "")).strip(),
                noc=str(form.get(f"noc_{i}", "")).strip().upper(),
                start_order=num("start"),
                rank=num("rank"),
                mark=str(form.get(f"mark_{i}", "")).strip(),
                irm=str(form.get(f"irm_{i}", "")).strip().upper(),
            )
        )
    return lines


def _form_ctx(unit: dict[str, Any], csrf: str, **extra: Any) -> dict[str, Any]:
    return {
        "unit": unit,
        "rows": [*unit["lines"], *([{}] * EXTRA_ROWS)],
        "result_statuses": list(ResultStatus),
        "schedule_statuses": list(ScheduleStatus),
        "irms": list(Irm),
        "labels": _labels(),
        "csrf_token": csrf,
        **extra,
    }


@router.get("/resultats/saisie/{code}", include_in_schema=False)
def page_scorer(
    request: Request, code: str, p: Scorer, container: ContainerDep, csrf: CsrfToken
) -> Response:
    with container.uow(p.tenant_id) as uow:
        unit = service.unit_view(uow, code)
    saved = request.query_params.get("saved")
    return render(request, "results/scorer.html", _form_ctx(unit, csrf, saved=saved))


@router.post("/resultats/saisie/{code}", include_in_schema=False)
async def post_scorer(
    request: Request, code: str, p: Scorer, container: ContainerDep, csrf: CsrfToken
) -> Response:
    form = await request.form()

    def run() -> int:
        with container.uow(p.tenant_id) as uow:
            expected = str(form.get("expected_version", "")).strip()
            version = int(expected) if expected.isdigit() else None
            if form.get("action") == "official":
                u = service.mark_official(
                    uow, code=code, author_id=p.user_id, expected_version=version
                )
            elif form.get("action") == "status":
                u = service.set_status(
                    uow, code=code, status=str(form.get("status", "")), author_id=p.user_id
                )
            else:
                u = service.record_lines(
                    uow,
                    code=code,
                    lines=_form_lines(form),
                    result_status=str(form.get("result_status", "")),
                    author_id=p.user_id,
                    expected_version=version,
                )
            return u.version

    try:
        version = await run_in_threadpool(run)
    except TerangaError as exc:

        def reread() -> dict[str, Any]:
            with container.uow(p.tenant_id) as uow:
                return service.unit_view(uow, code)

        unit = await run_in_threadpool(reread)
        ctx = _form_ctx(unit, csrf, error=exc.message)
        return render(request, "results/scorer.html", ctx, status_code=exc.status)
    return RedirectResponse(f"/resultats/saisie/{code}?saved={version}", status_code=303)
