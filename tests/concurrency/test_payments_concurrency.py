"""Concurrent callbacks for one payment on PostgreSQL: exactly one fulfilment and one
ledger capture. Negative control: without the row lock the race is real."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from teranga.container import Container
from teranga.platform.clock import Clock
from teranga.platform.uow import UnitOfWork
from teranga.ticketing.payments import service
from teranga.ticketing.payments.models import Payment, PaymentEvent, PaymentLedgerEntry
from teranga.ticketing.payments.providers.http import make_client
from teranga.ticketing.payments.providers.wave import WaveProvider
from teranga.ticketing.payments.service import PaymentGateway
from tests.factories import make_tenant
from tests.fakes.orderbook import OrderBook
from tests.fakes.server import serve
from tests.fakes.wave import FakeWave

pytestmark = pytest.mark.pg


@dataclass
class SlowBook(OrderBook):
    """Counts confirmations and holds the transaction open a while, to widen races."""

    calls: int = 0

    def on_payment_confirmed(
        self,
        uow: UnitOfWork,
        *,
        order_id: uuid.UUID,
        payment_id: uuid.UUID,
        amount_xof: int,
        provider: str,
        now: dt.datetime | None = None,
    ) -> object:
        self.calls += 1
        time.sleep(0.2)
        return super().on_payment_confirmed(
            uow, order_id=order_id, payment_id=payment_id, amount_xof=amount_xof, provider=provider
        )


def _race(
    container: Container, wave: FakeWave, wave_url: str
) -> tuple[SlowBook, list[BaseException], uuid.UUID, uuid.UUID]:
    tenant = make_tenant(container)
    book = SlowBook()
    gw = PaymentGateway(
        providers={
            "wave": WaveProvider(
                make_client(wave_url, timeout=5, connect_timeout=5),
                api_key=wave.api_key,
                webhook_secrets=[wave.secret],
            )
        },
        fulfilment=book,
        clock=Clock(),
        callback_base_url="http://127.0.0.1:8000",
    )
    with container.uow(tenant) as uow:
        view = service.start_payment(
            uow,
            gw,
            order_id=uuid.uuid4(),
            amount_xof=3000,
            provider="wave",
            phone=None,
            return_url="http://127.0.0.1/ok",
            idempotency_key=uuid.uuid4().hex,
        )
    with container.uow(tenant) as uow:
        ref = uow.session.get(Payment, view.payment_id).provider_ref  # type: ignore[union-attr]
    assert ref is not None
    wave.pay(ref)
    session = wave.sessions[ref]
    distinct = [
        wave.webhook("checkout.session.completed", session, event_id=f"EV_{i}") for i in range(6)
    ]
    deliveries = distinct + distinct  # each event twice, all at once
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(deliveries))

    def deliver(headers: dict[str, str], body: bytes) -> None:
        barrier.wait()
        try:
            with container.uow(tenant) as uow:
                service.handle_callback(uow, gw, provider="wave", headers=headers, body=body)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=d) for d in deliveries]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return book, errors, tenant, view.payment_id


def test_concurrent_callbacks_fulfil_exactly_once(pg_container: Container) -> None:
    wave = FakeWave()
    with serve(wave.app) as url:
        book, errors, tenant, pid = _race(pg_container, wave, url)
    assert errors == []
    assert book.calls == 1
    assert len(book.issued) == 1
    with pg_container.uow(tenant) as uow:
        captures = uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(PaymentLedgerEntry)
            .where(PaymentLedgerEntry.payment_id == pid)
        )
        events = uow.session.execute(
            sa.select(sa.func.count(), sa.func.sum(PaymentEvent.duplicates)).where(
                PaymentEvent.payment_id == pid
            )
        ).one()
    assert captures == 1
    assert tuple(events) == (6, 6)


def test_negative_control_without_the_row_lock_the_race_is_real(
    pg_container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "lock_payment", lambda uow, payment: payment)
    monkeypatch.setattr(service, "locked", lambda q: q)  # the callback's own look-up
    wave = FakeWave()
    with serve(wave.app) as url:
        book, errors, _tenant, _pid = _race(pg_container, wave, url)
    # Several threads saw "pending" and went on to capture; only the ledger's unique
    # constraint stopped a second capture, surfacing as errors (5xx to the provider).
    assert book.calls >= 1
    assert any(isinstance(e, IntegrityError) for e in errors)
