"""Real concurrency on PostgreSQL: many buyers give their tickets to one phone at once,
while that phone checks out orders of its own. The per-person cap must hold.

The negative control disables the per-person lock and shows the race is real: every
transaction counts the recipient's places before the others commit, and the phone ends
up far above its cap.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from teranga.container import Container
from teranga.platform.errors import Conflict
from teranga.platform.uow import UnitOfWork
from teranga.ticketing import aftersale, pii, repo, sales
from teranga.ticketing.models import Order, OrderLine, Ticket
from tests.integration.test_ticketing_flow import T0, Setup, make_session, pay_in_full

pytestmark = pytest.mark.pg

CAP = 4
GIVERS = 24
OWN_CHECKOUTS = 6
PHONE = "770000042"


def _prepare(container: Container) -> tuple[Setup, list[uuid.UUID], list[uuid.UUID]]:
    """A session, one paid ticket per giver, and holds the recipient will check out."""
    st = make_session(container, ga=GIVERS + OWN_CHECKOUTS, per_person=CAP)
    tickets, holds = [], []
    with container.uow(st.tenant) as uow:
        for n in range(GIVERS):
            hold = sales.create_hold(
                uow, session_id=st.session, category_id=st.ga_cat, quantity=1, now=T0
            )
            co = sales.checkout(uow, hold_id=hold.id, phone=f"78{n:07d}", now=T0)
            tickets.extend(pay_in_full(uow, co.order).ticket_ids)
        for _ in range(OWN_CHECKOUTS):
            hold = sales.create_hold(
                uow, session_id=st.session, category_id=st.ga_cat, quantity=1, now=T0
            )
            holds.append(hold.id)
    return st, tickets, holds


def _rush(
    container: Container, st: Setup, tickets: list[uuid.UUID], holds: list[uuid.UUID]
) -> Counter[str]:
    def give(ticket_id: uuid.UUID) -> str:
        with container.uow(st.tenant) as uow:
            aftersale.transfer_ticket(
                uow, ticket_id=ticket_id, to_phone=PHONE, order_token=None, actor_id=None, now=T0
            )
        return "transferred"

    def own(hold_id: uuid.UUID) -> str:
        with container.uow(st.tenant) as uow:
            sales.checkout(uow, hold_id=hold_id, phone=PHONE, now=T0)
        return "ordered"

    jobs: list[Callable[[], str]] = [lambda t=t: give(t) for t in tickets]
    jobs += [lambda h=h: own(h) for h in holds]
    random.Random(7).shuffle(jobs)
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], str]) -> str:
        start.wait()
        try:
            return job()
        except Conflict as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return Counter(pool.map(run, jobs))


def _held_by_phone(container: Container, st: Setup) -> int:
    """Counted independently of ``repo.person_places``: valid tickets the phone holds plus
    places of its own (unpaid, so ticketless) orders."""
    with container.uow(st.tenant) as uow:
        ix = pii.phone_index(uow, pii.normalise_phone(PHONE))
        tickets = uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(Ticket)
            .where(
                Ticket.session_id == st.session,
                Ticket.status == "valid",
                Ticket.holder_phone_index == ix,
            )
        )
        own = uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(OrderLine)
            .join(Order, Order.id == OrderLine.order_id)
            .where(
                Order.session_id == st.session,
                Order.phone_index == ix,
                Order.status == "pending",
                OrderLine.status.in_(["held", "sold"]),
            )
        )
    return int(tickets or 0) + int(own or 0)


def test_transfers_and_checkouts_to_one_phone_never_exceed_the_cap(
    pg_container: Container,
) -> None:
    st, tickets, holds = _prepare(pg_container)
    outcomes = _rush(pg_container, st, tickets, holds)
    assert _held_by_phone(pg_container, st) == CAP
    assert outcomes["transferred"] + outcomes["ordered"] == CAP, outcomes
    assert outcomes["ticketing.person_limit"] == GIVERS + OWN_CHECKOUTS - CAP, outcomes


def _no_person_lock(uow: UnitOfWork, session_id: uuid.UUID, indexes: list[str]) -> None:
    return None


def test_negative_control_without_the_person_lock_exceeds_the_cap(
    pg_container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repo, "lock_person", _no_person_lock)
    st, tickets, holds = _prepare(pg_container)
    outcomes = _rush(pg_container, st, tickets, holds)
    held = _held_by_phone(pg_container, st)
    print(f"negative control: the phone holds {held} places for a cap of {CAP}, {outcomes}")
    assert held > CAP, (held, outcomes)
