"""Transport use cases: import feeds, plan journeys, find stops. Take a unit of work; never commit.

The planner's timetable is built at import and cached as ``.npz`` under
``settings.data_dir/transport/<network key>.npz``; the network key hashes the tenant's feed
ids, content hashes and overrides, so re-importing an unchanged feed keeps the cache and any
change invalidates it. Each process also keeps the last few timetables and day networks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
import unicodedata
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa

from teranga.platform.errors import NotFound, ValidationFailed
from teranga.platform.uow import UnitOfWork
from teranga.transport import fares, realtime, repo
from teranga.transport.geometry import cut_shape
from teranga.transport.gtfs import Feed, FeedOverrides, ValidationReport
from teranga.transport.gtfs.reader import content_hash, load_files, read_files
from teranga.transport.gtfs.writer import export_zip
from teranga.transport.models import TransportFeed, TransportRealtime
from teranga.transport.planner import DayNetwork, Journey, Timetable, build_day, search
from teranga.transport.planner.build import timetable_from_feeds
from teranga.transport.planner.queries import arrive_by as arrive_by_search
from teranga.transport.planner.queries import range_search
from teranga.transport.planner.timetable import WALK_SPEED_MPS, haversine_m
from teranga.transport.shuttles import ShuttleLine, shuttle_feed_files
from teranga.transport.venues import VENUES

FEED_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
ACCESS_RADIUS_M = 800.0
TZ = ZoneInfo("Africa/Dakar")  # every Dakar feed's agency_timezone (UTC+0, no DST)


@dataclass(frozen=True)
class ImportResult:
    feed_id: str
    status: str  # "imported" | "unchanged" | "rejected"
    report: ValidationReport


def feed_id_for(path: Path) -> str:
    stem = path.name.removesuffix(".zip")
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:64]
    return slug or "feed"


def import_feed(
    uow: UnitOfWork,
    *,
    source: Path | Mapping[str, bytes],
    feed_id: str | None = None,
    overrides: FeedOverrides | None = None,
    data_dir: Path,
) -> ImportResult:
    """Validate and store one feed; unchanged content + overrides writes nothing."""
    tenant = uow.require_tenant()
    if feed_id is None and not isinstance(source, Path):
        raise ValidationFailed("feed_id", "required")
    fid = feed_id or feed_id_for(source)  # type: ignore[arg-type]
    if not FEED_ID_RE.match(fid):
        raise ValidationFailed("feed_id", "letters, digits, '-' and '_' (max 64)")
    overrides = overrides or FeedOverrides()
    report = ValidationReport(fid)
    files = load_files(source, report) if isinstance(source, Path) else dict(source)
    session = uow.session
    existing = repo.get_feed(session, tenant, fid)
    wanted = asdict(overrides)
    if (
        report.usable
        and existing
        and existing.content_hash == content_hash(files)
        and existing.overrides == wanted
    ):
        # Same bytes, same overrides: nothing to validate again, nothing to write.
        return ImportResult(fid, "unchanged", ValidationReport.from_dict(existing.report))
    feed, report = read_files(files, feed_id=fid, overrides=overrides, report=report)
    if not report.usable:
        return ImportResult(fid, "rejected", report)
    if existing:
        repo.delete_feed_rows(session, tenant, existing.id)
        row = existing
    else:
        row = TransportFeed(tenant_id=tenant, feed_id=fid)
        session.add(row)
    row.content_hash = feed.content_hash
    row.overrides = wanted
    row.report = report.as_dict()
    row.agencies = [asdict(a) for a in feed.agencies]
    row.fares = {"fare_attributes": feed.fare_attributes, "fare_rules": feed.fare_rules}
    row.imported_at = dt.datetime.now(dt.UTC)
    session.flush()
    repo.write_feed(session, tenant, row, feed)
    session.flush()
    uow.publish(
        "transport.feed.imported",
        {"tenant_id": str(tenant), "feed_id": fid, "content_hash": feed.content_hash},
    )
    _refresh_cache(uow, data_dir, {fid: feed})
    return ImportResult(fid, "imported", report)


# -- planner cache ---------------------------------------------------------------------------
_LOCK = threading.Lock()
_TIMETABLES: OrderedDict[str, Timetable] = OrderedDict()
_DAYS: OrderedDict[tuple[str, dt.date], DayNetwork] = OrderedDict()


def network_key(rows: list[TransportFeed]) -> str:
    h = hashlib.sha256()
    for r in sorted(rows, key=lambda r: r.feed_id):
        h.update(json.dumps([r.feed_id, r.content_hash, r.overrides], sort_keys=True).encode())
    return h.hexdigest()[:32]


def _cache_path(data_dir: Path, tenant: uuid.UUID, key: str) -> Path:
    return data_dir / "transport" / f"{tenant}-{key}.npz"


def _remember(key: str, tt: Timetable) -> None:
    with _LOCK:
        _TIMETABLES[key] = tt
        _TIMETABLES.move_to_end(key)
        while len(_TIMETABLES) > 4:
            _TIMETABLES.popitem(last=False)


def _refresh_cache(uow: UnitOfWork, data_dir: Path, fresh: dict[str, Feed]) -> Timetable:
    tenant = uow.require_tenant()
    rows = repo.list_feeds(uow.session, tenant)
    key = network_key(rows)
    feeds = [fresh.get(r.feed_id) or repo.load_feed(uow.session, r) for r in rows]
    tt = timetable_from_feeds(feeds)
    path = _cache_path(data_dir, tenant, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(tt.to_bytes())
    tmp.replace(path)
    _remember(key, tt)
    return tt


def timetable(uow: UnitOfWork, data_dir: Path) -> tuple[str, Timetable]:
    tenant = uow.require_tenant()
    rows = repo.list_feeds(uow.session, tenant)
    if not rows:
        raise NotFound("transport.no_network", "no transport feed imported yet")
    key = network_key(rows)
    with _LOCK:
        hit = _TIMETABLES.get(key)
    if hit is not None:
        return key, hit
    path = _cache_path(data_dir, tenant, key)
    if path.is_file():
        tt = Timetable.from_bytes(path.read_bytes())
        _remember(key, tt)
        return key, tt
    return key, _refresh_cache(uow, data_dir, {})


def day_network(key: str, tt: Timetable, day: dt.date) -> DayNetwork:
    with _LOCK:
        hit = _DAYS.get((key, day))
    if hit is not None:
        return hit
    net = build_day(tt, day)
    with _LOCK:
        _DAYS[(key, day)] = net
        while len(_DAYS) > 6:
            _DAYS.popitem(last=False)
    return net


# -- places ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Place:
    """Where a journey starts or ends: stops with walking seconds to/from the place."""

    label: str
    stops: dict[int, int]
    walked: bool  # True when reaching the stops needs a walk (no second walk allowed after)
    lat: float | None = None
    lon: float | None = None


_COORD = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


def _fold(text: str) -> str:
    norm = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in norm if not unicodedata.combining(c))


def _near(tt: Timetable, lat: float, lon: float) -> dict[int, int]:
    d = haversine_m(tt.stop_lat, tt.stop_lon, np.float64(lat), np.float64(lon))  # type: ignore[arg-type]
    idx = np.flatnonzero(d <= ACCESS_RADIUS_M)
    if idx.size == 0:
        idx = np.argsort(d)[:3]
        idx = idx[d[idx] <= 3000]
    return {int(i): int(np.ceil(d[i] / WALK_SPEED_MPS)) for i in idx}


def resolve_place(tt: Timetable, text: str, field: str) -> Place:
    """Coordinates "lat,lon", a stop id (``FEEDID:STOP_ID`` or unique ``STOP_ID``), a venue
    id from venues.yaml, or text matched against stop names."""
    value = text.strip()
    if not value:
        raise ValidationFailed(field, "required")
    m = _COORD.match(value)
    if m:
        lat, lon = float(m.group(1)), float(m.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValidationFailed(field, "coordinates out of range")
        stops = _near(tt, lat, lon)
        if not stops:
            raise NotFound("transport.no_stop_near", f"{field}: no stop within 3 km")
        return Place(value, stops, True, lat, lon)
    i = tt.stop_index(value)
    if i is not None:
        return Place(tt.stop_names[i], {i: 0}, False)
    same = [k for k, sid in enumerate(tt.stop_ids) if sid.split(":", 1)[1] == value]
    if len(same) == 1:
        return Place(tt.stop_names[same[0]], {same[0]: 0}, False)
    if len(same) > 1:
        options = ", ".join(tt.stop_ids[k] for k in same[:5])
        raise ValidationFailed(field, f"stop id in several feeds; use FEEDID:STOP_ID ({options})")
    for vid, name, lat, lon in VENUES:
        if value == vid:
            return Place(name, _near(tt, lat, lon), True, lat, lon)
    needle = _fold(value)
    hits = [k for k, name in enumerate(tt.stop_names) if needle in _fold(name)]
    if hits:
        return Place(tt.stop_names[hits[0]], dict.fromkeys(hits[:20], 0), False)
    raise NotFound("transport.place_not_found", f"{field}: no stop or place matches '{value}'")


# -- planning ------------------------------------------------------------------------------------
def _iso(day: dt.date, seconds: int) -> str:
    base = dt.datetime.combine(day, dt.time(0), tzinfo=TZ)
    return (base + dt.timedelta(seconds=int(seconds))).isoformat()


def _stop_json(tt: Timetable, i: int) -> dict[str, Any]:
    return {
        "stop_id": tt.stop_ids[i],
        "name": tt.stop_names[i],
        "lat": round(float(tt.stop_lat[i]), 6),
        "lon": round(float(tt.stop_lon[i]), 6),
    }


def journey_json(
    tt: Timetable, day: dt.date, j: Journey, origin: Place, dest: Place, t_leave: int
) -> dict[str, Any]:
    legs: list[dict[str, Any]] = []
    first_stop = j.legs[0].from_stop if j.legs else next(iter(dest.stops))
    departure = j.departure
    if origin.lat is not None and origin.lon is not None:
        walk = origin.stops.get(first_stop, 0)
        start = (j.legs[0].departure if j.legs else t_leave + walk) - walk
        start = max(start, t_leave)
        legs.append(
            {
                "mode": "walk",
                "from": {"name": origin.label, "lat": origin.lat, "lon": origin.lon},
                "to": _stop_json(tt, first_stop),
                "departure": _iso(day, start),
                "arrival": _iso(day, start + walk),
            }
        )
        departure = start
    for leg in j.legs:
        item: dict[str, Any] = {
            "mode": "walk" if leg.kind == "walk" else "transit",
            "from": _stop_json(tt, leg.from_stop),
            "to": _stop_json(tt, leg.to_stop),
            "departure": _iso(day, leg.departure),
            "arrival": _iso(day, leg.arrival),
        }
        if leg.kind == "trip":
            r = int(tt.trip_route[leg.trip])
            item["trip_id"] = tt.trip_ids[leg.trip]
            item["headsign"] = tt.trip_headsign[leg.trip]
            item["route"] = {
                "id": tt.route_ids[r],
                "name": tt.route_names[r],
                "type": tt.route_types[r],
                "color": tt.route_colors[r],
            }
            a = int(tt.trip_start[leg.trip])
            item["stops"] = [
                _stop_json(tt, int(s))
                for s in tt.st_stop[a + leg.board_pos : a + leg.alight_pos + 1]
            ]
        legs.append(item)
    arrival = j.arrival
    if dest.lat is not None and dest.lon is not None:
        last = j.legs[-1].to_stop if j.legs else first_stop
        walk = dest.stops.get(last, 0)
        t_last = j.arrival - walk
        legs.append(
            {
                "mode": "walk",
                "from": _stop_json(tt, last),
                "to": {"name": dest.label, "lat": dest.lat, "lon": dest.lon},
                "departure": _iso(day, t_last),
                "arrival": _iso(day, j.arrival),
            }
        )
    return {
        "departure": _iso(day, departure),
        "arrival": _iso(day, arrival),
        "duration_min": round((arrival - departure) / 60),
        "transfers": j.transfers,
        "legs": legs,
    }


def _split(prefixed: str) -> tuple[str, str]:
    feed, _, local = prefixed.partition(":")
    return feed, local


def add_fares_and_shapes(uow: UnitOfWork, journeys: list[dict[str, Any]]) -> None:
    """Give each leg a ``fare`` (transit legs the feed prices; else None) and each transit leg
    a ``shape`` ([lat, lon] points from shapes.txt, None without a shape), and each journey
    a ``total_fare`` (None when a transit leg is unpriced or there is none)."""
    tenant = uow.require_tenant()
    transit = [leg for j in journeys for leg in j["legs"] if leg["mode"] == "transit"]
    wanted: dict[str, tuple[set[str], set[str]]] = {}
    for leg in transit:
        feed, trip = _split(leg["trip_id"])
        trips, stops = wanted.setdefault(feed, (set(), set()))
        trips.add(trip)
        stops.update(_split(s["stop_id"])[1] for s in leg.get("stops") or [leg["from"], leg["to"]])
    rows = {r.feed_id: r for r in repo.list_feeds(uow.session, tenant) if r.feed_id in wanted}
    tables: dict[str, fares.FareTable] = {}
    trip_info: dict[str, tuple[str, str, str]] = {}
    zone_of: dict[str, str] = {}
    shapes: dict[str, list[tuple[float, float]]] = {}
    for fid, row in rows.items():
        stored = row.fares or {}
        tables[fid] = fares.parse_fares(
            stored.get("fare_attributes", []), stored.get("fare_rules", [])
        )
        t_ids, s_ids = wanted[fid]
        t, z, sh = repo.leg_details(uow.session, tenant, row.id, sorted(t_ids), sorted(s_ids))
        trip_info.update({f"{fid}:{k}": v for k, v in t.items()})
        zone_of.update({f"{fid}:{k}": v for k, v in z.items()})
        shapes.update({f"{fid}:{k}": v for k, v in sh.items()})
    for j in journeys:
        inputs: list[fares.LegFareInput] = []
        for leg in j["legs"]:
            leg["fare"] = None
            if leg["mode"] != "transit":
                continue
            route, agency, shape_id = trip_info.get(leg["trip_id"], ("", "", ""))
            places = leg.get("stops") or [leg["from"], leg["to"]]
            line = cut_shape(
                shapes.get(f"{_split(leg['trip_id'])[0]}:{shape_id}", []) if shape_id else [],
                [(p["lat"], p["lon"]) for p in places],
            )
            leg["shape"] = [[round(a, 6), round(b, 6)] for a, b in line] or None
            zones = [zone_of.get(p["stop_id"], "") for p in places]
            inputs.append(
                fares.LegFareInput(
                    feed_id=_split(leg["trip_id"])[0],
                    route_id=route,
                    agency_id=agency,
                    origin_zone=zones[0],
                    destination_zone=zones[-1],
                    zones=frozenset(z for z in zones if z),
                    departure=int(dt.datetime.fromisoformat(leg["departure"]).timestamp()),
                )
            )
        priced = fares.price_legs(tables, inputs)
        it = iter(priced)
        for leg in j["legs"]:
            if leg["mode"] == "transit":
                f = next(it)
                if f is not None:
                    feed = _split(leg["trip_id"])[0]
                    leg["fare"] = {
                        "fare_id": f"{feed}:{f.fare_id}",
                        "price": f.price,
                        "currency": f.currency,
                        "transfer": f.transfer,
                    }
        tot = fares.total(priced)
        j["total_fare"] = {"price": tot[0], "currency": tot[1]} if tot else None


# -- real time ------------------------------------------------------------------------------
def ingest_realtime(uow: UnitOfWork, *, feed_id: str, data: bytes) -> dict[str, int]:
    """Replace the real-time state of ``feed_id`` with a pushed FeedMessage (full dataset)."""
    tenant = uow.require_tenant()
    if repo.get_feed(uow.session, tenant, feed_id) is None:
        raise NotFound("transport.feed_not_found", f"no feed '{feed_id}'")
    snap = realtime.parse_feed(data)
    session = uow.session
    session.execute(
        sa.delete(TransportRealtime).where(
            TransportRealtime.tenant_id == tenant, TransportRealtime.feed_id == feed_id
        )
    )
    rows = [("delay", d.trip_id, asdict(d)) for d in snap.delays]
    rows += [("vehicle", v.id, asdict(v)) for v in snap.vehicles]
    rows += [("alert", a.id, asdict(a)) for a in snap.alerts]
    seen: set[tuple[str, str]] = set()
    for kind, eid, payload in reversed(rows):  # the last entity with an id wins
        if (kind, eid) in seen:
            continue
        seen.add((kind, eid))
        session.add(
            TransportRealtime(
                tenant_id=tenant, feed_id=feed_id, kind=kind, entity_id=eid[:200], data=payload
            )
        )
    session.flush()
    counts = {"delays": len(snap.delays), "vehicles": len(snap.vehicles),
              "alerts": len(snap.alerts)}  # fmt: skip
    uow.publish("transport.realtime.updated", {"feed_id": feed_id, **counts})
    return counts


def realtime_snapshot(uow: UnitOfWork) -> realtime.Snapshot:
    """Every feed's latest state, ids as ``FEEDID:ID``."""
    tenant = uow.require_tenant()
    snap = realtime.Snapshot()
    rows = uow.session.scalars(
        sa.select(TransportRealtime)
        .where(TransportRealtime.tenant_id == tenant)
        .order_by(TransportRealtime.feed_id, TransportRealtime.kind, TransportRealtime.entity_id)
    )
    for r in rows:
        p, d = f"{r.feed_id}:", dict(r.data)
        if r.kind == "delay":
            snap.delays.append(realtime.TripDelay(p + d["trip_id"], d["delay_s"],
                                                  d.get("from_sequence", 0)))  # fmt: skip
        elif r.kind == "vehicle":
            d["trip_id"] = p + d["trip_id"] if d.get("trip_id") else ""
            d["route_id"] = p + d["route_id"] if d.get("route_id") else ""
            snap.vehicles.append(realtime.Vehicle(**{**d, "id": p + d["id"]}))
        else:
            snap.alerts.append(
                realtime.Alert(
                    id=p + d["id"],
                    header=d["header"],
                    description=d.get("description", ""),
                    route_ids=tuple(p + x for x in d.get("route_ids", ())),
                    stop_ids=tuple(p + x for x in d.get("stop_ids", ())),
                )
            )
    return snap


