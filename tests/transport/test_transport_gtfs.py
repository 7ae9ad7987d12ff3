"""GTFS reader on real-feed defects, validation report, overrides and export."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from teranga.transport.gtfs import FeedOverrides, export_zip, read_feed
from teranga.transport.gtfs.notices import TERANGA_CODES
from teranga.transport.synth import SynthConfig, generate

STOPS = "stop_id,stop_name,stop_lat,stop_lon\nA,Alpha,14.70,-17.40\nB,Beta,14.71,-17.41\n"
STOPS += "C,,14.72,-17.42\nD,Delta,,\n"
ROUTES = "route_id,route_short_name,route_long_name,route_type\nR1,1,,3\nR2,,,\nR3,,,3\n"
TRIPS = "route_id,service_id,trip_id\nR1,S,T1\nR1,S,T2\nR1,S,T3\nR1,S,T4\nR1,S,T5\nR9,S,T6\n"
CAL = "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
CAL += "S,1,1,1,1,1,1,1,20261001,20261231\n"


def _files(stop_times: str, **extra: str) -> dict[str, bytes]:
    files = {
        "agency.txt": "agency_name,agency_url,agency_timezone\nX,https://x.sn,Africa/Dakar\n",
        "stops.txt": STOPS,
        "routes.txt": ROUTES,
        "trips.txt": TRIPS,
        "calendar.txt": CAL,
        "stop_times.txt": stop_times,
        **extra,
    }
    return {k: v.encode() for k, v in files.items()}


def test_defects_are_reported_with_canonical_codes_and_blocked() -> None:
    # Header separated by ',', rows by ';'; BOM; times past 24:00; T2 goes backwards;
    # T3 has an empty intermediate time (interpolated); T4 lacks its last time; T5 has
    # pickup/drop-off "no" everywhere.
    st = (
        "\ufefftrip_id,arrival_time,departure_time,stop_id,stop_sequence,pickup_type,drop_off_type\n"
        "T1;23:50:00;23:50:00;A;1;0;0\nT1;24:10:00;24:10:00;B;2;0;0\n"
        "T2;08:00:00;08:00:00;A;1;;\nT2;07:50:00;07:50:00;B;2;;\n"
        "T3;09:00:00;09:00:00;A;1;;\nT3;;;B;2;;\nT3;09:20:00;09:20:00;C;3;;\n"
        "T4;10:00:00;10:00:00;A;1;;\nT4;;;B;2;;\n"
        "T5;11:00:00;11:00:00;A;1;1;1\nT5;11:10:00;11:10:00;B;2;1;1\n"
        "T1;23:59:00;23:59:00;ZZ;9;0;0\n"
    )
    feed, report = read_feed(_files(st), feed_id="f")
    assert report.usable
    codes = report.codes()
    for code in (
        "inconsistent_delimiter",
        "stop_time_with_arrival_before_previous_departure_time",
        "missing_trip_edge",
        "all_pickup_drop_off_forbidden",
        "foreign_key_violation",
        "missing_required_field",
        "route_both_short_and_long_name_missing",
    ):
        assert code in codes, (code, report.summary_lines())
    back = next(n for n in report.notices if n.code.startswith("stop_time_with_arrival_before"))
    assert (back.file, back.line, back.field, back.severity) == (
        "stop_times.txt",
        5,
        "arrival_time",
        "error",
    )
    lat = next(n for n in report.notices if n.field == "stop_lat")
    assert (lat.file, lat.line, lat.severity) == ("stops.txt", 5, "error")
    kept = {feed.trips[t].id for t in np.unique(feed.stop_times.trip)}
    assert kept == {"T1", "T3", "T5"}
    assert [s.id for s in feed.stops] == ["A", "B", "C"]
    assert feed.stops[2].name == "C"  # repaired: id used as name
    assert [r.id for r in feed.routes] == ["R1", "R3"]  # R2 has no route_type
    t1 = feed.stop_times.trip == feed.trip_index()["T1"]
    assert feed.stop_times.arrival[t1].tolist() == [85800, 87000]  # past 24:00 kept
    t3 = feed.stop_times.trip == feed.trip_index()["T3"]
    assert feed.stop_times.arrival[t3].tolist() == [32400, 33000, 33600]  # interpolated
    assert "all_pickup_drop_off_forbidden" in TERANGA_CODES
    assert any("T5" in line for line in report.summary_lines())


def test_override_ignores_pickup_drop_off_flags() -> None:
    st = (
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence,pickup_type,drop_off_type\n"
        "T1,08:00:00,08:00:00,A,1,1,1\nT1,08:10:00,08:10:00,B,2,1,1\n"
    )
    _, plain = read_feed(_files(st), feed_id="f")
    assert plain.count(code="all_pickup_drop_off_forbidden") == 1
    feed, fixed = read_feed(
        _files(st), feed_id="f", overrides=FeedOverrides(ignore_pickup_drop_off=True)
    )
    assert fixed.count(code="all_pickup_drop_off_forbidden") == 0
    assert "pickup_drop_off_flags_ignored" in fixed.codes()
    assert not feed.stop_times.pickup.any()
    assert not feed.stop_times.drop_off.any()


def test_semicolon_quoted_latin1_and_blank_lines() -> None:
    stops = (
        'stop_id;stop_name;stop_lat;stop_lon\n"A";"Gare; centre";14,70;-17,40\n\n'
        '"B";Médina;14.71;-17.41\n'
    )
    st = (
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "T1,8:00:00,8:00:00,A,1\nT1, 08:05:00 ,08:06:00,B,2\n"
    )
    files = _files(st)
    files["stops.txt"] = stops.encode("latin-1")
    feed, report = read_feed(files, feed_id="f")
    assert report.usable
    assert feed.stops[0].name == "Gare; centre"
    assert feed.stops[0].lat == 14.70
    assert feed.stops[1].name == "Médina"
    assert {"non_utf8_encoding", "leading_or_trailing_whitespaces"} <= report.codes()
    assert feed.stop_times.departure.tolist() == [28800, 29160]


def test_missing_required_file_makes_feed_unusable(tmp_path: Path) -> None:
    files = _files("trip_id,arrival_time,departure_time,stop_id,stop_sequence\n")
    del files["trips.txt"]
    _, report = read_feed(files, feed_id="f")
    assert not report.usable
    assert "missing_required_file" in report.codes()
    _, report = read_feed(tmp_path / "nope.zip", feed_id="f")
    assert not report.usable


def test_synthetic_defects_and_zip_subfolder(tmp_path: Path) -> None:
    stats = generate(
        tmp_path / "bad", SynthConfig(bus_stops=80, bus_lines=4, headway_factor=4, defects=True)
    )
    zpath = tmp_path / "bad.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in (tmp_path / "bad").iterdir():
            zf.write(p, f"export/{p.name}")
    _feed, report = read_feed(zpath, feed_id="bad")
    assert report.usable
    for planted in stats.planted:
        assert planted.split()[0] in report.codes(), planted
    assert "invalid_input_files_in_subfolder" in report.codes()
    assert report.stats["stops"] == stats.stops - 1


def test_export_is_valid_gtfs_and_round_trips(tmp_path: Path, small_gtfs: Path) -> None:
    a, _ = read_feed(small_gtfs, feed_id="dkr")
    b, _ = read_feed(_files(
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "T1,08:00:00,08:00:00,A,1\nT1,08:10:00,08:10:00,B,2\n"
    ), feed_id="mini")  # fmt: skip
    out = export_zip([a, b], tmp_path / "merged.zip")
    merged, report = read_feed(out, feed_id="all")
    assert report.usable
    assert report.count("error") == 0, report.summary_lines()
    assert report.count("warning") == 0, report.summary_lines()
    assert len(merged.stops) == len(a.stops) + len(b.stops)
    assert len(merged.stop_times) == len(a.stop_times) + len(b.stop_times)
    assert {s.id for s in merged.stops} >= {"mini:A", "dkr:TER01"}
    assert len(merged.frequencies) == len(a.frequencies) > 0
    assert merged.fare_attributes
    assert merged.shapes


def test_content_hash_identifies_the_feed(small_gtfs: Path) -> None:
    a, _ = read_feed(small_gtfs, feed_id="x")
    b, _ = read_feed(small_gtfs, feed_id="y")
    assert a.content_hash == b.content_hash
    files = {p.name: p.read_bytes() for p in small_gtfs.iterdir()}
    files["stops.txt"] += b"EXTRA,Extra,14.7,-17.4\n"
    c, _ = read_feed(files, feed_id="x")
    assert c.content_hash != a.content_hash
