"""Transfers over HTTP: the JSON API answers 409 ``ticketing.person_limit`` when the
recipient is at the cap, and the ticket page's transfer form says so in French."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from teranga.config import Settings
from tests.web.test_ticketing_api import Api, _session, serve_api

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
RECIPIENT = "770000001"


@pytest.fixture
def web(db_settings: Settings) -> Iterator[Api]:
    yield from serve_api(db_settings)


def _free_order(web: Api, ids: dict[str, Any], phone: str, qty: int = 1) -> dict[str, Any]:
    """A free order through the JSON API (issued at once): the order and its secret."""
    hold = web.post(
        f"/sessions/{ids['session']}/holds", {"category_id": ids["cat"], "quantity": qty}
    )
    assert hold.status_code == 201, hold.text
    r = web.post(f"/holds/{hold.json()['id']}/order", {"phone": phone})
    assert r.status_code == 201, r.text
    assert r.json()["order"]["status"] == "paid"
    return dict(r.json())


def test_api_refuses_a_transfer_over_the_recipient_cap(web: Api) -> None:
    ids = _session(web, price=0, per_person=2)
    _free_order(web, ids, RECIPIENT, qty=2)
    giver = _free_order(web, ids, "771111111")
    ticket = giver["order"]["tickets"][0]
    headers = {"X-Order-Token": giver["access_token"], "Idempotency-Key": "tr-cap"}
    r = web.post(f"/tickets/{ticket['id']}/transfer", {"to_phone": "+221 77 000 00 01"}, **headers)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "ticketing.person_limit"
    assert r.json()["message"] == "at most 2 places per person for this session"
    same = web.post(
        f"/tickets/{ticket['id']}/transfer",
        {"to_phone": "771111111"},
        **{"X-Order-Token": giver["access_token"], "Idempotency-Key": "tr-same"},
    )
    assert (same.status_code, same.json()["code"]) == (409, "ticketing.same_holder")
    ok = web.post(
        f"/tickets/{ticket['id']}/transfer",
        {"to_phone": "772222222"},
        **{"X-Order-Token": giver["access_token"], "Idempotency-Key": "tr-ok"},
    )
    assert ok.status_code == 201, ok.text


def _form(client: TestClient, page: str, action: str, data: dict[str, str]) -> Any:
    html = client.get(page).text
    match = CSRF.search(html)
    assert match, html[:500]
    return client.post(action, data={**data, "csrf_token": match.group(1)}, follow_redirects=False)


def test_ticket_page_transfer_form_explains_a_refusal_in_french(web: Api) -> None:
    ids = _session(web, price=0, per_person=2)
    _free_order(web, ids, RECIPIENT, qty=2)
    c = web.client
    page = f"/billetterie/seance/{ids['session']}"
    r = _form(c, page, f"{page}/reserver", {"category_id": ids["cat"], "quantity": "1"})
    cart = r.headers["location"]
    r = _form(c, cart, f"{cart}/commander", {"phone": "773333333", "provider": "none"})
    order_page = r.headers["location"]
    html = c.get(order_page).text
    assert "Donner ce billet à quelqu'un d'autre" in html
    action = re.search(r'action="(/billetterie/commande/[^"]+/transferer)"', html)
    assert action, html[:2000]
    r = _form(c, order_page, action.group(1), {"to_phone": "77 000 00 01"})
    assert r.status_code == 303
    assert r.headers["location"] == f"{order_page}?error=ticketing.person_limit"
    refused = c.get(r.headers["location"]).text
    assert (
        "Ce numéro a atteint sa limite de places pour cette séance : "
        "le billet n'a pas été transféré." in refused
    )
    r = _form(c, order_page, action.group(1), {"to_phone": "773333333"})
    assert "Ce numéro détient déjà ce billet." in c.get(r.headers["location"]).text
    r = _form(c, order_page, action.group(1), {"to_phone": "not a phone"})
    assert "Vérifiez le numéro de téléphone" in c.get(r.headers["location"]).text
    r = _form(c, order_page, action.group(1), {"to_phone": "774444444"})
    assert r.headers["location"] == f"{order_page}?transferred=1"
    done = c.get(r.headers["location"]).text
    assert "Billet transféré : son ancien code ne fonctionne plus." in done
    # The giver sees the place as given away, without the new ticket's QR or code.
    assert "Place transférée" in done
    assert '<div class="qr"' not in done
    assert "Donner ce billet" not in done
    # The old ticket is revoked: its form now gets a clear refusal, not a 500.
    r = _form(c, page, action.group(1), {"to_phone": "775555555"})
    assert "Ce billet n'est plus valable" in c.get(r.headers["location"]).text
    # Without the order's cookie the form is refused like an unknown order.
    stranger = TestClient(c.app)
    r = _form(stranger, page, action.group(1), {"to_phone": "776666666"})
    assert r.status_code == 404
