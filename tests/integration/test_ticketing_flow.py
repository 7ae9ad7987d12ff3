"""Ticketing use cases end to end on SQLite and PostgreSQL (RLS on)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest

from teranga.container import Container
from teranga.platform.errors import Conflict, NotFound, ValidationFailed
from teranga.platform.uow import UnitOfWork
from teranga.ticketing import aftersale, fulfilment, sales
from teranga.ticketing import service as catalogue
from teranga.ticketing.domain import b45decode, verify_payload
from teranga.ticketing.fulfilment import FulfilmentResult
from tests.factories import make_tenant

T0 = dt.datetime(2026, 10, 31, 9, 0, tzinfo=dt.UTC)


@dataclass
class Setup:
    tenant: uuid.UUID
    session: uuid.UUID
    ga_cat: uuid.UUID
    seat_cat: uuid.UUID
    free_cat: uuid.UUID
    event: uuid.UUID


def make_session(
    container: Container,
    *,
    ga: int = 5,
    rows: int = 1,
    per_row: int = 4,
    per_person: int | None = 4,
    price: int = 2000,
    tenant: uuid.UUID | None = None,
) -> Setup:
    tid = tenant or make_tenant(container)
    with container.uow(tid) as uow:
        ev = catalogue.create_event(uow, name="Basket 3x3 — finale")
        s = catalogue.create_session(
            uow,
            event_id=ev.id,
            name="Finale",
            starts_at=T0 + dt.timedelta(days=2),
            ends_at=T0 + dt.timedelta(days=2, hours=2),
            sale_starts_at=T0 - dt.timedelta(days=1),
            venue_name="Dakar Arena",
            per_order_limit=4,
            per_person_limit=per_person,
        )
        gz = catalogue.add_zone(uow, session_id=s.id, name="Pelouse", capacity=ga)
        sz = catalogue.add_zone(
            uow,
            session_id=s.id,
            name="Tribune",
            seats=catalogue.seat_grid("A", [str(r) for r in range(1, rows + 1)], per_row),
        )
        gc = catalogue.add_category(
            uow, session_id=s.id, zone_id=gz.id, name="Pelouse", price_xof=price
        )
        sc = catalogue.add_category(
            uow, session_id=s.id, zone_id=sz.id, name="Tribune", price_xof=5000
        )
        fc = catalogue.add_category(
            uow, session_id=s.id, zone_id=gz.id, name="Invitation", price_xof=0, quota=2
        )
    return Setup(tid, s.id, gc.id, sc.id, fc.id, ev.id)


def buy(
    container: Container,
    st: Setup,
    *,
    qty: int = 1,
    phone: str = "771234567",
    now: dt.datetime = T0,
) -> sales.OrderView:
    with container.uow(st.tenant) as uow:
        hold = sales.create_hold(
            uow, session_id=st.session, category_id=st.ga_cat, quantity=qty, now=now
        )
        co = sales.checkout(uow, hold_id=hold.id, phone=phone, now=now)
        assert pay_in_full(uow, co.order, now=now).status == "issued"
        return sales.get_order(uow, co.order.id)


def pay_in_full(
    uow: UnitOfWork, order: sales.OrderView, *, now: dt.datetime = T0
) -> FulfilmentResult:
    """The order's total confirmed by a sandbox payment (a new payment id)."""
    return fulfilment.on_payment_confirmed(
        uow,
        order_id=order.id,
        payment_id=uuid.uuid4(),
        amount_xof=order.total_xof,
        provider="sandbox",
        now=now,
    )


def test_paid_flow_issues_signed_tickets_once(container: Container) -> None:
    st = make_session(container)
    with container.uow(st.tenant) as uow:
        hold = sales.create_hold(
            uow, session_id=st.session, category_id=st.ga_cat, quantity=2, now=T0
        )
        assert hold.total_xof == 4000
        assert hold.expires_at == T0 + dt.timedelta(minutes=10)
        co = sales.checkout(uow, hold_id=hold.id, phone="+221 77 123 45 67", now=T0)
    pid = uuid.uuid4()
    with container.uow(st.tenant) as uow:
        first = fulfilment.on_payment_confirmed(
            uow, order_id=co.order.id, payment_id=pid, amount_xof=4000, provider="sandbox", now=T0
        )
    with container.uow(st.tenant) as uow:
        again = fulfilment.on_payment_confirmed(
            uow, order_id=co.order.id, payment_id=pid, amount_xof=4000, provider="sandbox", now=T0
        )
        fulfilment.on_payment_failed(uow, co.order.id, pid)  # late failure: no effect
        order = sales.get_order(uow, co.order.id, token=co.access_token)
        keys = {
            k.key_id: __import__("base64").b64decode(k.public_key)
            for k in catalogue.public_keys(uow)
        }
    assert first.status == "issued"
    assert len(first.ticket_ids) == 2
    assert again.status == "already_issued"
    assert set(again.ticket_ids) == set(first.ticket_ids)
    assert order.status == "paid"
    assert len(order.tickets) == 2
    for t in order.tickets:
        claims = verify_payload(b45decode(t.qr), keys)
        assert claims.ticket_id == t.id
        assert len(t.qr) <= 170
    with container.uow(st.tenant) as uow, pytest.raises(NotFound):
        sales.get_order(uow, co.order.id, token="wrong")


