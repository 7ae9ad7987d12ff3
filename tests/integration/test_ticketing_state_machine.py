"""Hypothesis state machine: holds, orders, payments, expiry, refunds and transfers against
a simple model (SQLite; each example gets its own tenant and session).

The model mirrors the rules: a hold counts while ACTIVE; expired holds are swept only in
the lock path of a claim (hold, late payment), never by a background job; a late
payment re-attaches its places when they are free and otherwise asks for a refund. A
ticket counts against the per-person cap of the phone that holds it now: transfers move it
from its buyer to the recipient, and a transfer that would put the recipient over the cap
(or that goes to the phone already holding the ticket) is refused.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from teranga import schema
from teranga.container import Container, build_container
from teranga.platform.clock import FrozenClock
from teranga.platform.errors import Conflict
from teranga.ticketing import aftersale, fulfilment, pii, repo, sales
from teranga.ticketing import service as catalogue
from teranga.ticketing.models import OrderLine, PriceCategory, Ticket, TicketSession, Zone
from tests.conftest import make_settings
from tests.factories import make_tenant

T0 = dt.datetime(2026, 10, 31, 9, 0, tzinfo=dt.UTC)
GA, SEATS, CAP = 3, 2, 2  # GA places, seats, per-person cap
PHONES = ["771000001", "771000002"]
RECIPIENTS = [*PHONES, "771000003"]  # the last one never buys, it only receives tickets


@dataclass
class MHold:
    id: uuid.UUID
    zone: str
    qty: int
    expires: dt.datetime
    status: str = "active"  # active | expired | ordered | released
    order: uuid.UUID | None = None
    phone: str | None = None
    seats: frozenset[str] = frozenset()  # seat labels (seated zone), as allocated


@dataclass
class MOrder:
    id: uuid.UUID
    hold: MHold
    total: int
    status: str = "pending"
    tickets: set[uuid.UUID] = field(default_factory=set)


class TicketingMachine(RuleBasedStateMachine):
    container: Container

    def __init__(self) -> None:
        super().__init__()
        self.holds: list[MHold] = []
        self.orders: list[MOrder] = []
        self.revoked: set[uuid.UUID] = set()
        self.holder: dict[uuid.UUID, str] = {}  # valid ticket -> the phone holding it

    @initialize()
    def setup(self) -> None:
        self.clock = FrozenClock(T0)
        self.tenant = make_tenant(self.container)
        with self.container.uow(self.tenant) as uow:
            ev = catalogue.create_event(uow, name="Lutte")
            s = catalogue.create_session(
                uow,
                event_id=ev.id,
                name="Finale",
                starts_at=T0 + dt.timedelta(days=1),
                ends_at=T0 + dt.timedelta(days=1, hours=2),
                sale_starts_at=T0 - dt.timedelta(days=1),
                per_order_limit=2,
                per_person_limit=CAP,
            )
            ga = catalogue.add_zone(uow, session_id=s.id, name="GA", capacity=GA)
            sz = catalogue.add_zone(
                uow, session_id=s.id, name="T", seats=catalogue.seat_grid("A", ["1"], SEATS)
            )
            self.cats = {
                "ga": catalogue.add_category(
                    uow, session_id=s.id, zone_id=ga.id, name="GA", price_xof=1000
                ).id,
                "seat": catalogue.add_category(
                    uow, session_id=s.id, zone_id=sz.id, name="T", price_xof=3000
                ).id,
            }
        self.session = s.id
        self.price = {"ga": 1000, "seat": 3000}
        self.capacity = {"ga": GA, "seat": SEATS}

    # -- model helpers ----------------------------------------------------------------
    def now(self) -> dt.datetime:
        return self.clock.now()

    def sweep(self) -> list[MHold]:
        """Expire due holds; return them so a rolled-back claim can undo the sweep."""
        swept = [h for h in self.holds if h.status == "active" and h.expires <= self.now()]
        for h in swept:
            h.status = "expired"
        return swept

    @staticmethod
    def unsweep(swept: list[MHold]) -> None:
        for h in swept:
            h.status = "active"

    def used(self, zone: str) -> int:
        live = sum(h.qty for h in self.holds if h.zone == zone and h.status in ("active",))
        sold = sum(
            h.qty for o in self.orders if o.status == "paid" for h in [o.hold] if h.zone == zone
        )
        return live + sold

    def seats_in_use(self) -> frozenset[str]:
        out: set[str] = set()
        for h in self.holds:
            paid = any(o.hold is h and o.status == "paid" for o in self.orders)
            if h.status == "active" or paid:
                out |= h.seats
        return frozenset(out)

    def person(self, phone: str) -> int:
        """Own live places, less tickets given away, plus tickets received."""
        own = sum(
            h.qty
            for h in self.holds
            if h.phone == phone
            and (
                h.status == "active" or any(o.hold is h and o.status == "paid" for o in self.orders)
            )
        )
        paid = [o for o in self.orders if o.status == "paid"]
        given = sum(
            1 for o in paid if o.hold.phone == phone for t in o.tickets if self.holder[t] != phone
        )
        received = sum(
            1 for o in paid if o.hold.phone != phone for t in o.tickets if self.holder[t] == phone
        )
        return own - given + received

    # -- rules ------------------------------------------------------------------------
    @rule(zone=st.sampled_from(["ga", "seat"]), qty=st.integers(1, 2))
    def hold(self, zone: str, qty: int) -> None:
        swept = self.sweep()
        ok = self.used(zone) + qty <= self.capacity[zone]
        try:
            with self.container.uow(self.tenant) as uow:
                h = sales.create_hold(
                    uow,
                    session_id=self.session,
                    category_id=self.cats[zone],
                    quantity=qty,
                    now=self.now(),
                )
        except Conflict:
            refused = True
        else:
            refused = False
        assert refused != ok, f"in use {self.used(zone)} + {qty}, refused={refused}"
        if refused:
            self.unsweep(swept)  # the failed claim rolled its sweep back
            return
        seats = frozenset(p.seat for p in h.places if p.seat)
        self.holds.append(MHold(h.id, zone, qty, h.expires_at, seats=seats))

    @rule(
        asks=st.lists(
            st.tuples(st.sampled_from(["ga", "seat"]), st.integers(1, 2)), min_size=1, max_size=4
        )
    )
    def hold_batch(self, asks: list[tuple[str, int]]) -> None:
        """Several buyers' holds in one transaction (the group commit of a rush): each is
        decided in turn as if alone; the refused ones get their error and write nothing."""
        self.sweep()  # the batch commits, so its sweep stays even if every ask is refused
        with self.container.uow(self.tenant) as uow:
            out = sales.create_holds(
                uow,
                session_id=self.session,
                requests=[sales.HoldRequest(self.cats[z], quantity=q) for z, q in asks],
                now=self.now(),
            )
        for (zone, qty), res in zip(asks, out, strict=True):
            ok = self.used(zone) + qty <= self.capacity[zone]
            if not ok:
                assert isinstance(res, Conflict), (zone, qty, res)
                continue
            assert isinstance(res, sales.HoldView), (zone, qty, res)
            seats = frozenset(p.seat for p in res.places if p.seat)
            assert len(seats) == (qty if zone == "seat" else 0)
            self.holds.append(MHold(res.id, zone, qty, res.expires_at, seats=seats))

    @precondition(lambda self: any(h.status == "active" and h.order is None for h in self.holds))
    @rule(data=st.data(), phone=st.sampled_from(PHONES))
    def checkout(self, data: st.DataObject, phone: str) -> None:
        h = data.draw(
            st.sampled_from([h for h in self.holds if h.status == "active" and h.order is None])
        )
        live = self.now() < h.expires
        ok = live and self.person(phone) + h.qty <= CAP
        try:
            with self.container.uow(self.tenant) as uow:
                co = sales.checkout(uow, hold_id=h.id, phone=phone, now=self.now())
        except Conflict:
            refused = True
        else:
            refused = False
        assert refused != ok
        if refused:
            return
        h.order, h.phone = co.order.id, phone
        self.orders.append(MOrder(co.order.id, h, h.qty * self.price[h.zone]))

    @precondition(lambda self: any(o.status in ("pending", "paid") for o in self.orders))
    @rule(data=st.data())
    def pay(self, data: st.DataObject) -> None:
        o = data.draw(st.sampled_from([o for o in self.orders if o.status in ("pending", "paid")]))
        before = o.status
        if before == "pending" and o.hold.status == "expired":
            self.sweep()
            # A late payment gets the same places back, if still free (same seats).
            can = self.used(o.hold.zone) + o.hold.qty <= self.capacity[o.hold.zone]
            can = can and not (o.hold.seats & self.seats_in_use())
        else:
            can = True
        with self.container.uow(self.tenant) as uow:
            res = fulfilment.on_payment_confirmed(
                uow,
                order_id=o.id,
                payment_id=o.id,  # one payment per order in this model
                amount_xof=o.total,
                provider="sandbox",
                now=self.now(),
            )
        if before == "paid":
            assert res.status == "already_issued"
            assert set(res.ticket_ids) == o.tickets
            return
        if can:
            assert res.status == "issued", res.reason
            assert len(res.ticket_ids) == o.hold.qty
            o.status, o.hold.status, o.tickets = "paid", "ordered", set(res.ticket_ids)
            assert o.hold.phone is not None
            self.holder.update((t, o.hold.phone) for t in o.tickets)
        else:
            assert (res.status, res.reason) == ("refund_required", "places_taken")
            o.status = "cancelled"

    @rule(minutes=st.integers(1, 12))
    def advance(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)

    @precondition(lambda self: any(o.status == "paid" for o in self.orders))
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        o = data.draw(st.sampled_from([o for o in self.orders if o.status == "paid"]))
        with self.container.uow(self.tenant) as uow:
            due = aftersale.refund_order(
                uow, order_id=o.id, reason="test", actor_id=None, now=self.now()
            )
        assert due.amount_xof == o.total
        o.status, o.hold.status = "refunded", "released"
        self.revoked |= o.tickets
        for t in o.tickets:
            del self.holder[t]
        o.tickets = set()

    @precondition(lambda self: any(o.status == "paid" for o in self.orders))
    @rule(data=st.data(), phone=st.sampled_from(RECIPIENTS))
    def transfer(self, data: st.DataObject, phone: str) -> None:
        o = data.draw(st.sampled_from([o for o in self.orders if o.status == "paid"]))
        old = data.draw(st.sampled_from(sorted(o.tickets)))
        if self.holder[old] == phone:
            expected = "ticketing.same_holder"
        elif self.person(phone) + 1 > CAP:
            expected = "ticketing.person_limit"
        else:
            expected = "transferred"
        try:
            with self.container.uow(self.tenant) as uow:
                new = aftersale.transfer_ticket(
                    uow,
                    ticket_id=old,
                    to_phone=phone,
                    order_token=None,
                    actor_id=None,
                    now=self.now(),
                )
        except Conflict as exc:
            outcome = exc.code
        else:
            outcome = "transferred"
        assert outcome == expected
        if outcome != "transferred":
            return
        o.tickets = (o.tickets - {old}) | {new.id}
        self.revoked.add(old)
        del self.holder[old]
        self.holder[new.id] = phone

    # -- invariants -------------------------------------------------------------------
    @invariant()
    def caps_agree(self) -> None:
        if not hasattr(self, "session"):
            return
        with self.container.uow(self.tenant) as uow:
            for phone in RECIPIENTS:
                ix = pii.phone_index(uow, pii.normalise_phone(phone))
                n = repo.person_places(uow, self.session, index_col="phone", index=ix)
                assert n == self.person(phone) <= CAP, phone
            held = dict(
                uow.session.execute(
                    sa.select(Ticket.id, Ticket.holder_phone_index).where(
                        Ticket.session_id == self.session, Ticket.status == "valid"
                    )
                ).all()
            )
            index = {pii.phone_index(uow, pii.normalise_phone(p)): p for p in RECIPIENTS}
        assert {t: index[ix] for t, ix in held.items() if ix is not None} == self.holder

    @invariant()
    def database_agrees(self) -> None:
        if not hasattr(self, "session"):
            return
        with self.container.uow(self.tenant) as uow:
            valid = list(
                uow.session.execute(
                    sa.select(Ticket.id, Ticket.seat_id, Ticket.order_id).where(
                        Ticket.session_id == self.session, Ticket.status == "valid"
                    )
                )
            )
            revoked = set(
                uow.session.scalars(
                    sa.select(Ticket.id).where(
                        Ticket.session_id == self.session, Ticket.status != "valid"
                    )
                )
            )
            live = list(
                uow.session.execute(
                    sa.select(OrderLine.zone_id, OrderLine.seat_id).where(
                        OrderLine.session_id == self.session,
                        OrderLine.status.in_(["held", "sold"]),
                    )
                )
            )
            zones = {
                z.name: z
                for z in uow.session.scalars(sa.select(Zone).where(Zone.session_id == self.session))
            }
            cats_taken = sum(
                c.taken
                for c in uow.session.scalars(
                    sa.select(PriceCategory).where(PriceCategory.session_id == self.session)
                )
            )
            s = uow.session.get(TicketSession, self.session)
            assert s is not None
            session_taken = s.taken
        # Tickets: exactly those of paid orders, and every revoked one is revoked.
        paid = {o.id: o for o in self.orders if o.status == "paid"}
        assert {t for t, _, _ in valid} == set().union(*(o.tickets for o in paid.values()))
        assert all(oid in paid for _, _, oid in valid)
        assert revoked == self.revoked
        seats = [seat for _, seat, _ in valid if seat is not None]
        assert len(seats) == len(set(seats))
        live_seats = [seat for _, seat in live if seat is not None]
        assert len(live_seats) == len(set(live_seats))
        # Counters = places really held or sold, never above capacity.
        for name, zone in zones.items():
            n = sum(1 for zid, _ in live if zid == zone.id)
            assert zone.taken == n <= zone.capacity, name
        assert session_taken == cats_taken == len(live)
        # And the model agrees exactly on how many places are in use.
        assert zones["GA"].taken == self.used("ga")
        assert zones["T"].taken == self.used("seat")


@pytest.mark.slow
def test_ticketing_state_machine(tmp_path: Path) -> None:
    s = make_settings(tmp_path)
    schema.upgrade(s.resolved_admin_url)
    container = build_container(s)
    TicketingMachine.container = container
    try:
        run_state_machine_as_test(
            TicketingMachine,
            settings=settings(
                max_examples=25,
                stateful_step_count=20,
                deadline=None,
                # No "explain" phase: its tracing makes a failing run many times slower.
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        container.dispose()
