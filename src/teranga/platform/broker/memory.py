"""In-process broker for the embedded mode: one event loop, bounded retention.

Every topic keeps a deque of its retained messages; because sequence numbers are gapless,
the message with sequence ``n`` sits at index ``n - first_seq`` and replay is a slice.
Subscribers wait on a per-topic ``asyncio.Event`` that ``publish`` sets and replaces, so a
publish costs O(1) whatever the number of subscribers.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from collections.abc import AsyncIterator
from typing import Any

from teranga.platform.broker.base import Broker, BrokerError, Message, ReplayGap, check_topic
from teranga.platform.clock import Clock


class _Topic:
    __slots__ = ("log", "name", "seq", "wake")

    def __init__(self, name: str) -> None:
        self.name = name
        self.seq = 0
        self.log: collections.deque[Message] = collections.deque()
        self.wake = asyncio.Event()

    def first_available(self) -> int:
        return self.log[0].seq if self.log else self.seq + 1


class MemoryBroker(Broker):
    """Retention drops a topic's oldest messages beyond ``retention_messages`` or older than
    ``retention_seconds``; replaying from a dropped message raises ReplayGap."""

    def __init__(
        self,
        *,
        retention_seconds: int = 3600,
        retention_messages: int = 100_000,
        clock: Clock | None = None,
    ) -> None:
        if retention_messages < 1 or retention_seconds < 1:
            raise BrokerError("retention must keep at least one message and one second")
        self.retention_seconds = retention_seconds
        self.retention_messages = retention_messages
        self._clock = clock or Clock()
        self._topics: dict[str, _Topic] = {}
        # Msg-id dedupe, like JetStream's duplicate window: id -> (topic, seq), oldest first.
        self._dedupe: collections.OrderedDict[str, tuple[str, int]] = collections.OrderedDict()
        self._closed = False

    async def start(self) -> None:
        self._closed = False

    async def close(self) -> None:
        self._closed = True
        for t in self._topics.values():
            t.wake.set()  # lets waiting subscribers notice the close
        self._topics.clear()
        self._dedupe.clear()

    def _topic(self, name: str) -> _Topic:
        t = self._topics.get(name)
        if t is None:
            check_topic(name)
            t = self._topics[name] = _Topic(name)
        return t

    def _trim(self, t: _Topic) -> None:
        while len(t.log) > self.retention_messages:
            t.log.popleft()
        horizon = self._clock.now().timestamp() - self.retention_seconds
        while t.log and t.log[0].published_at.timestamp() < horizon:
            t.log.popleft()

    async def publish(self, topic: str, data: dict[str, Any], *, msg_id: str | None = None) -> int:
        if self._closed:
            raise BrokerError("broker is closed")
        t = self._topic(topic)
        if msg_id is not None:
            seen = self._dedupe.get(msg_id)
            if seen is not None and seen[0] == topic:
                return seen[1]
        t.seq += 1
        t.log.append(Message(topic, t.seq, data, self._clock.now()))
        self._trim(t)
        if msg_id is not None:
            self._dedupe[msg_id] = (topic, t.seq)
            while len(self._dedupe) > self.retention_messages:
                self._dedupe.popitem(last=False)
        wake, t.wake = t.wake, asyncio.Event()
        wake.set()
        return t.seq

    async def last_seq(self, topic: str) -> int:
        t = self._topics.get(check_topic(topic))  # asking does not create the topic
        return 0 if t is None else t.seq

    async def first_seq(self, topic: str) -> int:
        t = self._topics.get(check_topic(topic))
        if t is None:
            return 1
        self._trim(t)
        return t.first_available()

    async def ping(self) -> bool:
        return not self._closed

    def subscribe(self, topic: str, from_seq: int | None = None) -> AsyncIterator[Message]:
        t = self._topic(topic)
        nxt = t.seq + 1 if from_seq is None else max(1, from_seq)
        if nxt <= t.seq:
            self._trim(t)
            if nxt < t.first_available():
                raise ReplayGap(topic, nxt, t.first_available())
        return self._iter(t, nxt)

    async def _iter(self, t: _Topic, nxt: int) -> AsyncIterator[Message]:
        while not self._closed:
            if nxt <= t.seq:
                first = t.first_available()
                if nxt < first:  # this subscriber fell behind retention
                    raise ReplayGap(t.name, nxt, first)
                # Copy the slice: publishes during our yields may trim the deque.
                batch = list(itertools.islice(t.log, nxt - first, None))
                for m in batch:
                    yield m
                nxt = batch[-1].seq + 1
                continue
            await t.wake.wait()
