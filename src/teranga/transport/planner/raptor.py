"""RAPTOR earliest-arrival search, vectorised over all routes with numpy.

Journey model (the reference Dijkstra in ``reference.py`` implements the same one): a journey
starts at one of the ``sources`` (stop, time, walked) — ``walked`` is true when the traveller
already walked there from a place — takes trips, and between two trips may walk at most one
footpath (none right after another walk). Boarding needs a departure at or after the arrival
at the stop (no minimum change time), pickup allowed there; alighting needs drop-off allowed.
The answer is the earliest arrival at a target stop plus its egress walk.

Round k holds the best arrival at every stop using at most k trips, so the rounds give the
Pareto set (arrival time × transfers). Within a round every route is scanned at once:

1. for route-positions at stops improved last round, the earliest catchable trip is found
   from a per-column 5-minute bucket index, then a few vectorised steps inside the bucket;
2. the trip each position rides is the prefix minimum of those ranks along its route: one
   ``minimum.accumulate`` over an encoding that keeps routes apart and remembers where the
   minimum came from (the boarding position);
3. arrivals are reduced per stop with ``minimum.reduceat``; footpaths the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from teranga.transport.planner import kernel
from teranga.transport.planner.timetable import BUCKET, DayNetwork

INF = np.int64(1 << 40)


@dataclass(frozen=True)
class Leg:
    kind: str  # "trip" | "walk"
    from_stop: int
    to_stop: int
    departure: int  # seconds after midnight of the service date
    arrival: int
    trip: int = -1  # timetable trip index for "trip" legs
    board_pos: int = -1  # positions within the trip (stop-time offsets)
    alight_pos: int = -1


@dataclass(frozen=True)
class Journey:
    departure: int
    arrival: int
    transfers: int
    legs: tuple[Leg, ...] = field(default_factory=tuple)


@dataclass
class Labels:
    """Per-round labels; kept to rebuild journeys."""

    tau: np.ndarray  # (K+1, n) best arrival with ≤ k trips
    kind: np.ndarray  # (K+1, n) 0 inherited, 1 trip, 2 walk, 3 source
    t_arr: np.ndarray  # (K+1, n) arrival by trip in round k (for walks after it)
    t_board: np.ndarray  # boarding route-position
    t_alight: np.ndarray  # alighting route-position
    t_rank: np.ndarray  # trip rank within the route
    w_from: np.ndarray  # walk origin stop
    w_dur: np.ndarray
    src_time: dict[int, int]
    rounds: int


def search(
    net: DayNetwork,
    sources: list[tuple[int, int, bool]],
    targets: dict[int, int],
    *,
    max_rounds: int = 8,
    engine: str = "auto",
) -> list[Journey]:
    """Pareto-optimal journeys (arrival × transfers), earliest arrival first.

    ``engine``: "loop" (numba-compiled RAPTOR loop), "numpy" (vectorised rounds) or "auto"
    (the loop when numba is installed).
    """
    if engine == "loop" or (engine == "auto" and kernel.HAVE_NUMBA):
        labels = run_loop(net, sources, targets, max_rounds=max_rounds)
    else:
        labels = run(net, sources, targets, max_rounds=max_rounds)
    return journeys(net, labels, targets)


def run(
    net: DayNetwork,
    sources: list[tuple[int, int, bool]],
    targets: dict[int, int],
    *,
    max_rounds: int = 8,
) -> Labels:
    n = net.n_stops
    k_max = max_rounds
    tau = np.full((k_max + 1, n), INF, np.int64)
    kind = np.zeros((k_max + 1, n), np.int8)
    t_arr = np.full((k_max + 1, n), INF, np.int64)
    t_board = np.full((k_max + 1, n), -1, np.int64)
    t_alight = np.full((k_max + 1, n), -1, np.int64)
    t_rank = np.full((k_max + 1, n), -1, np.int64)
    w_from = np.full((k_max + 1, n), -1, np.int64)
    w_dur = np.zeros((k_max + 1, n), np.int64)
    best_trans = np.full(n, INF, np.int64)  # best arrival from which walking is allowed
    tg_stops = np.fromiter(targets.keys(), np.int64, len(targets))
    tg_egress = np.fromiter(targets.values(), np.int64, len(targets))
    src_time: dict[int, int] = {}
    cur = tau[0]
    walk_from = np.full(n, INF, np.int64)
    for s, t, walked in sources:
        if t < cur[s]:
            cur[s] = t
            kind[0, s] = 3
            src_time[s] = t
        if not walked:
            walk_from[s] = min(walk_from[s], t)
            best_trans[s] = min(best_trans[s], t)
    bound = int((cur[tg_stops] + tg_egress).min()) if len(tg_stops) else int(INF)
    improved = _walk(net, walk_from, cur, kind[0], w_from[0], w_dur[0], bound)
    improved[[s for s, _, _ in sources]] = True
    rank = np.full(net.rp_stop.shape[0], net.R - 1, np.int64)
    none_enc = net.enc_base + (net.R - 1) * net.P
    seg_off = net.enc_base - net.rp_pos  # ((nr - route) * R) * P
    rounds = 0
    for k in range(1, k_max + 1):
        prev = tau[k - 1]
        bound = int((prev[tg_stops] + tg_egress).min()) if len(tg_stops) else int(INF)
        j = np.flatnonzero(improved[net.rp_stop] & net.rp_board)
        if j.size == 0:
            break
        rounds = k
        t = prev[net.rp_stop[j]]
        r = _first_trip(net, j, t)
        rank[j] = np.minimum(rank[j], r)
        enc = net.enc_base + rank * net.P
        cm = np.minimum.accumulate(enc)
        ex = np.empty_like(cm)
        ex[1:] = cm[:-1]
        ex[0] = none_enc[0]
        ex = np.where(net.rp_first, none_enc, ex)
        rel = ex - seg_off
        on_rank = rel // net.P
        board_pos = rel % net.P
        ok = (on_rank < net.R - 1) & net.rp_alight
        col = net.rp_col + np.where(ok, on_rank, 0)
        arr = np.where(ok, net.arr_flat[np.minimum(col, net.arr_flat.shape[0] - 1)], INF)
        # Per-stop minimum over route-positions.
        per = np.minimum.reduceat(arr[net.rp_by_stop], net.rp_stop_starts)
        stops = net.rp_stop_ids
        better_t = (per < best_trans[stops]) & (per < bound)
        cur = prev.copy()
        improved = np.zeros(n, bool)
        trans_now = np.full(n, INF, np.int64)
        if better_t.any():
            st = stops[better_t]
            vals = per[better_t]
            trans_now[st] = vals
            best_trans[st] = vals
            t_arr[k, st] = vals
            # Parents: any route-position achieving the minimum.
            hit = ok & (arr == trans_now[net.rp_stop])
            hj = np.flatnonzero(hit)
            hs = net.rp_stop[hj]
            t_alight[k, hs] = hj
            t_board[k, hs] = net.route_rp0[net.rp_route[hj]] + board_pos[hj]
            t_rank[k, hs] = on_rank[hj]
            gain = vals < cur[st]
            cur[st[gain]] = vals[gain]
            kind[k, st[gain]] = 1
            improved[st[gain]] = True
        tau[k] = cur
        improved |= _walk(net, trans_now, tau[k], kind[k], w_from[k], w_dur[k], bound)
        if not improved.any():
            break
    return Labels(tau, kind, t_arr, t_board, t_alight, t_rank, w_from, w_dur, src_time, rounds)


def run_loop(
    net: DayNetwork,
    sources: list[tuple[int, int, bool]],
    targets: dict[int, int],
    *,
    max_rounds: int = 8,
) -> Labels:
    n = net.n_stops
    shape = (max_rounds + 1, n)
    tau = np.full(shape, INF, np.int64)
    kind = np.zeros(shape, np.int8)
    t_arr = np.full(shape, INF, np.int64)
    t_board = np.full(shape, -1, np.int64)
    t_alight = np.full(shape, -1, np.int64)
    t_rank = np.full(shape, -1, np.int64)
    w_from = np.full(shape, -1, np.int64)
    w_dur = np.zeros(shape, np.int64)
    egress = np.full(n, -1, np.int64)
    for s, e in targets.items():
        egress[s] = e
    src_stop = np.array([s for s, _, _ in sources], np.int64)
    src_t = np.array([t for _, t, _ in sources], np.int64)
    src_w = np.array([w for _, _, w in sources], np.bool_)
    fn = kernel.compiled if kernel.HAVE_NUMBA else kernel.raptor_rounds
    rounds = fn(
        n, max_rounds, net.route_nt, net.route_ns, net.route_rp0, net.rp_route, net.rp_stop,
        net.rp_col, net.rp_board, net.rp_alight, net.dep_flat, net.arr_flat,
        net.stop_rp_ptr, net.rp_by_stop, net.fp_ptr, net.fp_to, net.fp_dur,
        src_stop, src_t, src_w, egress,
        tau, kind, t_arr, t_board, t_alight, t_rank, w_from, w_dur,
    )  # fmt: skip
    src_time: dict[int, int] = {}
    for s, t, _ in sources:
        src_time[s] = min(t, src_time.get(s, t))
    return Labels(tau, kind, t_arr, t_board, t_alight, t_rank, w_from, w_dur, src_time, int(rounds))


def _first_trip(net: DayNetwork, j: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Rank of the first trip departing at or after ``t`` in each column ``j`` (R-1: none)."""
    nb = net.first_at.shape[1]
    b = np.clip((t - net.t0) // BUCKET, 0, nb - 1)
    r = net.first_at[j, b].astype(np.int64)
    col = net.rp_col[j]
    nt = net.rp_nt[j]
    active = np.flatnonzero(r < nt)
    while active.size:
        late = net.dep_flat[col[active] + r[active]] < t[active]
        active = active[late]
        r[active] += 1
        active = active[r[active] < nt[active]]
    out: np.ndarray = np.where(r < nt, r, net.R - 1)
    return out


def _walk(
    net: DayNetwork,
    start: np.ndarray,
    cur: np.ndarray,
    kind: np.ndarray,
    w_from: np.ndarray,
    w_dur: np.ndarray,
    bound: int,
) -> np.ndarray:
    """Relax footpaths from stops with a finite ``start``; update ``cur`` in place."""
    improved = np.zeros(cur.shape[0], bool)
    if net.fp_from.size == 0:
        return improved
    cand = start[net.fp_from] + net.fp_dur
    per = np.minimum.reduceat(cand[net.fp_by_to], net.fp_to_starts)
    to = net.fp_to_ids
    better = (per < cur[to]) & (per < bound)
    if not better.any():
        return improved
    st = to[better]
    vals = per[better]
    cur[st] = vals
    kind[st] = 2
    improved[st] = True
    e = np.flatnonzero(better[net.fp_slot] & (cand == cur[net.fp_to]))
    w_from[net.fp_to[e]] = net.fp_from[e]
    w_dur[net.fp_to[e]] = net.fp_dur[e]
    return improved


def journeys(net: DayNetwork, lab: Labels, targets: dict[int, int]) -> list[Journey]:
    out: list[Journey] = []
    best = int(INF)
    for k in range(lab.rounds + 1):
        arrival, stop = int(INF), -1
        for s, egress in targets.items():
            a = int(lab.tau[k, s]) + egress
            if a < arrival:
                arrival, stop = a, s
        if arrival >= best:
            continue
        best = arrival
        legs = rebuild(net, lab, k, stop)
        n_trips = sum(1 for leg in legs if leg.kind == "trip")
        dep = legs[0].departure if legs else lab.src_time.get(stop, arrival)
        out.append(Journey(dep, arrival, max(0, n_trips - 1), tuple(legs)))
    out.sort(key=lambda j: (j.arrival, j.transfers))
    return out


def rebuild(net: DayNetwork, lab: Labels, k: int, stop: int) -> list[Leg]:
    legs: list[Leg] = []
    p = stop
    after_walk = False
    while True:
        if after_walk:
            if k == 0:
                break  # walked from a source
            kd = 1
        else:
            kd = int(lab.kind[k, p])
        if kd == 0:
            k -= 1
            if k < 0:
                raise RuntimeError("broken label chain")
            continue
        if kd == 3:
            break
        if kd == 2:
            q = int(lab.w_from[k, p])
            arr = int(lab.tau[k, p])
            dur = int(lab.w_dur[k, p])
            legs.append(Leg("walk", q, p, arr - dur, arr))
            p = q
            after_walk = True
            continue
        a = int(lab.t_alight[k, p])
        b = int(lab.t_board[k, p])
        rank = int(lab.t_rank[k, p])
        route = int(net.rp_route[a])
        q = int(net.rp_stop[b])
        trip = int(net.rt_trip[net.route_trip0[route] + rank])
        legs.append(
            Leg(
                "trip",
                q,
                p,
                int(net.dep_flat[net.rp_col[b] + rank]),
                int(net.arr_flat[net.rp_col[a] + rank]),
                trip=trip,
                board_pos=int(net.rp_pos[b]),
                alight_pos=int(net.rp_pos[a]),
            )
        )
        p = q
        k -= 1
        after_walk = False
    legs.reverse()
    return legs
