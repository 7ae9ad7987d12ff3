"""Pure results rules: RSC codes, line validation, versions, medal table, deltas, ODF parsing."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from teranga.results import odf
from teranga.results.domain import (
    DomainError,
    Line,
    MedalAward,
    VersionDecision,
    apply_lines_delta,
    awards_for_unit,
    decide_version,
    diff_lines,
    diff_medals,
    medal_table,
    parse_rsc,
    validate_lines,
)

ODF = Path(__file__).resolve().parents[1] / "data" / "odf"
A100 = "ATHM100M--------------FNL-000100--"


def test_parse_rsc_splits_the_34_characters() -> None:
    r = parse_rsc(A100)
    assert (r.discipline, r.gender, r.event, r.phase, r.unit) == (
        "ATH",
        "M",
        "100M--------------",
        "FNL-",
        "000100--",
    )
    assert r.sport == "athletics"


@pytest.mark.parametrize("code", ["ATHM100M", A100 + "-", "athm100m--------------fnl-000100--"])
def test_parse_rsc_refuses_malformed_codes(code: str) -> None:
    with pytest.raises(DomainError):
        parse_rsc(code)


def test_parse_rsc_refuses_unknown_discipline() -> None:
    with pytest.raises(DomainError, match="unknown discipline"):
        parse_rsc("XXX" + A100[3:])


def test_validate_lines_rules() -> None:
    good = [Line("B", "b", "SEN", 2, 2, "10.3"), Line("A", "a", "GHA", 1, 1, "10.2")]
    assert [ln.participant for ln in validate_lines(good, ranked=True)] == ["A", "B"]
    with pytest.raises(DomainError, match="twice"):
        validate_lines([good[0], good[0]], ranked=True)
    with pytest.raises(DomainError, match="noc"):
        validate_lines([Line("A", "a", "Senegal")], ranked=True)
    with pytest.raises(DomainError, match="start list"):
        validate_lines([Line("A", "a", "SEN", 1, 1)], ranked=False)
    with pytest.raises(DomainError, match="IRM"):
        validate_lines([Line("A", "a", "SEN", rank=1, irm="DNF")], ranked=True)
    with pytest.raises(DomainError, match="irm"):
        validate_lines([Line("A", "a", "SEN", irm="LOST")], ranked=True)


def test_ranked_lines_sort_before_unranked_and_irm_last() -> None:
    lines = [
        Line("C", "c", "SEN", 3, irm="DNF"),
        Line("B", "b", "SEN", 2),
        Line("A", "a", "SEN", 1, rank=1),
    ]
    assert [ln.participant for ln in validate_lines(lines, ranked=True)] == ["A", "B", "C"]


def test_versions_only_move_forward() -> None:
    assert decide_version(None, 1) is VersionDecision.APPLY
    assert decide_version(1, 2) is VersionDecision.APPLY
    assert decide_version(2, 2) is VersionDecision.DUPLICATE
    assert decide_version(3, 2) is VersionDecision.STALE


@given(st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=30))
def test_any_arrival_order_keeps_the_highest_version(arrivals: list[int]) -> None:
    held: int | None = None
    for v in arrivals:
        if decide_version(held, v) is VersionDecision.APPLY:
            held = v
    assert held == max(arrivals)


def _aw(noc: str, medal: str) -> MedalAward:
    return MedalAward("U", noc, medal)


def test_medal_table_gold_then_silver_then_bronze() -> None:
    awards = [
        _aw("KEN", "silver"),
        _aw("KEN", "silver"),
        _aw("KEN", "silver"),
        _aw("SEN", "gold"),
        _aw("GHA", "bronze"),
        _aw("GHA", "bronze"),
        _aw("NGR", "silver"),
        _aw("NGR", "bronze"),
    ]
    rows = medal_table(awards)
    # one gold beats three silvers; equal silvers go to bronzes
    assert [r.noc for r in rows] == ["SEN", "KEN", "NGR", "GHA"]
    assert [r.rank for r in rows] == [1, 2, 3, 4]
    assert rows[1].total == 3


def test_medal_table_equal_nocs_share_a_rank_and_skip_the_next() -> None:
    rows = medal_table([_aw("SEN", "gold"), _aw("JPN", "gold"), _aw("BRA", "silver")])
    assert [(r.rank, r.noc) for r in rows] == [(1, "JPN"), (1, "SEN"), (3, "BRA")]


def test_awards_for_unit_gives_two_bronzes_to_tied_thirds() -> None:
    lines = [
        Line("1", "", "JPN", rank=1),
        Line("2", "", "SEN", rank=2),
        Line("3", "", "FRA", rank=3),
        Line("4", "", "GEO", rank=3),
        Line("5", "", "KOR", rank=5),
        Line("6", "", "USA", irm="DSQ"),
    ]
    medals = sorted((a.noc, a.medal) for a in awards_for_unit("U", lines))
    assert medals == [("FRA", "bronze"), ("GEO", "bronze"), ("JPN", "gold"), ("SEN", "silver")]


def test_diff_and_apply_lines_delta_is_idempotent() -> None:
    old = [Line("A", "a", "SEN", 1), Line("B", "b", "GHA", 2), Line("C", "c", "NGR", 3)]
    new = [Line("A", "a", "SEN", 1, 2, "10.3"), Line("B", "b", "GHA", 2, 1, "10.2"), old[2]]
    new = new[:2]
    delta = diff_lines(old, new)
    assert [ln.participant for ln in delta.upsert] == ["B", "A"]
    assert delta.remove == ["C"]
    once = apply_lines_delta(old, delta)
    assert once == validate_lines(new, ranked=True)
    assert apply_lines_delta(once, delta) == once
    assert diff_lines(new, new).empty


def test_diff_medals_reports_changed_rows_and_leavers() -> None:
    before = medal_table([_aw("SEN", "gold"), _aw("GHA", "silver")])
    after = medal_table([_aw("SEN", "gold"), _aw("NGR", "gold"), _aw("NGR", "gold")])
    changed, gone = diff_medals(before, after)
    assert {r.noc for r in changed} == {"NGR", "SEN"}  # SEN's counts held, its rank moved
    assert gone == ["GHA"]


# --- ODF -----------------------------------------------------------------------------


def _read(name: str) -> bytes:
    return (ODF / name).read_bytes()


def test_parse_schedule() -> None:
    msg = odf.parse_message(_read("schedule_v1.xml"))
    assert msg.header.document_type == "DT_SCHEDULE"
    assert msg.header.version == 1
    codes = {u.code: u for u in msg.schedule}
    u = codes[A100]
    assert u.sport == "athletics"
    assert u.name_fr == "100 m hommes, finale"
    assert u.medal
    assert u.start.isoformat() == "2026-11-02T18:30:00+00:00"


def test_parse_start_list_and_results() -> None:
    sl = odf.parse_message(_read("athm100m_startlist_v1.xml"))
    assert sl.header.result_status == "START_LIST"
    assert len(sl.lines) == 8
    assert all(ln.rank is None for ln in sl.lines)
    res = odf.parse_message(_read("athm100m_official_v3.xml"))
    assert res.header.version == 3
    assert res.header.result_status == "OFFICIAL"
    first = next(ln for ln in res.lines if ln.rank == 1)
    assert (first.participant, first.noc, first.mark) == ("1001", "SEN", "10.21")
    assert any(ln.irm == "DNF" and ln.rank is None for ln in res.lines)


def test_parse_competitor_names_from_composition() -> None:
    res = odf.parse_message(_read("swmw100mfr_official_v1.xml"))
    assert {ln.name for ln in res.lines} >= {"Awa Ndiaye", "Lerato Dlamini"}


def test_parse_participants_and_medals() -> None:
    p = odf.parse_message(_read("partic_ath_v1.xml"))
    assert p.participants[0].name == "Moussa DIALLO"
    m = odf.parse_message(_read("medals_v1.xml"))
    assert (m.medals[0].noc, m.medals[0].gold, m.medals[0].silver) == ("SEN", 1, 1)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("bad_unclosed.xml", "malformed_xml"),
        ("bad_xxe.xml", "xml_forbidden"),
        ("bad_noc.xml", "bad_attribute"),
        ("bad_version.xml", "bad_attribute"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(name: str, code: str) -> None:
    with pytest.raises(odf.OdfError) as info:
        odf.parse_message(_read(name))
    assert info.value.code == code
    assert info.value.reason


def test_billion_laughs_is_refused_before_expansion() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<OdfBody>&lol2;</OdfBody>"
    )
    with pytest.raises(odf.OdfError, match="DOCTYPE"):
        odf.parse_message(bomb)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<Other/>",
        b'<OdfBody CompetitionCode="Y" DocumentCode="X" DocumentType="DT_WEATHER" Version="1"/>',
        b'<OdfBody CompetitionCode="Y" DocumentCode="X" DocumentType="DT_RESULT" Version="1"/>',
        b'<OdfBody CompetitionCode="Y" DocumentCode="X" DocumentType="DT_MEDALS" Version="0"/>',
        b'<OdfBody CompetitionCode="Y" DocumentCode="X" DocumentType="DT_MEDALS" Version="1"/>',
        '<?xml version="1.0" encoding="UTF-16"?><OdfBody/>'.encode("utf-16"),
        b"\xff\xfe<OdfBody/>",
    ],
)
def test_header_and_body_validation(data: bytes) -> None:
    with pytest.raises(odf.OdfError):
        odf.parse_message(data)


@given(st.binary(max_size=300))
def test_parser_never_raises_anything_but_odf_error(data: bytes) -> None:
    with contextlib.suppress(odf.OdfError):
        odf.parse_message(data)
