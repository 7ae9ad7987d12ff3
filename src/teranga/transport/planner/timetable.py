"""Timetable as flat numpy arrays, and the per-day network the RAPTOR scans.

``Timetable`` is the whole merged network (all feeds, all service days); ids are global
``FEEDID:ID`` strings. ``DayNetwork`` is what one service date needs: the trips running that
day (and the previous day's trips still running after midnight, shifted by -24 h), grouped
into RAPTOR routes. A RAPTOR route is a set of trips with the same stop sequence and the same
pickup/drop-off pattern that never overtake each other (FIFO); trips of one GTFS pattern that
do overtake are split into several routes, so the "earliest trip at each stop" scan is exact.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
DAY = 86_400
WALK_SPEED_MPS = 1.2  # ~4.3 km/h: heat, crowds, kerbs
WALK_RADIUS_M = 400.0


def _empty_fp() -> tuple[I32, I32, I32]:
    e = np.zeros(0, np.int32)
    return e, e.copy(), e.copy()


@dataclass(frozen=True)
class Service:
    days: tuple[bool, ...]  # Monday first; empty when only calendar_dates define it
    start: dt.date | None
    end: dt.date | None
    added: frozenset[dt.date] = frozenset()
    removed: frozenset[dt.date] = frozenset()

    def runs_on(self, day: dt.date) -> bool:
        if day in self.removed:
            return False
        if day in self.added:
            return True
        if self.start is None or self.end is None or not self.days:
            return False
        return self.start <= day <= self.end and self.days[day.weekday()]


@dataclass
class Timetable:
    stop_ids: list[str]
    stop_names: list[str]
    stop_lat: F64
    stop_lon: F64
    route_ids: list[str]
    route_names: list[str]
    route_types: list[int]
    route_colors: list[str]
    trip_ids: list[str]
    trip_route: I32
    trip_service: I32
    trip_headsign: list[str]
    services: list[Service]
    # Stop times sorted by trip then sequence; trip_start[t]:trip_start[t+1] are trip t's.
    st_stop: I32
    st_arr: I32
    st_dep: I32
    st_board: B  # pickup allowed
    st_alight: B  # drop-off allowed
    trip_start: I64
    footpaths: tuple[I32, I32, I32] = field(default_factory=_empty_fp)
    _stop_index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self._stop_index:
            self._stop_index = {s: i for i, s in enumerate(self.stop_ids)}

    @property
    def n_stops(self) -> int:
        return len(self.stop_ids)

    @property
    def n_stop_times(self) -> int:
        return int(self.st_stop.shape[0])

    def stop_index(self, stop_id: str) -> int | None:
        return self._stop_index.get(stop_id)

    def trips_on(self, day: dt.date) -> tuple[I64, I64]:
        """Trips running on ``day``: (trip indexes, time shift in seconds).

        Includes the previous day's trips whose times go past 24:00, shifted by -86,400 so
        every time is relative to midnight of ``day``.
        """
        today = np.array([s.runs_on(day) for s in self.services], dtype=bool)
        yesterday = np.array(
            [s.runs_on(day - dt.timedelta(days=1)) for s in self.services], dtype=bool
        )
        if not self.services:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        t_today = np.flatnonzero(today[self.trip_service])
        last = self.st_arr[self.trip_start[1:] - 1] if len(self.trip_ids) else self.st_arr[:0]
        t_prev = np.flatnonzero(yesterday[self.trip_service] & (last >= DAY))
        trips = np.concatenate([t_today, t_prev]).astype(np.int64)
        shift = np.concatenate([np.zeros(len(t_today)), np.full(len(t_prev), -DAY)])
        return trips, shift.astype(np.int64)

    # -- cache -------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Serialise to .npz bytes (the planner cache written at import)."""
        arrays: dict[str, Any] = {
            "stop_lat": self.stop_lat,
            "stop_lon": self.stop_lon,
            "trip_route": self.trip_route,
            "trip_service": self.trip_service,
            "st_stop": self.st_stop,
            "st_arr": self.st_arr,
            "st_dep": self.st_dep,
            "st_board": self.st_board,
            "st_alight": self.st_alight,
            "trip_start": self.trip_start,
            "fp_from": self.footpaths[0],
            "fp_to": self.footpaths[1],
            "fp_dur": self.footpaths[2],
        }
        for name in (
            "stop_ids", "stop_names", "route_ids", "route_names", "route_colors",
            "trip_ids", "trip_headsign",
        ):  # fmt: skip
            arrays[name] = np.array(getattr(self, name), dtype=np.str_)
        arrays["route_types"] = np.array(self.route_types, dtype=np.int32)
        arrays["services"] = np.array([_service_str(s) for s in self.services], dtype=np.str_)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Timetable:
        z = np.load(io.BytesIO(data), allow_pickle=False)

        def strs(name: str) -> list[str]:
            return [str(x) for x in z[name].tolist()]

        return cls(
            stop_ids=strs("stop_ids"),
            stop_names=strs("stop_names"),
            stop_lat=z["stop_lat"],
            stop_lon=z["stop_lon"],
            route_ids=strs("route_ids"),
            route_names=strs("route_names"),
            route_types=[int(x) for x in z["route_types"]],
            route_colors=strs("route_colors"),
            trip_ids=strs("trip_ids"),
            trip_route=z["trip_route"],
            trip_service=z["trip_service"],
            trip_headsign=strs("trip_headsign"),
            services=[_service_parse(s) for s in strs("services")],
            st_stop=z["st_stop"],
            st_arr=z["st_arr"],
            st_dep=z["st_dep"],
            st_board=z["st_board"],
            st_alight=z["st_alight"],
            trip_start=z["trip_start"],
            footpaths=(z["fp_from"], z["fp_to"], z["fp_dur"]),
        )


