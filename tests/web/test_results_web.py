"""Results over HTTP: public snapshots, scorer API and form, ODF import, pages (French first)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from teranga.config import Settings
from teranga.container import Container
from teranga.results import service
from teranga.web.app import create_app
from tests.factories import app_container, bearer, make_principal_token, make_tenant

ODF = Path(__file__).resolve().parents[1] / "data" / "odf"


def new_code(sport: str = "ATH") -> str:
    event = ("M" + uuid.uuid4().hex[:8].upper()).ljust(19, "-")
    return f"{sport}{event}FNL-000100--"


@pytest.fixture
def tid(container: Container, db_settings: Settings) -> uuid.UUID:
    return make_tenant(container, db_settings.default_tenant)


@pytest.fixture
def client(container: Container, db_settings: Settings, tid: uuid.UUID) -> Iterator[TestClient]:
    with TestClient(create_app(db_settings, container=container)) as c:
        yield c


@pytest.fixture
def scorer(container: Container, tid: uuid.UUID) -> dict[str, str]:
    return bearer(make_principal_token(container, tid, "scorer"))


def _unit(client: TestClient, h: dict[str, str], code: str, medal: bool = True) -> None:
    r = client.put(
        f"/api/v1/results/units/{code}",
        json={
            "name": "Men's 100m Final",
            "name_fr": "100 m hommes, finale",
            "venue": "Stade Iba Mar Diop",
            "scheduled_at": "2026-11-02T18:30:00Z",
            "medal": medal,
        },
        headers=h,
    )
    assert r.status_code == 200, r.text


LINES = [
    {"participant": "a1", "name": "Moussa DIALLO", "noc": "SEN", "rank": 1, "mark": "10.21"},
    {"participant": "b2", "name": "Kwame MENSAH", "noc": "GHA", "rank": 2, "mark": "10.30"},
]


def test_scorer_api_then_public_snapshot(
    client: TestClient, scorer: dict[str, str], db_settings: Settings
) -> None:
    code = new_code()
    slug = db_settings.default_tenant
    _unit(client, scorer, code)
    r = client.post(
        f"/api/v1/results/units/{code}/lines",
        json={"result_status": "UNOFFICIAL", "lines": LINES, "expected_version": 0},
        headers=scorer,
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1
    snap = client.get(f"/api/v1/results/units/{code}").json()
    assert snap["topic"] == f"public.{slug}.results.unit.{code}"
    assert isinstance(snap["seq"], int)
    assert [ln["participant"] for ln in snap["lines"]] == ["a1", "b2"]
    stale = client.post(
        f"/api/v1/results/units/{code}/official", json={"expected_version": 0}, headers=scorer
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "results.version_conflict"
    ok = client.post(
        f"/api/v1/results/units/{code}/official", json={"expected_version": 1}, headers=scorer
    )
    assert ok.json()["official"] is True
    medals = client.get("/api/v1/results/medals").json()
    assert medals["topic"] == f"public.{slug}.medals"
    assert any(r["noc"] == "SEN" and r["gold"] >= 1 for r in medals["rows"])
    day = client.get("/api/v1/results/schedule", params={"day": "2026-11-02"}).json()
    assert day["topic"] == f"public.{slug}.schedule"
    mine = next(u for u in day["units"] if u["code"] == code)
    assert mine["leader"]["noc"] == "SEN"
    sport = client.get("/api/v1/results/sports/athletics").json()
    assert sport["topic"] == f"public.{slug}.results.sport.athletics"
    assert code in {u["code"] for u in sport["units"]}
    versions = client.get(f"/api/v1/results/units/{code}/versions", headers=scorer).json()
    assert [v["result_status"] for v in versions] == ["UNOFFICIAL", "OFFICIAL"]


def test_bad_input_is_a_clear_4xx(client: TestClient, scorer: dict[str, str]) -> None:
    code = new_code()
    assert client.get(f"/api/v1/results/units/{code}").status_code == 404
    for bad in ("a..b", "x" * 300, "ATHM100M", "%20"):  # no unit, nor a valid topic name
        r = client.get(f"/api/v1/results/units/{bad}")
        assert (r.status_code, r.json()["code"]) == (404, "results.unit_not_found"), bad
    assert client.get("/api/v1/results/sports/curling").json()["code"] == "validation_failed"
    assert client.get("/api/v1/results/schedule?day=demain").status_code == 422
    bad_code = client.put(
        "/api/v1/results/units/NOPE",
        json={"name": "x", "scheduled_at": "2026-11-02T18:30:00Z"},
        headers=scorer,
    )
    assert bad_code.status_code == 422
    _unit(client, scorer, code)
    dup = [LINES[0], LINES[0]]
    r = client.post(
        f"/api/v1/results/units/{code}/lines",
        json={"result_status": "UNOFFICIAL", "lines": dup},
        headers=scorer,
    )
    assert r.status_code == 422
    assert "twice" in r.json()["message"]


def test_writes_need_the_scorer_role(
    client: TestClient, container: Container, tid: uuid.UUID
) -> None:
    code = new_code()
    body = {"name": "x", "scheduled_at": "2026-11-02T18:30:00Z"}
    assert client.put(f"/api/v1/results/units/{code}", json=body).status_code == 401
    gate = bearer(make_principal_token(container, tid, "gate-agent"))
    assert client.put(f"/api/v1/results/units/{code}", json=body, headers=gate).status_code == 403
    assert client.post("/api/v1/results/odf", content=b"<x/>", headers=gate).status_code == 403


def test_other_tenant_scorer_cannot_touch_public_units(
    client: TestClient, container: Container, scorer: dict[str, str]
) -> None:
    code = new_code()
    _unit(client, scorer, code)
    other = make_tenant(container)
    h = bearer(make_principal_token(container, other, "scorer"))
    r = client.post(
        f"/api/v1/results/units/{code}/lines",
        json={"result_status": "UNOFFICIAL", "lines": LINES},
        headers=h,
    )
    assert r.status_code == 404


def test_another_tenant_s_unit_code_is_not_ours(
    client: TestClient, container: Container, scorer: dict[str, str]
) -> None:
    """Tenant B's unit code, from the public site (tenant A) and A's scorer: no such unit,
    and A's PUT (an upsert by code) makes A's own unit, leaving B's untouched."""
    code = new_code()
    other = make_tenant(container)
    scorer_b = bearer(make_principal_token(container, other, "scorer"))
    _unit(client, scorer_b, code)
    lines = {"result_status": "UNOFFICIAL", "lines": LINES}
    r = client.post(f"/api/v1/results/units/{code}/lines", json=lines, headers=scorer_b)
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/results/units/{code}").status_code == 404
    assert client.get(f"/resultats/epreuves/{code}").status_code == 404
    for method, suffix, body in [
        ("GET", "/versions", None),
        ("POST", "/lines", lines),
        ("POST", "/status", {"status": "RUNNING"}),
        ("POST", "/official", {}),
    ]:
        r = client.request(
            method, f"/api/v1/results/units/{code}{suffix}", json=body, headers=scorer
        )
        assert (r.status_code, r.json()["code"]) == (404, "results.unit_not_found"), suffix
    r = client.put(
        f"/api/v1/results/units/{code}",
        json={"name": "Ours", "scheduled_at": "2026-11-03T10:00:00Z"},
        headers=scorer,
    )
    assert (r.status_code, r.json()["name"], r.json()["version"]) == (200, "Ours", 0)
    ours = client.get(f"/api/v1/results/units/{code}").json()
    assert (ours["name"], ours["lines"]) == ("Ours", [])
    theirs = client.get(f"/api/v1/results/units/{code}/versions", headers=scorer_b).json()
    assert [v["result_status"] for v in theirs] == ["UNOFFICIAL"]
    assert [ln["name"] for ln in theirs[0]["lines"]] == ["Moussa DIALLO", "Kwame MENSAH"]
    with container.uow(other) as uow:
        assert service.unit_view(uow, code)["name"] == "Men's 100m Final"


