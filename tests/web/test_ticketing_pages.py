"""Spectator pages: browse -> hold (countdown) -> phone + sandbox payment -> ticket with QR."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from teranga.config import Settings
from teranga.container import build_container
from teranga.platform.clock import FrozenClock
from teranga.web.app import create_app
from tests.factories import bearer, make_principal_token, make_tenant
from tests.web.test_ticketing_api import NOW, Api, _session

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def site(sqlite_settings: Settings) -> Iterator[Api]:
    clock = FrozenClock(NOW)
    container = build_container(sqlite_settings, clock=clock)
    tenant = make_tenant(container, sqlite_settings.default_tenant)
    token = make_principal_token(container, tenant, "organiser-admin")
    with TestClient(create_app(sqlite_settings, container=container)) as client:
        yield Api(client, container, tenant, bearer(token), clock)


def _form(client: TestClient, page: str, action: str, data: dict[str, str]) -> object:
    html = client.get(page).text
    match = CSRF.search(html)
    assert match, html[:500]
    return client.post(action, data={**data, "csrf_token": match.group(1)}, follow_redirects=False)


def _order(c: TestClient, session: str, category: str, phone: str, provider: str) -> str:
    """Hold one place from the session page and order it: where the buyer is sent."""
    page = f"/billetterie/seance/{session}"
    r = _form(c, page, f"{page}/reserver", {"category_id": category, "quantity": "1"})
    cart = r.headers["location"]  # type: ignore[attr-defined]
    r = _form(c, cart, f"{cart}/commander", {"phone": phone, "provider": provider})
    return str(r.headers["location"])  # type: ignore[attr-defined]


def test_buy_with_sandbox_and_see_ticket(site: Api) -> None:
    ids = _session(site)
    c = site.client
    home = c.get("/billetterie")
    assert home.status_code == 200
    assert "Finale" in home.text
    assert "Billetterie" in home.text
    assert len(home.content) < 100_000
    page = f"/billetterie/seance/{ids['session']}"
    r = _form(c, page, f"{page}/reserver", {"category_id": ids["cat"], "quantity": "2"})
    assert r.status_code == 303  # type: ignore[attr-defined]
    cart = r.headers["location"]  # type: ignore[attr-defined]
    html = c.get(cart).text
    assert "Places réservées pour vous pendant" in html
    assert "10 min 00 s" in html
    r = _form(c, cart, f"{cart}/commander", {"phone": "77 123 45 67", "provider": "sandbox"})
    assert r.status_code == 303  # type: ignore[attr-defined]
    pay_page = r.headers["location"]  # type: ignore[attr-defined]
    assert pay_page.startswith("http://") or pay_page.startswith("/paiement/sandbox/")
    path = "/" + pay_page.split("/", 3)[3] if pay_page.startswith("http") else pay_page
    r = _form(c, path, path, {"decision": "approve"})
    ticket_page = r.headers["location"]  # type: ignore[attr-defined]
    assert "/billetterie/commande/" in ticket_page
    tpath = "/" + ticket_page.split("/", 3)[3] if ticket_page.startswith("http") else ticket_page
    t = c.get(tpath)
    assert t.status_code == 200
    assert t.text.count("<svg") >= 2
    assert "Code" in t.text
    # The ticket page links to the journey to the venue, arriving 45 min before the start.
    assert (
        "/transport?to=stade-abdoulaye-wade&amp;mode=arrive&amp;when=2026-11-02T15%3A15" in t.text
    )
    assert len(t.content) < 100_000
    pdf = c.get(f"{tpath}/billets.pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    # Another phone (no cookie) cannot open the order.
    assert TestClient(c.app).get(tpath).status_code == 404
    assert c.get("/billetterie/sw.js").headers["content-type"].startswith("text/javascript")


def test_free_registration_and_expired_hold(site: Api) -> None:
    ids = _session(site, price=0)
    c = site.client
    page = f"/billetterie/seance/{ids['session']}"
    r = _form(c, page, f"{page}/reserver", {"category_id": ids["cat"], "quantity": "1"})
    cart = r.headers["location"]  # type: ignore[attr-defined]
    r = _form(c, cart, f"{cart}/commander", {"phone": "771112233", "provider": "none"})
    order_page = r.headers["location"]  # type: ignore[attr-defined]
    assert order_page.startswith("/billetterie/commande/")
    assert "<svg" in c.get(order_page).text
    r = _form(c, page, f"{page}/reserver", {"category_id": ids["cat"], "quantity": "1"})
    cart = r.headers["location"]  # type: ignore[attr-defined]
    site.clock.advance(minutes=11)
    assert "a expiré" in c.get(cart).text
    uuid.UUID(cart.rsplit("/", 1)[-1])


def test_waiting_room_pages_queue_then_sell(site: Api) -> None:
    """A buyer on the pages takes a place, waits, is admitted at the room's rate, then holds."""
    ids = _session(site)
    c = site.client
    room = {"rate_per_minute": 1, "opens_at": NOW.isoformat(), "admission_minutes": 10}
    put = c.put(
        f"/api/v1/ticketing/sessions/{ids['session']}/waiting-room", json=room, headers=site.admin
    )
    assert put.status_code == 200, put.text
    # Someone else already queued: our buyer is second in line.
    first = c.post(f"/api/v1/ticketing/sessions/{ids['session']}/queue")
    assert first.status_code in (200, 201), first.text
    page = f"/billetterie/seance/{ids['session']}"
    assert "Prendre une place dans la file" in c.get(page).text
    # Buying without a turn is refused with a clear message.
    r = _form(c, page, f"{page}/reserver", {"category_id": ids["cat"], "quantity": "1"})
    assert "not_admitted" in r.headers["location"]  # type: ignore[attr-defined]
    r = _form(c, page, f"{page}/file", {})
    assert r.headers["location"] == f"{page}/file"  # type: ignore[attr-defined]
    waiting = c.get(f"{page}/file", follow_redirects=False)
    assert waiting.status_code == 200
    assert 'data-testid="position">2<' in waiting.text
    site.clock.advance(minutes=2)  # rate 1/min: places 1 and 2 are admitted
    admitted = c.get(f"{page}/file", follow_redirects=False)
    assert admitted.status_code == 303
    assert admitted.headers["location"] == page
    r = _form(c, page, f"{page}/reserver", {"category_id": ids["cat"], "quantity": "1"})
    assert r.headers["location"].startswith("/billetterie/panier/")  # type: ignore[attr-defined]


