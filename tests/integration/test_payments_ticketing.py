"""Payments with the real ticketing core: the sandbox pays an order, tickets come once;
a payment that lands after the hold expired and the places were resold is refunded."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from teranga.container import Container
from teranga.platform.clock import FrozenClock
from teranga.platform.outbox import OutboxMessage
from teranga.ticketing import fulfilment, sales
from teranga.ticketing import service as catalogue
from teranga.ticketing.payments import service
from teranga.ticketing.payments.providers.sandbox import SandboxProvider
from teranga.ticketing.payments.service import PaymentGateway
from tests.factories import make_tenant

T0 = dt.datetime(2026, 10, 31, 9, 0, tzinfo=dt.UTC)


@dataclass
class Shop:
    container: Container
    tenant: uuid.UUID
    session: uuid.UUID
    category: uuid.UUID
    clock: FrozenClock
    sandbox: SandboxProvider
    gateway: PaymentGateway

    def order(self, qty: int, phone: str) -> sales.OrderView:
        with self.container.uow(self.tenant) as uow:
            hold = sales.create_hold(
                uow,
                session_id=self.session,
                category_id=self.category,
                quantity=qty,
                now=self.clock.now(),
            )
            return sales.checkout(uow, hold_id=hold.id, phone=phone, now=self.clock.now()).order

    def pay(self, order: sales.OrderView) -> tuple[service.PaymentView, service.CallbackResult]:
        with self.container.uow(self.tenant) as uow:
            view = service.start_payment(
                uow,
                self.gateway,
                order_id=order.id,
                amount_xof=order.total_xof,
                provider="sandbox",
                phone=None,
                return_url="http://127.0.0.1:8000/billetterie",
                idempotency_key=f"pay-{order.id}",
            )
        assert view.redirect_url is not None
        intent = self.sandbox.decide(view.redirect_url.rsplit("/", 1)[-1], approve=True)
        assert intent is not None
        headers, body = self.sandbox.signed_callback(intent)
        with self.container.uow(self.tenant) as uow:
            result = service.handle_callback(
                uow, self.gateway, provider="sandbox", headers=headers, body=body
            )
        return view, result


@pytest.fixture
def shop(container: Container) -> Shop:
    tid = make_tenant(container)
    with container.uow(tid) as uow:
        ev = catalogue.create_event(uow, name="Lutte — finale")
        s = catalogue.create_session(
            uow,
            event_id=ev.id,
            name="Finale",
            starts_at=T0 + dt.timedelta(days=2),
            ends_at=T0 + dt.timedelta(days=2, hours=2),
            sale_starts_at=T0 - dt.timedelta(days=1),
            venue_name="Arène nationale",
            per_order_limit=4,
            per_person_limit=None,
        )
        zone = catalogue.add_zone(uow, session_id=s.id, name="Pelouse", capacity=2)
        cat = catalogue.add_category(
            uow, session_id=s.id, zone_id=zone.id, name="Pelouse", price_xof=3000
        )
    clock = FrozenClock(T0)
    sandbox = SandboxProvider(
        sa.create_engine(f"sqlite:///{container.settings.data_dir}/psp.sqlite"),
        secret="sandbox-secret",
        page_base_url="http://127.0.0.1:8000",
        clock=clock,
    )
    gw = PaymentGateway(
        providers={"sandbox": sandbox},
        fulfilment=fulfilment,
        clock=clock,
        callback_base_url="http://127.0.0.1:8000",
    )
    return Shop(container, tid, s.id, cat.id, clock, sandbox, gw)


def test_sandbox_payment_issues_tickets_once(shop: Shop) -> None:
    order = shop.order(2, "771234567")
    view, result = shop.pay(order)
    assert result.outcome == "succeeded"
    with shop.container.uow(shop.tenant) as uow:
        paid = sales.get_order(uow, order.id)
        assert service.get_payment(uow, view.payment_id).fulfilment == "issued"
    assert paid.status == "paid"
    assert len(paid.tickets) == 2


def test_late_payment_after_places_resold_is_refunded(shop: Shop) -> None:
    late_order = shop.order(2, "771111111")
    shop.clock.advance(minutes=15)  # the 10-minute hold is gone ...
    resold = shop.order(2, "772222222")  # ... and someone else bought the places
    shop.pay(resold)
    view, result = shop.pay(late_order)  # the first buyer's money arrives now
    assert result.outcome == "refund_required"
    with shop.container.uow(shop.tenant) as uow:
        payment = service.get_payment(uow, view.payment_id)
        order = sales.get_order(uow, late_order.id)
        notices = [
            m.payload
            for m in uow.session.scalars(
                sa.select(OutboxMessage).where(
                    OutboxMessage.topic == "ticketing.payment.refunded_late",
                    OutboxMessage.tenant_id == shop.tenant,
                )
            )
        ]
    assert (payment.status, payment.refunded_xof) == ("refunded", 6000)
    assert order.tickets == []
    assert [n["order_id"] for n in notices] == [str(late_order.id)]
    assert notices[0]["notify_buyer"] is True