def test_odf_import_api(client: TestClient, scorer: dict[str, str]) -> None:
    def post(name: str) -> dict[str, object]:
        r = client.post(
            "/api/v1/results/odf",
            content=(ODF / name).read_bytes(),
            headers={**scorer, "Content-Type": "application/xml"},
        )
        assert r.status_code in (200, 422), r.text
        return dict(r.json())

    assert post("schedule_v1.xml")["outcome"] in ("applied", "duplicate")
    first = post("athm100m_official_v3.xml")
    assert first["outcome"] in ("applied", "duplicate")
    assert post("athm100m_unofficial_v2.xml")["outcome"] == "stale"
    bad = post("bad_xxe.xml")
    assert bad["code"] == "xml_forbidden"
    assert bad["details"]["outcome"] == "rejected"  # type: ignore[index]
    log = client.get("/api/v1/results/odf/log", headers=scorer).json()
    assert log[0]["outcome"] == "rejected"
    huge = client.post("/api/v1/results/odf", content=b" " * 2_000_001, headers=scorer)
    assert (huge.status_code, huge.json()["code"]) == (413, "payload_too_large")
    empty = client.post("/api/v1/results/odf", content=b"", headers=scorer)
    assert (empty.status_code, empty.json()["code"]) == (422, "malformed_xml")


