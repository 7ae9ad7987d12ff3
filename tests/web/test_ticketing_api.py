"""The ticketing JSON API over HTTP: organiser set-up, public purchase with the sandbox,
idempotency semantics, transfers, box office, dashboard and tenant isolation."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from teranga.config import Settings
from teranga.container import Container, build_container
from teranga.platform.clock import FrozenClock
from teranga.platform.errors import Conflict
from teranga.ticketing import idempotency
from teranga.ticketing.domain import b45decode, verify_payload
from teranga.ticketing.payments import service as payments
from teranga.ticketing.payments.providers.sandbox import SandboxProvider
from teranga.ticketing.payments.wiring import gateway
from teranga.web.app import create_app
from tests.factories import bearer, make_principal_token, make_tenant

NOW = dt.datetime(2026, 10, 31, 9, 0, tzinfo=dt.UTC)


@dataclass
class Api:
    client: TestClient
    container: Container
    tenant: uuid.UUID
    admin: dict[str, str]
    clock: FrozenClock

    def post(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.post(f"/api/v1/ticketing{path}", json=body, headers=headers)


def serve_api(db_settings: Settings) -> Iterator[Api]:
    """The app at NOW (frozen), its public site showing a tenant of its own (the PostgreSQL
    database outlives each test's key store), with an organiser's token; for fixtures."""
    clock = FrozenClock(NOW)
    db_settings = db_settings.model_copy(update={"default_tenant": f"t-{uuid.uuid4().hex[:10]}"})
    container = build_container(db_settings, clock=clock)
    tenant = make_tenant(container, db_settings.default_tenant)
    token = make_principal_token(container, tenant, "organiser-admin")
    with TestClient(create_app(db_settings, container=container)) as client:
        yield Api(client, container, tenant, bearer(token), clock)


@pytest.fixture
def api(db_settings: Settings) -> Iterator[Api]:
    yield from serve_api(db_settings)


def _session(api: Api, *, price: int = 3000, per_person: int | None = 4) -> dict[str, Any]:
    c, h = api.client, api.admin
    ev = c.post("/api/v1/ticketing/events", json={"name": "Football U16 — finale"}, headers=h)
    assert ev.status_code == 201, ev.text
    s = c.post(
        f"/api/v1/ticketing/events/{ev.json()['id']}/sessions",
        json={
            "name": "Finale",
            "starts_at": "2026-11-02T16:00:00Z",
            "ends_at": "2026-11-02T18:00:00Z",
            "sale_starts_at": "2026-10-30T00:00:00Z",
            "venue_id": "stade-abdoulaye-wade",
            "venue_name": "Stade Abdoulaye Wade",
            "per_order_limit": 4,
            "per_person_limit": per_person,
        },
        headers=h,
    )
    assert s.status_code == 201, s.text
    sid = s.json()["id"]
    ga = c.post(
        f"/api/v1/ticketing/sessions/{sid}/zones",
        json={"name": "Virage", "capacity": 10},
        headers=h,
    ).json()
    seated = c.post(
        f"/api/v1/ticketing/sessions/{sid}/zones",
        json={"name": "Tribune", "seat_grids": [{"section": "B", "rows": ["1"], "per_row": 5}]},
        headers=h,
    ).json()
    cat = c.post(
        f"/api/v1/ticketing/sessions/{sid}/categories",
        json={"zone_id": ga["id"], "name": "Virage", "price_xof": price},
        headers=h,
    ).json()
    seat_cat = c.post(
        f"/api/v1/ticketing/sessions/{sid}/categories",
        json={"zone_id": seated["id"], "name": "Tribune", "price_xof": 5000},
        headers=h,
    ).json()
    return {"session": sid, "cat": cat["id"], "seat_cat": seat_cat["id"]}


def _pay_with_sandbox(api: Api, order_id: str, token: str) -> None:
    pay = api.post(
        f"/orders/{order_id}/payments",
        {"provider": "sandbox"},
        **{"X-Order-Token": token, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert pay.status_code == 201, pay.text
    _approve(api, pay.json()["redirect_url"])


def _approve(api: Api, redirect_url: str) -> None:
    gw = gateway(api.container)
    sandbox = gw.providers["sandbox"]
    assert isinstance(sandbox, SandboxProvider)
    intent = sandbox.decide(redirect_url.rsplit("/", 1)[-1], approve=True)
    assert intent is not None
    headers, body = sandbox.signed_callback(intent)
    with api.container.uow(api.tenant) as uow:
        payments.handle_callback(uow, gw, provider="sandbox", headers=headers, body=body)


def test_public_purchase_with_sandbox_and_signed_ticket(api: Api) -> None:
    ids = _session(api)
    listed = api.client.get("/api/v1/ticketing/sessions").json()
    assert [s["id"] for s in listed] == [ids["session"]]
    detail = api.client.get(f"/api/v1/ticketing/sessions/{ids['session']}").json()
    assert {a["left"] for a in detail["availability"]} == {10, 5}
    hold = api.post(f"/sessions/{ids['session']}/holds", {"category_id": ids["cat"], "quantity": 2})
    assert hold.status_code == 201, hold.text
    assert hold.json()["expires_at"].startswith("2026-10-31T09:10")
    key = str(uuid.uuid4())
    body = {"phone": "77 123 45 67"}
    first = api.post(f"/holds/{hold.json()['id']}/order", body, **{"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    replay = api.post(f"/holds/{hold.json()['id']}/order", body, **{"Idempotency-Key": key})
    assert (replay.status_code, replay.content) == (201, first.content)
    assert replay.headers["Idempotent-Replayed"] == "true"
    other = api.post(
        f"/holds/{hold.json()['id']}/order", {"phone": "781234567"}, **{"Idempotency-Key": key}
    )
    assert other.status_code == 422
    order, token = first.json()["order"], first.json()["access_token"]
    assert order["status"] == "pending"
    assert order["total_xof"] == 6000
    _pay_with_sandbox(api, order["id"], token)
    got = api.client.get(
        f"/api/v1/ticketing/orders/{order['id']}", headers={"X-Order-Token": token}
    ).json()
    assert got["status"] == "paid"
    assert len(got["tickets"]) == 2
    keys = api.client.get("/api/v1/ticketing/keys").json()
    import base64

    pub = {k["key_id"]: base64.b64decode(k["public_key"]) for k in keys["keys"]}
    claims = verify_payload(b45decode(got["tickets"][0]["qr"]), pub)
    assert str(claims.ticket_id) == got["tickets"][0]["id"]
    assert (
        api.client.get(f"/api/v1/ticketing/orders/{order['id']}", headers={"X-Order-Token": "x"})
    ).status_code == 404
    # Transfer: old code revoked and published.
    t = got["tickets"][0]
    moved = api.post(
        f"/tickets/{t['id']}/transfer",
        {"to_phone": "+221 76 000 00 01"},
        **{"X-Order-Token": token, "Idempotency-Key": "tr-1"},
    )
    assert moved.status_code == 201, moved.text
    revs = api.client.get("/api/v1/ticketing/revocations").json()
    assert [r["ticket_id"] for r in revs["revocations"]] == [t["id"]]
    since = revs["until"]
    assert (
        api.client.get("/api/v1/ticketing/revocations", params={"since": since}).json()[
            "revocations"
        ]
        == []
    )
    # Refund of the rest through the provider.
    refund = api.client.post(
        f"/api/v1/ticketing/orders/{order['id']}/refunds",
        json={"reason": "match reporté"},
        headers={**api.admin, "Idempotency-Key": "rf-1"},
    )
    assert refund.status_code == 201, refund.text
    assert refund.json()["amount_xof"] == 6000
    assert refund.json()["money"] == "provider"
    dash = api.client.get("/api/v1/ticketing/dashboard", headers=api.admin).json()
    assert dash[0]["sold"] == 0
    assert dash[0]["left"] == 15
    csv = api.client.get("/api/v1/ticketing/dashboard.csv", headers=api.admin)
    assert csv.status_code == 200
    assert csv.text.startswith("session_id,session")


def test_order_and_payment_in_one_request(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _session(api)

    def hold() -> str:
        r = api.post(
            f"/sessions/{ids['session']}/holds", {"category_id": ids["cat"], "quantity": 1}
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    h = hold()
    body = {"phone": "771234567", "payment": {"provider": "sandbox"}}
    # An unknown provider is refused before anything is written: the hold is still free.
    bad = api.post(f"/holds/{h}/order", {**body, "payment": {"provider": "nope"}})
    assert bad.status_code == 422
    assert bad.json()["details"]["field"] == "payment.provider"
    first = api.post(f"/holds/{h}/order", body, **{"Idempotency-Key": "one-go"})
    assert first.status_code == 201, first.text
    out = first.json()
    assert out["order"]["status"] == "pending"
    pay = out["payment"]
    assert (pay["order_id"], pay["status"], pay["amount_xof"]) == (
        out["order"]["id"],
        "pending",
        3000,
    )
    assert "/paiement/sandbox/" in pay["redirect_url"]
    # The stored answer is the full one: a retry replays the payment, opens no other.
    replay = api.post(f"/holds/{h}/order", body, **{"Idempotency-Key": "one-go"})
    assert (replay.status_code, replay.content) == (201, first.content)
    _approve(api, pay["redirect_url"])
    got = api.client.get(
        f"/api/v1/ticketing/orders/{out['order']['id']}",
        headers={"X-Order-Token": out["access_token"]},
    ).json()
    assert (got["status"], len(got["tickets"])) == ("paid", 1)
    # Without ``payment`` the answer says so.
    plain = api.post(f"/holds/{hold()}/order", {"phone": "771234568"})
    assert plain.status_code == 201
    assert plain.json()["payment"] is None

    # The payment step fails after the order committed: the order and its token (shown
    # once) are still the answer, and stored as such; the buyer pays with the usual route.
    from teranga.ticketing import web as ticketing_web

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("provider adapter crashed")

    monkeypatch.setattr(ticketing_web, "_start_payment", broken)
    h = hold()
    cut = api.post(
        f"/holds/{h}/order", {**body, "phone": "771234569"}, **{"Idempotency-Key": "cut"}
    )
    assert cut.status_code == 201, cut.text
    assert cut.json()["payment"] is None
    again = api.post(
        f"/holds/{h}/order", {**body, "phone": "771234569"}, **{"Idempotency-Key": "cut"}
    )
    assert again.content == cut.content
    monkeypatch.undo()
    _pay_with_sandbox(api, cut.json()["order"]["id"], cut.json()["access_token"])

    # A duplicate arriving while the payment starts is told the request is in flight.
    real = ticketing_web._start_payment
    seen: list[int] = []

    def with_duplicate(*args: Any, **kwargs: Any) -> Any:
        dup = api.post(f"/holds/{h2}/order", body2, **{"Idempotency-Key": "dup"})
        seen.append(dup.status_code)
        return real(*args, **kwargs)

    monkeypatch.setattr(ticketing_web, "_start_payment", with_duplicate)
    h2, body2 = hold(), {**body, "phone": "771234570"}
    r = api.post(f"/holds/{h2}/order", body2, **{"Idempotency-Key": "dup"})
    assert r.status_code == 201
    assert r.json()["payment"] is not None
    assert seen == [409]
    monkeypatch.undo()
    again = api.post(f"/holds/{h2}/order", body2, **{"Idempotency-Key": "dup"})
    assert again.content == r.content


def test_free_order_ignores_payment(api: Api) -> None:
    ids = _session(api, price=0, per_person=2)
    h = api.post(f"/sessions/{ids['session']}/holds", {"category_id": ids["cat"], "quantity": 1})
    r = api.post(
        f"/holds/{h.json()['id']}/order",
        {"phone": "771234567", "payment": {"provider": "sandbox"}},
    )
    assert r.status_code == 201, r.text
    assert r.json()["payment"] is None
    assert r.json()["order"]["status"] == "paid"
    assert len(r.json()["order"]["tickets"]) == 1


def test_two_step_key_left_by_a_crash_replays_the_first_step(api: Api) -> None:
    def claim() -> idempotency.Replay | None:
        return idempotency.claim(
            api.container.uow_factory,
            tenant_id=api.tenant,
            scope="public:order",
            key="two-step",
            fingerprint="f",
            now=api.clock.now(),
        )

    assert claim() is None
    with api.container.uow(api.tenant) as uow:  # the first step committed; then the crash
        idempotency.complete(
            uow, scope="public:order", key="two-step", status=201, body=b'{"a":1}', final=False
        )
    with pytest.raises(Conflict):  # still in flight while the lease runs
        claim()
    api.clock.advance(seconds=61)
    assert claim() == idempotency.Replay(201, b'{"a":1}')
    assert claim() == idempotency.Replay(201, b'{"a":1}')  # and from now on, done


def test_idempotency_in_flight_duplicate_gets_409(api: Api) -> None:
    ids = _session(api)
    hold = api.post(f"/sessions/{ids['session']}/holds", {"category_id": ids["cat"], "quantity": 1})
    body = {"phone": "771234567"}
    path = f"/api/v1/ticketing/holds/{hold.json()['id']}/order"
    # Another worker claimed the key and is still running.
    idempotency.claim(
        api.container.uow_factory,
        tenant_id=api.tenant,
        scope="public:order",
        key="busy",
        fingerprint=idempotency.request_hash("POST", path, {**body, "id_number": None}),
        now=NOW,
    )
    r = api.post(f"/holds/{hold.json()['id']}/order", body, **{"Idempotency-Key": "busy"})
    assert r.status_code == 409
    assert r.json()["code"] == "idempotency.in_flight"
    api.clock.advance(seconds=61)  # that worker crashed: its lease ran out
    r = api.post(f"/holds/{hold.json()['id']}/order", body, **{"Idempotency-Key": "busy"})
    assert r.status_code == 201, r.text


def test_errors_are_replayed_and_json(api: Api) -> None:
    ids = _session(api)
    bad = api.post(f"/sessions/{ids['session']}/holds", {"category_id": ids["cat"], "quantity": 99})
    assert bad.status_code == 422
    assert bad.json()["code"] == "validation_failed"
    hold = api.post(f"/sessions/{ids['session']}/holds", {"category_id": ids["cat"], "quantity": 1})
    api.clock.advance(minutes=11)
    late = api.post(
        f"/holds/{hold.json()['id']}/order", {"phone": "771234567"}, **{"Idempotency-Key": "k"}
    )
    assert late.status_code == 409
    assert late.json()["code"] == "ticketing.hold_expired"
    again = api.post(
        f"/holds/{hold.json()['id']}/order", {"phone": "771234567"}, **{"Idempotency-Key": "k"}
    )
    assert (again.status_code, again.content) == (409, late.content)
    unknown = api.post(
        f"/sessions/{uuid.uuid4()}/holds", {"category_id": ids["cat"], "quantity": 1}
    )
    assert unknown.status_code == 404
    extra = api.post(f"/sessions/{ids['session']}/holds", {"category_id": ids["cat"], "x": 1})
    assert extra.status_code == 422


def test_box_office_cash_sale_and_lookup(api: Api) -> None:
    ids = _session(api)
    desk = bearer(make_principal_token(api.container, api.tenant, "box-office"))
    sale = api.client.post(
        "/api/v1/ticketing/boxoffice/sales",
        json={
            "session_id": ids["session"],
            "category_id": ids["seat_cat"],
            "quantity": 2,
            "phone": "770000001",
        },
        headers={**desk, "Idempotency-Key": "desk-1"},
    )
    assert sale.status_code == 201, sale.text
    order = sale.json()["order"]
    assert order["status"] == "paid"
    assert order["channel"] == "box_office"
    code = order["tickets"][0]["code"]
    check = api.client.get(f"/api/v1/ticketing/boxoffice/codes/{code}", headers=desk).json()
    assert check["valid"] is True
    assert check["ticket"]["seat"] in {"B · rang 1 · place 1", "B · rang 1 · place 2"}
    found = api.client.post(
        "/api/v1/ticketing/boxoffice/lookup", json={"phone": "+221770000001"}, headers=desk
    ).json()
    assert [o["id"] for o in found] == [order["id"]]
    pdf = api.client.get(
        f"/api/v1/ticketing/boxoffice/orders/{order['id']}/tickets.pdf", headers=desk
    )
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    # The desk cannot create events.
    assert (
        api.client.post("/api/v1/ticketing/events", json={"name": "x"}, headers=desk).status_code
        == 403
    )


def test_free_registration_capped_per_phone(api: Api) -> None:
    ids = _session(api, price=0, per_person=2)
    for expected in (201, 201, 409):
        hold = api.post(
            f"/sessions/{ids['session']}/holds", {"category_id": ids["cat"], "quantity": 1}
        )
        r = api.post(f"/holds/{hold.json()['id']}/order", {"phone": "+221771112233"})
        assert r.status_code == expected, r.text
        if expected == 201:
            assert r.json()["order"]["status"] == "paid"
        else:
            assert r.json()["code"] == "ticketing.person_limit"


def test_other_tenant_gets_404(api: Api) -> None:
    ids = _session(api)
    other = make_tenant(api.container)
    stranger = bearer(make_principal_token(api.container, other, "organiser-admin"))
    r = api.client.post(
        f"/api/v1/ticketing/sessions/{ids['session']}/zones",
        json={"name": "X", "capacity": 1},
        headers=stranger,
    )
    assert r.status_code == 404
    r = api.client.post(f"/api/v1/ticketing/sessions/{ids['session']}/cancel", headers=stranger)
    assert r.status_code == 404


def test_cancel_session_refunds_paid_orders_through_the_provider(api: Api) -> None:
    ids = _session(api)
    hold = api.post(f"/sessions/{ids['session']}/holds", {"category_id": ids["cat"], "quantity": 1})
    created = api.post(f"/holds/{hold.json()['id']}/order", {"phone": "771234567"}).json()
    _pay_with_sandbox(api, created["order"]["id"], created["access_token"])
    r = api.client.post(f"/api/v1/ticketing/sessions/{ids['session']}/cancel", headers=api.admin)
    assert r.status_code == 200, r.text
    assert [(x["amount_xof"], x["money"]) for x in r.json()["refunds"]] == [(3000, "provider")]
    order = api.client.get(
        f"/api/v1/ticketing/orders/{created['order']['id']}",
        headers={"X-Order-Token": created["access_token"]},
    ).json()
    assert order["status"] == "refunded"
    assert order["tickets"] == []
    assert api.client.get("/api/v1/ticketing/sessions").json() == []
