"""A small seeded Dakar network shared by the transport tests (built once per session)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from teranga.transport.gtfs import Feed, read_feed
from teranga.transport.planner import DayNetwork, Timetable, build_day, timetable_from_feeds
from teranga.transport.synth import SynthConfig, generate

DAY = dt.date(2026, 11, 2)  # a Monday during the Games
SMALL = SynthConfig(bus_stops=160, bus_lines=12, headway_factor=3.0, seed=7)


@pytest.fixture(scope="session")
def small_gtfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gtfs") / "dakar-small"
    generate(out, SMALL)
    return out


@pytest.fixture(scope="session")
def small_feed(small_gtfs: Path) -> Feed:
    feed, report = read_feed(small_gtfs, feed_id="dkr")
    assert report.usable, report.summary_lines()
    return feed


@pytest.fixture(scope="session")
def small_tt(small_feed: Feed) -> Timetable:
    return timetable_from_feeds([small_feed])


@pytest.fixture(scope="session")
def small_net(small_tt: Timetable) -> DayNetwork:
    return build_day(small_tt, DAY)
