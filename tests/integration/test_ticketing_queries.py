"""Pinned query counts on the purchase hot path (against N+1 regressions), SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from teranga.config import Settings
from teranga.container import build_container
from teranga.ticketing import sales
from tests.integration.test_ticketing_flow import T0, make_session, pay_in_full


@contextmanager
def count_queries(engine: sa.Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def hook(*args: object) -> None:
        seen.append(str(args[2]).split()[0])

    sa.event.listen(engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", hook)


def test_purchase_query_counts_do_not_grow_with_quantity(sqlite_settings: Settings) -> None:
    container = build_container(sqlite_settings)
    st = make_session(container, ga=50, per_person=None)
    counts = {}
    # The first purchase also creates the tenant's data key (privacy): warm up once.
    for qty in (1, 1, 4):
        with count_queries(container.engine) as q, container.uow(st.tenant) as uow:
            hold = sales.create_hold(
                uow, session_id=st.session, category_id=st.ga_cat, quantity=qty, now=T0
            )
        counts[("hold", qty)] = len(q)
        with count_queries(container.engine) as q, container.uow(st.tenant) as uow:
            co = sales.checkout(uow, hold_id=hold.id, phone=f"7700000{len(counts):02d}", now=T0)
        counts[("checkout", qty)] = len(q)
        with count_queries(container.engine) as q, container.uow(st.tenant) as uow:
            pay_in_full(uow, co.order)
        counts[("confirm", qty)] = len(q)
    container.dispose()
    for step in ("hold", "checkout", "confirm"):
        assert counts[(step, 1)] == counts[(step, 4)], counts
    # 12: the hold also looks up the session's waiting room (one indexed read).
    assert counts[("hold", 1)] <= 12, counts
    assert counts[("checkout", 1)] <= 15, counts
    assert counts[("confirm", 1)] <= 16, counts