_DELAYED: OrderedDict[str, Timetable] = OrderedDict()


def with_delays(
    key: str, tt: Timetable, delays: Sequence[realtime.TripDelay]
) -> tuple[str, Timetable]:
    """The timetable with delayed trips shifted (whole trip; see realtime.py)."""
    if not delays:
        return key, tt
    h = hashlib.sha256(key.encode())
    for d in sorted(delays, key=lambda d: d.trip_id):
        h.update(f"{d.trip_id}={d.delay_s};".encode())
    rkey = f"{key}+rt{h.hexdigest()[:16]}"
    with _LOCK:
        hit = _DELAYED.get(rkey)
    if hit is not None:
        return rkey, hit
    index = {t: i for i, t in enumerate(tt.trip_ids)}
    arr, dep = tt.st_arr.copy(), tt.st_dep.copy()
    for d in delays:
        i = index.get(d.trip_id)
        if i is None:
            continue
        a, b = int(tt.trip_start[i]), int(tt.trip_start[i + 1])
        arr[a:b] += d.delay_s
        dep[a:b] += d.delay_s
    shifted = replace(tt, st_arr=arr, st_dep=dep)
    with _LOCK:
        _DELAYED[rkey] = shifted
        while len(_DELAYED) > 4:
            _DELAYED.popitem(last=False)
    return rkey, shifted


