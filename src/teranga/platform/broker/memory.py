"""In-process broker for the embedded mode: one event loop, bounded retention."""

from __future__ import annotations

import asyncio
import functools
import collections
from collections.abc import AsyncIterator
from typing import Any

from teranga.platform.broker.base import Broker, Message, ReplayGap
from teranga.platform.clock import utcnow


class _Topic:
    __slots__ = ("cond", "log", "seq")

    def __init__(self) -> None:
        self.seq = 0
        self.log: collections.deque[Message] = collections.deque()
        self.cond = asyncio.Condition()


def _reached(t: _Topic, seq: int) -> bool:
    return t.seq >= seq


class MemoryBroker(Broker):
    def __init__(self, *, retention_seconds: int = 3600, retention_messages: int = 100_000) -> None:
        self.retention_seconds = retention_seconds
        self.retention_messages = retention_messages
        self._topics: dict[str, _Topic] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._topics.clear()

    def _topic(self, name: str) -> _Topic:
        t = self._topics.get(name)
        if t is None:
            t = self._topics[name] = _Topic()
        return t

    def _trim(self, t: _Topic) -> None:
        while len(t.log) > self.retention_messages:
            t.log.popleft()
        now = utcnow()
        while t.log and (now - t.log[0].published_at).total_seconds() > self.retention_seconds:
            t.log.popleft()

    async def publish(self, topic: str, data: dict[str, Any]) -> int:
        t = self._topic(topic)
        t.seq += 1
        t.log.append(Message(topic, t.seq, data, utcnow()))
        self._trim(t)
        async with t.cond:
            t.cond.notify_all()
        return t.seq

    async def last_seq(self, topic: str) -> int:
        return self._topic(topic).seq

    async def ping(self) -> bool:
        return True

    def subscribe(self, topic: str, from_seq: int | None = None) -> AsyncIterator[Message]:
        t = self._topic(topic)
        nxt = t.seq + 1 if from_seq is None else max(1, from_seq)
        if from_seq is not None and nxt <= t.seq:
            first = t.log[0].seq if t.log else t.seq + 1
            if nxt < first:
                raise ReplayGap(topic, nxt, first)
        return self._iter(t, nxt)

    async def _iter(self, t: _Topic, nxt: int) -> AsyncIterator[Message]:
        while True:
            if nxt <= t.seq:
                first = t.log[0].seq if t.log else t.seq + 1
                if nxt < first:
                    raise ReplayGap("?", nxt, first)
                for m in list(t.log)[nxt - first :]:
                    yield m
                    nxt = m.seq + 1
                continue
            async with t.cond:
                await t.cond.wait_for(functools.partial(_reached, t, nxt))
