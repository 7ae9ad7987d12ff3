"""Outbox relay: committed events reach the broker once, in order, whatever crashes."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from teranga.config import Settings
from teranga.container import Container, build_container
from teranga.platform.broker import Broker, make_broker
from teranga.platform.broker.memory import MemoryBroker
from teranga.platform.broker.nats import NatsBroker
from teranga.platform.clock import utcnow
from teranga.platform.outbox import OutboxMessage
from teranga.platform.relay import OutboxRelay, install, message_id


def topic() -> str:
    return f"test.relay.{uuid.uuid4().hex[:12]}"


def write_events(container: Container, name: str, n: int) -> list[int]:
    ids = []
    with container.uow() as uow:
        for i in range(n):
            row = OutboxMessage(topic=name, payload={"i": i})
            uow.session.add(row)
            uow.flush()
            ids.append(row.id)
    return ids


def unpublished(container: Container, ids: list[int]) -> int:
    with container.engine.connect() as conn:
        return int(
            conn.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.published_at.is_(None))
            )
            or 0
        )


async def wait_for(broker: Broker, name: str, seq: int, within: float = 10) -> None:
    for _ in range(int(within / 0.02)):
        if await broker.last_seq(name) >= seq:
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"{name} did not reach {seq}")


class CountingBroker(MemoryBroker):
    """The real in-process broker, counting publish calls per message id."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.calls: collections.Counter[str] = collections.Counter()
        self.delay = delay

    async def publish(self, topic: str, data: dict[str, Any], *, msg_id: str | None = None) -> int:
        self.calls[msg_id or ""] += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        return await super().publish(topic, data, msg_id=msg_id)


@pytest.fixture
async def nats_broker(nats_url: str) -> AsyncIterator[NatsBroker]:
    tag = uuid.uuid4().hex[:10]
    broker = make_broker(f"{nats_url}?stream=RELAY_{tag}&prefix=relay_{tag}")
    if not isinstance(broker, NatsBroker):
        raise TypeError("expected a NATS broker")
    await broker.start()
    yield broker
    await broker.delete_streams()
    await broker.close()


async def test_rows_left_by_a_crash_are_published_at_next_start(container: Container) -> None:
    # The process committed and died before relaying: rows are there, unpublished.
    name = topic()
    ids = write_events(container, name, 3)
    assert unpublished(container, ids) == 3
    broker = container.broker
    await broker.start()
    relay = OutboxRelay(container.engine, broker, poll_interval=60)
    await relay.start()
    try:
        await wait_for(broker, name, 3)
    finally:
        await relay.stop()
    got = [m async for m in _take(broker, name, 3)]
    assert [(m.seq, m.data["i"]) for m in got] == [(1, 0), (2, 1), (3, 2)]
    assert unpublished(container, ids) == 0


async def _take(broker: Broker, name: str, n: int) -> AsyncIterator[Any]:
    count = 0
    async with asyncio.timeout(10):
        async for m in broker.subscribe(name, 1):
            yield m
            count += 1
            if count == n:
                return


async def test_commit_wakes_the_relay_without_waiting_for_the_poll(
    container: Container,
) -> None:
    relay = install(container)
    relay.poll_interval = 600  # a poll would make this test hang: only the wake-up counts
    await container.broker.start()
    for hook in container.extras["startup"]:
        await hook()
    try:
        await asyncio.sleep(0.1)
        name = topic()

        def commit() -> None:  # from a worker thread, like a sync endpoint
            with container.uow() as uow:
                uow.publish(name, {"text": "Bienvenue"})

        await asyncio.to_thread(commit)
        await wait_for(container.broker, name, 1, within=5)
    finally:
        for hook in reversed(container.extras["shutdown"]):
            await hook()
    assert install(container) is relay  # installed once