def _live_state(html: str) -> dict[str, object]:
    m = re.search(r'<script type="application/json" id="live-state">(.*?)</script>', html, re.S)
    assert m
    return dict(json.loads(m.group(1)))


def test_public_pages_french_light_and_live(
    client: TestClient, scorer: dict[str, str], db_settings: Settings
) -> None:
    code = new_code()
    slug = db_settings.default_tenant
    _unit(client, scorer, code)
    client.post(
        f"/api/v1/results/units/{code}/lines",
        json={"result_status": "OFFICIAL", "lines": LINES},
        headers=scorer,
    )
    unit = client.get(f"/resultats/epreuves/{code}")
    assert unit.status_code == 200
    assert "100 m hommes, finale" in unit.text
    assert "Moussa DIALLO" in unit.text
    assert "Officiel" in unit.text
    state = _live_state(unit.text)
    assert (state["kind"], state["topic"]) == ("unit", f"public.{slug}.results.unit.{code}")
    assert len(unit.content) < 100_000
    for path, needle in [
        ("/resultats?day=2026-11-02", "Résultats en direct"),
        ("/resultats", "Résultats en direct"),
        ("/resultats/sports/athletics", "Athlétisme"),
        ("/resultats/medailles", "Tableau des médailles"),
    ]:
        r = client.get(path)
        assert r.status_code == 200, path
        assert needle in r.text, path
        assert len(r.content) < 100_000
    for path, topic in [
        ("/resultats?day=2026-11-02", f"public.{slug}.schedule"),
        ("/resultats/sports/athletics", f"public.{slug}.results.sport.athletics"),
        ("/resultats/medailles", f"public.{slug}.medals"),
    ]:
        assert _live_state(client.get(path).text)["topic"] == topic, path
    en = client.get(f"/resultats/epreuves/{code}?lang=en")
    assert "Men&#39;s 100m Final" in en.text or "Men's 100m Final" in en.text
    js = client.get("/resultats/live.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert "EventSource" in js.text
    assert len(js.content) < 10_000


def test_names_cannot_break_out_of_the_embedded_state(
    client: TestClient, scorer: dict[str, str]
) -> None:
    code = new_code()
    _unit(client, scorer, code)
    evil = [{"participant": "x1", "name": "</script><script>alert(1)</script>", "noc": "SEN"}]
    client.post(
        f"/api/v1/results/units/{code}/lines",
        json={"result_status": "START_LIST", "lines": evil},
        headers=scorer,
    )
    html = client.get(f"/resultats/epreuves/{code}").text
    assert "<script>alert(1)" not in html
    assert _live_state(html)["lines"][0]["name"].startswith("</script>")  # type: ignore[index]


def test_scorer_form_saves_a_version(client: TestClient, scorer: dict[str, str]) -> None:
    code = new_code()
    _unit(client, scorer, code)
    page = client.get(f"/resultats/saisie/{code}", headers=scorer)
    assert page.status_code == 200
    assert "Enregistrer une nouvelle version" in page.text
    form = {
        "rows": "3",
        "expected_version": "0",
        "result_status": "LIVE",
        "action": "lines",
        "participant_0": "a1",
        "name_0": "Moussa DIALLO",
        "noc_0": "sen",
        "rank_0": "1",
        "mark_0": "10.2",
        "participant_1": "b2",
        "noc_1": "GHA",
        "start_1": "2",
    }
    r = client.post(f"/resultats/saisie/{code}", data=form, headers=scorer, follow_redirects=False)
    assert r.status_code == 303, r.text
    snap = client.get(f"/api/v1/results/units/{code}").json()
    assert (snap["version"], snap["status"]) == (1, "RUNNING")
    assert snap["lines"][0]["noc"] == "SEN"
    again = client.post(f"/resultats/saisie/{code}", data=form, headers=scorer)
    assert again.status_code == 409  # the form was for version 0
    assert "version" in again.text
    bad = client.post(
        f"/resultats/saisie/{code}",
        data={**form, "expected_version": "1", "rank_0": "premier"},
        headers=scorer,
    )
    assert bad.status_code == 422
    anon = client.get(f"/resultats/saisie/{code}", follow_redirects=False)
    assert anon.status_code in (302, 303, 401)


def _fast_lines_served(c: TestClient) -> int:
    served: dict[str, int] = app_container(c).extras.get("web.fast_served", {})
    return sum(n for pattern, n in served.items() if "/lines" in pattern)


def test_scorer_updates_take_the_fast_path(
    client: TestClient, container: Container, scorer: dict[str, str]
) -> None:
    from teranga.web.fastpath import EXTRA

    def run(code: str) -> list[tuple[int, object]]:
        _unit(client, scorer, code)  # the token is cached from here on
        out = []
        for body in (
            {"result_status": "UNOFFICIAL", "lines": LINES[:1], "expected_version": 0},
            {"result_status": "UNOFFICIAL", "lines": LINES, "expected_version": 1},
            {"result_status": "UNOFFICIAL", "lines": LINES, "expected_version": 1},  # stale
            {"result_status": "UNOFFICIAL", "lines": [LINES[0], LINES[0]]},  # refused
            {"result_status": "UNOFFICIAL", "lines": LINES, "x": 1},  # malformed
        ):
            r = client.post(f"/api/v1/results/units/{code}/lines", json=body, headers=scorer)
            out.append((r.status_code, _strip(r.json(), code)))
        versions = client.get(f"/api/v1/results/units/{code}/versions", headers=scorer).json()
        out.append((len(versions), [v["version"] for v in versions]))
        return out

    before = _fast_lines_served(client)
    fast = run(new_code())
    # The two accepted updates were answered on the fast path; refusals by the full route.
    assert _fast_lines_served(client) - before == 2
    routes = container.extras.pop(EXTRA)
    try:
        full = run(new_code())
    finally:
        container.extras[EXTRA] = routes
    assert fast == full
    assert [s for s, _ in fast[:5]] == [200, 200, 409, 422, 422]
    # A refusal re-run by the full route wrote nothing twice: two versions, not more.
    assert fast[5] == (2, [1, 2])


def _strip(body: object, code: str) -> object:
    """An answer without what differs between two units (their code, times)."""
    text = json.dumps(body).replace(code, "CODE")
    return re.sub(r'"\d{4}-\d\d-\d\dT[^"]*"', '"T"', text)
