"""Real concurrency on PostgreSQL: hundreds of buyers, each with its own unit of work.

The negative controls replace the session row lock by a plain read and show the race
is real: general admission oversells, and best-available seats collide (the partial
unique index is then the only thing stopping a seat from being sold twice).
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from teranga.config import Settings
from teranga.container import Container, build_container
from teranga.platform.errors import Conflict
from teranga.platform.uow import UnitOfWork
from teranga.ticketing import hold_batch, repo, sales
from teranga.ticketing.models import OrderLine, Ticket, TicketSession
from tests.integration.test_ticketing_flow import T0, Setup, make_session, pay_in_full

pytestmark = pytest.mark.pg

BUYERS = 200


def _buy(container: Container, st: Setup, category: uuid.UUID, n: int) -> str:
    with container.uow(st.tenant) as uow:
        hold = sales.create_hold(
            uow, session_id=st.session, category_id=category, quantity=1, now=T0
        )
        return _pay(uow, hold.id, n)


def _pay(uow: UnitOfWork, hold_id: uuid.UUID, n: int) -> str:
    """Check the hold out with buyer ``n``'s phone and confirm its payment."""
    co = sales.checkout(uow, hold_id=hold_id, phone=f"77{n:07d}", now=T0)
    return pay_in_full(uow, co.order).status


def _rush(container: Container, jobs: list[Callable[[], str]]) -> Counter[str]:
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], str]) -> str:
        start.wait()
        try:
            return job()
        except Conflict as exc:
            return exc.code
        except IntegrityError:
            return "integrity_error"
        except OperationalError:
            return "operational_error"

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return Counter(pool.map(run, jobs))


def _sold(container: Container, st: Setup) -> tuple[int, int, int, int]:
    """(valid GA tickets, valid seat tickets, distinct seats, session counter)."""
    with container.uow(st.tenant) as uow:
        rows = uow.session.execute(
            sa.select(Ticket.seat_id).where(
                Ticket.session_id == st.session, Ticket.status == "valid"
            )
        ).all()
        live = uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(OrderLine)
            .where(OrderLine.session_id == st.session, OrderLine.status.in_(["held", "sold"]))
        )
        counter = uow.session.get(TicketSession, st.session)
        assert counter is not None
        assert live == len(rows)
        taken = counter.taken
    seats = [r[0] for r in rows if r[0] is not None]
    return len(rows) - len(seats), len(seats), len(set(seats)), taken


def _jobs(container: Container, st: Setup) -> list[Callable[[], str]]:
    ga = [lambda n=n: _buy(container, st, st.ga_cat, n) for n in range(BUYERS)]
    seats = [lambda n=n: _buy(container, st, st.seat_cat, 1000 + n) for n in range(BUYERS)]
    return [job for pair in zip(ga, seats, strict=True) for job in pair]


def test_rush_never_oversells(pg_container: Container) -> None:
    st = make_session(pg_container, ga=100, rows=5, per_row=10, per_person=None)
    outcomes = _rush(pg_container, _jobs(pg_container, st))
    ga, seats, distinct, taken = _sold(pg_container, st)
    assert (ga, seats, distinct) == (100, 50, 50)
    assert taken == 150
    assert outcomes["issued"] == 150
    assert outcomes["ticketing.sold_out"] == 2 * BUYERS - 150, outcomes


def _buy_batched(
    container: Container, batcher: hold_batch.HoldBatcher, st: Setup, category: uuid.UUID, n: int
) -> str:
    hold = batcher.hold(st.tenant, st.session, sales.HoldRequest(category, quantity=1))
    with container.uow(st.tenant) as uow:
        return _pay(uow, hold.id, n)


def test_rush_through_two_processes_hold_batchers_never_oversells(
    pg_container: Container, pg_settings: Settings
) -> None:
    """Holds grouped per process (``hold_batch``), two processes' batches racing for the
    same session row: still exactly the places there are, each seat once."""
    other = build_container(pg_settings)
    try:
        st = make_session(pg_container, ga=100, rows=5, per_row=10, per_person=None)
        batchers = [
            hold_batch.HoldBatcher(c.uow_factory, lambda: T0) for c in (pg_container, other)
        ]
        jobs: list[Callable[[], str]] = [
            lambda n=n, cat=cat: _buy_batched(
                (pg_container, other)[n % 2], batchers[n % 2], st, cat, n
            )
            for n in range(BUYERS)
            for cat in (st.ga_cat, st.seat_cat)
        ]
        outcomes = _rush(pg_container, jobs)
        ga, seats, distinct, taken = _sold(pg_container, st)
        assert (ga, seats, distinct, taken) == (100, 50, 50, 150)
        assert outcomes == Counter({"issued": 150, "ticketing.sold_out": 2 * BUYERS - 150})
        assert sum(b.batches for b in batchers) < 2 * BUYERS  # holds did share transactions
    finally:
        other.dispose()


def test_per_person_cap_holds_under_parallel_orders(pg_container: Container) -> None:
    st = make_session(pg_container, ga=100, per_person=4)
    jobs: list[Callable[[], str]] = [lambda: _buy(pg_container, st, st.ga_cat, 42)] * 30
    outcomes = _rush(pg_container, jobs)
    ga, _, _, _ = _sold(pg_container, st)
    assert ga == 4
    assert outcomes == Counter({"issued": 4, "ticketing.person_limit": 26})


def _no_lock(uow: UnitOfWork, session_id: uuid.UUID) -> TicketSession | None:
    return uow.session.get(TicketSession, session_id, populate_existing=True)


#: The counters' CHECK constraints: a second line of defence, dropped for the negative control.
CHECKS = {
    "ticketing_zones": ("ck_ticketing_zones_taken", "taken >= 0 AND taken <= capacity"),
    "ticketing_categories": (
        "ck_ticketing_categories_taken",
        "taken >= 0 AND (quota IS NULL OR taken <= quota)",
    ),
}


@pytest.fixture
def without_counter_checks(pg_settings: Settings) -> Iterator[None]:
    """Drop the counters' CHECK constraints (as owner) and restore them afterwards."""
    engine = sa.create_engine(pg_settings.database_admin_url)
    try:
        with engine.begin() as conn:
            for table, (name, _) in CHECKS.items():
                conn.execute(sa.text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE ticketing_zones SET taken = capacity WHERE taken > capacity")
            )
            conn.execute(
                sa.text("UPDATE ticketing_categories SET taken = quota WHERE taken > quota")
            )
            for table, (name, expr) in CHECKS.items():
                conn.execute(sa.text(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({expr})"))
        engine.dispose()


@pytest.mark.usefixtures("without_counter_checks")
def test_negative_control_without_the_session_lock_oversells(
    pg_container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repo, "lock_session", _no_lock)
    st = make_session(pg_container, ga=100, rows=5, per_row=10, per_person=None)
    outcomes = _rush(pg_container, _jobs(pg_container, st))
    ga, seats, distinct, _ = _sold(pg_container, st)
    # The race is real: general admission goes past its capacity...
    print(f"negative control: {ga} GA tickets for 100 places, {outcomes}")
    assert ga > 100, (ga, outcomes)
    # ...and buyers race for the same best-available seats; the partial unique index is
    # what still stops any seat from being sold twice.
    assert outcomes["integrity_error"] > 0, outcomes
    assert seats == distinct
