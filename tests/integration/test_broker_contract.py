"""The broker contract, run on MemoryBroker and on NatsBroker against the real NATS server.

Every NATS test uses its own stream and subject prefix (``?stream=...&prefix=...``) so the
tests can shrink retention without touching anyone else's stream, and drops them after.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from teranga.platform.broker import Broker, BrokerError, Message, ReplayGap, make_broker
from teranga.platform.broker.memory import MemoryBroker
from teranga.platform.broker.nats import NatsBroker
from teranga.platform.clock import FrozenClock

MakeBroker = Callable[..., Awaitable[Broker]]
TOPIC = "results.unit.ATHM100M"


@pytest.fixture(params=["memory", pytest.param("nats", marks=pytest.mark.nats)])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[MakeBroker]:
    """``await make(**retention)`` -> a started broker. For NATS, calling it twice with the
    same arguments gives a second connection to the same stream (a second process)."""
    started: list[Broker] = []
    tag = uuid.uuid4().hex[:10]
    memory: dict[tuple[int, int], Broker] = {}

    async def factory(retention_seconds: int = 3600, retention_messages: int = 1000) -> Broker:
        if request.param == "memory":
            key = (retention_seconds, retention_messages)
            if key not in memory:  # the embedded mode has one broker per process
                memory[key] = MemoryBroker(
                    retention_seconds=retention_seconds, retention_messages=retention_messages
                )
            broker = memory[key]
        else:
            url = request.getfixturevalue("nats_url")
            broker = make_broker(
                f"{url}?stream=TEST_{tag}&prefix=test_{tag}",
                retention_seconds=retention_seconds,
                retention_messages=retention_messages,
            )
        await broker.start()
        started.append(broker)
        return broker

    yield factory
    for broker in started:
        if isinstance(broker, NatsBroker) and broker is started[0]:
            await broker.delete_streams()
    for broker in reversed(started):
        await broker.close()


async def take(it: AsyncIterator[Message], n: int, within: float = 10) -> list[Message]:
    out: list[Message] = []
    async with asyncio.timeout(within):
        async for m in it:
            out.append(m)
            if len(out) == n:
                break
    return out


async def test_publish_numbers_each_topic_from_one_without_gaps(make: MakeBroker) -> None:
    b = await make()
    assert await b.last_seq(TOPIC) == 0
    seqs = [await b.publish(TOPIC, {"i": i}) for i in range(5)]
    other = [await b.publish("results.unit.SWM50", {"i": i}) for i in range(2)]
    assert seqs == [1, 2, 3, 4, 5]
    assert other == [1, 2]
    assert await b.last_seq(TOPIC) == 5
    assert await b.first_seq(TOPIC) == 1


async def test_replay_from_start_then_live_in_order(make: MakeBroker) -> None:
    b = await make()
    for i in range(5):
        await b.publish(TOPIC, {"i": i})
    it = b.subscribe(TOPIC, 1)
    first = await take(it, 5)
    assert [m.seq for m in first] == [1, 2, 3, 4, 5]
    assert [m.data["i"] for m in first] == [0, 1, 2, 3, 4]
    assert all(m.topic == TOPIC and m.published_at.tzinfo is not None for m in first)
    for i in range(5, 8):
        await b.publish(TOPIC, {"i": i})
    live = await take(it, 3)
    assert [m.seq for m in live] == [6, 7, 8]
    await it.aclose()  # type: ignore[attr-defined]


async def test_replay_from_the_middle(make: MakeBroker) -> None:
    b = await make()
    for i in range(40):
        await b.publish(TOPIC, {"i": i})
    for start in (2, 17, 33, 40):
        got = await take(b.subscribe(TOPIC, start), 41 - start)
        assert [m.seq for m in got] == list(range(start, 41))


async def test_subscribe_without_from_seq_sees_only_new_messages(make: MakeBroker) -> None:
    b = await make()
    await b.publish(TOPIC, {"old": True})
    it = b.subscribe(TOPIC)
    task = asyncio.create_task(take(it, 1))
    await asyncio.sleep(0.2)  # let the subscription start before publishing
    await b.publish(TOPIC, {"old": False})
    (m,) = await task
    assert (m.seq, m.data) == (2, {"old": False})


async def test_replay_older_than_count_retention_is_a_gap(make: MakeBroker) -> None:
    b = await make(retention_messages=5)
    for i in range(12):
        await b.publish(TOPIC, {"i": i})
    assert await b.first_seq(TOPIC) == 8
    with pytest.raises(ReplayGap) as gap:
        await take(b.subscribe(TOPIC, 3), 1)
    assert (gap.value.topic, gap.value.requested, gap.value.first_available) == (TOPIC, 3, 8)
    got = await take(b.subscribe(TOPIC, 8), 5)
    assert [m.seq for m in got] == [8, 9, 10, 11, 12]
    # Retention never resets the numbering.
    assert await b.publish(TOPIC, {"i": 12}) == 13


async def test_age_retention_drops_old_messages_but_never_reuses_sequences(
    make: MakeBroker,
) -> None:
    b = await make(retention_seconds=1)
    for i in range(3):
        await b.publish(TOPIC, {"i": i})
    if isinstance(b, MemoryBroker):
        clock = FrozenClock(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5))
        b._clock = clock  # the embedded broker reads its clock; NATS ages on its own
    for _ in range(100):  # NATS expires aged messages on its own timer
        if await b.first_seq(TOPIC) == 4:
            break
        await asyncio.sleep(0.1)
    assert await b.first_seq(TOPIC) == 4
    with pytest.raises(ReplayGap):
        await take(b.subscribe(TOPIC, 1), 1)
    assert await b.last_seq(TOPIC) == 3
    assert await b.publish(TOPIC, {"i": 3}) == 4


async def test_msg_id_deduplicates(make: MakeBroker) -> None:
    b = await make()
    assert await b.publish(TOPIC, {"n": 1}, msg_id="outbox-1") == 1
    assert await b.publish(TOPIC, {"n": 2}, msg_id="outbox-2") == 2
    assert await b.publish(TOPIC, {"n": 1}, msg_id="outbox-1") == 1
    assert await b.last_seq(TOPIC) == 2


async def test_many_concurrent_subscribers_each_get_every_message_once(make: MakeBroker) -> None:
    b = await make()
    await b.publish(TOPIC, {"i": 0})
    tasks = [asyncio.create_task(take(b.subscribe(TOPIC, 1), 21)) for _ in range(40)]
    await asyncio.sleep(0.3)
    await asyncio.gather(*(b.publish(TOPIC, {"i": i}) for i in range(1, 21)))
    for got in await asyncio.gather(*tasks):
        assert [m.seq for m in got] == list(range(1, 22))


async def test_concurrent_publishers_on_two_connections_stay_gapless(make: MakeBroker) -> None:
    a = await make()
    b = await make()  # NATS: a second connection, as a second process would have
    seqs = await asyncio.gather(
        *(a.publish(TOPIC, {"by": "a", "i": i}) for i in range(30)),
        *(b.publish(TOPIC, {"by": "b", "i": i}) for i in range(30)),
    )
    assert sorted(seqs) == list(range(1, 61))
    got = await take(a.subscribe(TOPIC, 1), 60)
    assert [m.seq for m in got] == list(range(1, 61))
    assert sorted((m.data["by"], m.data["i"]) for m in got) == sorted(
        [("a", i) for i in range(30)] + [("b", i) for i in range(30)]
    )


async def test_resume_after_disconnect_from_last_seen_sequence(make: MakeBroker) -> None:
    b = await make()
    for i in range(3):
        await b.publish(TOPIC, {"i": i})
    it = b.subscribe(TOPIC, 1)
    seen = await take(it, 3)
    await it.aclose()  # type: ignore[attr-defined]
    for i in range(3, 6):
        await b.publish(TOPIC, {"i": i})
    # A new connection (another process after a restart) resumes from the last seen + 1.
    other = await make()
    rest = await take(other.subscribe(TOPIC, seen[-1].seq + 1), 3)
    assert [m.seq for m in rest] == [4, 5, 6]
    assert await other.publish(TOPIC, {"i": 6}) == 7


async def test_topic_names_are_checked(make: MakeBroker) -> None:
    b = await make()
    for bad in ("", "a..b", "a.>", "a b", "a.*", "x" * 201):
        with pytest.raises(BrokerError):
            await b.publish(bad, {})
        with pytest.raises(BrokerError):
            await take(b.subscribe(bad, 1), 1)


async def test_memory_subscriber_that_falls_behind_retention_gets_a_gap() -> None:
    b = MemoryBroker(retention_messages=3)
    await b.publish(TOPIC, {"i": 0})
    it = b.subscribe(TOPIC, 1)
    assert (await take(it, 1))[0].seq == 1
    for i in range(1, 10):
        await b.publish(TOPIC, {"i": i})
    with pytest.raises(ReplayGap) as gap:
        await take(it, 1)
    assert gap.value.requested == 2
    assert gap.value.first_available == 8
