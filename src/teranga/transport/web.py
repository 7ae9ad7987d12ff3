"""Transport over HTTP: public journey API and page, operator feed import and export."""

from __future__ import annotations

import datetime as dt
import math
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from teranga.identity.api import Principal, public, require
from teranga.platform.errors import TerangaError, ValidationFailed
from teranga.transport import service
from teranga.transport.gtfs import FeedOverrides
from teranga.transport.realtime import Alert, Snapshot, Vehicle, build_feed
from teranga.transport.schemas import FeedOut, ImportOut, PlanOut, ShuttlesIn, StopOut
from teranga.transport.shuttles import ShuttleLine, ShuttleStop
from teranga.transport.venues import VENUES
from teranga.web.deps import ContainerDep, PublicTenantDep
from teranga.web.templating import render

router = APIRouter()
Public = [Depends(public)]
FeedWriter = Annotated[Principal, Depends(require("transport.feed.write"))]
FeedReader = Annotated[Principal, Depends(require("transport.feed.read"))]
ShuttleWriter = Annotated[Principal, Depends(require("transport.shuttle.write"))]
RealtimeWriter = Annotated[Principal, Depends(require("transport.realtime.write"))]
MAX_RT_BYTES = 10 * 1024 * 1024
MAX_FEED_BYTES = 200 * 1024 * 1024


def _when(value: str, field: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(field, "expected YYYY-MM-DDTHH:MM") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=service.TZ)


@router.get(
    "/api/v1/transport/plan",
    dependencies=Public,
    tags=["transport"],
    response_model=PlanOut,
    response_model_by_alias=True,
)
def api_plan(
    container: ContainerDep,
    tenant: PublicTenantDep,
    origin: Annotated[str, Query(alias="from", description="stop id, FEEDID:STOP_ID, lat,lon")],
    to: Annotated[str, Query(description="stop id, venue id (venues.yaml), lat,lon, text")],
    depart: Annotated[str | None, Query(description="YYYY-MM-DDTHH:MM, Dakar time")] = None,
    arrive_by: Annotated[str | None, Query(description="YYYY-MM-DDTHH:MM")] = None,
    window: Annotated[int, Query(description="departure window, minutes", ge=0, le=180)] = 0,
) -> dict[str, Any]:
    """Fastest journeys with the fewest transfers (Pareto), earliest arrival first."""
    with container.uow(tenant) as uow:
        return service.plan(
            uow,
            data_dir=container.settings.data_dir,
            origin=origin,
            destination=to,
            depart=_when(depart, "depart") if depart else None,
            arrive_by=_when(arrive_by, "arrive_by") if arrive_by else None,
            window_min=window,
        )


@router.get(
    "/api/v1/transport/stops",
    dependencies=Public,
    tags=["transport"],
    response_model=list[StopOut],
)
def api_stops(
    container: ContainerDep,
    tenant: PublicTenantDep,
    q: Annotated[str, Query(description="part of a stop name or id", max_length=100)],
) -> list[dict[str, Any]]:
    with container.uow(tenant) as uow:
        return service.find_stops(uow, text=q)


@router.post("/api/v1/transport/feeds", tags=["transport"], response_model=ImportOut)
def api_import(
    container: ContainerDep,
    p: FeedWriter,
    file: Annotated[UploadFile, File(description="GTFS zip")],
    feed_id: Annotated[str | None, Form()] = None,
    ignore_pickup_drop_off: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Validate and import a GTFS zip; the report lists every notice (file, line, field)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feed.zip"
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)
        if path.stat().st_size > MAX_FEED_BYTES:
            raise ValidationFailed("file", "larger than 200 MB")
        fid = feed_id or service.feed_id_for(Path(file.filename or "feed.zip"))
        with container.uow(p.tenant_id) as uow:
            res = service.import_feed(
                uow,
                source=path,
                feed_id=fid,
                overrides=FeedOverrides(ignore_pickup_drop_off=ignore_pickup_drop_off),
                data_dir=container.settings.data_dir,
            )
    return _import_out(res)


def _import_out(res: service.ImportResult) -> dict[str, Any]:
    return {
        "feed_id": res.feed_id,
        "status": res.status,
        "usable": res.report.usable,
        "errors": res.report.count("error"),
        "warnings": res.report.count("warning"),
        "report": res.report.as_dict(),
    }


