"""Holds written in groups (``sales.create_holds``, ``hold_batch.HoldBatcher``): each buyer
gets the answer it would get alone, and a refused buyer writes nothing."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from teranga.container import Container
from teranga.platform.errors import Conflict, NotFound, TerangaError, ValidationFailed
from teranga.ticketing import hold_batch, repo, sales
from teranga.ticketing.models import Hold, OrderLine, PriceCategory, TicketSession, Zone
from tests.integration.test_ticketing_flow import T0, Setup, make_session


def _counters(container: Container, st: Setup) -> tuple[int, int, int, int]:
    """(session taken, GA zone taken, GA category taken, live GA lines)."""
    with container.uow(st.tenant) as uow:
        s = uow.session.get(TicketSession, st.session)
        cat = uow.session.get(PriceCategory, st.ga_cat)
        assert s is not None
        assert cat is not None
        zone = uow.session.get(Zone, cat.zone_id)
        assert zone is not None
        live = uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(OrderLine)
            .where(OrderLine.zone_id == zone.id, OrderLine.status == "held")
        )
        return s.taken, zone.taken, cat.taken, int(live or 0)


def test_one_batch_decides_each_request_against_the_ones_before(container: Container) -> None:
    st = make_session(container, ga=5, rows=1, per_row=2)
    seat_req = sales.HoldRequest(st.seat_cat, quantity=1)
    reqs = [
        sales.HoldRequest(st.ga_cat, quantity=3),
        sales.HoldRequest(st.ga_cat, quantity=3),  # 2 left: refused
        sales.HoldRequest(uuid.uuid4(), quantity=1),  # no such category
        sales.HoldRequest(st.ga_cat, quantity=9),  # over the per-order limit
        sales.HoldRequest(st.ga_cat, quantity=2),  # exactly the 2 left
        seat_req,
        seat_req,
        seat_req,  # the zone has 2 seats
        sales.HoldRequest(st.ga_cat, quantity=1, channel="kiosk"),
    ]
    with container.uow(st.tenant) as uow:
        out = sales.create_holds(uow, session_id=st.session, requests=reqs, now=T0)
    kinds = [type(o).__name__ if isinstance(o, TerangaError) else o.quantity for o in out]
    assert kinds == [
        3,
        "Conflict",
        "NotFound",
        "ValidationFailed",
        2,
        1,
        1,
        "Conflict",
        "ValidationFailed",
    ]
    refused = out[1]
    assert isinstance(refused, Conflict)
    assert refused.code == "ticketing.sold_out"
    assert isinstance(out[7], Conflict)
    assert out[7].code == "ticketing.sold_out"
    seats = [o.places[0].seat for o in out[5:7] if isinstance(o, sales.HoldView)]
    assert len(set(seats)) == 2
    assert all(seats)
    assert _counters(container, st) == (7, 5, 5, 5)
    with container.uow(st.tenant) as uow:
        holds = uow.session.scalar(
            sa.select(sa.func.count()).select_from(Hold).where(Hold.session_id == st.session)
        )
    assert holds == 4  # refused requests wrote nothing


def test_a_chosen_seat_goes_to_the_first_request_of_the_batch(container: Container) -> None:
    st = make_session(container, ga=5, rows=1, per_row=3)
    with container.uow(st.tenant) as uow:
        first = sales.create_holds(
            uow,
            session_id=st.session,
            requests=[sales.HoldRequest(st.seat_cat, quantity=1)],
            now=T0,
        )[0]
    assert isinstance(first, sales.HoldView)
    with container.uow(st.tenant) as uow:
        cat = uow.session.get(PriceCategory, st.seat_cat)
        assert cat is not None
        free = list(repo.free_seat_ids(uow, st.session, cat.zone_id, 2))
    assert len(free) == 2
    want = sales.HoldRequest(st.seat_cat, seat_ids=(free[0],))
    with container.uow(st.tenant) as uow:
        out = sales.create_holds(uow, session_id=st.session, requests=[want, want], now=T0)
    assert isinstance(out[0], sales.HoldView)
    assert isinstance(out[1], Conflict)
    assert out[1].code == "ticketing.seat_taken"


def test_a_missing_session_fails_the_whole_call(container: Container) -> None:
    st = make_session(container)
    with container.uow(st.tenant) as uow, pytest.raises(NotFound):
        sales.create_holds(
            uow, session_id=uuid.uuid4(), requests=[sales.HoldRequest(st.ga_cat, 1)], now=T0
        )


def test_the_batcher_groups_concurrent_holds_and_answers_each(container: Container) -> None:
    st = make_session(container, ga=30)
    batcher = hold_batch.HoldBatcher(container.uow_factory, lambda: T0)
    start = threading.Barrier(40)

    def one(n: int) -> str:
        start.wait()
        try:
            view = batcher.hold(st.tenant, st.session, sales.HoldRequest(st.ga_cat, 1))
        except Conflict as exc:
            return exc.code
        return "held" if view.quantity == 1 else "wrong"

    with ThreadPoolExecutor(40) as pool:
        got = sorted(pool.map(one, range(40)))
    assert (got.count("held"), got.count("ticketing.sold_out")) == (30, 10), got
    assert batcher.batches < 40  # some requests shared a transaction
    assert _counters(container, st) == (30, 30, 30, 30)


def test_a_batch_that_fails_is_written_again_one_by_one(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    st = make_session(container, ga=10)
    real = sales.create_holds
    calls: list[int] = []

    def flaky(uow, *, session_id, requests, now=None):  # type: ignore[no-untyped-def]
        calls.append(len(requests))
        if any(r.quantity == 4 for r in requests):
            raise OperationalError("INSERT", {}, Exception("disk full for this one"))
        return real(uow, session_id=session_id, requests=requests, now=now)

    monkeypatch.setattr(sales, "create_holds", flaky)
    batcher = hold_batch.HoldBatcher(container.uow_factory, lambda: T0)
    # Queue three requests behind a held writer lock so that they form one batch.
    key = (st.tenant, st.session)
    batcher._writers[key] = lock = threading.Lock()
    lock.acquire()
    results: dict[int, object] = {}

    def one(q: int) -> None:
        try:
            results[q] = batcher.hold(st.tenant, st.session, sales.HoldRequest(st.ga_cat, q))
        except Exception as exc:
            results[q] = exc

    threads = [threading.Thread(target=one, args=(q,)) for q in (1, 4, 2)]
    for t in threads:
        t.start()
    while len(batcher._queues.get(key, [])) < 3:
        threading.Event().wait(0.01)
    lock.release()
    for t in threads:
        t.join()
    assert calls[0] == 3
    assert sorted(calls[1:]) == [1, 1, 1]
    assert isinstance(results[4], OperationalError)
    assert isinstance(results[1], sales.HoldView)
    assert isinstance(results[2], sales.HoldView)
    assert _counters(container, st) == (3, 3, 3, 3)


def test_a_refusal_in_a_batch_is_not_a_retry(container: Container) -> None:
    st = make_session(container, ga=1)
    batcher = hold_batch.HoldBatcher(container.uow_factory, lambda: T0)
    batcher.hold(st.tenant, st.session, sales.HoldRequest(st.ga_cat, 1))
    with pytest.raises(Conflict, match="not enough"):
        batcher.hold(st.tenant, st.session, sales.HoldRequest(st.ga_cat, 1))
    with pytest.raises(ValidationFailed):
        batcher.hold(st.tenant, st.session, sales.HoldRequest(st.ga_cat, 0))
    assert batcher.batches == 3