def _path(location: str) -> str:
    return "/" + location.split("/", 3)[3] if location.startswith("http") else location


def test_pay_again_after_a_declined_payment(site: Api) -> None:
    ids = _session(site)
    c = site.client
    page = f"/billetterie/seance/{ids['session']}"
    pay_page = _path(_order(c, ids["session"], ids["cat"], "771234567", "sandbox"))
    r = _form(c, pay_page, pay_page, {"decision": "decline"})
    order_page = _path(r.headers["location"])  # type: ignore[attr-defined]
    assert order_page.startswith("/billetterie/commande/")
    html = c.get(order_page).text
    # A declined attempt: a form to pay again, and no refresh that would reset it.
    assert "Le paiement a échoué" in html
    assert 'http-equiv="refresh"' not in html
    assert f'action="{order_page}/payer"' in html
    r = _form(c, order_page, f"{order_page}/payer", {"provider": "sandbox"})
    pay_page = _path(r.headers["location"])  # type: ignore[attr-defined]
    assert pay_page.startswith("/paiement/sandbox/")
    r = _form(c, pay_page, pay_page, {"decision": "approve"})
    html = c.get(_path(r.headers["location"])).text  # type: ignore[attr-defined]
    assert "<svg" in html
    assert "Le paiement a échoué" not in html
    # A second tap on the old form once paid: back to the tickets, no error shown.
    csrf = CSRF.search(html)
    assert csrf
    r = c.post(
        f"{order_page}/payer",
        data={"provider": "sandbox", "csrf_token": csrf.group(1)},
        follow_redirects=False,
    )
    assert r.headers["location"] == order_page
    # Another phone has no cookie for the order: it cannot start a payment on it.
    other = TestClient(c.app)
    r2 = _form(other, page, f"{order_page}/payer", {"provider": "sandbox"})
    assert r2.status_code == 404  # type: ignore[attr-defined]


def test_order_stands_when_its_payment_cannot_start(site: Api) -> None:
    ids = _session(site)
    c = site.client
    # An unknown provider (a tampered form): the order is made, the payment refused. The
    # buyer lands on the order (its cookie set), with a way to pay, not on a used hold.
    order_page = _order(c, ids["session"], ids["cat"], "771234567", "nope")
    assert order_page.startswith("/billetterie/commande/")
    assert "error=validation_failed" in order_page
    html = c.get(order_page).text
    assert 'action="/billetterie/commande/' in html
    assert "Payer 3" in html  # the pay button with the order's total (3 000 FCFA)
    # Once the hold ran out, a pending order offers no payment any more.
    site.clock.advance(minutes=11)
    html = c.get(order_page.split("?")[0]).text
    assert "ne sont plus réservées" in html
    assert "/payer" not in html
    assert 'http-equiv="refresh"' not in html