@router.put("/api/v1/transport/shuttles", tags=["transport"], response_model=ImportOut)
def api_shuttles(container: ContainerDep, p: ShuttleWriter, body: ShuttlesIn) -> dict[str, Any]:
    """Define the event shuttles (replaces the previous definition); published as GTFS."""
    lines = [
        ShuttleLine(
            id=x.id,
            name=x.name,
            stops=tuple(ShuttleStop(s.id, s.name, s.lat, s.lon, s.minutes) for s in x.stops),
            start_date=x.start_date,
            end_date=x.end_date,
            first=x.first,
            last=x.last,
            headway_min=x.headway_min,
            departures=tuple(x.departures),
            days=tuple(x.days),
            one_way=x.one_way,
        )
        for x in body.lines
    ]
    with container.uow(p.tenant_id) as uow:
        res = service.publish_shuttles(uow, lines=lines, data_dir=container.settings.data_dir)
    return _import_out(res)


@router.get(
    "/api/v1/transport/shuttles.zip",
    dependencies=Public,
    tags=["transport"],
    response_class=FileResponse,
)
def api_shuttles_zip(container: ContainerDep, tenant: PublicTenantDep) -> FileResponse:
    """The Games shuttles as a GTFS zip (frequencies.txt for headway lines)."""
    tmp = Path(tempfile.mkdtemp())
    try:
        with container.uow(tenant) as uow:
            path = service.export_network(
                uow, path=tmp / "joj-shuttles-gtfs.zip", feed_ids=[service.SHUTTLE_FEED]
            )
    except TerangaError:
        shutil.rmtree(tmp, True)
        raise
    return FileResponse(
        path,
        media_type="application/zip",
        filename="joj-shuttles-gtfs.zip",
        background=BackgroundTask(shutil.rmtree, tmp, True),
    )


@router.get("/api/v1/transport/feeds", tags=["transport"], response_model=list[FeedOut])
def api_feeds(container: ContainerDep, p: FeedReader) -> list[dict[str, Any]]:
    with container.uow(p.tenant_id) as uow:
        return service.list_feed_reports(uow)


@router.get("/api/v1/transport/export.zip", tags=["transport"], response_class=FileResponse)
def api_export(container: ContainerDep, p: FeedReader) -> FileResponse:
    """The merged network (every feed, ids prefixed ``FEEDID:``) as one GTFS zip."""
    tmp = Path(tempfile.mkdtemp())
    with container.uow(p.tenant_id) as uow:
        path = service.export_network(uow, path=tmp / "teranga-gtfs.zip")
    return FileResponse(
        path,
        media_type="application/zip",
        filename="teranga-gtfs.zip",
        background=BackgroundTask(shutil.rmtree, tmp, True),
    )


# -- real time --------------------------------------------------------------------------------
@router.post("/api/v1/transport/realtime/{feed_id}", tags=["transport"])
async def api_realtime_push(
    request: Request, container: ContainerDep, p: RealtimeWriter, feed_id: str
) -> dict[str, int]:
    """Push a GTFS-Realtime FeedMessage (protobuf body) for one imported feed.

    The message is a full dataset for that feed: it replaces the previous state. Trip
    delays are applied to journey planning right away.
    """
    body = await request.body()
    if len(body) > MAX_RT_BYTES:
        raise ValidationFailed("body", "larger than 10 MB")

    def run() -> dict[str, int]:
        with container.uow(p.tenant_id) as uow:
            return service.ingest_realtime(uow, feed_id=feed_id, data=body)

    return await run_in_threadpool(run)


@router.get(
    "/api/v1/transport/gtfs-rt",
    dependencies=Public,
    tags=["transport"],
    response_class=Response,
    responses={200: {"content": {"application/x-protobuf": {}}}},
)
def api_realtime_feed(container: ContainerDep, tenant: PublicTenantDep) -> Response:
    """Our GTFS-Realtime feed: every operator's latest state, ids as FEEDID:ID."""
    with container.uow(tenant) as uow:
        snap = service.realtime_snapshot(uow)
    now = int(container.clock.now().timestamp())
    return Response(build_feed(snap, now=now), media_type="application/x-protobuf")


@router.get("/api/v1/transport/vehicles", dependencies=Public, tags=["transport"])
def api_vehicles(container: ContainerDep, tenant: PublicTenantDep) -> list[dict[str, Any]]:
    """Live vehicle positions (JSON) for maps."""
    with container.uow(tenant) as uow:
        snap = service.realtime_snapshot(uow)
    return [asdict(v) for v in snap.vehicles]


