"""NATS JetStream broker: durable topics with gapless per-topic sequences across processes.

Layout. One stream (``TERANGA``, subjects ``teranga.>``, file storage) holds every topic;
topic ``results.unit.X`` is subject ``teranga.results.unit.X``. Retention is the stream's
``max_age`` (``retention_seconds``) and ``max_msgs_per_subject`` (``retention_messages``);
``duplicate_window`` (15 min, at most the retention) makes ``Nats-Msg-Id`` deduplicate
re-publishes: the outbox relay's id is per outbox row, so a crash between publish and
"mark sent" does not duplicate when the relay is back within that window.

Per-topic sequence. JetStream numbers messages per *stream*; we need 1, 2, 3... per topic,
across processes. Each message carries its topic sequence in the ``Teranga-Seq`` header and
is published with ``Nats-Expected-Last-Subject-Sequence`` set to the stream sequence of the
topic's last message as the publisher believes it to be. The server appends only when that
is still the last message on the subject, so two publishers cannot both write topic
sequence ``n``: the loser gets "wrong last sequence", re-reads the last message and retries
with ``n + 1``. This is optimistic concurrency on the subject; a per-process lock per topic
keeps the retries to races between processes.

Retention by age can remove every message of a quiet topic, and then "last message + 1"
would restart at 1 and reuse sequence numbers clients already hold. So each topic also has
a *head* record in a second stream (``TERANGA_HEADS``, one message per subject, no age
limit), advanced with the same compare-and-set *before* the message is published. The head
is therefore always >= every published sequence; it is read only when the topic's subject
is empty. A reservation whose publish failed (crash, or a race lost to another process)
leaves the head one ahead: while the topic still has messages nothing changes (the next
message takes the number). Only once the topic is empty (idle beyond retention) can this
skip one number, which makes a resuming client take a fresh snapshot: safe, and numbers
are never reused. The process-local cache of a topic's last position is dropped before
retention could have aged that message out, so an idle topic is re-read instead of
failing (and over-reserving) on a stale expectation.

Replay from topic sequence ``n``: the first and last retained messages of the subject give
the retained range (direct get ``next_by_subj`` / ``last_by_subj``); the stream sequence of
message ``n`` is found by binary search over direct gets (O(log stream size) round trips),
then an ordered push consumer filtered on the subject starts there and goes live. The
ordered consumer recreates itself after a reconnect or a missed heartbeat, from the last
stream sequence it delivered; a jump in ``Teranga-Seq`` (retention dropped messages the
subscriber had not read yet) raises ReplayGap.

``nats://host:port?stream=NAME&prefix=subj`` selects another stream and subject prefix
(tests and side-by-side deployments on one server); ``&monitor=http://host:8222`` lets the
start-up check read the server's JetStream settings from its monitoring endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import nats
import orjson
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext, api
from nats.js.errors import APIError, BadRequestError, NotFoundError

from teranga.platform.broker.base import Broker, BrokerError, Message, ReplayGap, check_topic
from teranga.platform.clock import utcnow

log = logging.getLogger(__name__)

SEQ_HEADER = "Teranga-Seq"
TIME_HEADER = "Teranga-Time"
EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
MSG_ID = "Nats-Msg-Id"
WRONG_LAST_SEQUENCE = 10071  # JetStream error code
STREAM_NAME_IN_USE = 10058
MAX_PUBLISH_ATTEMPTS = 100
# Long enough to cover a relay restarting after a crash between publish and mark.
DUPLICATE_WINDOW = 900


@dataclass(frozen=True, slots=True)
class _Pos:
    """A topic sequence and the stream sequence holding it (0 when the subject is empty)."""

    topic_seq: int
    stream_seq: int


class NatsBroker(Broker):
    def __init__(
        self,
        url: str,
        *,
        retention_seconds: int = 3600,
        retention_messages: int = 100_000,
        stream: str | None = None,
        prefix: str | None = None,
    ) -> None:
        if retention_messages < 1 or retention_seconds < 1:
            raise BrokerError("retention must keep at least one message and one second")
        parts = urllib.parse.urlsplit(url)
        query = dict(urllib.parse.parse_qsl(parts.query))
        self.servers = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        self.stream = stream or query.get("stream", "TERANGA")
        self.prefix = prefix or query.get("prefix", "teranga")
        self.monitor_url = query.get("monitor", "")
        check_topic(self.prefix)
        self.heads_stream = f"{self.stream}_HEADS"
        self.heads_prefix = f"{self.prefix}_heads"
        self.retention_seconds = retention_seconds
        self.retention_messages = retention_messages
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        # Last message per topic as this process saw it, with when (monotonic) it was seen.
        self._last: dict[str, tuple[_Pos, float]] = {}
        self._heads: dict[str, _Pos] = {}  # head record per topic: value, heads-stream seq
        self._locks: dict[str, asyncio.Lock] = {}

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self._nc is not None:
            return
        self._nc = await nats.connect(
            self.servers,
            name="teranga",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=5,
        )
        self._js = self._nc.jetstream(timeout=5)
        await self._ensure_stream(
            api.StreamConfig(
                name=self.stream,
                subjects=[f"{self.prefix}.>"],
                storage=api.StorageType.FILE,
                retention=api.RetentionPolicy.LIMITS,
                discard=api.DiscardPolicy.OLD,
                max_age=float(self.retention_seconds),
                max_msgs_per_subject=self.retention_messages,
                duplicate_window=float(min(DUPLICATE_WINDOW, self.retention_seconds)),
                allow_direct=True,
            )
        )
        await self._ensure_stream(
            api.StreamConfig(
                name=self.heads_stream,
                subjects=[f"{self.heads_prefix}.>"],
                storage=api.StorageType.FILE,
                retention=api.RetentionPolicy.LIMITS,
                discard=api.DiscardPolicy.OLD,
                max_msgs_per_subject=1,
                allow_direct=True,
            )
        )
        await self._check_sync_interval()

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        self._last.clear()
        self._heads.clear()
        if nc is not None and not nc.is_closed:
            await nc.close()

    async def ping(self) -> bool:
        if self._nc is None or not self._nc.is_connected:
            return False
        await self._nc.flush(timeout=2)
        return True

    async def delete_streams(self) -> None:
        """Drop this broker's streams (tests and tear-down of side-by-side deployments)."""
        js = self._jetstream()
        for name in (self.stream, self.heads_stream):
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(name)

    def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise BrokerError("broker not started")
        return self._js

    async def _ensure_stream(self, config: api.StreamConfig) -> None:
        js = self._jetstream()
        try:
            await js.add_stream(config)
        except BadRequestError as exc:
            if exc.err_code != STREAM_NAME_IN_USE:
                raise
            await js.update_stream(config)

    async def _check_sync_interval(self) -> None:
        """Warn when JetStream does not fsync every write (R4: no committed event lost).

        The setting shows in the server's VARZ: through the system account (when our user
        has it) or the HTTP monitoring endpoint named by ``?monitor=http://host:8222`` in
        the broker URL. When neither answers we say we could not check rather than guess.
        """
        config = await self._jetstream_config()
        if config is None:
            log.warning(
                "NATS: cannot verify JetStream sync_interval; configure 'sync_interval: always' "
                "so an acknowledged message survives a power loss"
            )
        elif not config.get("sync_always"):
            log.warning(
                "NATS: JetStream sync_interval is not 'always'; acknowledged messages can be "
                "lost on a power failure"
            )
        else:
            log.info("NATS: JetStream syncs every write to disk")

    async def _jetstream_config(self) -> dict[str, Any] | None:
        nc = self._nc
        if nc is not None:
            try:
                resp = await nc.request("$SYS.REQ.SERVER.PING.VARZ", b"", timeout=0.5)
                config = orjson.loads(resp.data)["data"]["jetstream"]["config"]
                if isinstance(config, dict):
                    return config
            except Exception:  # no system-account rights: the usual case for an app user
                log.debug("VARZ through the system account unavailable", exc_info=True)
        if self.monitor_url:
            try:
                async with httpx.AsyncClient(timeout=2) as client:
                    varz = await client.get(self.monitor_url.rstrip("/") + "/varz")
                config = varz.json()["jetstream"]["config"]
                if isinstance(config, dict):
                    return config
            except Exception:
                log.debug("VARZ through the monitoring endpoint unavailable", exc_info=True)
        return None

    # -- reading positions -------------------------------------------------------------
    def _subject(self, topic: str) -> str:
        return f"{self.prefix}.{check_topic(topic)}"

    async def _get(
        self, stream: str, subject: str, *, last: bool = False, from_stream_seq: int = 1
    ) -> api.RawStreamMsg | None:
        js = self._jetstream()
        try:
            if last:
                return await js.get_msg(stream, subject=subject, direct=True)
            return await js.get_msg(
                stream, seq=max(1, from_stream_seq), subject=subject, next=True, direct=True
            )
        except NotFoundError:
            return None

    @staticmethod
    def _pos(raw: api.RawStreamMsg) -> _Pos:
        headers = raw.headers or {}
        try:
            return _Pos(int(headers[SEQ_HEADER]), int(raw.seq or 0))
        except (KeyError, ValueError) as exc:
            raise BrokerError(f"message {raw.seq} on {raw.subject} has no {SEQ_HEADER}") from exc

    async def _read_head(self, topic: str) -> _Pos:
        raw = await self._get(self.heads_stream, f"{self.heads_prefix}.{topic}", last=True)
        return _Pos(0, 0) if raw is None else self._pos(raw)

    async def _read_last(self, topic: str) -> tuple[_Pos, bool]:
        """(last message position, True) or (head value with stream seq 0, False) if empty."""
        raw = await self._get(self.stream, self._subject(topic), last=True)
        if raw is not None:
            return self._pos(raw), True
        head = await self._read_head(topic)
        return _Pos(head.topic_seq, 0), False

    async def last_seq(self, topic: str) -> int:
        pos, _ = await self._read_last(topic)
        return pos.topic_seq

    async def first_seq(self, topic: str) -> int:
        raw = await self._get(self.stream, self._subject(topic))
        if raw is not None:
            return self._pos(raw).topic_seq
        return await self.last_seq(topic) + 1

    # -- publishing ---------------------------------------------------------------------
    async def _advance_head(self, topic: str, value: int) -> None:
        """Make the topic's head record >= value (compare-and-set on its subject)."""
        js = self._jetstream()
        subject = f"{self.heads_prefix}.{topic}"
        for _ in range(MAX_PUBLISH_ATTEMPTS):
            head = self._heads.get(topic)
            if head is None:
                head = self._heads[topic] = await self._read_head(topic)
            if head.topic_seq >= value:
                return
            try:
                ack = await js.publish(
                    subject,
                    b"",
                    headers={
                        SEQ_HEADER: str(value),
                        EXPECTED_LAST_SUBJECT_SEQ: str(head.stream_seq),
                    },
                )
            except APIError as exc:
                if exc.err_code != WRONG_LAST_SEQUENCE:
                    raise
                self._heads.pop(topic, None)
                continue
            self._heads[topic] = _Pos(value, ack.seq)
            return
        raise BrokerError(f"{topic}: could not advance the head record (contention)")

    async def publish(self, topic: str, data: dict[str, Any], *, msg_id: str | None = None) -> int:
        subject = self._subject(topic)
        payload = orjson.dumps(data)
        lock = self._locks.get(topic)
        if lock is None:
            lock = self._locks[topic] = asyncio.Lock()
        async with lock:
            return await self._publish_locked(topic, subject, payload, msg_id)

    async def _publish_locked(
        self, topic: str, subject: str, payload: bytes, msg_id: str | None
    ) -> int:
        js = self._jetstream()
        for _ in range(MAX_PUBLISH_ATTEMPTS):
            cached = self._last.get(topic)
            loop_time = asyncio.get_running_loop().time()
            if cached is not None and loop_time - cached[1] < self.retention_seconds / 2:
                last = cached[0]
            else:
                last, _ = await self._read_last(topic)
            seq = last.topic_seq + 1
            await self._advance_head(topic, seq)
            headers = {
                SEQ_HEADER: str(seq),
                TIME_HEADER: utcnow().isoformat(),
                EXPECTED_LAST_SUBJECT_SEQ: str(last.stream_seq),
            }
            if msg_id is not None:
                headers[MSG_ID] = msg_id
            try:
                ack = await js.publish(subject, payload, headers=headers)
            except APIError as exc:
                if exc.err_code != WRONG_LAST_SEQUENCE:
                    raise
                self._last.pop(topic, None)  # another process published: re-read
                continue
            if ack.duplicate:
                # Deduplicated by msg id: answer the first publish's topic sequence.
                self._last.pop(topic, None)
                raw = await self._jetstream().get_msg(self.stream, seq=ack.seq, direct=True)
                return self._pos(raw).topic_seq
            self._last[topic] = (_Pos(seq, ack.seq), loop_time)
            return seq
        raise BrokerError(f"{topic}: could not publish (contention)")

    # -- subscribing --------------------------------------------------------------------
    async def _locate(self, subject: str, seq: int, lo: int, hi: int) -> int:
        """Stream sequence of topic message ``seq``, known to lie in stream range [lo, hi]."""
        while lo <= hi:
            mid = (lo + hi) // 2
            raw = await self._get(self.stream, subject, from_stream_seq=mid)
            if raw is None:  # aged out while we searched
                break
            pos = self._pos(raw)
            if pos.topic_seq == seq:
                return pos.stream_seq
            if pos.topic_seq < seq:
                lo = pos.stream_seq + 1
            else:
                hi = mid - 1
        raise ReplayGap(subject.removeprefix(self.prefix + "."), seq, seq + 1)

    async def _start_position(self, topic: str, from_seq: int | None) -> tuple[int, int]:
        """(first topic seq to yield, stream seq to start the consumer at)."""
        subject = self._subject(topic)
        last, non_empty = await self._read_last(topic)
        if from_seq is None or from_seq > last.topic_seq:
            nxt = last.topic_seq + 1 if from_seq is None else from_seq
            return nxt, last.stream_seq + 1
        nxt = max(1, from_seq)
        first_raw = await self._get(self.stream, subject) if non_empty else None
        if first_raw is None:
            raise ReplayGap(topic, nxt, last.topic_seq + 1)
        first = self._pos(first_raw)
        if nxt < first.topic_seq:
            raise ReplayGap(topic, nxt, first.topic_seq)
        if nxt == first.topic_seq:
            return nxt, first.stream_seq
        return nxt, await self._locate(subject, nxt, first.stream_seq, last.stream_seq)

    def subscribe(self, topic: str, from_seq: int | None = None) -> AsyncIterator[Message]:
        check_topic(topic)
        return self._iter(topic, from_seq)

    async def _iter(self, topic: str, from_seq: int | None) -> AsyncIterator[Message]:
        js = self._jetstream()
        nxt, start = await self._start_position(topic, from_seq)
        sub = await js.subscribe(
            self._subject(topic),
            stream=self.stream,
            ordered_consumer=True,
            idle_heartbeat=2.0,
            config=api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=max(1, start),
            ),
        )
        try:
            while True:
                msg = await sub.next_msg(timeout=None)
                headers = msg.headers or {}
                seq = int(headers.get(SEQ_HEADER, "0"))
                if seq < nxt:
                    continue  # before the requested start (live start raced a publish)
                if seq > nxt:
                    raise ReplayGap(topic, nxt, seq)
                stamp = headers.get(TIME_HEADER)
                published = dt.datetime.fromisoformat(stamp) if stamp else utcnow()
                yield Message(topic, seq, orjson.loads(msg.data), published)
                nxt = seq + 1
        finally:
            try:
                await sub.unsubscribe()
            except Exception:  # the connection may already be closed
                log.debug("unsubscribe failed", exc_info=True)