def test_amount_mismatch_and_double_payment_require_refund(container: Container) -> None:
    st = make_session(container)
    with container.uow(st.tenant) as uow:
        hold = sales.create_hold(
            uow, session_id=st.session, category_id=st.ga_cat, quantity=1, now=T0
        )
        co = sales.checkout(uow, hold_id=hold.id, phone="771234567", now=T0)
        bad = fulfilment.on_payment_confirmed(
            uow, order_id=co.order.id, payment_id=uuid.uuid4(), amount_xof=1, provider="x", now=T0
        )
        ok = fulfilment.on_payment_confirmed(
            uow,
            order_id=co.order.id,
            payment_id=uuid.uuid4(),
            amount_xof=2000,
            provider="x",
            now=T0,
        )
        dup = fulfilment.on_payment_confirmed(
            uow,
            order_id=co.order.id,
            payment_id=uuid.uuid4(),
            amount_xof=2000,
            provider="x",
            now=T0,
        )
    assert (bad.status, bad.reason) == ("refund_required", "amount_mismatch")
    assert ok.status == "issued"
    assert (dup.status, dup.reason) == ("refund_required", "order_already_paid")


def test_ga_capacity_and_expiry_without_background_job(container: Container) -> None:
    st = make_session(container, ga=3, per_person=None)
    with container.uow(st.tenant) as uow:
        sales.create_hold(uow, session_id=st.session, category_id=st.ga_cat, quantity=3, now=T0)
        with pytest.raises(Conflict) as exc:
            sales.create_hold(uow, session_id=st.session, category_id=st.ga_cat, quantity=1, now=T0)
    assert exc.value.code == "ticketing.sold_out"
    later = T0 + dt.timedelta(minutes=10)
    with container.uow(st.tenant) as uow:
        h = sales.create_hold(
            uow, session_id=st.session, category_id=st.ga_cat, quantity=3, now=later
        )
    assert h.quantity == 3


def test_late_payment_reattaches_or_requires_refund(container: Container) -> None:
    st = make_session(container, ga=2, per_person=None)
    with container.uow(st.tenant) as uow:
        h1 = sales.create_hold(
            uow, session_id=st.session, category_id=st.ga_cat, quantity=2, now=T0
        )
        o1 = sales.checkout(uow, hold_id=h1.id, phone="771111111", now=T0).order
    late = T0 + dt.timedelta(minutes=15)
    # Nobody took the places: re-attached.
    with container.uow(st.tenant) as uow:
        # Another hold attempt sweeps o1's hold (expired) first.
        h2 = sales.create_hold(
            uow, session_id=st.session, category_id=st.ga_cat, quantity=1, now=late
        )
        sales.release_hold(uow, hold_id=h2.id)
        r1 = fulfilment.on_payment_confirmed(
            uow, order_id=o1.id, payment_id=uuid.uuid4(), amount_xof=4000, provider="x", now=late
        )
    assert r1.status == "issued"
    # Places taken meanwhile: refund required, no oversell.
    with container.uow(st.tenant) as uow:
        aftersale.refund_order(uow, order_id=o1.id, reason="test", actor_id=None, now=late)
        h3 = sales.create_hold(
            uow, session_id=st.session, category_id=st.ga_cat, quantity=2, now=late
        )
        o3 = sales.checkout(uow, hold_id=h3.id, phone="772222222", now=late).order
    later = late + dt.timedelta(minutes=11)
    with container.uow(st.tenant) as uow:
        sales.create_hold(uow, session_id=st.session, category_id=st.ga_cat, quantity=2, now=later)
        r3 = fulfilment.on_payment_confirmed(
            uow, order_id=o3.id, payment_id=uuid.uuid4(), amount_xof=4000, provider="x", now=later
        )
        assert (r3.status, r3.reason) == ("refund_required", "places_taken")
        assert sales.get_order(uow, o3.id).status == "cancelled"
        s = catalogue.get_session(uow, st.session)
    assert s.taken == 2