def _d(d: dt.date | None) -> str:
    return d.strftime("%Y%m%d") if d else ""


def _service_str(s: Service) -> str:
    days = "".join("1" if x else "0" for x in s.days)
    return "|".join(
        [
            days,
            _d(s.start),
            _d(s.end),
            ",".join(sorted(_d(x) for x in s.added)),
            ",".join(sorted(_d(x) for x in s.removed)),
        ]
    )


def _p(v: str) -> dt.date:
    return dt.date(int(v[:4]), int(v[4:6]), int(v[6:8]))


def _service_parse(v: str) -> Service:
    days, start, end, added, removed = v.split("|")
    return Service(
        days=tuple(c == "1" for c in days),
        start=_p(start) if start else None,
        end=_p(end) if end else None,
        added=frozenset(_p(x) for x in added.split(",") if x),
        removed=frozenset(_p(x) for x in removed.split(",") if x),
    )


def haversine_m(lat1: F64, lon1: F64, lat2: F64, lon2: F64) -> F64:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    out: F64 = 2 * 6_371_000.0 * np.arcsin(np.sqrt(a))
    return out


def build_footpaths(
    lat: F64, lon: F64, radius_m: float = WALK_RADIUS_M, speed_mps: float = WALK_SPEED_MPS
) -> tuple[I32, I32, I32]:
    """Walking transfers between distinct stops closer than ``radius_m`` (both directions).

    Stops are bucketed by latitude band so the cost stays near-linear in the stop count.
    """
    n = len(lat)
    if n == 0:
        return _empty_fp()
    band = radius_m / 111_000.0
    order = np.argsort(lat)
    slat = lat[order]
    froms, tos, durs = [], [], []
    chunk = 512
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        lo = int(np.searchsorted(slat, slat[a] - band))
        hi = int(np.searchsorted(slat, slat[b - 1] + band, side="right"))
        ia = order[a:b]
        ib = order[lo:hi]
        d = haversine_m(lat[ia][:, None], lon[ia][:, None], lat[ib][None, :], lon[ib][None, :])
        ii, jj = np.nonzero((d <= radius_m) & (ia[:, None] != ib[None, :]))
        froms.append(ia[ii])
        tos.append(ib[jj])
        durs.append(np.ceil(d[ii, jj] / speed_mps))
    f = np.concatenate(froms).astype(np.int32)
    t = np.concatenate(tos).astype(np.int32)
    du = np.concatenate(durs).astype(np.int32)
    o = np.lexsort((t, f))
    return f[o], t[o], du[o]


