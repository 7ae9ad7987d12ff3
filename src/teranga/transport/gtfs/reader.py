"""GTFS reader that survives real operator feeds and says what it repaired or rejected.

Handles: zip or folder (files possibly in one sub-folder), UTF-8 with or without BOM (Latin-1
fallback), a delimiter other than ``,`` and even a different one in the header and in the
rows, quoted values, trailing delimiters, blank lines, surrounding whitespace, times past
24:00, missing intermediate times (interpolated), trips whose times go backwards (blocked),
and pickup/drop-off flags set to "no" everywhere (reported; ignored on request).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from teranga.transport.gtfs.model import (
    Agency,
    Calendar,
    CalendarDate,
    Feed,
    Frequency,
    Route,
    ShapePoint,
    Stop,
    StopTimes,
    Trip,
    parse_time,
)
from teranga.transport.gtfs.notices import ValidationReport

csv.field_size_limit(1 << 24)

REQUIRED_FILES = ("stops.txt", "routes.txt", "trips.txt", "stop_times.txt")
KNOWN_FILES = frozenset(
    {
        "agency.txt",
        "stops.txt",
        "routes.txt",
        "trips.txt",
        "stop_times.txt",
        "calendar.txt",
        "calendar_dates.txt",
        "frequencies.txt",
        "shapes.txt",
        "fare_attributes.txt",
        "fare_rules.txt",
        "feed_info.txt",
        "transfers.txt",
        "attributions.txt",
        "translations.txt",
        "levels.txt",
        "pathways.txt",
    }
)
DELIMITERS = (",", ";", "\t", "|")
MISSING = -1
Arr = npt.NDArray[Any]


@dataclass(frozen=True)
class FeedOverrides:
    """Per-feed fixes chosen by the operator after reading the report."""

    # Treat every pickup_type/drop_off_type as 0 (regular): for feeds that mark "no pickup /
    # no drop-off" everywhere, which would otherwise make every trip unusable for planning.
    ignore_pickup_drop_off: bool = False

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> FeedOverrides:
        return cls(ignore_pickup_drop_off=bool(data.get("ignore_pickup_drop_off", False)))


@dataclass
class Table:
    name: str
    header: list[str]
    rows: list[list[str]]
    lines: list[int]

    def col(self, name: str) -> int:
        try:
            return self.header.index(name)
        except ValueError:
            return -1


def load_files(source: Path, report: ValidationReport) -> dict[str, bytes]:
    """Raw bytes of each ``*.txt`` in a zip or folder, tolerating one level of sub-folder."""
    files: dict[str, bytes] = {}
    if source.is_dir():
        entries = {p.relative_to(source).as_posix(): p for p in source.rglob("*.txt")}
        raw = {k: v.read_bytes() for k, v in entries.items()}
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            raw = {
                i.filename: zf.read(i)
                for i in zf.infolist()
                if not i.is_dir() and i.filename.endswith(".txt")
            }
    elif source.exists():
        report.add(
            "i_o_error", "error", file=source.name, message="not a zip or folder", fatal=True
        )
        return files
    else:
        report.add("i_o_error", "error", file=str(source), message="no such file", fatal=True)
        return files
    top = {k: v for k, v in raw.items() if "/" not in k}
    if "stops.txt" not in top:
        nested = [k for k in raw if k.endswith("/stops.txt")]
        if len(nested) == 1:
            prefix = nested[0].removesuffix("stops.txt")
            report.add(
                "invalid_input_files_in_subfolder",
                "warning",
                file=prefix,
                message="files read from a sub-folder",
            )
            top = {k.removeprefix(prefix): v for k, v in raw.items() if k.startswith(prefix)}
            top = {k: v for k, v in top.items() if "/" not in k}
    for name, data in top.items():
        files[name.lower()] = data
    return files


def content_hash(files: Mapping[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode())
        h.update(b"\0")
        h.update(hashlib.sha256(files[name]).digest())
    return h.hexdigest()


def _decode(name: str, data: bytes, report: ValidationReport) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.add("non_utf8_encoding", "warning", file=name, message="not UTF-8; read as Latin-1")
        return data.decode("latin-1")


def _best_delimiter(lines: list[str], width: int, prefer: str) -> str:
    def score(d: str) -> int:
        return sum(1 for row in csv.reader(lines, delimiter=d) if len(row) == width)

    scores = {d: score(d) for d in DELIMITERS}
    best = max(scores.values())
    if scores[prefer] == best:
        return prefer
    return next(d for d in DELIMITERS if scores[d] == best)


def read_table(name: str, data: bytes, report: ValidationReport) -> Table:
    text = _decode(name, data, report)
    if text.startswith("\ufeff"):  # a second BOM left by a bad re-encoding
        text = text.lstrip("\ufeff")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    first, _, rest = text.partition("\n")
    if not first.strip():
        report.add("empty_file", "warning", file=name, line=1, message="no header")
        return Table(name, [], [], [])
    header_delim = max(DELIMITERS, key=first.count) if any(d in first for d in DELIMITERS) else ","
    raw_header = next(csv.reader([first], delimiter=header_delim))
    header: list[str] = []
    for i, h in enumerate(raw_header):
        col = h.strip().strip('"').strip().lower()
        if not col:
            report.add("empty_column_name", "warning", file=name, line=1, field=f"#{i + 1}")
        elif col in header:
            report.add("duplicated_column", "warning", file=name, line=1, field=col)
            col = ""  # later duplicate ignored
        header.append(col)
    sample = [ln for ln in rest.split("\n", 40)[:40] if ln.strip()]
    row_delim = _best_delimiter(sample, len(header), header_delim) if sample else header_delim
    if row_delim != header_delim:
        report.add(
            "inconsistent_delimiter",
            "warning",
            file=name,
            line=2,
            message=f"header separated by {header_delim!r}, rows by {row_delim!r}",
        )
    elif header_delim != ",":
        report.add(
            "inconsistent_delimiter",
            "warning",
            file=name,
            line=1,
            message=f"separator {header_delim!r} instead of ','",
        )
    width = len(header)
    rows: list[list[str]] = []
    lines: list[int] = []
    reader = csv.reader(io.StringIO(rest), delimiter=row_delim)
    spaced = 0
    newline = 0
    for row in reader:
        line = reader.line_num + 1
        if not row or not any(v.strip() for v in row):
            if row:
                report.add("empty_row", "warning", file=name, line=line)
            continue
        if len(row) != width:
            if len(row) > width and not any(v.strip() for v in row[width:]):
                del row[width:]  # trailing delimiters: harmless
            else:
                report.add(
                    "invalid_row_length",
                    "error",
                    file=name,
                    line=line,
                    message=f"{len(row)} values for {width} columns; row skipped",
                )
                continue
        for i, v in enumerate(row):
            if v and (v[0] in " \t" or v[-1] in " \t"):
                row[i] = v.strip()
                spaced += 1
                if spaced <= 3:
                    report.add(
                        "leading_or_trailing_whitespaces",
                        "warning",
                        file=name,
                        line=line,
                        field=header[i],
                    )
            if "\n" in v:
                newline += 1
                row[i] = v.replace("\n", " ")
                report.add("new_line_in_value", "warning", file=name, line=line, field=header[i])
        rows.append(row)
        lines.append(line)
    if spaced > 3:
        report.counts[("leading_or_trailing_whitespaces", "warning")] += spaced - 3
    for col in header:
        if col and name in KNOWN_FILES and col not in _KNOWN_COLUMNS.get(name, {col}):
            report.add("unknown_column", "info", file=name, line=1, field=col)
    return Table(name, header, rows, lines)


_KNOWN_COLUMNS: dict[str, set[str]] = {
    "agency.txt": {
        "agency_id", "agency_name", "agency_url", "agency_timezone", "agency_lang",
        "agency_phone", "agency_fare_url", "agency_email", "cemv_support",
    },
    "stops.txt": {
        "stop_id", "stop_code", "stop_name", "tts_stop_name", "stop_desc", "stop_lat",
        "stop_lon", "zone_id", "stop_url", "location_type", "parent_station", "stop_timezone",
        "wheelchair_boarding", "level_id", "platform_code", "stop_access",
    },
    "routes.txt": {
        "route_id", "agency_id", "route_short_name", "route_long_name", "route_desc",
        "route_type", "route_url", "route_color", "route_text_color", "route_sort_order",
        "continuous_pickup", "continuous_drop_off", "network_id", "cemv_support",
    },
    "trips.txt": {
        "route_id", "service_id", "trip_id", "trip_headsign", "trip_short_name",
        "direction_id", "block_id", "shape_id", "wheelchair_accessible", "bikes_allowed",
        "cars_allowed",
    },
    "stop_times.txt": {
        "trip_id", "arrival_time", "departure_time", "stop_id", "location_group_id",
        "location_id", "stop_sequence", "stop_headsign", "start_pickup_drop_off_window",
        "end_pickup_drop_off_window", "pickup_type", "drop_off_type", "continuous_pickup",
        "continuous_drop_off", "shape_dist_traveled", "timepoint", "pickup_booking_rule_id",
        "drop_off_booking_rule_id",
    },
    "calendar.txt": {
        "service_id", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
        "sunday", "start_date", "end_date",
    },
    "calendar_dates.txt": {"service_id", "date", "exception_type"},
    "frequencies.txt": {"trip_id", "start_time", "end_time", "headway_secs", "exact_times"},
    "shapes.txt": {
        "shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence", "shape_dist_traveled",
    },
}  # fmt: skip


def _parse_date(value: str) -> dt.date | None:
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def _int(value: str, default: int) -> int | None:
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        try:
            f = float(value)  # "1.0" appears in feeds exported from spreadsheets
        except ValueError:
            return None
        return int(f) if f.is_integer() else None


class _Rows:
    """Row accessor by column name with required-field checking."""

    def __init__(self, table: Table, report: ValidationReport) -> None:
        self.t = table
        self.report = report
        self.idx = {h: i for i, h in enumerate(table.header) if h}

    def has(self, name: str) -> bool:
        return name in self.idx

    def require_columns(self, *names: str) -> bool:
        ok = True
        for n in names:
            if n not in self.idx:
                self.report.add(
                    "missing_required_column", "error", file=self.t.name, line=1, field=n
                )
                ok = False
        return ok

    def __iter__(self) -> Iterator[tuple[int, _Row]]:
        for line, row in zip(self.t.lines, self.t.rows, strict=True):
            yield line, _Row(row, self.idx)


class _Row:
    __slots__ = ("idx", "row")

    def __init__(self, row: list[str], idx: dict[str, int]) -> None:
        self.row = row
        self.idx = idx

    def __getitem__(self, name: str) -> str:
        i = self.idx.get(name)
        return self.row[i] if i is not None else ""


def read_feed(
    source: Path | Mapping[str, bytes],
    *,
    feed_id: str,
    overrides: FeedOverrides | None = None,
) -> tuple[Feed, ValidationReport]:
    """Read, validate and repair one feed. Never raises on bad data: see the report."""
    overrides = overrides or FeedOverrides()
    report = ValidationReport(feed_id)
    files = load_files(source, report) if isinstance(source, Path) else dict(source)
    return read_files(files, feed_id=feed_id, overrides=overrides, report=report)


def read_files(
    files: Mapping[str, bytes],
    *,
    feed_id: str,
    overrides: FeedOverrides,
    report: ValidationReport,
) -> tuple[Feed, ValidationReport]:
    """``read_feed`` on files already loaded (see ``load_files``)."""
    feed = Feed(feed_id=feed_id, content_hash=content_hash(files))
    if not report.usable:
        return feed, report
    for name in REQUIRED_FILES:
        if name not in files:
            report.add("missing_required_file", "error", file=name, fatal=True)
    if "calendar.txt" not in files and "calendar_dates.txt" not in files:
        report.add("missing_calendar_and_calendar_date_files", "error", fatal=True)
    if "agency.txt" not in files:
        report.add("missing_required_file", "warning", file="agency.txt")
    for name in sorted(set(files) - KNOWN_FILES):
        report.add("unknown_file", "info", file=name)
    if not report.usable:
        return feed, report
    tables = {
        name: read_table(name, data, report) for name, data in files.items() if name in KNOWN_FILES
    }
    _agencies(feed, tables.get("agency.txt"), report)
    _stops(feed, tables["stops.txt"], report)
    _routes(feed, tables["routes.txt"], report)
    _calendars(feed, tables.get("calendar.txt"), tables.get("calendar_dates.txt"), report)
    _trips(feed, tables["trips.txt"], report)
    _stop_times(feed, tables["stop_times.txt"], report, overrides)
    if "frequencies.txt" in tables:
        _frequencies(feed, tables["frequencies.txt"], report)
    if "shapes.txt" in tables:
        _shapes(feed, tables["shapes.txt"], report)
    for fname, attr in (
        ("fare_attributes.txt", "fare_attributes"),
        ("fare_rules.txt", "fare_rules"),
    ):
        if fname in tables:
            t = tables[fname]
            setattr(feed, attr, [dict(zip(t.header, r, strict=True)) for r in t.rows])
    if not feed.stops:
        report.add(
            "no_usable_trip", "error", file="stops.txt", message="no usable stop", fatal=True
        )
    elif len(feed.stop_times) == 0:
        report.add(
            "no_usable_trip", "error", file="stop_times.txt", message="no usable trip", fatal=True
        )
    report.stats.update(
        stops=len(feed.stops),
        routes=len(feed.routes),
        trips=len(feed.trips),
        stop_times=len(feed.stop_times),
    )
    return feed, report


def _agencies(feed: Feed, table: Table | None, report: ValidationReport) -> None:
    if table is None:
        feed.agencies.append(Agency(feed.feed_id, feed.feed_id, "", "Africa/Dakar"))
        return
    rows = _Rows(table, report)
    for line, r in rows:
        name, tz = r["agency_name"], r["agency_timezone"]
        for field, value in (("agency_name", name), ("agency_timezone", tz)):
            if not value:
                report.add(
                    "missing_required_field", "warning", file=table.name, line=line, field=field
                )
        feed.agencies.append(
            Agency(
                id=r["agency_id"],
                name=name or r["agency_id"] or feed.feed_id,
                url=r["agency_url"],
                timezone=tz or "Africa/Dakar",
                lang=r["agency_lang"],
                phone=r["agency_phone"],
                fare_url=r["agency_fare_url"],
            )
        )
    if not feed.agencies:
        feed.agencies.append(Agency(feed.feed_id, feed.feed_id, "", "Africa/Dakar"))


def _stops(feed: Feed, table: Table, report: ValidationReport) -> None:
    rows = _Rows(table, report)
    if not rows.require_columns("stop_id"):
        report.add("missing_required_column", "error", file=table.name, field="stop_id", fatal=True)
        return
    seen: set[str] = set()
    f = table.name
    for line, r in rows:
        sid = r["stop_id"]
        if not sid:
            report.add("missing_required_field", "error", file=f, line=line, field="stop_id")
            continue
        if sid in seen:
            report.add("duplicate_key", "error", file=f, line=line, field="stop_id", message=sid)
            continue
        loc = _int(r["location_type"], 0)
        if loc is None or not 0 <= loc <= 4:
            report.add("unexpected_enum_value", "warning", file=f, line=line, field="location_type")
            loc = 0
        lat_s, lon_s = r["stop_lat"], r["stop_lon"]
        if loc <= 2 and (not lat_s or not lon_s):
            field = "stop_lat" if not lat_s else "stop_lon"
            report.add(
                "missing_required_field", "error", file=f, line=line, field=field, message=sid
            )
            continue
        try:
            lat = float(lat_s.replace(",", ".")) if lat_s else 0.0
            lon = float(lon_s.replace(",", ".")) if lon_s else 0.0
        except ValueError:
            report.add("invalid_float", "error", file=f, line=line, field="stop_lat", message=sid)
            continue
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            report.add("number_out_of_range", "error", file=f, line=line, field="stop_lat")
            continue
        if loc <= 2 and abs(lat) < 1 and abs(lon) < 1:
            report.add("point_near_origin", "error", file=f, line=line, field="stop_lat")
            continue
        name = r["stop_name"]
        if not name and loc <= 2:
            report.add(
                "missing_required_field",
                "warning",
                file=f,
                line=line,
                field="stop_name",
                message="stop_id used as name",
            )
            name = sid
        seen.add(sid)
        feed.stops.append(
            Stop(
                id=sid,
                name=name,
                lat=lat,
                lon=lon,
                code=r["stop_code"],
                desc=r["stop_desc"],
                zone_id=r["zone_id"],
                location_type=loc,
                parent_station=r["parent_station"],
                wheelchair_boarding=_int(r["wheelchair_boarding"], 0) or 0,
            )
        )
    for s in feed.stops:
        if s.parent_station and s.parent_station not in seen:
            report.add(
                "foreign_key_violation",
                "warning",
                file=f,
                field="parent_station",
                message=f"{s.id} -> {s.parent_station}",
            )


def _routes(feed: Feed, table: Table, report: ValidationReport) -> None:
    rows = _Rows(table, report)
    f = table.name
    agency_ids = {a.id for a in feed.agencies}
    default_agency = feed.agencies[0].id if feed.agencies else ""
    seen: set[str] = set()
    for line, r in rows:
        rid = r["route_id"]
        if not rid:
            report.add("missing_required_field", "error", file=f, line=line, field="route_id")
            continue
        if rid in seen:
            report.add("duplicate_key", "error", file=f, line=line, field="route_id", message=rid)
            continue
        rtype = _int(r["route_type"], -1)
        if rtype is None or rtype < 0:
            code = "missing_required_field" if not r["route_type"] else "invalid_integer"
            report.add(code, "error", file=f, line=line, field="route_type", message=rid)
            continue
        short, long_ = r["route_short_name"], r["route_long_name"]
        if not short and not long_:
            report.add(
                "route_both_short_and_long_name_missing",
                "warning",
                file=f,
                line=line,
                message="route_id used as name",
            )
            short = rid
        agency = r["agency_id"] or default_agency
        if agency not in agency_ids and len(agency_ids) > 0 and r["agency_id"]:
            report.add("foreign_key_violation", "warning", file=f, line=line, field="agency_id")
        seen.add(rid)
        feed.routes.append(
            Route(
                id=rid,
                agency_id=agency,
                short_name=short,
                long_name=long_,
                type=rtype,
                color=r["route_color"],
                text_color=r["route_text_color"],
                desc=r["route_desc"],
            )
        )


_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _calendars(
    feed: Feed, cal: Table | None, dates: Table | None, report: ValidationReport
) -> None:
    if cal is not None:
        for line, r in _Rows(cal, report):
            sid = r["service_id"]
            start, end = _parse_date(r["start_date"]), _parse_date(r["end_date"])
            if not sid:
                report.add(
                    "missing_required_field", "error", file=cal.name, line=line, field="service_id"
                )
                continue
            if start is None or end is None:
                field = "start_date" if start is None else "end_date"
                report.add("invalid_date", "error", file=cal.name, line=line, field=field)
                continue
            if end < start:
                report.add("start_and_end_range_out_of_order", "error", file=cal.name, line=line)
                continue
            flags = tuple(r[d] == "1" for d in _DAYS)
            feed.calendars.append(Calendar(sid, flags, start, end))  # type: ignore[arg-type]
    if dates is not None:
        for line, r in _Rows(dates, report):
            d = _parse_date(r["date"])
            ex = _int(r["exception_type"], -1)
            if not r["service_id"] or d is None or ex not in (1, 2):
                report.add(
                    "invalid_date" if d is None else "unexpected_enum_value",
                    "error",
                    file=dates.name,
                    line=line,
                )
                continue
            feed.calendar_dates.append(CalendarDate(r["service_id"], d, int(ex or 0)))


def _trips(feed: Feed, table: Table, report: ValidationReport) -> None:
    rows = _Rows(table, report)
    f = table.name
    routes = {r.id for r in feed.routes}
    seen: set[str] = set()
    for line, r in rows:
        tid = r["trip_id"]
        if not tid or not r["service_id"] or not r["route_id"]:
            field = "trip_id" if not tid else ("service_id" if not r["service_id"] else "route_id")
            report.add("missing_required_field", "error", file=f, line=line, field=field)
            continue
        if tid in seen:
            report.add("duplicate_key", "error", file=f, line=line, field="trip_id", message=tid)
            continue
        if r["route_id"] not in routes:
            report.add(
                "foreign_key_violation",
                "error",
                file=f,
                line=line,
                field="route_id",
                message=f"{tid} -> {r['route_id']}",
            )
            continue
        direction = _int(r["direction_id"], -1)
        seen.add(tid)
        feed.trips.append(
            Trip(
                id=tid,
                route_id=r["route_id"],
                service_id=r["service_id"],
                headsign=r["trip_headsign"],
                direction_id=None if direction is None or direction < 0 else direction,
                shape_id=r["shape_id"],
                block_id=r["block_id"],
            )
        )


def _stop_times(
    feed: Feed, table: Table, report: ValidationReport, overrides: FeedOverrides
) -> None:
    rows = _Rows(table, report)
    f = table.name
    if not rows.require_columns("trip_id", "stop_id", "stop_sequence"):
        report.add(
            "missing_required_column", "error", file=f, message="stop_times unusable", fatal=True
        )
        return
    trip_ix = feed.trip_index()
    stop_ix = feed.stop_index()
    ci = rows.idx
    c_trip, c_stop, c_seq = ci["trip_id"], ci["stop_id"], ci["stop_sequence"]
    c_arr, c_dep = ci.get("arrival_time"), ci.get("departure_time")
    c_pu, c_do = ci.get("pickup_type"), ci.get("drop_off_type")
    n = len(table.rows)
    trip: Arr = np.empty(n, np.int32)
    stop: Arr = np.empty(n, np.int32)
    seq: Arr = np.empty(n, np.int32)
    arr: Arr = np.empty(n, np.int32)
    dep: Arr = np.empty(n, np.int32)
    pu: Arr = np.zeros(n, np.int8)
    do: Arr = np.zeros(n, np.int8)
    line_of: Arr = np.empty(n, np.int32)
    bad_trips: set[int] = set()
    k = 0
    time_cache: dict[str, int | None] = {"": MISSING}
    for line, row in zip(table.lines, table.rows, strict=True):
        t = trip_ix.get(row[c_trip])
        if t is None:
            report.add(
                "foreign_key_violation",
                "error",
                file=f,
                line=line,
                field="trip_id",
                message=row[c_trip] or "empty",
            )
            continue
        s = stop_ix.get(row[c_stop])
        if s is None:
            code = "missing_required_field" if not row[c_stop] else "foreign_key_violation"
            report.add(
                code,
                "error",
                file=f,
                line=line,
                field="stop_id",
                message=f"{row[c_stop]} (stop time skipped)",
            )
            continue
        q = _int(row[c_seq], -1)
        if q is None or q < 0:
            code = "missing_required_field" if not row[c_seq] else "invalid_integer"
            report.add(code, "error", file=f, line=line, field="stop_sequence")
            bad_trips.add(t)
            continue
        times = []
        for c, field in ((c_arr, "arrival_time"), (c_dep, "departure_time")):
            raw = row[c] if c is not None else ""
            v = time_cache.get(raw, -2)
            if v == -2:
                v = parse_time(raw)
                time_cache[raw] = v
            if v is None:
                report.add("invalid_time", "error", file=f, line=line, field=field, message=raw)
                bad_trips.add(t)
                v = MISSING
            times.append(v)
        trip[k], stop[k], seq[k] = t, s, q
        arr[k], dep[k] = times
        if c_pu is not None:
            pu[k] = _flag(row[c_pu])
        if c_do is not None:
            do[k] = _flag(row[c_do])
        line_of[k] = line
        k += 1
    trip, stop, seq, arr, dep, pu, do, line_of = (
        a[:k] for a in (trip, stop, seq, arr, dep, pu, do, line_of)
    )
    order = np.lexsort((seq, trip))
    trip, stop, seq, arr, dep, pu, do, line_of = (
        a[order] for a in (trip, stop, seq, arr, dep, pu, do, line_of)
    )
    # Only one of arrival/departure given: copy the other (MobilityData: error; repaired).
    one_arr = (arr == MISSING) & (dep != MISSING)
    one_dep = (dep == MISSING) & (arr != MISSING)
    for i in np.flatnonzero(one_arr | one_dep)[:3]:
        report.add(
            "stop_time_with_only_arrival_or_departure_time",
            "warning",
            file=f,
            line=int(line_of[i]),
            message="copied from the other time",
        )
    extra = int((one_arr | one_dep).sum()) - 3
    if extra > 0:
        report.counts[("stop_time_with_only_arrival_or_departure_time", "warning")] += extra
    arr = np.where(one_arr, dep, arr)
    dep = np.where(one_dep, arr, dep)
    starts = np.flatnonzero(np.r_[True, trip[1:] != trip[:-1]]) if k else np.zeros(0, np.int64)
    ends = np.r_[starts[1:], k] if k else starts
    keep = np.ones(k, bool)
    same_prev = np.r_[False, trip[1:] == trip[:-1]] if k else np.zeros(0, bool)
    dup = same_prev & np.r_[False, seq[1:] == seq[:-1]] if k else same_prev
    for i in np.flatnonzero(dup):
        report.add(
            "duplicate_key",
            "error",
            file=f,
            line=int(line_of[i]),
            field="stop_sequence",
            message=f"trip {feed.trips[trip[i]].id} blocked",
        )
        bad_trips.add(int(trip[i]))
    missing = arr == MISSING
    for a, b in zip(starts, ends, strict=True):
        t = int(trip[a])
        if t in bad_trips:
            keep[a:b] = False
            continue
        tid = feed.trips[t].id
        if b - a < 2:
            report.add(
                "unusable_trip",
                "warning",
                file=f,
                line=int(line_of[a]),
                message=f"trip {tid} has fewer than two stop times",
            )
            keep[a:b] = False
            continue
        if missing[a] or missing[b - 1]:
            i = a if missing[a] else b - 1
            report.add(
                "missing_trip_edge",
                "error",
                file=f,
                line=int(line_of[i]),
                field="arrival_time",
                message=f"trip {tid} blocked",
            )
            keep[a:b] = False
            continue
        if missing[a:b].any():
            _interpolate(arr, dep, int(a), int(b))
        d_back = np.flatnonzero(dep[a:b] < arr[a:b])
        if d_back.size:
            report.add(
                "stop_time_with_departure_before_arrival_time",
                "error",
                file=f,
                line=int(line_of[a + d_back[0]]),
                field="departure_time",
                message=f"trip {tid} blocked",
            )
            keep[a:b] = False
            continue
        back = np.flatnonzero(arr[a + 1 : b] < dep[a : b - 1])
        if back.size:
            report.add(
                "stop_time_with_arrival_before_previous_departure_time",
                "error",
                file=f,
                line=int(line_of[a + 1 + back[0]]),
                field="arrival_time",
                message=f"trip {tid} blocked",
            )
            keep[a:b] = False
            continue
        if not overrides.ignore_pickup_drop_off and (
            (pu[a : b - 1] == 1).all() or (do[a + 1 : b] == 1).all()
        ):
            report.add(
                "all_pickup_drop_off_forbidden",
                "warning",
                file=f,
                line=int(line_of[a]),
                field="pickup_type",
                message=f"trip {tid}: no stop allows boarding or alighting "
                "(override ignore_pickup_drop_off)",
            )
    if overrides.ignore_pickup_drop_off:
        if (pu != 0).any() or (do != 0).any():
            report.add(
                "pickup_drop_off_flags_ignored",
                "info",
                file=f,
                message="per-feed override: every stop time allows boarding and alighting",
            )
        pu[:] = 0
        do[:] = 0
    feed.stop_times = StopTimes(
        trip=trip[keep], stop=stop[keep], sequence=seq[keep], arrival=arr[keep],
        departure=dep[keep], pickup=pu[keep], drop_off=do[keep],
    )  # fmt: skip


def _flag(value: str) -> int:
    if value in ("", "0"):
        return 0
    v = _int(value, 0)
    return v if v is not None and 0 <= v <= 3 else 0


def _interpolate(arr: Arr, dep: Arr, a: int, b: int) -> None:
    """Fill missing intermediate times linearly by stop index between known timepoints."""
    idx = np.arange(a, b)
    known = arr[a:b] != MISSING
    filled = np.interp(idx, idx[known], dep[a:b][known]).astype(np.int32)
    miss = ~known
    arr[a:b][miss] = filled[miss]
    dep[a:b][miss] = filled[miss]


def _frequencies(feed: Feed, table: Table, report: ValidationReport) -> None:
    trips = {t.id for t in feed.trips}
    for line, r in _Rows(table, report):
        start, end = parse_time(r["start_time"]), parse_time(r["end_time"])
        headway = _int(r["headway_secs"], -1)
        if r["trip_id"] not in trips:
            report.add(
                "foreign_key_violation", "error", file=table.name, line=line, field="trip_id"
            )
            continue
        if start is None or end is None or headway is None or headway <= 0 or end <= start:
            report.add("invalid_time", "error", file=table.name, line=line, field="headway_secs")
            continue
        feed.frequencies.append(
            Frequency(r["trip_id"], start, end, headway, _int(r["exact_times"], 0) or 0)
        )


def _shapes(feed: Feed, table: Table, report: ValidationReport) -> None:
    pts = []
    for line, r in _Rows(table, report):
        try:
            lat, lon = float(r["shape_pt_lat"]), float(r["shape_pt_lon"])
            seq = int(r["shape_pt_sequence"])
        except ValueError:
            report.add(
                "missing_required_field", "error", file=table.name, line=line, field="shape_pt_lat"
            )
            continue
        dist = r["shape_dist_traveled"]
        pts.append(ShapePoint(r["shape_id"], lat, lon, seq, float(dist) if dist else None))
    pts.sort(key=lambda p: (p.shape_id, p.sequence))
    feed.shapes = pts
