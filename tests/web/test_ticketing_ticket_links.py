"""Transfers over HTTP protect the recipient: the giver's order (API and page) and the
transfer answer carry no code or QR of the new ticket; the recipient receives an SMS after
commit with a link of their own (page and JSON), and can give the ticket on in turn."""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi.testclient import TestClient

from teranga.platform.sms import LogSmsSender
from tests.factories import bearer, make_principal_token
from tests.web.test_ticketing_api import Api, _session
from tests.web.test_ticketing_transfer_pages import _form, _free_order, web  # noqa: F401

API = "/api/v1/ticketing"
LINK = re.compile(r"(/billetterie/b/[A-Za-z0-9_-]+)$")


def _sms_to(api: Api, phone: str, *, count: int = 1) -> list[str]:
    """The texts sent to ``phone`` by the app's notifier (it runs after commit)."""
    sender = api.container.extras["sms"]
    assert isinstance(sender, LogSmsSender)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        texts = [m.text for m in sender.sent if m.to == phone]
        if len(texts) >= count:
            return texts
        time.sleep(0.05)
    raise AssertionError(f"no SMS to {phone}: {sender.sent}")


def _link(text: str) -> str:
    match = LINK.search(text)
    assert match, text
    return match.group(1)


def _transfer(api: Api, ticket_id: str, to: str, key: str, **token: str) -> Any:
    return api.post(
        f"/tickets/{ticket_id}/transfer", {"to_phone": to}, **token, **{"Idempotency-Key": key}
    )


def test_api_transfer_hides_the_new_ticket_from_the_giver(web: Api) -> None:  # noqa: F811
    ids = _session(web, price=0, per_person=4)
    giver = _free_order(web, ids, "771234512", qty=2)
    order_id, token = giver["order"]["id"], giver["access_token"]
    given = giver["order"]["tickets"][0]
    r = _transfer(web, given["id"], "78 111 22 33", "tr-1", **{"X-Order-Token": token})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"status", "ticket_id", "replaced_ticket_id", "to_phone_masked"}
    assert (body["status"], body["replaced_ticket_id"]) == ("transferred", given["id"])
    assert body["to_phone_masked"] == "+221 ••• •• 33"
    replay = _transfer(web, given["id"], "78 111 22 33", "tr-1", **{"X-Order-Token": token})
    assert replay.json() == body  # the stored answer has no code either
    new_id = body["ticket_id"]
    staff = web.client.get(f"{API}/admin/orders/{order_id}", headers=web.admin).json()
    new = next(t for t in staff["tickets"] if t["id"] == new_id)
    mine = web.client.get(f"{API}/orders/{order_id}", headers={"X-Order-Token": token})
    assert mine.status_code == 200
    assert [t["id"] for t in mine.json()["tickets"]] == [giver["order"]["tickets"][1]["id"]]
    assert len(mine.json()["transferred_line_ids"]) == 1
    for secret in (new["code"], new["qr"], new_id):
        assert secret not in mine.text
    # The giver's secret cannot move the ticket again.
    again = _transfer(web, new_id, "779999999", "tr-2", **{"X-Order-Token": token})
    assert again.status_code == 404

    (text,) = _sms_to(web, "+221781112233")
    assert text.startswith(
        "Billet JOJ Dakar 2026 transféré par +221***12 : Finale. Votre billet : "
    )
    assert len(text) < 160
    assert "781112233" not in text
    assert "771234512" not in text
    secret = _link(text).rsplit("/", 1)[1]
    got = web.client.get(f"{API}/tickets/{new_id}", headers={"X-Ticket-Token": secret})
    assert got.status_code == 200, got.text
    held = got.json()
    assert (held["status"], held["session"]["name"]) == ("valid", "Finale")
    assert (held["ticket"]["code"], held["ticket"]["qr"]) == (new["code"], new["qr"])
    for headers in ({"X-Ticket-Token": "wrong"}, {}, {"X-Order-Token": token}):
        assert web.client.get(f"{API}/tickets/{new_id}", headers=headers).status_code == 404

    # The recipient gives it on with their own secret, and then no longer has it.
    on = _transfer(web, new_id, "775550011", "tr-3", **{"X-Ticket-Token": secret})
    assert on.status_code == 201, on.text
    gone = web.client.get(f"{API}/tickets/{new_id}", headers={"X-Ticket-Token": secret}).json()
    assert (gone["status"], gone["ticket"]) == ("revoked", None)
    refused = _transfer(web, new_id, "776660022", "tr-4", **{"X-Ticket-Token": secret})
    assert (refused.status_code, refused.json()["code"]) == (409, "ticketing.ticket_not_valid")
    (text,) = _sms_to(web, "+221775550011")
    assert "transféré par +221***33 :" in text


