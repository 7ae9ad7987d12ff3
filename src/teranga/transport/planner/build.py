"""Build the planner's Timetable from validated feeds (ids become ``FEEDID:ID``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from teranga.transport.gtfs.model import Feed
from teranga.transport.planner.timetable import Service, Timetable, build_footpaths


def timetable_from_feeds(feeds: Sequence[Feed]) -> Timetable:
    stop_ids: list[str] = []
    stop_names: list[str] = []
    lats: list[float] = []
    lons: list[float] = []
    route_ids: list[str] = []
    route_names: list[str] = []
    route_types: list[int] = []
    route_colors: list[str] = []
    trip_ids: list[str] = []
    trip_route: list[int] = []
    trip_service: list[int] = []
    headsigns: list[str] = []
    services: list[Service] = []
    st_parts: list[tuple[np.ndarray, ...]] = []
    lengths: list[int] = []
    for feed in feeds:
        p = feed.feed_id + ":"
        s0 = len(stop_ids)
        for s in feed.stops:
            stop_ids.append(p + s.id)
            stop_names.append(s.name)
            lats.append(s.lat)
            lons.append(s.lon)
        r_index: dict[str, int] = {}
        for r in feed.routes:
            r_index[r.id] = len(route_ids)
            route_ids.append(p + r.id)
            route_names.append(r.short_name or r.long_name)
            route_types.append(r.type)
            route_colors.append(r.color)
        svc: dict[str, dict[str, object]] = {}
        for c in feed.calendars:
            svc[c.service_id] = {"days": c.days, "start": c.start, "end": c.end}
        added: dict[str, set[object]] = {}
        removed: dict[str, set[object]] = {}
        for d in feed.calendar_dates:
            (added if d.exception_type == 1 else removed).setdefault(d.service_id, set()).add(
                d.date
            )
        s_index: dict[str, int] = {}
        for sid in sorted(set(svc) | set(added) | set(removed)):
            base = svc.get(sid, {})
            s_index[sid] = len(services)
            services.append(
                Service(
                    days=tuple(base.get("days", ())),  # type: ignore[arg-type]
                    start=base.get("start"),  # type: ignore[arg-type]
                    end=base.get("end"),  # type: ignore[arg-type]
                    added=frozenset(added.get(sid, set())),  # type: ignore[arg-type]
                    removed=frozenset(removed.get(sid, set())),  # type: ignore[arg-type]
                )
            )
        st = feed.stop_times
        bounds: list[int] = []
        ends: list[int] = []
        if len(st):
            bounds = np.flatnonzero(np.r_[True, st.trip[1:] != st.trip[:-1]]).tolist()
            ends = [*bounds[1:], len(st)]
        freq: dict[str, list[tuple[int, int, int]]] = {}
        for f in feed.frequencies:
            freq.setdefault(f.trip_id, []).append((f.start, f.end, f.headway))
        board = st.pickup != 1
        alight = st.drop_off != 1
        for a, b in zip(bounds, ends, strict=True):
            trip = feed.trips[int(st.trip[a])]
            if trip.service_id not in s_index:
                continue
            arr = st.arrival[a:b]
            dep = st.departure[a:b]
            starts = [(0, "")]
            if trip.id in freq:
                # Frequency-based trip: stop_times give the pattern, repeated every headway.
                starts = []
                first = int(dep[0])
                for f0, f1, h in freq[trip.id]:
                    starts += [(t - first, f"#{t}") for t in range(f0, f1, h)]
            for shift, suffix in starts:
                trip_ids.append(p + trip.id + suffix)
                trip_route.append(r_index[trip.route_id])
                trip_service.append(s_index[trip.service_id])
                headsigns.append(trip.headsign)
                st_parts.append(
                    (st.stop[a:b] + s0, arr + shift, dep + shift, board[a:b], alight[a:b])
                )
                lengths.append(int(b - a))
    lat = np.array(lats, np.float64)
    lon = np.array(lons, np.float64)

    def cat(i: int, dtype: type) -> np.ndarray:
        if not st_parts:
            return np.zeros(0, dtype)
        return np.concatenate([part[i] for part in st_parts]).astype(dtype)

    return Timetable(
        stop_ids=stop_ids,
        stop_names=stop_names,
        stop_lat=lat,
        stop_lon=lon,
        route_ids=route_ids,
        route_names=route_names,
        route_types=route_types,
        route_colors=route_colors,
        trip_ids=trip_ids,
        trip_route=np.array(trip_route, np.int32),
        trip_service=np.array(trip_service, np.int32),
        trip_headsign=headsigns,
        services=services,
        st_stop=cat(0, np.int32),
        st_arr=cat(1, np.int32),
        st_dep=cat(2, np.int32),
        st_board=cat(3, np.bool_),
        st_alight=cat(4, np.bool_),
        trip_start=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        footpaths=build_footpaths(lat, lon),
    )