def plan(
    uow: UnitOfWork,
    *,
    data_dir: Path,
    origin: str,
    destination: str,
    depart: dt.datetime | None = None,
    arrive_by: dt.datetime | None = None,
    window_min: int = 0,
) -> dict[str, Any]:
    """Journeys as JSON-ready dicts, the earliest arrival first (latest departure first for
    arrive-by)."""
    if (depart is None) == (arrive_by is None):
        raise ValidationFailed("depart", "give exactly one of depart / arrive_by")
    if not 0 <= window_min <= 180:
        raise ValidationFailed("window", "0 to 180 minutes")
    key, tt = timetable(uow, data_dir)
    key, tt = with_delays(key, tt, realtime_snapshot(uow).delays)
    src = resolve_place(tt, origin, "from")
    dst = resolve_place(tt, destination, "to")
    when = (depart or arrive_by).astimezone(TZ)  # type: ignore[union-attr]
    day = when.date()
    seconds = when.hour * 3600 + when.minute * 60 + when.second
    net = day_network(key, tt, day)
    targets = dict(dst.stops)
    if arrive_by is not None:
        t, js = arrive_by_search(
            net, {s: (a, src.walked) for s, a in src.stops.items()}, targets, deadline=seconds
        )
        t_leave = t
    else:
        sources = [(s, seconds + a, src.walked) for s, a in src.stops.items()]
        t_leave = seconds
        if window_min:
            js = range_search(net, sources, targets, window_s=window_min * 60)
        else:
            js = search(net, sources, targets)
    out = [journey_json(tt, day, j, src, dst, t_leave) for j in js]
    add_fares_and_shapes(uow, out)
    if arrive_by is None and not window_min:
        out.sort(key=lambda x: (x["arrival"], x["transfers"]))
    elif arrive_by is not None:
        out.sort(key=lambda x: (x["departure"], x["transfers"]), reverse=True)
    return {
        "from": src.label,
        "to": dst.label,
        "date": day.isoformat(),
        "journeys": out,
    }


