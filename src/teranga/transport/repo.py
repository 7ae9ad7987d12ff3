"""Transport queries: write a feed in bulk, read it back as a ``Feed``. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

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
)
from teranga.transport.models import (
    TransportCalendar,
    TransportCalendarDate,
    TransportFeed,
    TransportFrequency,
    TransportRoute,
    TransportShapePoint,
    TransportStop,
    TransportStopTime,
    TransportTrip,
)

CHILD_TABLES: tuple[type[Any], ...] = (
    TransportStopTime,
    TransportShapePoint,
    TransportFrequency,
    TransportCalendarDate,
    TransportCalendar,
    TransportTrip,
    TransportRoute,
    TransportStop,
)


def get_feed(session: Session, tenant_id: uuid.UUID, feed_id: str) -> TransportFeed | None:
    return session.scalar(
        sa.select(TransportFeed).where(
            TransportFeed.tenant_id == tenant_id, TransportFeed.feed_id == feed_id
        )
    )


def list_feeds(session: Session, tenant_id: uuid.UUID) -> list[TransportFeed]:
    return list(
        session.scalars(
            sa.select(TransportFeed)
            .where(TransportFeed.tenant_id == tenant_id)
            .order_by(TransportFeed.feed_id)
        )
    )


def delete_feed_rows(session: Session, tenant_id: uuid.UUID, feed_pk: uuid.UUID) -> None:
    for model in CHILD_TABLES:
        session.execute(
            sa.delete(model).where(model.tenant_id == tenant_id, model.feed_pk == feed_pk)
        )


def _insert(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(sa.insert(model), rows)


def write_feed(session: Session, tenant_id: uuid.UUID, row: TransportFeed, feed: Feed) -> None:
    """Insert every record of ``feed`` under the feed row ``row`` (already flushed)."""
    base = {"tenant_id": tenant_id, "feed_pk": row.id}
    _insert(
        session,
        TransportStop,
        [
            {**base, "id": uuid.uuid4(), "stop_id": s.id, "name": s.name[:300], "lat": s.lat,
             "lon": s.lon, "code": s.code[:64], "zone_id": s.zone_id[:64],
             "location_type": s.location_type, "parent_station": s.parent_station}
            for s in feed.stops
        ],
    )  # fmt: skip
    _insert(
        session,
        TransportRoute,
        [
            {**base, "id": uuid.uuid4(), "route_id": r.id, "agency_id": r.agency_id,
             "short_name": r.short_name[:64], "long_name": r.long_name[:300],
             "route_type": r.type, "color": r.color[:8], "text_color": r.text_color[:8]}
            for r in feed.routes
        ],
    )  # fmt: skip
    _insert(
        session,
        TransportTrip,
        [
            {**base, "id": uuid.uuid4(), "trip_id": t.id, "route_id": t.route_id,
             "service_id": t.service_id, "headsign": t.headsign[:300],
             "direction_id": t.direction_id, "shape_id": t.shape_id}
            for t in feed.trips
        ],
    )  # fmt: skip
    _insert(
        session,
        TransportCalendar,
        [
            {**base, "id": uuid.uuid4(), "service_id": c.service_id,
             "days": "".join("1" if d else "0" for d in c.days), "start_date": c.start,
             "end_date": c.end}
            for c in feed.calendars
        ],
    )  # fmt: skip
    _insert(
        session,
        TransportCalendarDate,
        [
            {**base, "id": uuid.uuid4(), "service_id": d.service_id, "date": d.date,
             "exception_type": d.exception_type}
            for d in feed.calendar_dates
        ],
    )  # fmt: skip
    _insert(
        session,
        TransportFrequency,
        [
            {**base, "id": uuid.uuid4(), "trip_id": f.trip_id, "start_time": f.start,
             "end_time": f.end, "headway_secs": f.headway, "exact_times": f.exact_times}
            for f in feed.frequencies
        ],
    )  # fmt: skip
    trip_ids = [t.id for t in feed.trips]
    stop_ids = [s.id for s in feed.stops]
    st = feed.stop_times
    _bulk(
        session,
        "transport_stop_times",
        ["trip_id", "stop_sequence", "stop_id", "arrival", "departure", "pickup_type",
         "drop_off_type"],
        ["text", "int", "text", "int", "int", "smallint", "smallint"],
        [
            [trip_ids[i] for i in st.trip.tolist()],
            st.sequence.tolist(),
            [stop_ids[i] for i in st.stop.tolist()],
            st.arrival.tolist(),
            st.departure.tolist(),
            st.pickup.tolist(),
            st.drop_off.tolist(),
        ],
        tenant_id,
        row.id,
    )  # fmt: skip
    _bulk(
        session,
        "transport_shape_points",
        ["shape_id", "sequence", "lat", "lon"],
        ["text", "int", "float8", "float8"],
        [
            [p.shape_id for p in feed.shapes],
            [p.sequence for p in feed.shapes],
            [p.lat for p in feed.shapes],
            [p.lon for p in feed.shapes],
        ],
        tenant_id,
        row.id,
    )


def _bulk(
    session: Session,
    table: str,
    columns: list[str],
    pg_types: list[str],
    data: list[list[Any]],
    tenant_id: uuid.UUID,
    feed_pk: uuid.UUID,
) -> None:
    """Insert column-wise data fast: one ``unnest`` statement per chunk on PostgreSQL (COPY
    is refused on tables under row-level security), executemany elsewhere."""
    n = len(data[0]) if data else 0
    if n == 0:
        return
    if session.get_bind().dialect.name == "postgresql":
        cols = ", ".join(columns)
        params = ", ".join(f"CAST(CAST(:c{i} AS text) AS {t}[])" for i, t in enumerate(pg_types))
        stmt = sa.text(
            f"INSERT INTO {table} (tenant_id, feed_pk, {cols}) "  # noqa: S608 - fixed names
            f"SELECT CAST(:tenant AS uuid), CAST(:feed AS uuid), * FROM unnest({params})"
        )
        chunk = 100_000
        for a in range(0, n, chunk):
            args: dict[str, Any] = {"tenant": str(tenant_id), "feed": str(feed_pk)}
            for i, (col, kind) in enumerate(zip(data, pg_types, strict=True)):
                args[f"c{i}"] = _pg_array(col[a : a + chunk], text=kind == "text")
            session.execute(stmt, args)
        return
    # SQLite: the driver's executemany over tuples (dicts through Core cost ~5x more).
    conn = session.connection()
    proc = sa.Uuid().bind_processor(conn.dialect)
    tid = proc(tenant_id) if proc else tenant_id
    fpk = proc(feed_pk) if proc else feed_pk
    marks = ", ".join(["?"] * (len(columns) + 2))
    conn.exec_driver_sql(
        f"INSERT INTO {table} (tenant_id, feed_pk, {', '.join(columns)}) "  # noqa: S608
        f"VALUES ({marks})",
        [(tid, fpk, *values) for values in zip(*data, strict=True)],
    )


def _pg_array(values: list[Any], *, text: bool) -> str:
    """A PostgreSQL array literal: built with str.join, far faster than per-item adaptation."""
    if text:
        quoted = ('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
        return "{" + ",".join(quoted) + "}"
    return "{" + ",".join(map(repr, values)) + "}"


def _rows(session: Session, stmt: sa.Select[Any]) -> list[Any]:
    return list(session.execute(stmt).all())


def load_feed(session: Session, row: TransportFeed) -> Feed:
    """Rebuild the in-memory ``Feed`` of a stored feed (for the planner and the export)."""
    tid, pk = row.tenant_id, row.id

    def q(model: type[Any], *cols: Any) -> sa.Select[Any]:
        return sa.select(*cols).where(model.tenant_id == tid, model.feed_pk == pk)

    m = TransportStop
    stops = [
        Stop(r[0], r[1], r[2], r[3], code=r[4], zone_id=r[5], location_type=r[6],
             parent_station=r[7])
        for r in _rows(session, q(m, m.stop_id, m.name, m.lat, m.lon, m.code, m.zone_id,
                                  m.location_type, m.parent_station).order_by(m.stop_id))
    ]  # fmt: skip
    ro = TransportRoute
    routes = [
        Route(r[0], r[1], r[2], r[3], r[4], r[5], r[6])
        for r in _rows(session, q(ro, ro.route_id, ro.agency_id, ro.short_name, ro.long_name,
                                  ro.route_type, ro.color, ro.text_color).order_by(ro.route_id))
    ]  # fmt: skip
    tr = TransportTrip
    trips = [
        Trip(r[0], r[1], r[2], r[3], r[4], r[5])
        for r in _rows(session, q(tr, tr.trip_id, tr.route_id, tr.service_id, tr.headsign,
                                  tr.direction_id, tr.shape_id).order_by(tr.trip_id))
    ]  # fmt: skip
    c = TransportCalendar
    calendars = [
        Calendar(r[0], tuple(ch == "1" for ch in r[1]), r[2], r[3])
        for r in _rows(session, q(c, c.service_id, c.days, c.start_date, c.end_date))
    ]
    cd = TransportCalendarDate
    dates = [
        CalendarDate(r[0], r[1], r[2])
        for r in _rows(session, q(cd, cd.service_id, cd.date, cd.exception_type))
    ]
    f = TransportFrequency
    freqs = [
        Frequency(r[0], r[1], r[2], r[3], r[4])
        for r in _rows(session, q(f, f.trip_id, f.start_time, f.end_time, f.headway_secs,
                                  f.exact_times).order_by(f.trip_id, f.start_time))
    ]  # fmt: skip
    sp = TransportShapePoint
    shapes = [
        ShapePoint(r[0], r[1], r[2], r[3])
        for r in _rows(session, q(sp, sp.shape_id, sp.lat, sp.lon, sp.sequence).order_by(
            sp.shape_id, sp.sequence))
    ]  # fmt: skip
    s = TransportStopTime
    st_rows = _rows(session, q(
        s, s.trip_id, s.stop_sequence, s.stop_id, s.arrival, s.departure, s.pickup_type,
        s.drop_off_type).order_by(s.trip_id, s.stop_sequence))  # fmt: skip
    ti = {t.id: i for i, t in enumerate(trips)}
    si = {x.id: i for i, x in enumerate(stops)}
    cols: list[Any] = list(zip(*st_rows, strict=True)) if st_rows else [[] for _ in range(7)]
    stop_times = StopTimes(
        trip=np.array([ti[x] for x in cols[0]], np.int32),
        stop=np.array([si[x] for x in cols[2]], np.int32),
        sequence=np.array(cols[1], np.int32),
        arrival=np.array(cols[3], np.int32),
        departure=np.array(cols[4], np.int32),
        pickup=np.array(cols[5], np.int8),
        drop_off=np.array(cols[6], np.int8),
    )
    fares = row.fares or {}
    return Feed(
        feed_id=row.feed_id,
        agencies=[Agency(**a) for a in row.agencies or []],
        stops=stops,
        routes=routes,
        trips=trips,
        stop_times=stop_times,
        calendars=calendars,
        calendar_dates=dates,
        frequencies=freqs,
        shapes=shapes,
        fare_attributes=list(fares.get("fare_attributes", [])),
        fare_rules=list(fares.get("fare_rules", [])),
        content_hash=row.content_hash,
    )


def search_stops(
    session: Session, tenant_id: uuid.UUID, text: str, limit: int = 20
) -> Sequence[tuple[str, str, str, float, float]]:
    """(feed_id, stop_id, name, lat, lon) of stops whose name or id contains ``text``."""
    like = f"%{text.lower()}%"
    stmt = (
        sa.select(
            TransportFeed.feed_id,
            TransportStop.stop_id,
            TransportStop.name,
            TransportStop.lat,
            TransportStop.lon,
        )
        .join(TransportFeed, TransportFeed.id == TransportStop.feed_pk)
        .where(
            TransportStop.tenant_id == tenant_id,
            sa.or_(
                sa.func.lower(TransportStop.name).like(like),
                sa.func.lower(TransportStop.stop_id).like(like),
            ),
        )
        .order_by(TransportStop.name)
        .limit(limit)
    )
    return [(r[0], r[1], r[2], r[3], r[4]) for r in session.execute(stmt).all()]


def leg_details(
    session: Session,
    tenant_id: uuid.UUID,
    feed_pk: uuid.UUID,
    trip_ids: Sequence[str],
    stop_ids: Sequence[str],
) -> tuple[dict[str, tuple[str, str, str]], dict[str, str], dict[str, list[tuple[float, float]]]]:
    """For journey legs of one feed: trip -> (route_id, agency_id, shape_id), stop -> zone_id,
    shape -> points in sequence order (only the shapes of those trips)."""
    tr, ro, st, sp = TransportTrip, TransportRoute, TransportStop, TransportShapePoint
    trips: dict[str, tuple[str, str, str]] = {}
    if trip_ids:
        stmt = (
            sa.select(tr.trip_id, tr.route_id, ro.agency_id, tr.shape_id)
            .outerjoin(
                ro,
                sa.and_(ro.feed_pk == tr.feed_pk, ro.route_id == tr.route_id),
            )
            .where(tr.tenant_id == tenant_id, tr.feed_pk == feed_pk,
                   tr.trip_id.in_(sorted(set(trip_ids))))
        )  # fmt: skip
        for t, r, a, s in session.execute(stmt).all():
            trips[t] = (r, a or "", s or "")
    zones: dict[str, str] = {}
    if stop_ids:
        stmt2 = sa.select(st.stop_id, st.zone_id).where(
            st.tenant_id == tenant_id, st.feed_pk == feed_pk, st.stop_id.in_(sorted(set(stop_ids)))
        )
        zones = {s: z or "" for s, z in session.execute(stmt2).all()}
    shapes: dict[str, list[tuple[float, float]]] = {}
    wanted = sorted({s for _, _, s in trips.values() if s})
    if wanted:
        stmt3 = (
            sa.select(sp.shape_id, sp.lat, sp.lon)
            .where(sp.tenant_id == tenant_id, sp.feed_pk == feed_pk, sp.shape_id.in_(wanted))
            .order_by(sp.shape_id, sp.sequence)
        )
        for s, lat, lon in session.execute(stmt3).all():
            shapes.setdefault(s, []).append((lat, lon))
    return trips, zones, shapes