@pytest.mark.nats
async def test_crash_between_publish_and_mark_does_not_duplicate(
    sqlite_settings: Settings, nats_broker: NatsBroker
) -> None:
    container = build_container(sqlite_settings)
    try:
        name = topic()
        ids = write_events(container, name, 2)
        with container.engine.connect() as conn:
            created = conn.execute(
                sa.select(OutboxMessage.id, OutboxMessage.created_at).where(
                    OutboxMessage.id.in_(ids)
                )
            ).all()
        # A relay published the first row and died before marking it.
        first = min(created)
        assert await nats_broker.publish(name, {"i": 0}, msg_id=message_id(*first)) == 1
        relay = OutboxRelay(container.engine, nats_broker)
        assert await relay.relay_once() == 2
        assert await nats_broker.last_seq(name) == 2  # the re-publish was deduplicated
        got = [m async for m in _take(nats_broker, name, 2)]
        assert [m.data["i"] for m in got] == [0, 1]
        assert unpublished(container, ids) == 0
        assert await relay.relay_once() == 0
    finally:
        container.dispose()


async def test_broker_failure_keeps_rows_for_the_next_pass(container: Container) -> None:
    name = topic()
    ids = write_events(container, name, 2)
    broker = MemoryBroker()
    relay = OutboxRelay(container.engine, broker)
    # Broker down: closed brokers refuse to publish; nothing is marked.
    await broker.close()
    with pytest.raises(Exception, match="closed"):
        await relay.relay_once()
    assert unpublished(container, ids) == 2
    await broker.start()
    while await relay.relay_once():
        pass
    assert await broker.last_seq(name) == 2
    assert unpublished(container, ids) == 0


async def test_published_rows_are_pruned_after_the_keep_period(container: Container) -> None:
    name = topic()
    ids = write_events(container, name, 3)
    broker = MemoryBroker()
    relay = OutboxRelay(container.engine, broker, keep_published=dt.timedelta(days=2))
    while await relay.relay_once():
        pass
    left = write_events(container, name, 1)  # not published yet: never pruned
    assert relay.prune() == 0  # just published: kept
    later = utcnow() + dt.timedelta(days=3)
    assert relay.prune(now=later) >= 3
    with container.engine.connect() as conn:
        remaining = set(conn.scalars(sa.select(OutboxMessage.id)).all())
    assert not remaining & set(ids)
    assert set(left) <= remaining


@pytest.mark.pg
async def test_two_relays_on_postgres_never_double_publish(pg_settings: Settings) -> None:
    a, b = build_container(pg_settings), build_container(pg_settings)
    try:
        names = [topic() for _ in range(3)]
        ids = [i for name in names for i in write_events(a, name, 40)]
        broker = CountingBroker(delay=0.001)  # slow enough for the passes to overlap
        relays = [
            OutboxRelay(a.engine, broker, batch_size=7),
            OutboxRelay(b.engine, broker, batch_size=7),
        ]

        async def drain(relay: OutboxRelay) -> None:
            while unpublished(a, ids):
                await relay.relay_once()
                await asyncio.sleep(0)

        async with asyncio.timeout(60):
            await asyncio.gather(*(drain(r) for r in relays))
        ours = {k: v for k, v in broker.calls.items() if k.startswith("outbox-")}
        assert len(ours) >= len(ids)
        assert max(ours.values()) == 1  # every row published exactly once
        for name in names:  # and in id order per topic
            got = [m async for m in _take(broker, name, 40)]
            assert [m.data["i"] for m in got] == list(range(40))
    finally:
        a.dispose()
        b.dispose()


class UnlockedRelay(OutboxRelay):
    """Negative control: the same relay without the advisory lock and row locks."""

    def _query(self, postgres: bool) -> sa.Select[Any]:
        return super()._query(False)

    def _pass_postgres(self, loop: asyncio.AbstractEventLoop) -> tuple[list[int], Exception | None]:
        with self.engine.connect() as conn, conn.begin():
            done, failure = self._publish_rows(loop, conn.execute(self._query(True)).all())
            self._mark(conn, done)
        return done, failure


@pytest.mark.pg
async def test_without_the_locks_two_relays_do_double_publish(pg_settings: Settings) -> None:
    a, b = build_container(pg_settings), build_container(pg_settings)
    try:
        write_events(a, topic(), 10)
        broker = CountingBroker(delay=0.02)  # 200 ms per pass: both passes read first
        relays = [UnlockedRelay(c.engine, broker, batch_size=10) for c in (a, b)]
        await asyncio.gather(*(r.relay_once() for r in relays))
        assert max(broker.calls.values()) == 2  # the race the locks prevent is real
    finally:
        a.dispose()
        b.dispose()