@dataclass
class DayNetwork:
    """RAPTOR arrays for one service date (see module docstring)."""

    date: dt.date
    n_stops: int
    # Per route
    route_nt: I64  # trips
    route_ns: I64  # stops (positions)
    route_rp0: I64  # first route-position index
    route_trip0: I64  # first index into rt_trip/rt_shift
    # Per route-position (RP): one column of the route's time matrix
    rp_stop: I64
    rp_route: I64
    rp_pos: I64
    rp_col: I64  # first index of the column in dep_flat/arr_flat
    rp_nt: I64
    rp_board: B
    rp_alight: B
    rp_first: B  # first position of its route
    # Column-major times: column of RP j is dep_flat[rp_col[j] : rp_col[j] + rp_nt[j]]
    dep_flat: I64
    arr_flat: I64
    rt_trip: I64  # timetable trip index of (route, rank)
    rt_shift: I64
    fp_from: I64
    fp_to: I64
    fp_dur: I64
    # Encodings for the segmented prefix-minimum (see raptor.py)
    R: int = 0
    P: int = 0
    enc_base: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    rp_by_stop: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    rp_stop_starts: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    rp_stop_ids: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    fp_by_to: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    fp_to_starts: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    fp_to_ids: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    fp_slot: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    stop_rp_ptr: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    fp_ptr: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    # Boarding index: first_at[j, b] = trips of column j departing before t0 + b * BUCKET.
    first_at: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros((0, 0), np.int32))
    t0: int = 0

    @property
    def n_routes(self) -> int:
        return int(self.route_nt.shape[0])


BUCKET = 300  # seconds per boarding-index bucket


def build_day(tt: Timetable, day: dt.date) -> DayNetwork:
    trips, shifts = tt.trips_on(day)
    groups: dict[bytes, list[int]] = {}
    ts = tt.trip_start
    for k, t in enumerate(trips.tolist()):
        a, b = int(ts[t]), int(ts[t + 1])
        key = tt.st_stop[a:b].tobytes() + tt.st_board[a:b].tobytes() + tt.st_alight[a:b].tobytes()
        groups.setdefault(key, []).append(k)
    routes: list[tuple[list[int], int]] = []  # (indexes into trips/shifts, first stop-time)
    for members in groups.values():
        # Sort by first departure, then split so no trip overtakes the one before it.
        def first_dep(k: int) -> int:
            return int(tt.st_dep[ts[trips[k]]] + shifts[k])

        members.sort(key=first_dep)
        subs: list[list[int]] = []
        lasts: list[tuple[I64, I64]] = []
        for k in members:
            t = int(trips[k])
            a, b = int(ts[t]), int(ts[t + 1])
            arr = tt.st_arr[a:b].astype(np.int64) + shifts[k]
            dep = tt.st_dep[a:b].astype(np.int64) + shifts[k]
            for i, (la, ld) in enumerate(lasts):
                if (arr >= la).all() and (dep >= ld).all():
                    subs[i].append(k)
                    lasts[i] = (arr, dep)
                    break
            else:
                subs.append([k])
                lasts.append((arr, dep))
        for sub in subs:
            routes.append((sub, int(ts[trips[sub[0]]])))
    nr = len(routes)
    route_nt = np.array([len(r[0]) for r in routes], np.int64)
    route_ns = np.array(
        [int(ts[trips[r[0][0]] + 1] - ts[trips[r[0][0]]]) for r in routes], np.int64
    )
    route_rp0 = np.concatenate([[0], np.cumsum(route_ns)[:-1]]).astype(np.int64)
    route_trip0 = np.concatenate([[0], np.cumsum(route_nt)[:-1]]).astype(np.int64)
    n_rp = int(route_ns.sum()) if nr else 0
    size = int((route_nt * route_ns).sum()) if nr else 0
    dep_flat = np.empty(size, np.int64)
    arr_flat = np.empty(size, np.int64)
    rp_stop = np.empty(n_rp, np.int64)
    rp_board = np.empty(n_rp, bool)
    rp_alight = np.empty(n_rp, bool)
    rp_col = np.empty(n_rp, np.int64)
    rt_trip = np.empty(int(route_nt.sum()) if nr else 0, np.int64)
    rt_shift = np.empty_like(rt_trip)
    off = 0
    for r, (members, a0) in enumerate(routes):
        ns, nt = int(route_ns[r]), int(route_nt[r])
        p0 = int(route_rp0[r])
        sel = trips[members]
        sh = shifts[members]
        starts = ts[sel]
        idx = starts[:, None] + np.arange(ns)[None, :]  # (nt, ns)
        deps = tt.st_dep[idx].astype(np.int64) + sh[:, None]
        arrs = tt.st_arr[idx].astype(np.int64) + sh[:, None]
        dep_flat[off : off + ns * nt] = deps.T.reshape(-1)
        arr_flat[off : off + ns * nt] = arrs.T.reshape(-1)
        rp_stop[p0 : p0 + ns] = tt.st_stop[a0 : a0 + ns]
        rp_board[p0 : p0 + ns] = tt.st_board[a0 : a0 + ns]
        rp_alight[p0 : p0 + ns] = tt.st_alight[a0 : a0 + ns]
        rp_col[p0 : p0 + ns] = off + np.arange(ns) * nt
        q0 = int(route_trip0[r])
        rt_trip[q0 : q0 + nt] = sel
        rt_shift[q0 : q0 + nt] = sh
        off += ns * nt
    rp_route = np.repeat(np.arange(nr, dtype=np.int64), route_ns)
    rp_pos = np.arange(n_rp, dtype=np.int64) - route_rp0[rp_route] if nr else rp_route
    rp_nt = route_nt[rp_route] if nr else rp_route
    rp_first = rp_pos == 0
    rp_board &= ~np.r_[rp_first[1:], True] if n_rp else rp_board  # never board at the end
    fp_from, fp_to, fp_dur = (x.astype(np.int64) for x in tt.footpaths)
    net = DayNetwork(
        date=day,
        n_stops=tt.n_stops,
        route_nt=route_nt,
        route_ns=route_ns,
        route_rp0=route_rp0,
        route_trip0=route_trip0,
        rp_stop=rp_stop,
        rp_route=rp_route,
        rp_pos=rp_pos,
        rp_col=rp_col,
        rp_nt=rp_nt,
        rp_board=rp_board,
        rp_alight=rp_alight,
        rp_first=rp_first,
        dep_flat=dep_flat,
        arr_flat=arr_flat,
        rt_trip=rt_trip,
        rt_shift=rt_shift,
        fp_from=fp_from,
        fp_to=fp_to,
        fp_dur=fp_dur,
    )
    _encode(net)
    return net


