"""Range ("leave between 8:00 and 9:00") and arrive-by queries on top of the RAPTOR.

Both rely on the earliest arrival being non-decreasing in the departure time (waiting is
allowed), so a range is a walk over distinct departures and arrive-by is a binary search.
"""

from __future__ import annotations

from teranga.transport.planner.raptor import Journey, search
from teranga.transport.planner.timetable import DayNetwork

Sources = list[tuple[int, int, bool]]


def _shift(sources: Sources, dt: int) -> Sources:
    return [(s, t + dt, w) for s, t, w in sources]


def latest_start(j: Journey, t0: int) -> int:
    """Latest departure from the origin that still catches the journey's first trip."""
    walked = 0
    for leg in j.legs:
        if leg.kind == "trip":
            return max(t0, leg.departure - walked)
        walked += leg.arrival - leg.departure
    return t0


def range_search(
    net: DayNetwork,
    sources: Sources,
    targets: dict[int, int],
    *,
    window_s: int,
    max_rounds: int = 8,
    max_iterations: int = 60,
) -> list[Journey]:
    """Pareto set over (departure later, arrival earlier, fewer transfers) in the window.

    ``sources`` carry times for a departure at the start of the window.
    """
    found: list[tuple[int, Journey]] = []  # (offset from window start, journey)
    offset = 0
    for _ in range(max_iterations):
        if offset > window_s:
            break
        js = search(net, _shift(sources, offset), targets, max_rounds=max_rounds)
        if not js:
            break
        t0 = min(t for _, t, _ in sources) + offset
        nxt = offset
        for j in js:
            start = latest_start(j, t0) - t0 + offset
            if start <= window_s:  # leaves within the window
                found.append((offset, j))
            nxt = max(nxt, start)
        offset = nxt + 1
    keep: list[Journey] = []
    for _, j in found:
        dominated = any(
            o.departure >= j.departure
            and o.arrival <= j.arrival
            and o.transfers <= j.transfers
            and (o.departure, o.arrival, o.transfers) != (j.departure, j.arrival, j.transfers)
            for _, o in found
        )
        if not dominated and all(
            (k.departure, k.arrival, k.transfers) != (j.departure, j.arrival, j.transfers)
            for k in keep
        ):
            keep.append(j)
    keep.sort(key=lambda j: (j.departure, j.arrival))
    return keep


def arrive_by(
    net: DayNetwork,
    sources_at: dict[int, tuple[int, bool]],
    targets: dict[int, int],
    *,
    deadline: int,
    horizon_s: int = 4 * 3600,
    max_rounds: int = 8,
) -> tuple[int, list[Journey]]:
    """Latest departure (to the second) from which the target is reached by ``deadline``.

    ``sources_at`` maps stop -> (access seconds, walked). Returns (departure, journeys) or
    (-1, []) when even leaving ``horizon_s`` earlier is too late.
    """

    def at(t: int) -> list[Journey]:
        src = [(s, t + acc, w) for s, (acc, w) in sources_at.items()]
        return [
            j for j in search(net, src, targets, max_rounds=max_rounds) if j.arrival <= deadline
        ]

    lo, hi = deadline - horizon_s, deadline
    if not at(lo):
        return -1, []
    while hi - lo > 1:  # invariant: at(lo) feasible, at(hi) unknown or infeasible
        mid = (lo + hi) // 2
        if at(mid):
            lo = mid
        else:
            hi = mid
    if at(hi):
        lo = hi
    return lo, at(lo)