def find_stops(uow: UnitOfWork, *, text: str, limit: int = 20) -> list[dict[str, Any]]:
    text = text.strip()
    if len(text) < 2:
        raise ValidationFailed("q", "at least 2 characters")
    rows = repo.search_stops(uow.session, uow.require_tenant(), text, limit)
    return [{"stop_id": f"{f}:{s}", "name": n, "lat": la, "lon": lo} for f, s, n, la, lo in rows]


def export_network(uow: UnitOfWork, *, path: Path, feed_ids: Sequence[str] = ()) -> Path:
    rows = repo.list_feeds(uow.session, uow.require_tenant())
    if feed_ids:
        rows = [r for r in rows if r.feed_id in feed_ids]
        if not rows:
            raise NotFound("transport.feed_not_found", "no such feed")
    return export_zip([repo.load_feed(uow.session, r) for r in rows], path)


SHUTTLE_FEED = "shuttles"


def publish_shuttles(
    uow: UnitOfWork, *, lines: Sequence[ShuttleLine], data_dir: Path
) -> ImportResult:
    """Replace the organiser's shuttle feed with ``lines`` (validated, then imported)."""
    files = shuttle_feed_files(lines, agency_name="Navettes JOJ Dakar 2026")
    return import_feed(uow, source=files, feed_id=SHUTTLE_FEED, data_dir=data_dir)


def list_feed_reports(uow: UnitOfWork) -> list[dict[str, Any]]:
    rows = repo.list_feeds(uow.session, uow.require_tenant())
    return [
        {
            "feed_id": r.feed_id,
            "content_hash": r.content_hash,
            "overrides": r.overrides,
            "imported_at": r.imported_at.isoformat(),
            "report": r.report,
        }
        for r in rows
    ]
