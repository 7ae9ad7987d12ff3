"""Event shuttles defined by the organiser, published as a GTFS feed (frequencies allowed).

A line is a list of stops with the running minutes from the first stop, and either a
headway over a service window (``frequencies.txt``) or a list of departure times. Both
directions run unless ``one_way``. The result is an ordinary feed: it goes through the same
validation and import as an operator's, so the planner and the export treat it alike.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from teranga.platform.errors import ValidationFailed
from teranga.transport.gtfs.model import format_time, parse_time

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class ShuttleStop:
    id: str
    name: str
    lat: float
    lon: float
    minutes: int  # running time from the first stop


@dataclass(frozen=True)
class ShuttleLine:
    id: str
    name: str
    stops: tuple[ShuttleStop, ...]
    start_date: dt.date
    end_date: dt.date
    first: str = "07:00"  # service window for headway lines
    last: str = "23:00"
    headway_min: int | None = 15
    departures: tuple[str, ...] = ()  # explicit timetable instead of a headway
    days: tuple[bool, ...] = (True,) * 7
    one_way: bool = False
    color: str = "FFB81C"
    extra: dict[str, str] = field(default_factory=dict)


def validate(line: ShuttleLine) -> None:
    if not ID_RE.match(line.id):
        raise ValidationFailed("id", "letters, digits, '.', '-', '_' (max 64)")
    if not line.name.strip():
        raise ValidationFailed("name", "required")
    if len(line.stops) < 2:
        raise ValidationFailed("stops", "at least two stops")
    minutes = [s.minutes for s in line.stops]
    if minutes[0] != 0 or any(b <= a for a, b in pairwise(minutes)):
        raise ValidationFailed("stops", "minutes start at 0 and increase along the line")
    for s in line.stops:
        if not ID_RE.match(s.id):
            raise ValidationFailed("stops", f"bad stop id {s.id!r}")
        if not (-90 <= s.lat <= 90 and -180 <= s.lon <= 180):
            raise ValidationFailed("stops", f"coordinates out of range for {s.id}")
    if line.end_date < line.start_date:
        raise ValidationFailed("end_date", "before start_date")
    if len(line.days) != 7 or not any(line.days):
        raise ValidationFailed("days", "seven flags, at least one day")
    if line.departures:
        if any(parse_time(d + ":00") is None for d in line.departures):
            raise ValidationFailed("departures", "times as HH:MM")
    else:
        if line.headway_min is None or not 1 <= line.headway_min <= 180:
            raise ValidationFailed("headway_min", "1 to 180 minutes")
        a, b = parse_time(line.first + ":00"), parse_time(line.last + ":00")
        if a is None or b is None or b <= a:
            raise ValidationFailed("first", "first and last as HH:MM, first before last")


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


def shuttle_feed_files(lines: Sequence[ShuttleLine], agency_name: str) -> dict[str, bytes]:
    """GTFS files for the organiser's shuttle lines (validated first)."""
    if not lines:
        raise ValidationFailed("lines", "at least one line")
    for line in lines:
        validate(line)
    stops: dict[str, ShuttleStop] = {}
    routes, trips, times, cal, freq = [], [], [], [], []
    for line in lines:
        for s in line.stops:
            stops.setdefault(s.id, s)
        routes.append([line.id, "JOJ", line.id, line.name, 3, line.color, "000000"])
        span = (line.start_date.strftime("%Y%m%d"), line.end_date.strftime("%Y%m%d"))
        cal.append([line.id, *(int(d) for d in line.days), *span])
        total = line.stops[-1].minutes
        directions = [(0, list(line.stops))]
        if not line.one_way:
            back = [
                ShuttleStop(s.id, s.name, s.lat, s.lon, total - s.minutes)
                for s in reversed(line.stops)
            ]
            directions.append((1, back))
        for direction, seq in directions:
            if line.departures:
                starts = [int(parse_time(d + ":00") or 0) for d in line.departures]
            else:
                starts = [int(parse_time(line.first + ":00") or 0)]
            for k, t0 in enumerate(starts):
                tid = f"{line.id}-{direction}-{k}"
                trips.append([line.id, line.id, tid, seq[-1].name, direction])
                for i, s in enumerate(seq):
                    t = format_time(t0 + s.minutes * 60)
                    times.append([tid, t, t, s.id, i + 1])
                if not line.departures:
                    freq.append([tid, line.first + ":00", line.last + ":00",
                                 (line.headway_min or 15) * 60, 0])  # fmt: skip
    files = {
        "agency.txt": _csv(["agency_id", "agency_name", "agency_url", "agency_timezone",
                            "agency_lang"],
                           [["JOJ", agency_name, "https://joj.example.sn/", "Africa/Dakar", "fr"]]),
        "stops.txt": _csv(["stop_id", "stop_name", "stop_lat", "stop_lon"],
                          [[s.id, s.name, f"{s.lat:.6f}", f"{s.lon:.6f}"]
                           for s in stops.values()]),
        "routes.txt": _csv(["route_id", "agency_id", "route_short_name", "route_long_name",
                            "route_type", "route_color", "route_text_color"], routes),
        "trips.txt": _csv(["route_id", "service_id", "trip_id", "trip_headsign",
                           "direction_id"], trips),
        "stop_times.txt": _csv(["trip_id", "arrival_time", "departure_time", "stop_id",
                                "stop_sequence"], times),
        "calendar.txt": _csv(["service_id", *DAYS, "start_date", "end_date"], cal),
    }  # fmt: skip
    if freq:
        files["frequencies.txt"] = _csv(
            ["trip_id", "start_time", "end_time", "headway_secs", "exact_times"], freq
        )
    return files