def test_recipient_page_from_the_sms_link(web: Api) -> None:  # noqa: F811
    ids = _session(web, price=0, per_person=4)
    giver = _free_order(web, ids, "771234512")
    ticket = giver["order"]["tickets"][0]
    r = _transfer(
        web, ticket["id"], "781112233", "tr-p", **{"X-Order-Token": giver["access_token"]}
    )
    new_id = r.json()["ticket_id"]
    link = _link(_sms_to(web, "+221781112233")[0])

    phone = TestClient(web.client.app)  # the recipient's phone: no cookie of the giver
    opened = phone.get(link, follow_redirects=False)
    assert opened.status_code == 303
    page = f"/billetterie/billet/{new_id}"
    assert opened.headers["location"] == page
    assert "?" not in opened.headers["location"]  # the secret leaves the address bar
    html = phone.get(page)
    assert html.status_code == 200
    assert "Votre billet" in html.text
    assert "<svg" in html.text
    code = web.client.get(f"{API}/admin/orders/{giver['order']['id']}", headers=web.admin)
    new = next(t for t in code.json()["tickets"] if t["id"] == new_id)
    assert new["code"] in html.text
    assert html.headers["cache-control"] == "private, no-cache"
    # Someone else, or a wrong secret, finds nothing.
    stranger = TestClient(web.client.app)
    assert stranger.get(page).status_code == 404
    assert stranger.get(f"{page}?k=wrong-secret").status_code == 404
    assert stranger.get("/billetterie/b/wrong-secret").status_code == 404
    # The ?k= form of the link works too, and also moves the secret into a cookie.
    secret = link.rsplit("/", 1)[1]
    other = TestClient(web.client.app)
    r = other.get(f"{page}?k={secret}", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, page)
    assert other.get(page).status_code == 200

    # The recipient gives it on from the page: their copy stops being a ticket.
    r = _form(phone, page, f"{page}/transferer", {"to_phone": "775550011"})
    assert r.headers["location"] == f"{page}?transferred=1"
    after = phone.get(r.headers["location"]).text
    assert "Billet transféré : son ancien code ne fonctionne plus." in after
    assert "Ce billet a été donné à un autre numéro" in after
    assert "<svg" not in after
    assert new["code"] not in after
    assert stranger.post(
        f"{page}/transferer", data={"to_phone": "776660022"}, follow_redirects=False
    ).status_code in (403, 404)


def test_sandbox_sms_inbox_shows_a_number_s_messages_outside_prod(web: Api) -> None:  # noqa: F811
    """Demo: the log backend's messages to one number, so a transfer can be followed."""
    ids = _session(web, price=0, per_person=4)
    giver = _free_order(web, ids, "771234567", qty=1)
    given = giver["order"]["tickets"][0]
    token = giver["access_token"]
    r = _transfer(web, given["id"], "78 444 55 66", "tr-sb", **{"X-Order-Token": token})
    assert r.status_code == 201, r.text
    (text,) = _sms_to(web, "+221784445566")
    page = web.client.get("/bac-a-sable/sms", params={"tel": "784445566"})
    assert page.status_code == 200
    assert "Bac à sable SMS" in page.text
    assert f'href="{_link(text)}"' in page.text or _link(text) in page.text
    other = web.client.get("/bac-a-sable/sms", params={"tel": "771234567"})
    assert _link(text) not in other.text  # only that number's messages
    bad = web.client.get("/bac-a-sable/sms", params={"tel": "12"})
    assert bad.status_code == 200
    assert "Vérifiez le numéro" in bad.text
    env = web.container.settings.env
    web.container.settings.env = "prod"
    try:
        assert web.client.get("/bac-a-sable/sms").status_code == 404
    finally:
        web.container.settings.env = env


def test_box_office_reprint_leaves_out_tickets_given_away(web: Api) -> None:  # noqa: F811
    ids = _session(web, price=0, per_person=4)
    giver = _free_order(web, ids, "771234599", qty=2)
    order_id, token = giver["order"]["id"], giver["access_token"]
    given = giver["order"]["tickets"][0]
    desk = bearer(make_principal_token(web.container, web.tenant, "box-office"))
    url = f"{API}/boxoffice/orders/{order_id}/tickets.pdf"
    pages = re.compile(rb"/Type /Page\b(?!s)")
    assert len(pages.findall(web.client.get(url, headers=desk).content)) == 2
    r = _transfer(web, given["id"], "78 999 00 11", "tr-rp", **{"X-Order-Token": token})
    assert r.status_code == 201, r.text
    pdf = web.client.get(url, headers=desk)
    assert pdf.status_code == 200
    assert len(pages.findall(pdf.content)) == 1  # the given ticket is its new holder's
    kept = giver["order"]["tickets"][1]
    r = _transfer(web, kept["id"], "78 999 00 12", "tr-rp2", **{"X-Order-Token": token})
    assert r.status_code == 201, r.text
    none_left = web.client.get(url, headers=desk)
    assert none_left.status_code == 409
    assert none_left.json()["code"] == "ticketing.nothing_to_print"
