"""RAPTOR against a brute-force time-dependent Dijkstra, and journey invariants."""

from __future__ import annotations

import itertools
import random

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from teranga.transport.planner import DayNetwork, Journey, Timetable, build_day, search
from teranga.transport.planner.raptor import INF
from teranga.transport.planner.reference import Reference
from teranga.transport.planner.timetable import build_footpaths, haversine_m
from tests.transport.conftest import DAY


def _query(rng: random.Random, tt: Timetable) -> tuple[list[tuple[int, int, bool]], dict[int, int]]:
    """Stop-to-stop most of the time; sometimes from/to a place (access/egress walks)."""
    t0 = rng.randrange(4 * 3600, 23 * 3600)
    served = np.unique(tt.st_stop).tolist()  # stops no trip serves are trivially unreachable
    a, b = rng.choice(served), rng.choice(served)
    if rng.random() < 0.8:
        return [(a, t0, False)], {b: 0}
    da = haversine_m(tt.stop_lat, tt.stop_lon, tt.stop_lat[a], tt.stop_lon[a])
    db = haversine_m(tt.stop_lat, tt.stop_lon, tt.stop_lat[b], tt.stop_lon[b])
    src = [(int(s), t0 + int(da[s] / 1.2), True) for s in np.flatnonzero(da < 700)]
    dst = {int(s): int(db[s] / 1.2) for s in np.flatnonzero(db < 700)}
    return src, dst


def test_raptor_equals_reference_on_1000_seeded_queries(
    small_tt: Timetable, small_net: DayNetwork
) -> None:
    ref = Reference(small_tt, DAY)
    rng = random.Random(20261031)
    mismatches = []
    found = 0
    for _ in range(1000):
        src, dst = _query(rng, small_tt)
        js = search(small_net, src, dst, max_rounds=16, engine="loop")
        got = js[0].arrival if js else None
        want = ref.earliest_arrival(src, dst)
        found += want is not None
        if got != want:
            mismatches.append((src, dst, got, want))
    assert not mismatches, mismatches[:3]
    assert found > 600  # the network is connected enough for the test to mean something


def test_vectorised_engine_agrees_with_loop(small_tt: Timetable, small_net: DayNetwork) -> None:
    rng = random.Random(7)
    for _ in range(200):
        src, dst = _query(rng, small_tt)
        a = search(small_net, src, dst, max_rounds=16, engine="loop")
        b = search(small_net, src, dst, max_rounds=16, engine="numpy")
        assert [(j.arrival, j.transfers) for j in a] == [(j.arrival, j.transfers) for j in b]


def _check_journey(tt: Timetable, net: DayNetwork, j: Journey, src: int, t0: int) -> None:
    trips, shifts = tt.trips_on(DAY)
    shift_of = dict(zip(trips.tolist(), shifts.tolist(), strict=True))
    walk = {(int(a), int(b)): int(d) for a, b, d in zip(*tt.footpaths, strict=True)}
    clock = t0
    at = src
    n_trips = 0
    for leg in j.legs:
        assert leg.from_stop == at
        assert leg.departure >= clock  # times never decrease along a journey
        assert leg.arrival >= leg.departure
        if leg.kind == "walk":
            assert walk[(leg.from_stop, leg.to_stop)] == leg.arrival - leg.departure
        else:
            n_trips += 1
            assert leg.trip in shift_of  # the trip runs that day
            a = int(tt.trip_start[leg.trip])
            sh = shift_of[leg.trip]
            assert leg.board_pos < leg.alight_pos
            assert int(tt.st_stop[a + leg.board_pos]) == leg.from_stop
            assert int(tt.st_stop[a + leg.alight_pos]) == leg.to_stop
            assert int(tt.st_dep[a + leg.board_pos]) + sh == leg.departure
            assert int(tt.st_arr[a + leg.alight_pos]) + sh == leg.arrival
            assert tt.st_board[a + leg.board_pos]
            assert tt.st_alight[a + leg.alight_pos]
        clock = leg.arrival
        at = leg.to_stop
    assert clock == j.arrival
    assert j.transfers == max(0, n_trips - 1)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_journeys_are_feasible_and_pareto(
    small_tt: Timetable, small_net: DayNetwork, data: st.DataObject
) -> None:
    n = small_tt.n_stops
    a = data.draw(st.integers(0, n - 1), label="from")
    b = data.draw(st.integers(0, n - 1), label="to")
    t0 = data.draw(st.integers(4 * 3600, 23 * 3600), label="depart")
    js = search(small_net, [(a, t0, False)], {b: 0}, max_rounds=16)
    for j in js:
        _check_journey(small_tt, small_net, j, a, t0)
        assert j.legs[-1].to_stop == b if j.legs else a == b
    # Pareto: later arrivals only with strictly fewer transfers.
    for x, y in itertools.pairwise(js):
        assert x.arrival < y.arrival
        assert x.transfers > y.transfers


