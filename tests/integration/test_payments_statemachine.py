"""Hypothesis state machine: payments through the sandbox provider, against invariants.

Random interleavings of starts, buyer decisions, callback deliveries (duplicated, late,
reordered), reconciliations, clock jumps and refunds. After every step: one capture at
most per payment, the ledger balances, tickets exist exactly for captured payments, a
payment's status never goes back, and it never says paid when the provider did not.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from teranga.config import Settings
from teranga.container import Container, build_container
from teranga.platform.clock import FrozenClock
from teranga.platform.errors import ValidationFailed
from teranga.ticketing.payments import service
from teranga.ticketing.payments.models import Payment, PaymentLedgerEntry
from teranga.ticketing.payments.providers.sandbox import SandboxProvider
from teranga.ticketing.payments.service import PaymentGateway
from tests.factories import make_tenant
from tests.fakes.orderbook import OrderBook

RANK = {
    "pending": 0,
    "failed": 1,
    "expired": 1,
    "needs_review": 2,
    "succeeded": 2,
    "partially_refunded": 3,
    "refunded": 4,
}
PAID = {"succeeded", "partially_refunded", "refunded"}


class PaymentsMachine(RuleBasedStateMachine):
    def __init__(self, container: Container, store: Path) -> None:
        super().__init__()
        self.container = container
        self.tenant = make_tenant(container)
        self.clock = FrozenClock(dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC))
        self.sandbox = SandboxProvider(
            sa.create_engine(f"sqlite:///{store}"),
            secret="sm-secret",
            page_base_url="http://127.0.0.1:8000",
            clock=self.clock,
        )
        self.book = OrderBook()
        self.gw = PaymentGateway(
            providers={"sandbox": self.sandbox},
            fulfilment=self.book,
            clock=self.clock,
            callback_base_url="http://127.0.0.1:8000",
            payment_ttl=dt.timedelta(minutes=10),
        )
        self.refs: list[tuple[uuid.UUID, str]] = []  # (payment id, provider ref)
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.seen: dict[uuid.UUID, str] = {}

    def _pick(self, i: int) -> tuple[uuid.UUID, str] | None:
        return self.refs[i % len(self.refs)] if self.refs else None

    @rule(amount=st.integers(1, 20_000))
    def start(self, amount: int) -> None:
        with self.container.uow(self.tenant) as uow:
            view = service.start_payment(
                uow,
                self.gw,
                order_id=uuid.uuid4(),
                amount_xof=amount,
                provider="sandbox",
                phone=None,
                return_url="/ok",
                idempotency_key=uuid.uuid4().hex,
            )
        assert view.redirect_url is not None
        self.refs.append((view.payment_id, view.redirect_url.rsplit("/", 1)[-1]))

    @rule(i=st.integers(0, 50), approve=st.booleans())
    def buyer_decides(self, i: int, approve: bool) -> None:
        picked = self._pick(i)
        if picked is None:
            return
        intent = self.sandbox.decide(picked[1], approve=approve)
        assert intent is not None
        self.deliveries.append(self.sandbox.signed_callback(intent))

    @rule(j=st.integers(0, 50))
    def deliver(self, j: int) -> None:
        if not self.deliveries:
            return
        headers, body = self.deliveries[j % len(self.deliveries)]  # may repeat or be late
        with self.container.uow(self.tenant) as uow:
            service.handle_callback(uow, self.gw, provider="sandbox", headers=headers, body=body)

    @rule()
    def reconcile(self) -> None:
        with self.container.uow(self.tenant) as uow:
            service.reconcile_pending(uow, self.gw, older_than=dt.timedelta(0))

    @rule(minutes=st.integers(1, 20))
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)
        # Keep callbacks inside the signature window, as a provider re-signing retries would.
        self.deliveries = [
            self.sandbox.signed_callback(i)
            for i in (self.sandbox.get(r) for _, r in self.refs)
            if i is not None and i.status.value != "pending"
        ]

    @rule(i=st.integers(0, 50), amount=st.integers(1, 20_000))
    def refund(self, i: int, amount: int) -> None:
        picked = self._pick(i)
        if picked is None:
            return
        with self.container.uow(self.tenant) as uow:
            p = uow.session.get(Payment, picked[0])
            assert p is not None
            refundable = p.amount_xof - p.refunded_xof if p.status in PAID else 0
            if 0 < amount <= refundable:
                service.refund(uow, self.gw, payment_id=p.id, amount_xof=amount, reason="customer")
            else:
                with pytest.raises(ValidationFailed):
                    service.refund(
                        uow, self.gw, payment_id=p.id, amount_xof=amount, reason="customer"
                    )

    @invariant()
    def books_balance(self) -> None:
        with self.container.uow(self.tenant) as uow:
            for pid, ref in self.refs:
                p = uow.session.get(Payment, pid)
                assert p is not None
                entries = list(
                    uow.session.scalars(
                        sa.select(PaymentLedgerEntry).where(PaymentLedgerEntry.payment_id == pid)
                    )
                )
                captures = [e for e in entries if e.entry_key == "capture"]
                paid = p.status in PAID
                assert len(captures) == (1 if paid else 0)
                assert sum(e.amount_xof for e in entries) == (
                    p.amount_xof - p.refunded_xof if paid else 0
                )
                assert (p.order_id in self.book.issued) == paid
                if paid:
                    assert self.book.issued[p.order_id] == [pid]
                    intent = self.sandbox.get(ref)
                    assert intent is not None
                    assert intent.status.value == "succeeded"
                before = self.seen.get(pid, "pending")
                assert RANK[p.status] >= RANK[before], f"{before} -> {p.status}"
                self.seen[pid] = p.status


def test_payments_state_machine(sqlite_settings: Settings, tmp_path: Path) -> None:
    container = build_container(sqlite_settings)
    try:
        run_state_machine_as_test(
            lambda: PaymentsMachine(container, tmp_path / "psp.sqlite"),
            settings=settings(
                max_examples=20,
                stateful_step_count=20,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        container.dispose()