def test_seats_best_available_chosen_and_taken(container: Container) -> None:
    st = make_session(container, rows=1, per_row=4)
    with container.uow(st.tenant) as uow:
        h = sales.create_hold(
            uow, session_id=st.session, category_id=st.seat_cat, quantity=2, now=T0
        )
        assert [p.seat for p in h.places] == ["A · rang 1 · place 1", "A · rang 1 · place 2"]
    with container.uow(st.tenant) as uow:
        h2 = sales.create_hold(
            uow, session_id=st.session, category_id=st.seat_cat, quantity=2, now=T0
        )
        assert h2.places[0].seat == "A · rang 1 · place 3"
        with pytest.raises(Conflict):
            sales.create_hold(
                uow, session_id=st.session, category_id=st.seat_cat, quantity=1, now=T0
            )


def test_per_person_cap_across_orders_and_free_registration(container: Container) -> None:
    st = make_session(container, per_person=3)
    buy(container, st, qty=2, phone="771234567")
    with container.uow(st.tenant) as uow:
        h = sales.create_hold(uow, session_id=st.session, category_id=st.ga_cat, quantity=2, now=T0)
        with pytest.raises(Conflict) as exc:
            sales.checkout(uow, hold_id=h.id, phone="+221771234567", now=T0)
    assert exc.value.code == "ticketing.person_limit"
    with container.uow(st.tenant) as uow:
        h = sales.create_hold(
            uow, session_id=st.session, category_id=st.free_cat, quantity=1, now=T0
        )
        co = sales.checkout(uow, hold_id=h.id, phone="775555555", now=T0)
    assert co.order.status == "paid"
    assert len(co.order.tickets) == 1


def test_transfer_revokes_old_code_and_refund_voids(container: Container) -> None:
    st = make_session(container)
    order = buy(container, st, qty=2)
    t = order.tickets[0]
    with container.uow(st.tenant) as uow:
        moved = aftersale.transfer_ticket(
            uow, ticket_id=t.id, to_phone="781112233", order_token=None, actor_id=None, now=T0
        )
        assert (moved.status, moved.replaced_id) == ("transferred", t.id)
        assert moved.to_phone_masked == "+221 ••• •• 33"
        # Staff see the new ticket (the order view without a token lists every holder's).
        (new,) = [x for x in sales.get_order(uow, order.id).tickets if x.id == moved.id]
        assert new.code != t.code
        old = aftersale.check_code(uow, t.code)
        assert (old.valid, old.reason) == (False, "revoked")
        assert aftersale.check_code(uow, new.code.lower()).valid
        with pytest.raises(ValidationFailed):
            aftersale.check_code(uow, "ABCD")
        revs = aftersale.revocations(uow, since=None)
        assert [r.ticket_id for r in revs] == [t.id]
        assert any(o.id == order.id for o in aftersale.orders_by_phone(uow, "781112233"))
    with container.uow(st.tenant) as uow:
        line = order.places[1].line_id
        due = aftersale.refund_order(
            uow, order_id=order.id, line_ids=[line], reason="client", actor_id=None, now=T0
        )
        assert due.amount_xof == 2000
        view = sales.get_order(uow, order.id)
        assert view.status == "paid"
        assert view.refunded_xof == 2000
        assert len(view.tickets) == 1
        due = aftersale.refund_order(uow, order_id=order.id, reason="x", actor_id=None, now=T0)
        assert sales.get_order(uow, order.id).status == "refunded"
        assert catalogue.get_session(uow, st.session).taken == 0


def test_cancel_session_refunds_everything(container: Container) -> None:
    st = make_session(container, per_person=None)
    o1 = buy(container, st, qty=2)
    with container.uow(st.tenant) as uow:
        h = sales.create_hold(uow, session_id=st.session, category_id=st.ga_cat, quantity=1, now=T0)
        pending = sales.checkout(uow, hold_id=h.id, phone="776666666", now=T0).order
        dues = aftersale.cancel_session(uow, session_id=st.session, actor_id=None, now=T0)
        assert [(d.order_id, d.amount_xof) for d in dues] == [(o1.id, 4000)]
        assert sales.get_order(uow, pending.id).status == "cancelled"
        with pytest.raises(Conflict):
            sales.create_hold(uow, session_id=st.session, category_id=st.ga_cat, quantity=1, now=T0)


def test_other_tenant_sees_nothing(container: Container) -> None:
    st = make_session(container)
    order = buy(container, st)
    other = make_tenant(container)
    with container.uow(other) as uow:
        with pytest.raises(NotFound):
            sales.get_order(uow, order.id)
        with pytest.raises(NotFound):
            catalogue.get_session(uow, st.session)
        assert catalogue.public_keys(uow) == []


