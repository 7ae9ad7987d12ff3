"""Programme rules without a database: days, demo timetable, map projection, reference data."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from teranga.programme import domain
from teranga.programme.domain import InvalidDays, SportPlan, parse_days, plan_sessions
from teranga.programme.reference import load_reference


def test_games_days_run_from_31_october_to_13_november() -> None:
    days = domain.games_days()
    assert days[0] == dt.date(2026, 10, 31)
    assert days[-1] == dt.date(2026, 11, 13)
    assert len(days) == 14
    assert domain.day_date(1) == dt.date(2026, 10, 31)
    assert domain.day_number(dt.date(2026, 11, 1)) == 2


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("D2-D8", [2, 3, 4, 5, 6, 7, 8]), ("D3, D5", [3, 5]), ("D1", [1]), ("D4,D2-D3", [2, 3, 4])],
)
def test_parse_days(spec: str, expected: list[int]) -> None:
    assert parse_days(spec) == expected


@pytest.mark.parametrize("spec", ["D0", "D15", "D8-D2", "2-8", "D2-", "", "D1;D2"])
def test_parse_days_rejects_bad_input(spec: str) -> None:
    with pytest.raises(InvalidDays):
        parse_days(spec)


plans = st.builds(
    SportPlan,
    code=st.sampled_from(["athletics", "cycling", "sailing", "football", "judo"]),
    discipline_fr=st.just("Discipline"),
    discipline_en=st.just("Discipline"),
    venues=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=2).map(tuple),
    venue_confidence=st.sampled_from(domain.CONFIDENCE_LEVELS),
    days=st.sets(st.integers(1, 14), min_size=1, max_size=14).map(lambda s: tuple(sorted(s))),
)


@given(st.lists(plans, min_size=1, max_size=6, unique_by=lambda p: p.code))
def test_planned_sessions_are_inside_the_games_and_well_formed(
    sports: list[SportPlan],
) -> None:
    sessions = plan_sessions(sports)
    codes = [s.code for s in sessions]
    assert len(codes) == len(set(codes)), "session codes must be unique (idempotent loading)"
    for s in sessions:
        assert domain.GAMES_START <= s.day <= domain.GAMES_END
        assert s.starts_at.date() == s.day
        assert s.starts_at < s.ends_at
        assert s.starts_at.tzinfo is dt.UTC
        assert s.starts_at.hour >= 7
        assert s.ends_at.hour <= 23
    by_sport: dict[str, list[domain.PlannedSession]] = {}
    for s in sessions:
        by_sport.setdefault(str(s.sport_code), []).append(s)
    for plan in sports:
        mine = by_sport[plan.code]
        assert {s.day for s in mine} == {domain.day_date(n) for n in plan.days}
        assert all(s.illustrative == (plan.venue_confidence == "none") for s in mine)
        assert all(s.venue_code in plan.venues for s in mine)
        # Exactly one medal session, on the sport's last day.
        medals = [s for s in mine if s.medal]
        assert len(medals) == 1
        assert medals[0].day == domain.day_date(plan.days[-1])


def test_plan_is_deterministic() -> None:
    sport = SportPlan("judo", "Judo", "Judo", ("x",), "low", (1, 2, 3))
    assert plan_sessions([sport]) == plan_sessions([sport])


def test_reference_data_has_the_25_sports_and_flags_unsourced_venues() -> None:
    ref = load_reference()
    assert len(ref.sports) == 25
    assert len({s.code for s in ref.sports}) == 25
    venue_codes = {v.code for v in ref.venues}
    assert {"dakar-arena", "iba-mar-diop", "tour-de-loeuf", "saly-lamantin-beach"} <= venue_codes
    assert all(s.venue_code in venue_codes for s in ref.sessions)
    archery = [s for s in ref.sessions if s.sport_code == "archery"]
    assert archery
    assert all(s.illustrative for s in archery)
    swimming = [s for s in ref.sessions if s.sport_code == "aquatics"]
    assert not any(s.illustrative for s in swimming)
    ceremonies = [s for s in ref.sessions if s.kind == "ceremony"]
    assert [c.day for c in ceremonies] == [domain.GAMES_START, domain.GAMES_END]
    assert all(c.illustrative for c in ceremonies)
    assert all(-17.6 < v.lon < -16.9 and 14.3 < v.lat < 14.8 for v in ref.venues)


def test_projection_keeps_the_three_host_cities_apart_and_inside_the_map() -> None:
    ref = load_reference()
    points = {v.code: domain.project(v.lat, v.lon) for v in ref.venues}
    for x, y in points.values():
        assert 0 <= x <= domain.MAP_WIDTH
        assert 0 <= y <= domain.MAP_HEIGHT
    dakar, arena, saly = (
        points["iba-mar-diop"],
        points["dakar-arena"],
        points["saly-lamantin-beach"],
    )
    assert dakar[0] < arena[0] < saly[0]  # west to east
    assert saly[1] > arena[1]  # Saly is south of Diamniadio
    venues = [domain.VenueInfo(id=uuid.uuid4(), **dataclasses.asdict(v)) for v in ref.venues]
    assert {city for city, _, _ in domain.city_labels(venues)} == {"Dakar", "Diamniadio", "Saly"}
