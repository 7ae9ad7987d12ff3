"""Payments end to end against fake provider servers and a real database (SQLite + PG).

Each provider fake speaks its wire format on loopback; webhooks are captured by the fake
and delivered by the test, which is how duplicates, reordering and loss are produced.
Ticketing is represented by ``OrderBook``, a stand-in with the fulfilment signature whose
effects are transactional (outbox rows, after-commit bookkeeping).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from teranga.audit import api as audit
from teranga.container import Container
from teranga.platform.clock import FrozenClock
from teranga.platform.errors import Conflict, Unauthorized, ValidationFailed
from teranga.platform.outbox import OutboxMessage
from teranga.platform.uow import UnitOfWork
from teranga.ticketing.payments import service
from teranga.ticketing.payments.base import PaymentProvider, ProviderTimeout
from teranga.ticketing.payments.models import (
    Payment,
    PaymentEvent,
    PaymentLedgerEntry,
    PaymentRefund,
)
from teranga.ticketing.payments.providers.http import make_client
from teranga.ticketing.payments.providers.orange_money import OrangeMoneyProvider
from teranga.ticketing.payments.providers.sandbox import SandboxProvider
from teranga.ticketing.payments.providers.wave import WaveProvider
from teranga.ticketing.payments.service import PaymentGateway
from tests.factories import make_tenant
from tests.fakes.orange_money import FakeOrangeMoney
from tests.fakes.orderbook import OrderBook
from tests.fakes.server import Switchboard, serve
from tests.fakes.wave import FakeWave

START = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)


@dataclass
class World:
    container: Container
    tenant: uuid.UUID
    clock: FrozenClock
    book: OrderBook
    gateway: PaymentGateway
    wave: FakeWave
    om: FakeOrangeMoney

    def uow(self) -> UnitOfWork:
        return self.container.uow(self.tenant)

    def start(self, provider: str, amount: int = 5000, **kw: Any) -> service.PaymentView:
        args: dict[str, Any] = {
            "order_id": uuid.uuid4(),
            "amount_xof": amount,
            "provider": provider,
            "phone": "+221770000001",
            "return_url": "http://127.0.0.1:8000/billetterie/commande",
            "idempotency_key": uuid.uuid4().hex,
        }
        args.update(kw)
        with self.uow() as uow:
            return service.start_payment(uow, self.gateway, **args)

    def callback(
        self, provider: str, headers: dict[str, str], body: bytes
    ) -> service.CallbackResult:
        with self.uow() as uow:
            return service.handle_callback(
                uow, self.gateway, provider=provider, headers=headers, body=body
            )

    def payment(self, payment_id: uuid.UUID) -> Payment:
        with self.uow() as uow:
            p = uow.session.get(Payment, payment_id)
            assert p is not None
            uow.session.expunge(p)
            return p

    def count(self, model: Any, payment_id: uuid.UUID) -> int:
        with self.uow() as uow:
            return int(
                uow.session.scalar(
                    sa.select(sa.func.count())
                    .select_from(model)
                    .where(model.payment_id == payment_id)
                )
                or 0
            )

    def outbox(self, topic: str) -> list[dict[str, Any]]:
        with self.uow() as uow:
            return [
                m.payload
                for m in uow.session.scalars(
                    sa.select(OutboxMessage).where(
                        OutboxMessage.topic == topic, OutboxMessage.tenant_id == self.tenant
                    )
                )
            ]

    def reconcile(self, older_than: dt.timedelta = dt.timedelta(0)) -> service.ReconcileReport:
        with self.uow() as uow:
            return service.reconcile_pending(uow, self.gateway, older_than=older_than)


@pytest.fixture(scope="module")
def switchboards() -> Iterator[tuple[tuple[Switchboard, str], tuple[Switchboard, str]]]:
    wave_board, om_board = Switchboard(), Switchboard()
    with serve(wave_board) as wave_url, serve(om_board) as om_url:
        yield (wave_board, wave_url), (om_board, om_url)


@pytest.fixture
def world(
    container: Container,
    switchboards: tuple[tuple[Switchboard, str], tuple[Switchboard, str]],
) -> World:
    (wave_board, wave_url), (om_board, om_url) = switchboards
    clock = FrozenClock(START)
    wave, om = FakeWave(), FakeOrangeMoney()
    wave_board.target, om_board.target = wave.app, om.app

    def fake_now() -> float:
        return clock.current.timestamp()

    wave.now = fake_now
    providers: dict[str, PaymentProvider] = {
        "sandbox": SandboxProvider(
            sa.create_engine(f"sqlite:///{container.settings.data_dir}/psp.sqlite"),
            secret="sandbox-secret",
            page_base_url="http://127.0.0.1:8000",
            clock=clock,
        ),
        "wave": WaveProvider(
            make_client(wave_url, timeout=0.5, connect_timeout=0.5),
            api_key=wave.api_key,
            webhook_secrets=[wave.secret],
        ),
        "orange_money": OrangeMoneyProvider(
            make_client(om_url, timeout=0.5, connect_timeout=0.5),
            client_id=om.client_id,
            client_secret=om.client_secret,
            merchant_key=om.merchant_key,
        ),
    }
    book = OrderBook()
    gw = PaymentGateway(
        providers=providers,
        fulfilment=book,
        clock=clock,
        callback_base_url="http://127.0.0.1:8000",
        payment_ttl=dt.timedelta(minutes=10),
    )
    return World(container, make_tenant(container), clock, book, gw, wave, om)


def _ref(view: service.PaymentView, w: World) -> str:
    p = w.payment(view.payment_id)
    assert p.provider_ref is not None
    return p.provider_ref


# -- sandbox ------------------------------------------------------------------------


def test_sandbox_happy_path_issues_once(world: World) -> None:
    view = world.start("sandbox", 3000)
    assert view.status == "pending"
    assert view.redirect_url is not None
    assert "/paiement/sandbox/sbx_" in view.redirect_url
    sandbox = world.gateway.providers["sandbox"]
    assert isinstance(sandbox, SandboxProvider)
    intent = sandbox.decide(_ref(view, world), approve=True)
    assert intent is not None
    headers, body = sandbox.signed_callback(intent)
    assert world.callback("sandbox", headers, body).outcome == "succeeded"
    again = world.callback("sandbox", headers, body)
    assert again.duplicate
    assert again.outcome == "duplicate"
    p = world.payment(view.payment_id)
    assert (p.status, p.fulfilment) == ("succeeded", "issued")
    assert world.book.issued == {view.order_id: [view.payment_id]}
    assert world.count(PaymentLedgerEntry, view.payment_id) == 1
    assert len(world.outbox("ticketing.payment.succeeded")) == 1


def test_sandbox_decline_releases_the_order(world: World) -> None:
    view = world.start("sandbox", 3000)
    sandbox = world.gateway.providers["sandbox"]
    assert isinstance(sandbox, SandboxProvider)
    intent = sandbox.decide(_ref(view, world), approve=False)
    assert intent is not None
    assert world.callback("sandbox", *sandbox.signed_callback(intent)).outcome == "failed"
    assert world.payment(view.payment_id).status == "failed"
    assert world.book.failed == [view.order_id]
    assert world.book.issued == {}


def test_start_payment_is_idempotent_per_key(world: World) -> None:
    order = uuid.uuid4()
    first = world.start("sandbox", 2000, order_id=order, idempotency_key="k-1")
    again = world.start("sandbox", 2000, order_id=order, idempotency_key="k-1")
    assert again.payment_id == first.payment_id
    assert again.redirect_url == first.redirect_url
    with pytest.raises(ValidationFailed):
        world.start("sandbox", 2500, order_id=order, idempotency_key="k-1")
    with pytest.raises(ValidationFailed):
        world.start("sandbox", 0)
    with pytest.raises(ValidationFailed):
        world.start("bitcoin")
    for url in ("javascript:alert(1)", "//evil.example/x", "ftp://x/y", "/ok\r\nSet-Cookie: a"):
        with pytest.raises(ValidationFailed):
            world.start("sandbox", return_url=url)
    assert world.start("sandbox", return_url="/billetterie/merci").status == "pending"


def test_partial_refunds_then_full(world: World) -> None:
    view = world.start("sandbox", 3000)
    sandbox = world.gateway.providers["sandbox"]
    assert isinstance(sandbox, SandboxProvider)
    intent = sandbox.decide(_ref(view, world), approve=True)
    assert intent is not None
    world.callback("sandbox", *sandbox.signed_callback(intent))
    with world.uow() as uow:
        r1 = service.refund(
            uow,
            world.gateway,
            payment_id=view.payment_id,
            amount_xof=1000,
            reason="customer",
            idempotency_key="r-1",
        )
    with world.uow() as uow:
        replay = service.refund(
            uow,
            world.gateway,
            payment_id=view.payment_id,
            amount_xof=1000,
            reason="customer",
            idempotency_key="r-1",
        )
    assert replay.refund_id == r1.refund_id
    assert world.payment(view.payment_id).status == "partially_refunded"
    with world.uow() as uow, pytest.raises(ValidationFailed):
        service.refund(
            uow, world.gateway, payment_id=view.payment_id, amount_xof=2001, reason="customer"
        )
    with world.uow() as uow:
        service.refund(
            uow, world.gateway, payment_id=view.payment_id, amount_xof=2000, reason="customer"
        )
    p = world.payment(view.payment_id)
    assert (p.status, p.refunded_xof) == ("refunded", 3000)
    with world.uow() as uow:
        total = uow.session.scalar(
            sa.select(sa.func.sum(PaymentLedgerEntry.amount_xof)).where(
                PaymentLedgerEntry.payment_id == view.payment_id
            )
        )
    assert total == 0


# -- Wave ---------------------------------------------------------------------------


def test_wave_duplicate_and_out_of_order_callbacks(world: World) -> None:
    """R5: each webhook 5 times, shuffled, a 'failed' after 'succeeded'."""
    view = world.start("wave", 5000)
    assert view.redirect_url is not None
    assert view.redirect_url.startswith("https://pay.wave.com/")
    sid = _ref(view, world)
    world.wave.fail(sid)  # a first attempt failed (insufficient funds) ...
    world.wave.pay(sid)  # ... then the buyer paid
    late_failed = world.wave.webhook("checkout.session.payment_failed", world.wave.sessions[sid])
    deliveries = [*world.wave.deliveries, late_failed] * 5
    random.Random(7).shuffle(deliveries)
    outcomes = [world.callback("wave", h, b) for h, b in deliveries]
    assert sum(not o.duplicate for o in outcomes) == 3  # three distinct events
    assert sum(o.duplicate for o in outcomes) == 12
    p = world.payment(view.payment_id)
    assert p.status == "succeeded"
    assert world.book.issued == {view.order_id: [view.payment_id]}
    assert world.book.failed == []
    assert world.count(PaymentLedgerEntry, view.payment_id) == 1
    with world.uow() as uow:
        duplicates = sorted(
            uow.session.scalars(
                sa.select(PaymentEvent.duplicates).where(PaymentEvent.payment_id == view.payment_id)
            )
        )
    assert duplicates == [4, 4, 4]


def test_wave_lost_callback_settled_by_reconciler(world: World) -> None:
    view = world.start("wave", 5000)
    world.wave.pay(_ref(view, world))
    world.wave.deliveries.clear()  # lost
    report = world.reconcile()
    assert (report.checked, report.settled) == (1, 1)
    assert world.payment(view.payment_id).status == "succeeded"
    assert world.book.issued == {view.order_id: [view.payment_id]}
    assert world.reconcile().checked == 0


def test_wave_status_lag_keeps_payment_pending_until_confirmed(world: World) -> None:
    view = world.start("wave", 5000)
    world.wave.status_lag = 1
    world.wave.pay(_ref(view, world))
    headers, body = world.wave.deliveries[-1]
    assert world.callback("wave", headers, body).outcome == "still_pending"
    assert world.book.issued == {}
    world.reconcile()
    assert world.payment(view.payment_id).status == "succeeded"


def test_wave_create_timeout_links_instead_of_creating_twice(world: World) -> None:
    """R7: created at Wave, answer lost; the retry with the same key finds it."""
    world.wave.create_delay = 1.0
    order = uuid.uuid4()
    first = world.start("wave", 4000, order_id=order, idempotency_key="attempt-1")
    assert (first.status, first.error, first.redirect_url) == ("pending", "provider_timeout", None)
    world.wave.create_delay = 0
    retry = world.start("wave", 4000, order_id=order, idempotency_key="attempt-1")
    assert retry.payment_id == first.payment_id
    assert retry.redirect_url is not None
    reference = world.payment(first.payment_id).client_reference
    assert world.wave.created_per_reference[reference] == 1


def test_wave_create_timeout_then_reconciler_links_and_settles(world: World) -> None:
    world.wave.create_delay = 1.0
    view = world.start("wave", 4000)
    world.wave.create_delay = 0
    reference = world.payment(view.payment_id).client_reference
    session = world.wave.session_for(reference)
    world.wave.pay(session["id"])  # say the launch URL reached the buyer some other way
    report = world.reconcile()
    assert (report.linked, report.settled) == (1, 1)
    assert world.payment(view.payment_id).provider_ref == session["id"]
    assert world.book.issued == {view.order_id: [view.payment_id]}
    assert world.wave.created_per_reference[reference] == 1


def test_forged_and_stale_wave_callbacks_change_nothing(world: World) -> None:
    view = world.start("wave", 5000)
    session = world.wave.sessions[_ref(view, world)]
    paid = {**session, "checkout_status": "complete", "payment_status": "succeeded"}
    forged = world.wave.webhook("checkout.session.completed", paid, secret="guessed")
    stale = world.wave.webhook(
        "checkout.session.completed", paid, timestamp=int(START.timestamp()) - 301
    )
    headers, body = world.wave.webhook("checkout.session.completed", paid)
    tampered = body.replace(b'"5000"', b'"50"')
    for h, b in (forged, stale, ({}, body), (headers, tampered)):
        with pytest.raises(Unauthorized):
            world.callback("wave", h, b)
    assert world.count(PaymentEvent, view.payment_id) == 0
    # Correctly signed but the session is not paid: the status query says so.
    assert world.callback("wave", headers, body).outcome == "still_pending"
    assert world.payment(view.payment_id).status == "pending"
    assert world.book.issued == {}


def test_wave_amount_mismatch_is_flagged_not_fulfilled(world: World) -> None:
    view = world.start("wave", 5000)
    sid = _ref(view, world)
    world.wave.amount_seen[sid] = "500"
    world.wave.pay(sid)
    assert world.callback("wave", *world.wave.deliveries[-1]).outcome == "needs_review"
    p = world.payment(view.payment_id)
    assert (p.status, p.review_reason) == ("needs_review", "amount_mismatch")
    assert world.book.issued == {}
    assert world.count(PaymentLedgerEntry, view.payment_id) == 0
    [flag] = world.outbox("ticketing.payment.needs_review")
    assert flag["observed_amount_xof"] == 500
    with pytest.raises(Conflict):
        world.start("wave", 5000, order_id=view.order_id)


def test_wave_success_after_hold_expired_and_places_taken_is_refunded(world: World) -> None:
    """R6, places resold: automatic refund, buyer to be told."""
    view = world.start("wave", 5000)
    world.clock.advance(minutes=15)
    world.book.taken.add(view.order_id)
    sid = _ref(view, world)
    world.wave.pay(sid)
    assert world.callback("wave", *world.wave.deliveries[-1]).outcome == "refund_required"
    p = world.payment(view.payment_id)
    assert (p.status, p.refunded_xof, p.fulfilment) == ("refunded", 5000, "refund_required")
    assert world.wave.refunds == [sid]
    assert world.book.issued == {}
    [notice] = world.outbox("ticketing.payment.refunded_late")
    assert notice["notify_buyer"] is True
    assert notice["order_id"] == str(view.order_id)
    with world.uow() as uow:
        rows = uow.session.scalars(sa.select(PaymentRefund))
        refunds = [(r.status, r.notify_buyer) for r in rows]
        trail = [(e.action, e.target_id) for e in audit.entries(uow)]
        intact = audit.verify(uow)
    assert refunds == [("succeeded", True)]
    # R6: both the capture and the automatic refund are audited, in a chain still intact.
    pid = str(view.payment_id)
    assert ("ticketing.payment.succeeded", pid) in trail
    assert ("ticketing.payment.refunded", pid) in trail
    assert ("ticketing.payment.refunded_late", pid) in trail
    assert intact is None


def test_wave_success_after_we_expired_it_is_still_honoured(world: World) -> None:
    """R6, places still free: the reconciler expired it, the buyer paid anyway."""
    world.wave.ignore_expire = True
    view = world.start("wave", 5000)
    world.clock.advance(minutes=13)
    report = world.reconcile()
    assert report.expired == 1
    assert world.payment(view.payment_id).status == "expired"
    assert world.book.failed == [view.order_id]
    world.wave.pay(_ref(view, world))
    assert world.callback("wave", *world.wave.deliveries[-1]).outcome == "succeeded"
    assert world.payment(view.payment_id).status == "succeeded"
    assert world.book.issued == {view.order_id: [view.payment_id]}
    [event] = world.outbox("ticketing.payment.succeeded")
    assert event["late"] is True


def test_reconciler_expires_abandoned_payments(world: World) -> None:
    view = world.start("wave", 5000)
    world.clock.advance(minutes=5)
    assert world.reconcile().settled == 0
    world.clock.advance(minutes=8)
    report = world.reconcile()
    assert (report.settled, report.expired) == (1, 1)
    assert world.wave.sessions[_ref(view, world)]["checkout_status"] == "expired"
    assert world.payment(view.payment_id).status == "expired"


def test_wave_refunds_whole_sessions_only(world: World) -> None:
    view = world.start("wave", 5000)
    world.wave.pay(_ref(view, world))
    world.callback("wave", *world.wave.deliveries[-1])
    with world.uow() as uow, pytest.raises(ValidationFailed):
        service.refund(
            uow, world.gateway, payment_id=view.payment_id, amount_xof=100, reason="partial"
        )
    with world.uow() as uow:
        done = service.refund(
            uow, world.gateway, payment_id=view.payment_id, amount_xof=5000, reason="cancelled"
        )
    assert done.status == "succeeded"


def test_database_error_rolls_back_everything(world: World) -> None:
    view = world.start("wave", 5000)
    world.wave.pay(_ref(view, world))
    headers, body = world.wave.deliveries[-1]
    world.book.explode = True
    with pytest.raises(OperationalError):
        world.callback("wave", headers, body)
    assert world.payment(view.payment_id).status == "pending"
    assert world.count(PaymentEvent, view.payment_id) == 0
    assert world.count(PaymentLedgerEntry, view.payment_id) == 0
    assert world.outbox("test.tickets.issued") == []
    world.book.explode = False  # the provider retries the same delivery
    assert world.callback("wave", headers, body).outcome == "succeeded"
    assert world.book.issued == {view.order_id: [view.payment_id]}


# -- Orange Money -------------------------------------------------------------------


def test_orange_money_notification_confirmed_by_status_query(world: World) -> None:
    view = world.start("orange_money", 2500)
    assert view.redirect_url is not None
    assert "pay_token" in view.redirect_url
    p = world.payment(view.payment_id)
    assert p.callback_token_hash is not None
    assert len(p.callback_token_hash) == 64
    pay_token = _ref(view, world)
    world.om.settle(pay_token, "SUCCESS")
    notif_url, body = world.om.deliveries[-1]
    assert notif_url.endswith(f"?ref={p.client_reference}")
    assert world.callback("orange_money", {}, body).outcome == "succeeded"
    assert world.callback("orange_money", {}, body).duplicate
    assert world.book.issued == {view.order_id: [view.payment_id]}


def test_orange_money_forged_or_leaked_token(world: World) -> None:
    view = world.start("orange_money", 2500)
    with pytest.raises(Unauthorized):
        world.callback("orange_money", {}, b'{"status":"SUCCESS","notif_token":"guess"}')
    with pytest.raises(Unauthorized):
        world.callback("orange_money", {}, b'{"status":"SUCCESS"}')
    # The real token, leaked from a log, replayed with SUCCESS while nothing was paid.
    pay_token = _ref(view, world)
    token = world.om.payments[pay_token]["notif_token"]
    leaked = f'{{"status":"SUCCESS","notif_token":"{token}","txnid":"MP1"}}'.encode()
    assert world.callback("orange_money", {}, leaked).outcome == "still_pending"
    assert world.payment(view.payment_id).status == "pending"
    assert world.book.issued == {}


def test_orange_money_has_no_refund_api(world: World) -> None:
    view = world.start("orange_money", 2500)
    world.om.settle(_ref(view, world), "SUCCESS")
    world.callback("orange_money", {}, world.om.deliveries[-1][1])
    with world.uow() as uow, pytest.raises(Conflict):
        service.refund(
            uow, world.gateway, payment_id=view.payment_id, amount_xof=2500, reason="cancelled"
        )


def test_reconcile_all_walks_every_tenant(world: World) -> None:
    from teranga.ticketing.payments.tasks import reconcile_all
    from teranga.ticketing.payments.wiring import EXTRAS_KEY

    world.container.extras[EXTRAS_KEY] = world.gateway
    other = make_tenant(world.container)
    mine = world.start("wave", 1000)
    with world.container.uow(other) as uow:
        theirs = service.start_payment(
            uow,
            world.gateway,
            order_id=uuid.uuid4(),
            amount_xof=2000,
            provider="wave",
            phone=None,
            return_url="http://127.0.0.1/ok",
            idempotency_key="same-key-other-tenant",
        )
    for tenant, view in ((world.tenant, mine), (other, theirs)):
        with world.container.uow(tenant) as uow:
            reference = uow.session.scalar(
                sa.select(Payment.client_reference).where(Payment.id == view.payment_id)
            )
        assert reference is not None
        world.wave.pay(world.wave.session_for(reference)["id"])
    reports = reconcile_all(world.container, older_than=dt.timedelta(0))
    assert reports[world.tenant].settled == 1
    assert reports[other].settled == 1
    assert len(world.book.issued) == 2


def test_late_refund_that_fails_is_retried_by_the_reconciler(world: World) -> None:
    view = world.start("wave", 5000)
    world.book.taken.add(view.order_id)
    world.wave.refund_error = 503
    sid = _ref(view, world)
    world.wave.pay(sid)
    assert world.callback("wave", *world.wave.deliveries[-1]).outcome == "refund_required"
    p = world.payment(view.payment_id)
    assert (p.status, p.review_reason) == ("succeeded", "refund_failed")
    assert world.outbox("ticketing.payment.refund_failed") != []
    world.wave.refund_error = None
    report = world.reconcile()
    assert report.outcomes == {"refund_succeeded": 1}
    p = world.payment(view.payment_id)
    assert (p.status, p.review_reason, p.refunded_xof) == ("refunded", None, 5000)
    assert world.wave.refunds == [sid]


def test_late_orange_money_payment_needs_a_manual_refund(world: World) -> None:
    view = world.start("orange_money", 2500)
    world.book.taken.add(view.order_id)
    world.om.settle(_ref(view, world), "SUCCESS")
    result = world.callback("orange_money", {}, world.om.deliveries[-1][1])
    assert result.outcome == "refund_required"  # settled and acknowledged, not retried
    p = world.payment(view.payment_id)
    assert (p.status, p.review_reason) == ("succeeded", "manual_refund_required")
    [notice] = world.outbox("ticketing.payment.refunded_late")
    assert notice["refund_status"] == "manual_required"
    assert notice["notify_buyer"] is True


def test_status_query_failure_leaves_the_callback_for_a_retry(world: World) -> None:
    view = world.start("wave", 5000)
    world.wave.pay(_ref(view, world))
    headers, body = world.wave.deliveries[-1]
    world.wave.status_error = 500
    with pytest.raises(ProviderTimeout):
        world.callback("wave", headers, body)  # the web layer answers 503: Wave retries
    assert world.payment(view.payment_id).status == "pending"
    assert world.count(PaymentEvent, view.payment_id) == 0  # not swallowed as a duplicate
    world.wave.status_error = None
    assert world.callback("wave", headers, body).outcome == "succeeded"