def test_overtaking_trips_and_after_midnight() -> None:
    """An express overtaking a stopping trip of the same pattern, and a trip past 24:00."""
    from teranga.transport.planner.timetable import Service

    lat = np.array([14.70, 14.75, 14.80])
    lon = np.array([-17.40, -17.40, -17.40])
    # trip 0 slow (dep 08:00, arr C 09:00); trip 1 express (dep 08:10, arr C 08:30);
    # trip 2 runs 23:50 -> 24:20 the previous day.
    dep = [28800, 30600, 36000, 29400, 30000, 30600, 85800, 86700, 87600]
    tt = Timetable(
        stop_ids=["A", "B", "C"], stop_names=["A", "B", "C"], stop_lat=lat, stop_lon=lon,
        route_ids=["R"], route_names=["R"], route_types=[3], route_colors=[""],
        trip_ids=["slow", "express", "night"], trip_route=np.zeros(3, np.int32),
        trip_service=np.zeros(3, np.int32), trip_headsign=["", "", ""],
        services=[Service((True,) * 7, DAY.replace(day=1), DAY.replace(day=28))],
        st_stop=np.array([0, 1, 2] * 3, np.int32), st_arr=np.array(dep, np.int32),
        st_dep=np.array(dep, np.int32), st_board=np.ones(9, bool), st_alight=np.ones(9, bool),
        trip_start=np.array([0, 3, 6, 9], np.int64), footpaths=build_footpaths(lat, lon),
    )  # fmt: skip
    net = build_day(tt, DAY)
    # 4 trips (night also from yesterday, shifted): the express overtakes the slow trip so
    # it cannot share their FIFO route.
    assert sorted(net.route_nt.tolist()) == [1, 3]
    js = search(net, [(0, 28000, False)], {2: 0})
    assert js[0].arrival == 30600
    assert js[0].legs[0].trip == 1
    night = search(net, [(1, 0, False)], {2: 0})  # yesterday's 23:50 trip, now at 00:15
    assert night[0].arrival == 87600 - 86400
    ref = Reference(tt, DAY)
    assert ref.earliest_arrival([(0, 28000, False)], {2: 0}) == 30600
    assert ref.earliest_arrival([(1, 0, False)], {2: 0}) == 1200


def test_unreachable_and_same_stop(small_tt: Timetable, small_net: DayNetwork) -> None:
    isolated = set(range(small_tt.n_stops)) - set(small_tt.st_stop.tolist())
    isolated -= set(small_tt.footpaths[0].tolist())
    lonely = min(isolated)
    assert search(small_net, [(0, 30000, False)], {lonely: 0}) == []
    assert Reference(small_tt, DAY).earliest_arrival([(0, 30000, False)], {lonely: 0}) is None
    same = search(small_net, [(3, 36000, False)], {3: 0})
    assert same[0].arrival == 36000
    assert same[0].legs == ()
    assert int(INF) > 10**9


def test_timetable_cache_round_trip(small_tt: Timetable, small_net: DayNetwork) -> None:
    again = Timetable.from_bytes(small_tt.to_bytes())
    assert again.stop_ids == small_tt.stop_ids
    assert again.trip_ids == small_tt.trip_ids
    assert again.services == small_tt.services
    net = build_day(again, DAY)
    for a, b, t in ((0, 20, 30000), (5, 40, 50000), (12, 3, 70000)):
        x = search(net, [(a, t, False)], {b: 0})
        y = search(small_net, [(a, t, False)], {b: 0})
        assert [(j.arrival, j.transfers) for j in x] == [(j.arrival, j.transfers) for j in y]


def test_frequencies_are_expanded(small_tt: Timetable) -> None:
    shuttle = [t for t in small_tt.trip_ids if t.startswith("dkr:JOJ-ARENA-0-")]
    assert len(shuttle) == (23 - 7) * 3600 // 1800  # headway 600 s × factor 3