# -- public page ---------------------------------------------------------------------------
def _alerts_for(journey: dict[str, Any], alerts: list[Alert]) -> list[str]:
    """Alert headers about the journey's routes or stops, or about the whole network."""
    routes = {leg["route"]["id"] for leg in journey["legs"] if leg.get("route")}
    stops = {p.get("stop_id") for leg in journey["legs"] for p in (leg["from"], leg["to"])}
    return [
        a.header
        for a in alerts
        if (not a.route_ids and not a.stop_ids)
        or routes & set(a.route_ids)
        or stops & set(a.stop_ids)
    ]


def svg_map(
    journey: dict[str, Any],
    width: int = 320,
    height: int = 220,
    vehicles: list[Vehicle] | None = None,
) -> dict[str, Any]:
    """Project the journey's stops into an SVG box (equirectangular; fine at city scale).

    Live vehicles inside the box are drawn too."""
    pts: list[tuple[float, float]] = []
    for leg in journey["legs"]:
        places = leg.get("stops") or [leg["from"], leg["to"]]
        pts.extend((p["lat"], p["lon"]) for p in places if p.get("lat") is not None)
        pts.extend((a, b) for a, b in leg.get("shape") or [])
    if not pts:
        return {"lines": [], "dots": [], "vehicles": [], "width": width, "height": height}
    lat0, lat1 = min(p[0] for p in pts), max(p[0] for p in pts)
    lon0, lon1 = min(p[1] for p in pts), max(p[1] for p in pts)
    k = math.cos(math.radians((lat0 + lat1) / 2))
    span = max((lon1 - lon0) * k, lat1 - lat0, 1e-3)
    pad = 12
    scale = min(width, height) - 2 * pad

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return (
            round(pad + (lon - lon0) * k / span * scale, 1),
            round(height - pad - (lat - lat0) / span * scale, 1),
        )

    lines, dots = [], []
    for leg in journey["legs"]:
        places = [p for p in (leg.get("stops") or [leg["from"], leg["to"]]) if p.get("lat")]
        coords = [xy(p["lat"], p["lon"]) for p in places]
        # The trip's shape when the feed has one, else straight lines between stops.
        path = [xy(a, b) for a, b in leg["shape"]] if leg.get("shape") else coords
        thin = [q for i, q in enumerate(path) if i == 0 or q != path[i - 1]]
        color = "#" + (leg.get("route") or {}).get("color", "") if leg.get("route") else "#555"
        lines.append(
            {
                "points": " ".join(f"{x},{y}" for x, y in thin),
                "color": color if len(color) == 7 else "#00703c",
                "walk": leg["mode"] == "walk",
            }
        )
        for p, (x, y) in zip(places, coords, strict=True):
            dots.append({"x": x, "y": y, "name": p["name"]})
    live = []
    for v in vehicles or []:
        if lat0 <= v.lat <= lat1 and lon0 <= v.lon <= lon1:
            x, y = xy(v.lat, v.lon)
            live.append({"x": x, "y": y, "name": v.id})
    return {"lines": lines, "dots": dots, "vehicles": live, "width": width, "height": height}


@router.get("/transport", dependencies=Public, include_in_schema=False)
async def page_plan(
    request: Request,
    container: ContainerDep,
    tenant: PublicTenantDep,
    origin: Annotated[str, Query(alias="from", max_length=100)] = "",
    to: Annotated[str, Query(max_length=100)] = "dakar-arena",
    when: Annotated[str, Query(max_length=20)] = "",
    mode: Annotated[str, Query(pattern="^(depart|arrive)$")] = "depart",
) -> Response:
    default_when = container.clock.now().astimezone(service.TZ).strftime("%Y-%m-%dT%H:%M")
    ctx: dict[str, Any] = {
        "venues": [(vid, name) for vid, name, _, _ in VENUES],
        "origin": origin,
        "to": to,
        "when": when or default_when,
        "mode": mode,
        "result": None,
        "error": None,
    }
    if origin:
        moment = _when(ctx["when"], "when")

        def run() -> tuple[dict[str, Any], Snapshot]:
            with container.uow(tenant) as uow:
                plan = service.plan(
                    uow,
                    data_dir=container.settings.data_dir,
                    origin=origin,
                    destination=to,
                    depart=moment if mode == "depart" else None,
                    arrive_by=moment if mode == "arrive" else None,
                )
                return plan, service.realtime_snapshot(uow)

        try:
            result, live = await run_in_threadpool(run)
        except TerangaError as exc:
            ctx["error"] = exc.message
        else:
            for j in result["journeys"]:
                j["map"] = svg_map(j, vehicles=live.vehicles)
                j["alerts"] = _alerts_for(j, live.alerts)
            ctx["result"] = result
    return render(request, "transport/plan.html", ctx)