def test_idempotency_keys_are_kept_24_hours_then_pruned(container: Container) -> None:
    from teranga.ticketing import idempotency

    tid = make_tenant(container)
    for key, at in (("old", T0), ("recent", T0 + dt.timedelta(hours=2))):
        assert (
            idempotency.claim(
                container.uow_factory, tenant_id=tid, scope="s", key=key, fingerprint="f", now=at
            )
            is None
        )
    with container.uow(tid) as uow:
        assert idempotency.prune(uow, now=T0 + dt.timedelta(hours=23)) == 0
        assert idempotency.prune(uow, now=T0 + dt.timedelta(hours=25)) == 1
    with pytest.raises(ValidationFailed):
        idempotency.claim(
            container.uow_factory, tenant_id=tid, scope="s", key="recent", fingerprint="g", now=T0
        )


def test_housekeeping_prunes_expired_keys_in_every_tenant(container: Container) -> None:
    """The background reconciler loop prunes idempotency keys (nothing else calls prune)."""
    from teranga.ticketing import idempotency
    from teranga.ticketing.payments.tasks import housekeeping_all

    now = container.clock.now()
    tenants = [make_tenant(container), make_tenant(container)]
    for tid in tenants:
        for key, at in (("old", now - dt.timedelta(hours=30)), ("fresh", now)):
            idempotency.claim(
                container.uow_factory, tenant_id=tid, scope="s", key=key, fingerprint="f", now=at
            )
    pruned = housekeeping_all(container)
    assert [pruned[t] for t in tenants] == [1, 1]
    for tid in tenants:  # the fresh key still answers (a different body is refused)
        with pytest.raises(ValidationFailed):
            idempotency.claim(
                container.uow_factory,
                tenant_id=tid,
                scope="s",
                key="fresh",
                fingerprint="g",
                now=now,
            )
    assert all(n == 0 for n in housekeeping_all(container).values())


def test_api_for_gates_verifies_qr_and_code_and_revocations(container: Container) -> None:
    from teranga.ticketing import api

    st = make_session(container)
    order = buy(container, st, qty=2)
    t = order.tickets[0]
    with container.uow(st.tenant) as uow:
        by_qr = api.verify_ticket_text(uow, t.qr)
        by_code = api.verify_ticket_text(uow, t.code.lower())
        assert by_qr is not None
        assert by_qr == by_code
        assert by_qr.ticket_id == t.id
        assert by_qr.session_tag == api.tag_of(st.session)
        forged = t.qr[:-3] + ("000" if not t.qr.endswith("000") else "111")
        assert api.verify_ticket_text(uow, forged) is None
        assert api.verify_ticket_text(uow, "not a ticket") is None
        assert not api.is_revoked(uow, t.id)
        keys = api.public_keys_for_sessions(uow, [st.session])
        assert [k["key_id"] for k in keys] == [by_qr.key_id]
        assert api.session_ids(uow) == [st.session]
        aftersale.transfer_ticket(
            uow, ticket_id=t.id, to_phone="781112233", order_token=None, actor_id=None, now=T0
        )
        assert api.is_revoked(uow, t.id)
        assert api.revoked_since(uow, None) == [t.id]
        assert api.revoked_since(uow, T0) == []
    other = make_tenant(container)
    with container.uow(other) as uow:
        assert api.verify_ticket_text(uow, t.qr) is None  # another tenant's keys


def test_a_qr_text_starting_with_a_space_verifies(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A space is a base45 character: every ticket of an event whose key id starts with one
    of six byte values (2.3 % of events) has a QR text that starts with " ". Trimming it
    (as gates did) made all of that event's tickets "unknown"."""
    from teranga.access import service as access
    from teranga.ticketing import api, domain

    def unlucky_key() -> domain.SigningKey:
        while True:
            key = real()
            if (256 + (key.key_id >> 24)) % 45 == 36:  # first base45 character: " "
                return key

    real = domain.generate_signing_key
    monkeypatch.setattr(catalogue, "generate_signing_key", unlucky_key)
    st = make_session(container)
    (ticket,) = buy(container, st).tickets
    assert ticket.qr.startswith(" ")
    with container.uow(st.tenant) as uow:
        claims = api.verify_ticket_text(uow, ticket.qr + "\r\n")
        assert claims is not None
        assert claims.ticket_id == ticket.id
        cred = access.decode(uow, ticket.qr)
        assert cred is not None
        assert cred.credential_id == ticket.id
