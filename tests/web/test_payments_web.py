"""Payment endpoints over HTTP: provider callbacks and the sandbox page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from teranga.config import OrangeMoneySettings, PaymentSettings, Settings, WaveSettings
from teranga.container import Container, build_container
from teranga.ticketing.payments import include, service
from teranga.ticketing.payments.models import Payment, PaymentEvent
from teranga.ticketing.payments.service import PaymentGateway
from teranga.ticketing.payments.wiring import EXTRAS_KEY, gateway
from teranga.web.app import create_app
from tests.factories import make_tenant
from tests.fakes.orange_money import FakeOrangeMoney
from tests.fakes.orderbook import OrderBook
from tests.fakes.server import serve
from tests.fakes.wave import FakeWave


@dataclass
class Site:
    client: TestClient
    container: Container
    tenant: uuid.UUID
    wave: FakeWave
    om: FakeOrangeMoney
    book: OrderBook
    gateway: PaymentGateway

    def start(self, provider: str, amount: int = 4000) -> service.PaymentView:
        with self.container.uow(self.tenant) as uow:
            return service.start_payment(
                uow,
                self.gateway,
                order_id=uuid.uuid4(),
                amount_xof=amount,
                provider=provider,
                phone=None,
                return_url="/billetterie/merci",
                idempotency_key=uuid.uuid4().hex,
            )

    def payment(self, payment_id: uuid.UUID) -> tuple[str, int]:
        with self.container.uow(self.tenant) as uow:
            p = uow.session.get(Payment, payment_id)
            assert p is not None
            events = uow.session.scalar(
                sa.select(sa.func.count())
                .select_from(PaymentEvent)
                .where(PaymentEvent.payment_id == payment_id)
            )
            return p.status, int(events or 0)


@pytest.fixture
def site(db_settings: Settings) -> Iterator[Site]:
    wave, om = FakeWave(), FakeOrangeMoney()
    with serve(wave.app) as wave_url, serve(om.app) as om_url:
        settings = db_settings.model_copy(
            update={
                "payments": PaymentSettings(
                    timeout_seconds=2,
                    reconcile_interval_seconds=0,
                    wave=WaveSettings(
                        enabled=True,
                        base_url=wave_url,
                        api_key=wave.api_key,
                        webhook_secret="rotated-new",
                        webhook_secret_previous=wave.secret,
                    ),
                    orange_money=OrangeMoneySettings(
                        enabled=True,
                        base_url=om_url,
                        client_id=om.client_id,
                        client_secret=om.client_secret,
                        merchant_key=om.merchant_key,
                    ),
                )
            }
        )
        container = build_container(settings)
        app = create_app(settings, container=container)
        include(app)  # already mounted by ticketing's setup: must be a no-op
        gw = gateway(container)  # built from settings: sandbox (not prod) and Wave
        assert sorted(gw.providers) == ["orange_money", "sandbox", "wave"]
        book = OrderBook()
        gw.fulfilment = book
        container.extras[EXTRAS_KEY] = gw
        tenant = make_tenant(container, settings.default_tenant)
        with TestClient(app, follow_redirects=False) as client:
            yield Site(client, container, tenant, wave, om, book, gw)


def test_wave_callback_signed_with_the_previous_secret_settles(site: Site) -> None:
    view = site.start("wave")
    sid = site.wave.session_for(_reference(site, view))["id"]
    site.wave.pay(sid)
    headers, body = site.wave.deliveries[-1]
    r = site.client.post("/api/v1/payments/wave/callback", content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"received": True, "outcome": "succeeded", "duplicate": False}
    again = site.client.post("/api/v1/payments/wave/callback", content=body, headers=headers)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert site.payment(view.payment_id) == ("succeeded", 1)


def test_bad_signature_is_401_and_changes_nothing(site: Site) -> None:
    view = site.start("wave")
    session = site.wave.session_for(_reference(site, view))
    paid = {**session, "checkout_status": "complete", "payment_status": "succeeded"}
    headers, body = site.wave.webhook("checkout.session.completed", paid, secret="forged")
    r = site.client.post("/api/v1/payments/wave/callback", content=body, headers=headers)
    assert r.status_code == 401
    assert r.json()["code"] == "bad_signature"
    missing = site.client.post("/api/v1/payments/wave/callback", content=body)
    assert missing.status_code == 401
    assert site.payment(view.payment_id) == ("pending", 0)
    unknown = site.client.post("/api/v1/payments/paypal/callback", content=body)
    assert unknown.status_code == 404


def test_database_error_is_503_without_partial_fulfilment(site: Site) -> None:
    view = site.start("wave")
    site.wave.pay(site.wave.session_for(_reference(site, view))["id"])
    headers, body = site.wave.deliveries[-1]
    site.book.explode = True
    r = site.client.post("/api/v1/payments/wave/callback", content=body, headers=headers)
    assert r.status_code == 503
    assert r.json()["code"] == "database_unavailable"
    assert site.payment(view.payment_id) == ("pending", 0)
    assert site.book.issued == {}
    site.book.explode = False
    r = site.client.post("/api/v1/payments/wave/callback", content=body, headers=headers)
    assert r.status_code == 200
    assert site.book.issued == {view.order_id: [view.payment_id]}


def test_sandbox_page_approves_and_redirects(site: Site) -> None:
    view = site.start("sandbox", 2500)
    assert view.redirect_url is not None
    path = view.redirect_url.removeprefix(site.container.settings.base_url)
    page = site.client.get(path, headers={"Accept-Language": "fr"})
    assert page.status_code == 200
    assert "2 500" in page.text or "2\u202f500" in page.text or "2\xa0500" in page.text
    assert 'id="sandbox-approve"' in page.text
    assert "Approve payment" not in page.text  # French first
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    no_csrf = site.client.post(path, data={"decision": "approve"})
    assert no_csrf.status_code == 403
    r = site.client.post(path, data={"decision": "approve", "csrf_token": token.group(1)})
    assert r.status_code == 303
    assert r.headers["location"] == "/billetterie/merci"
    assert site.payment(view.payment_id) == ("succeeded", 1)
    assert site.book.issued == {view.order_id: [view.payment_id]}
    closed = site.client.get(path)
    assert 'id="sandbox-status"' in closed.text
    assert site.client.get("/paiement/sandbox/sbx_nope").status_code == 404


def test_callback_route_is_documented(site: Site) -> None:
    paths = site.client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/payments/{provider}/callback" in paths


def _reference(site: Site, view: service.PaymentView) -> str:
    with site.container.uow(site.tenant) as uow:
        p = uow.session.get(Payment, view.payment_id)
        assert p is not None
        return p.client_reference


def test_orange_money_notification_is_routed_by_its_url(site: Site) -> None:
    view = site.start("orange_money", 1500)
    pay_token = next(iter(site.om.payments))
    forged = b'{"status":"SUCCESS","notif_token":"guessed","txnid":"MP1"}'
    site.om.settle(pay_token, "SUCCESS")
    notif_url, body = site.om.deliveries[-1]
    path = notif_url.removeprefix(site.container.settings.base_url)
    assert path.startswith("/api/v1/payments/orange_money/callback?ref=")
    assert site.client.post(path, content=forged).status_code == 401
    assert site.payment(view.payment_id) == ("pending", 0)
    r = site.client.post(path, content=body)
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "succeeded"