def _encode(net: DayNetwork) -> None:
    nr = net.n_routes
    net.R = int(net.route_nt.max()) + 2 if nr else 2
    net.P = int(net.route_ns.max()) + 1 if nr else 1
    net.enc_base = ((nr - net.rp_route) * net.R) * net.P + net.rp_pos
    # Route-positions grouped by stop, for per-stop minimum with reduceat.
    order = np.argsort(net.rp_stop, kind="stable")
    stops_sorted = net.rp_stop[order]
    starts = (
        np.flatnonzero(np.r_[True, stops_sorted[1:] != stops_sorted[:-1]]) if len(order) else order
    )
    net.rp_by_stop = order
    net.rp_stop_starts = starts.astype(np.int64)
    net.rp_stop_ids = stops_sorted[starts] if len(order) else order
    order = np.argsort(net.fp_to, kind="stable")
    to_sorted = net.fp_to[order]
    starts = np.flatnonzero(np.r_[True, to_sorted[1:] != to_sorted[:-1]]) if len(order) else order
    net.fp_by_to = order
    net.fp_to_starts = starts.astype(np.int64)
    net.fp_to_ids = to_sorted[starts] if len(order) else order
    net.fp_slot = np.searchsorted(net.fp_to_ids, net.fp_to)
    stops = np.arange(net.n_stops + 1)
    net.stop_rp_ptr = np.searchsorted(net.rp_stop[net.rp_by_stop], stops).astype(np.int64)
    net.fp_ptr = np.searchsorted(net.fp_from, stops).astype(np.int64)  # fp sorted by from
    # Columns are sorted (FIFO routes), so a per-bucket count gives a lower bound on the
    # first catchable trip; the planner then steps over the few trips inside the bucket.
    n_rp = net.rp_stop.shape[0]
    if net.dep_flat.size == 0:
        net.first_at = np.zeros((n_rp, 1), np.int32)
        return
    net.t0 = int(net.dep_flat.min())
    nb = (int(net.dep_flat.max()) - net.t0) // BUCKET + 2
    col = np.repeat(np.arange(n_rp, dtype=np.int64), net.rp_nt)
    bidx = (net.dep_flat - net.t0) // BUCKET + 1
    counts = np.bincount(col * nb + bidx, minlength=n_rp * nb).reshape(n_rp, nb)
    net.first_at = np.cumsum(counts, axis=1).astype(np.int32)
