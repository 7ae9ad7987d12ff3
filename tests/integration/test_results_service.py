"""Results services on SQLite and PostgreSQL (RLS): ODF import, scorer versions, medals, outbox."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from teranga.container import Container
from teranga.platform.errors import Conflict, NotFound, ValidationFailed
from teranga.platform.outbox import OutboxMessage
from teranga.platform.uow import UnitOfWork
from teranga.results import service
from teranga.results.domain import Line
from teranga.results.models import OdfImport, Unit
from teranga.tenancy import api as tenancy

ODF = Path(__file__).resolve().parents[1] / "data" / "odf"
A100 = "ATHM100M--------------FNL-000100--"
J66 = "JUDM66KG--------------FNL-000100--"


def _tenant(container: Container, slug: str) -> uuid.UUID:
    with container.uow() as uow:
        return tenancy.create_tenant(
            uow,
            slug=slug,
            name=slug,
            legal_entity="COJOJ",
            representative_sn="Dakar",
            dpo_contact="dpo@example.sn",
        ).id


@pytest.fixture
def tid(container: Container) -> uuid.UUID:
    return _tenant(container, f"res-{uuid.uuid4().hex[:8]}")


def _import(container: Container, tid: uuid.UUID, name: str) -> service.ImportReport:
    with container.uow(tid) as uow:
        return service.import_odf(uow, (ODF / name).read_bytes())


def _slug(container: Container, tid: uuid.UUID) -> str:
    with container.uow() as uow:
        return tenancy.get(uow, tid).slug


def _topics(container: Container, tid: uuid.UUID) -> set[str]:
    with container.uow() as uow:
        return set(
            uow.session.scalars(
                sa.select(OutboxMessage.topic).where(OutboxMessage.tenant_id == tid)
            )
        )


def _outbox(container: Container, tid: uuid.UUID, topic: str) -> list[dict[str, Any]]:
    with container.uow() as uow:
        rows = uow.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.topic == topic, OutboxMessage.tenant_id == tid)
            .order_by(OutboxMessage.id)
        )
        return [r.payload for r in rows]


def _unit(container: Container, tid: uuid.UUID, code: str = A100) -> dict[str, Any]:
    with container.uow(tid) as uow:
        return service.unit_view(uow, code)


def test_odf_import_sequence_schedule_start_list_results(
    container: Container, tid: uuid.UUID
) -> None:
    assert _import(container, tid, "schedule_v1.xml").outcome == "applied"
    assert _import(container, tid, "partic_ath_v1.xml").outcome == "applied"
    assert _import(container, tid, "athm100m_startlist_v1.xml").outcome == "applied"
    u = _unit(container, tid)
    assert u["result_status"] == "START_LIST"
    assert u["lines"][0]["name"] == "Moussa DIALLO"  # named from DT_PARTIC
    assert _import(container, tid, "athm100m_unofficial_v2.xml").outcome == "applied"
    assert _import(container, tid, "athm100m_official_v3.xml").outcome == "applied"
    u = _unit(container, tid)
    assert (u["version"], u["official"], u["status"]) == (3, True, "FINISHED")
    assert [ln["noc"] for ln in u["lines"][:3]] == ["SEN", "NGR", "GHA"]
    with container.uow(tid) as uow:
        assert [v["result_status"] for v in service.versions(uow, A100)] == [
            "START_LIST",
            "UNOFFICIAL",
            "OFFICIAL",
        ]
        medals = [r.as_dict() for r in service.medal_rows(uow)]
    assert [(m["noc"], m["gold"], m["silver"], m["bronze"]) for m in medals] == [
        ("SEN", 1, 0, 0),
        ("NGR", 0, 1, 0),
        ("GHA", 0, 0, 1),
    ]


def test_out_of_order_and_duplicate_versions_do_not_overwrite(
    container: Container, tid: uuid.UUID
) -> None:
    _import(container, tid, "schedule_v1.xml")
    assert _import(container, tid, "athm100m_official_v3.xml").outcome == "applied"
    late = _import(container, tid, "athm100m_unofficial_v2.xml")
    assert (late.outcome, late.code) == ("stale", "stale")
    assert "older" in late.reason
    dup = _import(container, tid, "athm100m_official_v3.xml")
    assert dup.outcome == "duplicate"
    u = _unit(container, tid)
    assert (u["version"], u["result_status"]) == (1, "OFFICIAL")  # one unit version only
    with container.uow(tid) as uow:
        outcomes = uow.session.scalars(
            sa.select(OdfImport.outcome).where(OdfImport.tenant_id == tid)
        ).all()
    assert sorted(outcomes) == ["applied", "applied", "duplicate", "stale"]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("bad_unclosed.xml", "malformed_xml"),
        ("bad_xxe.xml", "xml_forbidden"),
        ("bad_noc.xml", "bad_attribute"),
        ("bad_duplicate_competitor.xml", "validation_failed"),
        ("bad_unknown_unit.xml", "results.unit_not_found"),
    ],
)
def test_malformed_messages_are_logged_and_change_nothing(
    container: Container, tid: uuid.UUID, name: str, code: str
) -> None:
    _import(container, tid, "schedule_v1.xml")
    _import(container, tid, "athm100m_unofficial_v2.xml")
    before = _unit(container, tid)
    report = _import(container, tid, name)
    assert (report.outcome, report.code) == ("rejected", code)
    assert report.reason
    assert _unit(container, tid) == before
    # a rejected message does not hold its version: a valid v9 is still accepted later
    with container.uow(tid) as uow:
        log = service.import_log(uow)
    assert log[0]["outcome"] == "rejected"


def test_medals_message_is_checked_against_official_results(
    container: Container, tid: uuid.UUID
) -> None:
    for name in (
        "schedule_v1.xml",
        "athm100m_official_v3.xml",
        "swmw100mfr_official_v1.xml",
        "judm66kg_official_v1.xml",
    ):
        assert _import(container, tid, name).outcome == "applied"
    report = _import(container, tid, "medals_v1.xml")
    assert report.reason == "standings match official results"
    with container.uow(tid) as uow:
        rows = [(r.rank, r.noc, r.total) for r in service.medal_rows(uow)]
    assert rows[0] == (1, "SEN", 3)
    assert (6, "FRA", 1) in rows
    assert (6, "GEO", 1) in rows  # judo: two bronzes


def _lines(*marks: tuple[str, str, int | None, str]) -> list[Line]:
    return [
        Line(participant=p, name=p.title(), noc=noc, start_order=i, rank=rank, mark=mark)
        for i, (p, noc, rank, mark) in enumerate(marks, start=1)
    ]


def _schedule_one(container: Container, tid: uuid.UUID, code: str = A100) -> None:
    with container.uow(tid) as uow:
        service.upsert_unit(
            uow,
            service.UnitSpec(
                code=code,
                name="Men's 100m Final",
                name_fr="100 m hommes, finale",
                scheduled_at=dt.datetime(2026, 11, 2, 18, 30, tzinfo=dt.UTC),
                medal=True,
            ),
        )


def _record(
    container: Container, tid: uuid.UUID, status: str, *lines: tuple[str, str, int | None, str]
) -> None:
    with container.uow(tid) as uow:
        service.record_lines(uow, code=A100, lines=_lines(*lines), result_status=status)


def test_scorer_versions_corrections_and_official_medals(
    container: Container, tid: uuid.UUID
) -> None:
    _schedule_one(container, tid)
    with container.uow(tid) as uow:
        service.record_lines(
            uow,
            code=A100,
            lines=_lines(("a", "SEN", None, ""), ("b", "GHA", None, "")),
            result_status="START_LIST",
        )
    with container.uow(tid) as uow:
        u = service.record_lines(
            uow,
            code=A100,
            lines=_lines(("a", "SEN", 2, "10.40"), ("b", "GHA", 1, "10.30")),
            result_status="UNOFFICIAL",
            expected_version=1,
        )
        assert u.version == 2
    # a second scorer working from version 1 is told, not silently overwritten
    with container.uow(tid) as uow, pytest.raises(Conflict):
        service.record_lines(
            uow,
            code=A100,
            lines=_lines(("a", "SEN", 1, "10.20")),
            result_status="UNOFFICIAL",
            expected_version=1,
        )
    with container.uow(tid) as uow:
        assert service.medal_rows(uow) == []  # not official yet
        service.mark_official(uow, code=A100, expected_version=2)
    with container.uow(tid) as uow:
        assert [(r.noc, r.gold) for r in service.medal_rows(uow)] == [("GHA", 1), ("SEN", 0)]
    # correction of an official result: a new version, medals follow
    _record(container, tid, "OFFICIAL", ("a", "SEN", 1, "10.29"), ("b", "GHA", 2, "10.30"))
    with container.uow(tid) as uow:
        assert [(r.noc, r.gold) for r in service.medal_rows(uow)] == [("SEN", 1), ("GHA", 0)]
        assert len(service.versions(uow, A100)) == 4
    slug = _slug(container, tid)
    unit_msgs = _outbox(container, tid, service.unit_topic(slug, A100))
    assert [m["version"] for m in unit_msgs] == [0, 1, 2, 3, 4]
    assert [ln["participant"] for ln in unit_msgs[4]["upsert"]] == ["a", "b"]
    assert unit_msgs[3]["upsert"] == []  # marking official changes no line
    medals = _outbox(container, tid, service.medals_topic(slug))
    assert [[r["noc"] for r in m["upsert"]] for m in medals] == [["GHA", "SEN"], ["SEN", "GHA"]]
    sched = _outbox(container, tid, service.schedule_topic(slug))
    assert sched[-1]["leader"]["noc"] == "SEN"
    assert _outbox(container, tid, service.sport_topic(slug, "athletics"))[-1]["type"] == "summary"
    # An official result taken back to unofficial: its medals go, and the table says so.
    _record(container, tid, "UNOFFICIAL", ("a", "SEN", 1, "10.29"), ("b", "GHA", 1, "10.29"))
    with container.uow(tid) as uow:
        assert service.medal_rows(uow) == []
        # The summary's leader (read from the lines just written) is the one the
        # database gives: of two first places, the first participant.
        u = service.unit_view(uow, A100)
        assert u["version"] == 5
    medals = _outbox(container, tid, service.medals_topic(slug))
    assert len(medals) == 3
    assert medals[2]["upsert"] == []
    assert sorted(medals[2]["remove"]) == ["GHA", "SEN"]
    assert _outbox(container, tid, service.schedule_topic(slug))[-1]["leader"]["noc"] == "SEN"
    # Live updates of an unofficial medal unit cannot move medals: none is published.
    _record(container, tid, "UNOFFICIAL", ("a", "SEN", 2, "10.31"), ("b", "GHA", 1, "10.29"))
    assert len(_outbox(container, tid, service.medals_topic(slug))) == 3
    assert _outbox(container, tid, service.schedule_topic(slug))[-1]["leader"]["noc"] == "GHA"


def test_scorer_input_is_validated(container: Container, tid: uuid.UUID) -> None:
    _schedule_one(container, tid)
    with container.uow(tid) as uow:
        with pytest.raises(ValidationFailed):
            service.record_lines(
                uow, code=A100, lines=_lines(("a", "SEN", 1, "x")), result_status="START_LIST"
            )
        with pytest.raises(ValidationFailed):
            service.record_lines(
                uow, code=A100, lines=_lines(("a", "SEN", 1, "x")), result_status="FINAL"
            )
        with pytest.raises(NotFound):
            service.record_lines(uow, code=J66, lines=[], result_status="LIVE")
        with pytest.raises(Conflict):
            service.mark_official(uow, code=A100)


def test_other_tenant_units_are_invisible(container: Container, tid: uuid.UUID) -> None:
    _schedule_one(container, tid)
    other = _tenant(container, f"oth-{uuid.uuid4().hex[:8]}")
    with container.uow(other) as uow:
        with pytest.raises(NotFound):
            service.unit_view(uow, A100)
        assert service.schedule_view(uow, dt.date(2026, 11, 2)) == []
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(Unit)) in (0, 1)
    with container.uow(tid) as uow:
        assert len(service.schedule_view(uow, dt.date(2026, 11, 2))) == 1
        assert service.schedule_view(uow, dt.date(2026, 11, 3)) == []


def test_same_unit_code_in_two_tenants_publishes_on_separate_topics(
    container: Container, tid: uuid.UUID
) -> None:
    """Unit codes and NOCs are shared by every tenant: the topics are not."""
    other = _tenant(container, f"oth-{uuid.uuid4().hex[:8]}")
    for t, marks in ((tid, ("a", "SEN", 1, "10.20")), (other, ("z", "FRA", 1, "9.99"))):
        _schedule_one(container, t)
        with container.uow(t) as uow:
            service.record_lines(uow, code=A100, lines=_lines(marks), result_status="OFFICIAL")
    mine, theirs = _slug(container, tid), _slug(container, other)
    assert _topics(container, tid) == {
        f"public.{mine}.results.unit.{A100}",
        f"public.{mine}.results.sport.athletics",
        f"public.{mine}.schedule",
        f"public.{mine}.medals",
    }
    assert all(t.startswith(f"public.{theirs}.") for t in _topics(container, other))
    [*_, last] = _outbox(container, tid, service.unit_topic(mine, A100))
    assert [ln["noc"] for ln in last["upsert"]] == ["SEN"]
    [medals] = _outbox(container, tid, service.medals_topic(mine))
    assert [r["noc"] for r in medals["upsert"]] == ["SEN"]
    with container.uow(tid) as uow:
        assert [r.noc for r in service.medal_rows(uow)] == ["SEN"]


def test_snapshot_query_counts_are_pinned(container: Container, tid: uuid.UUID) -> None:
    """Hot public reads stay at a fixed number of queries, however many lines or units."""
    for name in ("schedule_v1.xml", "athm100m_official_v3.xml", "judm66kg_official_v1.xml"):
        _import(container, tid, name)
    statements: list[str] = []

    def count(_conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        if not statement.startswith(("BEGIN", "SELECT set_config")):
            statements.append(statement)

    sa.event.listen(container.engine, "before_cursor_execute", count)
    try:
        views: list[tuple[Callable[[UnitOfWork], object], int]] = [
            (lambda uow: service.unit_view(uow, A100), 2),
            (lambda uow: service.schedule_view(uow, dt.date(2026, 11, 2)), 2),
            (lambda uow: service.sport_view(uow, "athletics"), 2),
            (service.medal_rows, 1),
        ]
        for view, expected in views:
            statements.clear()
            with container.uow(tid) as uow:
                view(uow)
            assert len(statements) == expected, statements
    finally:
        sa.event.remove(container.engine, "before_cursor_execute", count)


@pytest.mark.parametrize(
    "order",
    list(
        itertools.permutations(
            ["athm100m_startlist_v1.xml", "athm100m_unofficial_v2.xml", "athm100m_official_v3.xml"]
        )
    ),
)
def test_any_arrival_order_ends_at_the_highest_version(
    container: Container, tid: uuid.UUID, order: tuple[str, ...]
) -> None:
    """Out-of-order and repeated deliveries converge: re-import is idempotent."""
    _import(container, tid, "schedule_v1.xml")
    for name in (*order, *order):
        assert _import(container, tid, name).outcome in ("applied", "stale", "duplicate")
    u = _unit(container, tid)
    assert (u["result_status"], u["official"]) == ("OFFICIAL", True)
    assert [ln["noc"] for ln in u["lines"][:3]] == ["SEN", "NGR", "GHA"]
    with container.uow(tid) as uow:
        assert [(r.noc, r.gold + r.silver + r.bronze) for r in service.medal_rows(uow)] == [
            ("SEN", 1),
            ("NGR", 1),
            ("GHA", 1),
        ]
