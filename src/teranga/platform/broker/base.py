from __future__ import annotations

import abc
import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    seq: int  # per-topic, starts at 1, no gaps
    data: dict[str, Any]
    published_at: dt.datetime


class BrokerError(Exception):
    pass


class ReplayGap(BrokerError):
    """Replay asked for messages that retention already dropped: take a fresh snapshot."""

    def __init__(self, topic: str, requested: int, first_available: int) -> None:
        super().__init__(
            f"{topic}: messages from {requested} are gone, first available is {first_available}"
        )
        self.topic = topic
        self.requested = requested
        self.first_available = first_available


_TOPIC = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
TOPIC_MAX_LEN = 200


def check_topic(topic: str) -> str:
    """Return ``topic`` when it is a valid topic name, else raise BrokerError."""
    if len(topic) > TOPIC_MAX_LEN or not _TOPIC.fullmatch(topic):
        raise BrokerError(f"invalid topic name {topic[:80]!r}")
    return topic


class Broker(abc.ABC):
    """Topic names are dot-separated tokens of [A-Za-z0-9_-] (e.g. ``results.unit.ATHM100M``).

    Contract (tests/integration/test_broker_contract.py runs it on every implementation):

    - ``publish`` is durable once it returns, and returns the message's per-topic sequence
      number: 1 for a topic's first message, then +1 with no gap and no reuse, even with
      several publishers in several processes.
    - ``msg_id`` deduplicates: publishing again with an id seen within the retention (or
      duplicate) window returns the first sequence number and publishes nothing.
    - ``subscribe(topic, from_seq)`` yields every message with ``seq >= from_seq`` in order,
      each once, then goes live; ``from_seq=None`` yields only messages published after the
      call. ``ReplayGap`` is raised (by the call or at the latest by the first ``__anext__``)
      when retention already dropped message ``from_seq``, and later if the subscriber falls
      so far behind that retention drops a message before it was read.
    - Retention drops a topic's oldest messages by count and by age.
    """

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def publish(self, topic: str, data: dict[str, Any], *, msg_id: str | None = None) -> int:
        """Publish durably; returns the message's per-topic sequence number."""

    @abc.abstractmethod
    def subscribe(self, topic: str, from_seq: int | None = None) -> AsyncIterator[Message]:
        """Yield messages of ``topic``: from ``from_seq`` (replay, then live) or only new ones.

        Raises ReplayGap when ``from_seq`` is older than what retention kept.
        """

    @abc.abstractmethod
    async def last_seq(self, topic: str) -> int:
        """Sequence number of the last message on ``topic`` (0 when none)."""

    @abc.abstractmethod
    async def first_seq(self, topic: str) -> int:
        """Sequence number of the oldest retained message (``last_seq + 1`` when none)."""

    @abc.abstractmethod
    async def ping(self) -> bool: ...


def make_broker(
    url: str, *, retention_seconds: int = 3600, retention_messages: int = 100_000
) -> Broker:
    if url.startswith("memory:"):
        from teranga.platform.broker.memory import MemoryBroker

        return MemoryBroker(
            retention_seconds=retention_seconds, retention_messages=retention_messages
        )
    if url.startswith(("nats:", "tls:")):
        from teranga.platform.broker.nats import NatsBroker

        return NatsBroker(
            url, retention_seconds=retention_seconds, retention_messages=retention_messages
        )
    raise BrokerError(f"unsupported broker URL scheme: {url.split(':', 1)[0]!r}")
