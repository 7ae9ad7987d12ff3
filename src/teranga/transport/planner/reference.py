"""Brute-force time-dependent Dijkstra: the correctness oracle for the RAPTOR.

It reads the raw timetable (trips and stop times as imported, no route grouping, no FIFO
assumption) and searches over states "at stop s, arrived by walking or not" and "on trip T
from position i". Same journey model as ``raptor.py`` (see there); deliberately simple and slow.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
from collections import defaultdict

import numpy as np

from teranga.transport.planner.timetable import Timetable


class Reference:
    def __init__(self, tt: Timetable, day: dt.date) -> None:
        self.tt = tt
        trips, shifts = tt.trips_on(day)
        self.trips = trips.tolist()
        self.shifts = shifts.tolist()
        events: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        ts = tt.trip_start
        for k, t in enumerate(self.trips):
            a, b = int(ts[t]), int(ts[t + 1])
            for i in range(a, b - 1):
                if tt.st_board[i]:
                    events[int(tt.st_stop[i])].append((int(tt.st_dep[i]) + self.shifts[k], k, i))
        self.events = {s: sorted(v) for s, v in events.items()}
        self.event_times = {s: [e[0] for e in v] for s, v in self.events.items()}
        self.walks: dict[int, list[tuple[int, int]]] = defaultdict(list)
        f, to, d = tt.footpaths
        for a, b, c in zip(f.tolist(), to.tolist(), d.tolist(), strict=True):
            self.walks[a].append((b, c))

    def earliest_arrival(
        self, sources: list[tuple[int, int, bool]], targets: dict[int, int]
    ) -> int | None:
        tt = self.tt
        ts = tt.trip_start
        heap: list[tuple[int, int, int, int]] = []  # (time, type, a, b)
        for s, t, walked in sources:
            heapq.heappush(heap, (t, 0, s, int(walked)))
        done: set[tuple[int, int]] = set()
        boarded: dict[int, int] = {}  # trip slot -> smallest stop-time index boarded
        best: int | None = None
        while heap:
            t, typ, a, b = heapq.heappop(heap)
            if best is not None and t >= best:
                break
            if typ == 0:
                if (a, b) in done:
                    continue
                done.add((a, b))
                if a in targets:
                    cand = t + targets[a]
                    if best is None or cand < best:
                        best = cand
                if not b:
                    for q, dur in self.walks.get(a, ()):
                        heapq.heappush(heap, (t + dur, 0, q, 1))
                ev = self.events.get(a)
                if ev:
                    for dep, k, i in ev[bisect.bisect_left(self.event_times[a], t) :]:
                        if boarded.get(k, 1 << 62) > i:
                            heapq.heappush(heap, (dep, 1, k, i))
            else:
                k, i = a, b
                if boarded.get(k, 1 << 62) <= i:
                    continue
                end = boarded.get(k, int(ts[self.trips[k] + 1]))
                boarded[k] = i
                shift = self.shifts[k]
                for j in range(i + 1, min(end + 1, int(ts[self.trips[k] + 1]))):
                    if tt.st_alight[j]:
                        heapq.heappush(heap, (int(tt.st_arr[j]) + shift, 0, int(tt.st_stop[j]), 0))
        return best


def leg_exists(tt: Timetable, day: dt.date, trip: int, board: int, alight: int) -> bool:
    """Whether ``trip`` runs on ``day`` with stop positions board < alight (oracle helper)."""
    trips, _ = tt.trips_on(day)
    n = int(tt.trip_start[trip + 1] - tt.trip_start[trip])
    return bool(np.isin(trip, trips)) and 0 <= board < alight < n
