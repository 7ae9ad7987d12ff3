"""Export feeds as one valid GTFS zip (the merged network).

Every id is prefixed with ``FEEDID:`` so ids that collide between operators stay distinct,
the same ``FEEDID:ID`` form the planner and the CLI accept.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from teranga.transport.gtfs.model import Feed, format_time

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _p(feed: Feed, value: str) -> str:
    return f"{feed.feed_id}:{value}" if value else ""


def export_zip(feeds: Sequence[Feed], path: Path) -> Path:
    files = merged_files(feeds)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def merged_files(feeds: Sequence[Feed]) -> dict[str, bytes]:
    agency, stops, routes, trips, st, cal, cdates, freq, shapes = ([] for _ in range(9))
    fare_attr: list[list[object]] = []
    fare_rules: list[list[object]] = []
    for f in feeds:
        for a in f.agencies:
            agency.append(
                [
                    _p(f, a.id or "agency"),
                    a.name,
                    a.url or "https://example.invalid/",
                    a.timezone,
                    a.lang,
                    a.phone,
                ]
            )
        for s in f.stops:
            stops.append(
                [
                    _p(f, s.id),
                    s.code,
                    s.name,
                    f"{s.lat:.6f}",
                    f"{s.lon:.6f}",
                    _p(f, s.zone_id),
                    s.location_type,
                    _p(f, s.parent_station),
                ]
            )
        for r in f.routes:
            routes.append(
                [
                    _p(f, r.id),
                    _p(f, r.agency_id or "agency"),
                    r.short_name,
                    r.long_name,
                    r.type,
                    r.color,
                    r.text_color,
                ]
            )
        for t in f.trips:
            trips.append(
                [
                    _p(f, t.route_id),
                    _p(f, t.service_id),
                    _p(f, t.id),
                    t.headsign,
                    "" if t.direction_id is None else t.direction_id,
                    _p(f, t.shape_id),
                ]
            )
        x = f.stop_times
        tids = [_p(f, t.id) for t in f.trips]
        sids = [_p(f, s.id) for s in f.stops]
        for i in range(len(x)):
            st.append(
                [
                    tids[x.trip[i]],
                    format_time(int(x.arrival[i])),
                    format_time(int(x.departure[i])),
                    sids[x.stop[i]],
                    int(x.sequence[i]),
                    int(x.pickup[i]),
                    int(x.drop_off[i]),
                ]
            )
        for c in f.calendars:
            cal.append(
                [
                    _p(f, c.service_id),
                    *(int(d) for d in c.days),
                    c.start.strftime("%Y%m%d"),
                    c.end.strftime("%Y%m%d"),
                ]
            )
        for d in f.calendar_dates:
            cdates.append([_p(f, d.service_id), d.date.strftime("%Y%m%d"), d.exception_type])
        for q in f.frequencies:
            freq.append(
                [
                    _p(f, q.trip_id),
                    format_time(q.start),
                    format_time(q.end),
                    q.headway,
                    q.exact_times,
                ]
            )
        for p in f.shapes:
            shapes.append([_p(f, p.shape_id), f"{p.lat:.6f}", f"{p.lon:.6f}", p.sequence])
        for row in f.fare_attributes:
            fare_attr.append(
                [
                    _p(f, row.get("fare_id", "")),
                    row.get("price", ""),
                    row.get("currency_type", "XOF"),
                    row.get("payment_method", "0"),
                    row.get("transfers", ""),
                    _p(f, row.get("agency_id", "")),
                ]
            )
        for row in f.fare_rules:
            fare_rules.append(
                [
                    _p(f, row.get("fare_id", "")),
                    _p(f, row.get("route_id", "")),
                    _p(f, row.get("origin_id", "")),
                    _p(f, row.get("destination_id", "")),
                ]
            )
    files = {
        "agency.txt": _csv(["agency_id", "agency_name", "agency_url", "agency_timezone",
                            "agency_lang", "agency_phone"], agency),
        "stops.txt": _csv(["stop_id", "stop_code", "stop_name", "stop_lat", "stop_lon",
                           "zone_id", "location_type", "parent_station"], stops),
        "routes.txt": _csv(["route_id", "agency_id", "route_short_name", "route_long_name",
                            "route_type", "route_color", "route_text_color"], routes),
        "trips.txt": _csv(["route_id", "service_id", "trip_id", "trip_headsign",
                           "direction_id", "shape_id"], trips),
        "stop_times.txt": _csv(["trip_id", "arrival_time", "departure_time", "stop_id",
                                "stop_sequence", "pickup_type", "drop_off_type"], st),
    }  # fmt: skip
    if cal:
        files["calendar.txt"] = _csv(["service_id", *_DAYS, "start_date", "end_date"], cal)
    if cdates:
        files["calendar_dates.txt"] = _csv(["service_id", "date", "exception_type"], cdates)
    if freq:
        files["frequencies.txt"] = _csv(
            ["trip_id", "start_time", "end_time", "headway_secs", "exact_times"], freq
        )
    if shapes:
        files["shapes.txt"] = _csv(
            ["shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"], shapes
        )
    if fare_attr:
        files["fare_attributes.txt"] = _csv(
            ["fare_id", "price", "currency_type", "payment_method", "transfers", "agency_id"],
            fare_attr,
        )
    if fare_rules:
        files["fare_rules.txt"] = _csv(
            ["fare_id", "route_id", "origin_id", "destination_id"], fare_rules
        )
    return files
