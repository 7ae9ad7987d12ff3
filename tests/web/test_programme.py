"""Public programme: JSON API, pages, htmx fragments, idempotent loading, tenant isolation."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from teranga.config import Settings
from teranga.container import Container, build_container
from teranga.programme import service
from teranga.programme.reference import load_reference
from teranga.web.app import create_app
from tests.factories import make_tenant

REF = load_reference()


def publish(container: Container, tenant_id: uuid.UUID) -> dict[str, int]:
    with container.uow(tenant_id) as uow:
        return service.publish_programme(
            uow, venues=REF.venues, sports=REF.sports, sessions=REF.sessions
        )


@pytest.fixture
def public_tenant(container: Container, db_settings: Settings) -> uuid.UUID:
    tid = make_tenant(container, db_settings.default_tenant)
    publish(container, tid)
    return tid


@pytest.fixture
def client(
    container: Container, db_settings: Settings, public_tenant: uuid.UUID
) -> Iterator[TestClient]:
    with TestClient(create_app(db_settings, container=container)) as c:
        yield c


def test_api_lists_venues_sports_and_sessions(client: TestClient) -> None:
    venues = client.get("/api/v1/programme/venues").json()
    assert {v["code"] for v in venues} == {v.code for v in REF.venues}
    arena = next(v for v in venues if v["code"] == "dakar-arena")
    assert arena["capacity"] == 15000
    assert arena["coords_confidence"] == "high"
    sports = client.get("/api/v1/programme/sports").json()
    assert len(sports) == 25
    everything = client.get("/api/v1/programme/sessions").json()
    assert len(everything) == len(REF.sessions)
    day1 = client.get("/api/v1/programme/sessions", params={"day": "2026-10-31"}).json()
    assert day1
    assert {s["day"] for s in day1} == {"2026-10-31"}
    assert [s["starts_at"] for s in day1] == sorted(s["starts_at"] for s in day1)
    assert any(s["kind"] == "ceremony" and s["illustrative"] for s in day1)


def test_api_filters_by_sport_and_venue(client: TestClient) -> None:
    swim = client.get(
        "/api/v1/programme/sessions", params={"sport": "aquatics", "venue": "tour-de-loeuf"}
    ).json()
    assert swim
    assert {(s["sport_code"], s["venue_code"]) for s in swim} == {("aquatics", "tour-de-loeuf")}
    none = client.get(
        "/api/v1/programme/sessions", params={"sport": "aquatics", "venue": "dakar-arena"}
    ).json()
    assert none == []


@pytest.mark.parametrize(
    ("params", "field"),
    [({"sport": "curling"}, "sport"), ({"venue": "nowhere"}, "venue"), ({"day": "31/10"}, "day")],
)
def test_api_rejects_bad_filters_with_json_422(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    r = client.get("/api/v1/programme/sessions", params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "validation_failed"
    assert field in body["message"]


def test_api_get_session_and_404(client: TestClient) -> None:
    first = client.get("/api/v1/programme/sessions", params={"sport": "judo"}).json()[0]
    one = client.get(f"/api/v1/programme/sessions/{first['id']}")
    assert one.status_code == 200
    assert one.json()["code"] == first["code"]
    missing = client.get(f"/api/v1/programme/sessions/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json()["code"] == "programme.session_not_found"


def test_other_tenants_sessions_are_invisible(client: TestClient, container: Container) -> None:
    other = make_tenant(container)
    publish(container, other)
    with container.uow(other) as uow:
        theirs = service.list_sessions(uow, sport="judo")[0]
    r = client.get(f"/api/v1/programme/sessions/{theirs.id}")
    assert r.status_code == 404
    ids = {s["id"] for s in client.get("/api/v1/programme/sessions").json()}
    assert str(theirs.id) not in ids


def test_publishing_twice_creates_nothing_new(
    container: Container, public_tenant: uuid.UUID
) -> None:
    assert publish(container, public_tenant) == {"venues": 0, "sports": 0, "sessions": 0}
    with container.uow(public_tenant) as uow:
        assert len(service.list_sessions(uow)) == len(REF.sessions)


def test_home_page_shows_the_programme_in_french(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    html = r.text
    assert '<html lang="fr">' in html
    assert "Programme des Jeux Olympiques de la Jeunesse Dakar 2026" in html
    assert html.count('hx-target="#programme"') >= 15  # 14 day tabs and the filter form
    assert 'aria-current="date"' in html
    assert "Cérémonie d&#39;ouverture" in html
    assert "illustratif" in html
    assert '<svg class="map"' in html
    assert html.count("<circle") == len(REF.venues)
    for city in ("Dakar", "Diamniadio", "Saly"):
        assert city in html


def test_home_filters_by_day_sport_and_venue(client: TestClient) -> None:
    html = client.get("/", params={"day": "2026-11-03", "sport": "athletics"}).text
    sessions = re.findall(r'<li class="session" id="s-([a-z_0-9-]+)"', html)
    assert sessions == ["athletics-d04-1", "athletics-d04-2"]
    html = client.get("/", params={"day": "2026-11-03", "venue": "saly-lamantin-beach"}).text
    sessions = re.findall(r'<li class="session" id="s-([a-z_0-9-]+)"', html)
    assert sessions
    assert all(not s.startswith("athletics") for s in sessions)
    # Stale or hand-typed values fall back to the whole day rather than an error page.
    r = client.get("/", params={"day": "not-a-day", "sport": "curling"})
    assert r.status_code == 200
    assert 'aria-current="date"' in r.text


def test_htmx_gets_only_the_programme_fragment(client: TestClient) -> None:
    headers = {"HX-Request": "true", "HX-Target": "programme"}
    r = client.get("/", params={"day": "2026-11-05"}, headers=headers)
    assert r.status_code == 200
    assert r.text.startswith('<section id="programme"')
    assert "<html" not in r.text
    assert "HX-Request" in r.headers["vary"]
    restore = client.get("/", headers={**headers, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text


def test_venue_and_sport_pages(client: TestClient) -> None:
    venue = client.get("/sites/dakar-arena")
    assert venue.status_code == 200
    assert "Dakar Arena" in venue.text
    assert "15" in venue.text
    assert 'href="/sports/badminton"' in venue.text
    sport = client.get("/sports/archery")
    assert sport.status_code == 200
    assert "Tir à l&#39;arc" in sport.text
    assert "hypothèse de démonstration" in sport.text
    assert 'href="/sites/place-souvenir-africain"' in sport.text


def test_unknown_venue_and_sport_pages_are_html_404(client: TestClient) -> None:
    for url in ("/sites/nowhere", "/sports/curling"):
        r = client.get(url)
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("text/html")
        assert "Page introuvable" in r.text


def test_home_without_a_public_tenant_is_an_empty_programme(db_settings: Settings) -> None:
    settings = db_settings.model_copy(update={"default_tenant": "no-such-organiser"})
    with TestClient(create_app(settings, container=build_container(settings))) as c:
        r = c.get("/")
    assert r.status_code == 200
    assert "Aucune session" in r.text


def test_home_page_query_count_is_pinned(client: TestClient, container: Container) -> None:
    """The busiest public page must not grow an N+1: a handful of queries, whatever the day."""
    import sqlalchemy as sa

    client.get("/")  # warm the public-tenant cache
    statements: list[str] = []

    def count(_conn: object, _cur: object, statement: str, *_args: object) -> None:
        # Only the page's own reads count: background workers (outbox relay, payment
        # reconciler, webhook dispatcher) share the engine, and the per-transaction RLS
        # set_config is not a query of the page.
        if statement.lstrip().upper().startswith("SELECT") and "programme_" in statement:
            statements.append(statement)

    sa.event.listen(container.engine, "before_cursor_execute", count)
    try:
        r = client.get("/", params={"day": "2026-11-05", "sport": "football"})
    finally:
        sa.event.remove(container.engine, "before_cursor_execute", count)
    assert r.status_code == 200
    # venues, sports, day counts, the sport filter lookup, sessions
    assert len(statements) <= 5, "\n".join(s[:90] for s in statements)
