"""Live streams: one broker subscription per topic per process, fanned out to every client.

``StreamHub`` (one per process) holds, for each topic somebody watches, a single broker
subscription. Each message is encoded once (the SSE frame ``id: <seq>\\nevent: <type>\\n
data: <json>\\n\\n``, already wrapped in its ASGI body message, and, when WebSocket clients
watch, one JSON text) and the same object goes to every client. For SSE the hub calls each
client's ASGI ``send`` itself and steps it once: on a healthy connection that writes to the
socket and completes on the spot, so a delivery costs one call, with no per-client task,
queue or wake-up. Public streams also skip the middleware stack (``StreamFastPath``), whose
``send`` wrappers would otherwise run once per client and message. Under ``teranga serve``
(``teranga.web.server``) the hub goes one step further: it writes each message's pre-framed
HTTP chunk straight to the client's socket, one ``transport.write`` per client.

A client whose socket stops draining (a phone on a bad 3G link) gets a bounded buffer, and
when that fills it is disconnected rather than buffered without bound: it reconnects with
``Last-Event-ID`` and resumes by replay, from the hub's ring of recent frames when it was
only briefly away, else from the broker. When retention no longer has what it missed it
receives ``event: reset`` (carrying the current sequence as its id): take a fresh snapshot,
then apply what follows.

Every message goes through the broker, so any process can serve any client: there is no
"publish locally". The ``type`` key of a message's payload names its SSE event
(``message`` when absent; ``reset`` is reserved).

Endpoints: ``GET /api/v1/streams/{topic}`` (SSE; resume with the ``Last-Event-ID`` header
or ``?since=<last seen seq>``; a comment heartbeat every 15 s) and
``/api/v1/streams/{topic}/ws?since=<seq>`` (WebSocket, the same frames as JSON). Topics
starting with ``public.`` are open to everybody; any other topic needs the
``platform.stream.subscribe`` permission (platform operators).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, WebSocket
from pydantic import BaseModel, Field
from starlette.responses import Response
from starlette.websockets import WebSocketDisconnect

from teranga.audit import api as audit
from teranga.container import Container
from teranga.identity.api import Principal, optional_principal, public, require
from teranga.platform.broker import Broker, BrokerError, Message, ReplayGap, check_topic
from teranga.platform.errors import Forbidden, Unauthorized, ValidationFailed
from teranga.tenancy import api as tenancy
from teranga.web.deps import ContainerDep
from teranga.web.server import TRANSPORT_EXTENSION

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

PUBLIC_PREFIX = "public."
STREAMS_PATH = "/api/v1/streams/"
FAST_PREFIX = STREAMS_PATH + PUBLIC_PREFIX
PRIVATE_PERMISSION = "platform.stream.subscribe"


def announcements_topic(tenant_slug: str) -> str:
    """A tenant's announcements: public topics are namespaced by tenant slug."""
    return f"public.{tenant_slug}.announcements"


HEARTBEAT = b": hb\n\n"
RETRY = b"retry: 3000\n\n"  # EventSource reconnect delay (ms)


def sse_frame(seq: int, event: str, data: bytes) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (seq, event.encode(), data)


def event_name(data: dict[str, Any]) -> str:
    kind = data.get("type")
    if (
        isinstance(kind, str)
        and kind != "reset"
        and kind.replace("_", "").replace(".", "").replace("-", "").isalnum()
    ):
        return kind
    return "message"


def reset_payload(topic: str, last_seq: int, first_available: int) -> dict[str, Any]:
    return {"topic": topic, "seq": last_seq, "first_available": first_available}


class _Frames:
    """One message encoded once, for both client kinds (WS text made on first use).

    ``sse_msg`` is the ASGI message itself, shared by every SSE client: servers and the
    middleware on the streaming path only read body messages.
    """

    __slots__ = ("_ws", "chunk", "data", "event", "seq", "sse", "sse_msg")

    def __init__(self, seq: int, event: str, data: bytes) -> None:
        self.seq = seq
        self.event = event
        self.data = data
        self.sse = sse_frame(seq, event, data)
        self.sse_msg = _body(self.sse)
        self.chunk = _chunk(self.sse)
        self._ws: str | None = None

    @property
    def ws(self) -> str:
        if self._ws is None:
            self._ws = '{"id":%d,"event":"%s","data":%s}' % (  # noqa: UP031 - hot path
                self.seq,
                self.event,
                self.data.decode(),
            )
        return self._ws


def _body(chunk: bytes) -> dict[str, Any]:
    return {"type": "http.response.body", "body": chunk, "more_body": True}


def _chunk(data: bytes) -> bytes:
    """``data`` framed as one HTTP/1.1 chunk, for clients written on their socket."""
    return b"%x\r\n%s\r\n" % (len(data), data)


HEARTBEAT_MSG = _body(HEARTBEAT)
HEARTBEAT_CHUNK = _chunk(HEARTBEAT)


def encode(m: Message) -> _Frames:
    return _Frames(m.seq, event_name(m.data), orjson.dumps(m.data))


def reset_frames(topic: str, last_seq: int, first_available: int) -> _Frames:
    return _Frames(last_seq, "reset", orjson.dumps(reset_payload(topic, last_seq, first_available)))


async def _resume(step: Coroutine[Any, Any, Any], yielded: Any) -> None:
    """Finish, as an asyncio Task would, a coroutine stepped by hand that suspended.

    ``yielded`` is what its ``send(None)`` returned: the future it waits for (or None for
    a bare yield). The task resumes it once that future is done.
    """
    try:
        while True:
            if yielded is None:
                await asyncio.sleep(0)
            else:
                await asyncio.wait([yielded])
            yielded = step.send(None)
    except StopIteration:
        return
    except asyncio.CancelledError:
        step.close()
        raise


class _Client:
    """A connected client with a bounded buffer of shared, pre-encoded items.

    SSE clients are written by the hub itself: ``deliver`` calls the ASGI ``send`` and
    steps the coroutine once, which for a healthy connection writes to the socket and
    completes right there: no task, no queue, no wake-up per client and message. Only when
    the send suspends (the kernel buffer is full: a slow link) does a task finish it, and
    meanwhile further messages wait in the buffer; when that fills the client is dropped.

    WebSocket clients (``push``/``wait``) have a writer task fed through the buffer.
    """

    __slots__ = (
        "buf",
        "closed",
        "disconnected",
        "ended",
        "limit",
        "overflow",
        "send",
        "task",
        "waiter",
        "writing",
        "ws",
    )

    def __init__(self, limit: int, ws: bool, send: Send | None = None) -> None:
        self.buf: collections.deque[Any] = collections.deque()
        self.limit = limit
        self.ws = ws
        self.send = send
        # True while somebody else writes (the serve coroutine's replay, or a task finishing
        # a suspended send): deliveries are buffered until it hands back.
        self.writing = True
        self.task: asyncio.Task[None] | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.overflow = False
        self.closed = False
        self.disconnected = False

    def deliver(self, msg: dict[str, Any]) -> None:
        """SSE: write ``msg`` now if possible, else buffer it (bounded)."""
        if self.writing:
            self.hold(msg)
            return
        send = self.send
        if send is None:
            raise RuntimeError("SSE client without a send callable")
        step = send(msg)
        if not isinstance(step, Coroutine):
            self.writing = True
            self.task = asyncio.ensure_future(self._finish(None, step))
            return
        try:
            yielded = step.send(None)
        except StopIteration:
            return  # written
        except Exception:  # the peer is gone
            self.disconnected = True
            self.close()
            return
        self.writing = True
        self.task = asyncio.get_running_loop().create_task(self._finish(step, yielded))

    async def _finish(self, step: Coroutine[Any, Any, Any] | None, pending: Any) -> None:
        try:
            if step is not None:
                await _resume(step, pending)
            else:
                await pending
            while self.buf and not self.closed and self.send is not None:
                await self.send(self.buf.popleft())
        except asyncio.CancelledError:
            raise
        except Exception:
            self.disconnected = True
            self.close()
        finally:
            self.task = None
            self.writing = self.closed

    def hold(self, item: Any) -> None:
        """Buffer ``item`` while somebody else writes; past ``limit`` the client is too slow."""
        if self.closed:
            return
        if len(self.buf) >= self.limit:
            self.too_slow()
        else:
            self.buf.append(item)

    def too_slow(self) -> None:
        """Drop the client: it resumes by replay."""
        self.overflow = True
        self.close()

    def push(self, item: Any) -> None:
        """WebSocket: queue ``item`` for the writer task (bounded)."""
        if len(self.buf) >= self.limit:
            self.overflow = True
        else:
            self.buf.append(item)
        w = self.waiter
        if w is not None:
            self.waiter = None
            if not w.done():
                w.set_result(None)

    def close(self) -> None:
        """End this client's stream (overflow, hub shutdown, or the peer went away)."""
        self.closed = True
        self.buf.clear()
        if not self.ended.done():
            self.ended.set_result(None)
        w, self.waiter = self.waiter, None
        if w is not None and not w.done():
            w.set_result(None)

    async def wait(self) -> None:
        if self.buf or self.closed or self.overflow:
            return
        self.waiter = asyncio.get_running_loop().create_future()
        await self.waiter


class _RawClient(_Client):
    """An SSE client whose socket the hub writes itself (see ``teranga.web.server``).

    A delivery is one ``transport.write`` of the message's pre-framed chunk. A socket whose
    unsent bytes pass ``limit_bytes`` is a client too slow to follow: it is cut (the peer
    reconnects with ``Last-Event-ID`` and resumes by replay), so memory stays bounded.
    """

    __slots__ = ("limit_bytes", "transport")

    def __init__(self, limit: int, send: Send, transport: Any, limit_bytes: int) -> None:
        super().__init__(limit, False, send)
        self.transport = transport
        self.limit_bytes = limit_bytes

    def write(self, chunk: bytes) -> None:
        if self.writing:  # the serve coroutine is catching up: keep the order
            self.hold(chunk)
            return
        tr = self.transport
        try:
            tr.write(chunk)
            if tr.get_write_buffer_size() > self.limit_bytes:
                self.cut()
        except Exception:  # the peer is gone
            self.disconnected = True
            self.close()

    def close(self) -> None:
        super().close()
        self.writing = True  # nothing more goes to the socket: write() returns at once

    def too_slow(self) -> None:
        self.cut()

    def cut(self) -> None:
        """Too slow: drop the connection and what it has not read (it resumes by replay)."""
        self.overflow = True
        self.disconnected = True  # nothing more may be sent on it, not even the last chunk
        self.close()
        with contextlib.suppress(Exception):
            self.transport.abort()


class _Topic:
    def __init__(self, name: str, ring_size: int) -> None:
        self.name = name
        self.sse: set[_Client] = set()
        self.raw: set[_RawClient] = set()
        self.ws: set[_Client] = set()
        # Clients that asked for a sequence this process has not seen yet: min seq -> clients.
        self.ahead: list[tuple[int, _Client]] = []
        self.ring: collections.deque[_Frames] = collections.deque(maxlen=ring_size)
        self.last_seq = 0
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task[None] | None = None
        self.idle_handle: asyncio.TimerHandle | None = None
        self.last_sent = 0.0  # monotonic time of the last message fanned out

    def clients(self) -> int:
        return len(self.sse) + len(self.raw) + len(self.ws) + len(self.ahead)

    def fan_out(self, frames: _Frames) -> None:
        self.last_seq = frames.seq
        self.last_sent = time.monotonic()
        self.ring.append(frames)
        if self.raw:
            chunk = frames.chunk
            for r in self.raw:
                r.write(chunk)
        if self.sse:
            msg = frames.sse_msg
            for c in self.sse:
                c.deliver(msg)
        if self.ws:
            ws = frames.ws
            for c in self.ws:
                c.push(ws)
        if self.ahead:
            due = [(s, c) for s, c in self.ahead if s <= frames.seq]
            if due:
                self.ahead = [(s, c) for s, c in self.ahead if s > frames.seq]
                for _, c in due:
                    if c.ws:
                        self.ws.add(c)
                        c.push(frames.ws)
                    elif isinstance(c, _RawClient):
                        self.raw.add(c)
                        c.write(frames.chunk)
                    else:
                        self.sse.add(c)
                        c.deliver(frames.sse_msg)

    def detach(self, client: _Client) -> None:
        self.sse.discard(client)
        if isinstance(client, _RawClient):
            self.raw.discard(client)
        self.ws.discard(client)
        self.ahead = [(s, c) for s, c in self.ahead if c is not client]


class StreamHub:
    """Per-process fan-out of broker topics to SSE and WebSocket clients."""

    def __init__(
        self,
        broker: Broker,
        *,
        client_buffer: int = 256,
        client_buffer_bytes: int = 256 * 1024,
        ring_size: int = 512,
        heartbeat_seconds: float = 15.0,
        idle_seconds: float = 30.0,
        max_topics: int = 5000,
    ) -> None:
        self.broker = broker
        self.max_topics = max_topics
        self.client_buffer = client_buffer
        self.client_buffer_bytes = client_buffer_bytes
        self.ring_size = ring_size
        self.heartbeat_seconds = heartbeat_seconds
        self.idle_seconds = idle_seconds
        self._topics: dict[str, _Topic] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        self._closed = False

    # -- topics ---------------------------------------------------------------------------
    async def topic(self, name: str) -> _Topic:
        """The followed topic (subscribing on first use); BrokerError if unavailable."""
        if self._closed:
            raise BrokerError("stream hub is closed")
        t = self._topics.get(name)
        if t is None:
            if len(self._topics) >= self.max_topics:  # topic names come from URLs
                raise BrokerError("too many live topics on this process")
            t = self._topics[name] = _Topic(name, self.ring_size)
            t.task = asyncio.create_task(self._follow(t), name=f"stream:{name}")
        if self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._beat(), name="stream-heartbeat")
        if t.idle_handle is not None:
            t.idle_handle.cancel()
            t.idle_handle = None
        async with asyncio.timeout(10):
            await asyncio.shield(t.ready)
        return t

    async def _follow(self, t: _Topic) -> None:
        """The topic's one broker subscription: fan out each message, survive broker trouble.

        It starts ``ring_size`` messages back so the ring can serve clients resuming after
        a short absence (or after this process restarted) without a broker replay each;
        clients are attached only once that prefill reached the topic's head.
        """
        delay = 0.2
        head = 0
        while True:
            try:
                if not t.ready.done():
                    head = await self.broker.last_seq(t.name)
                    first = await self.broker.first_seq(t.name)
                    t.last_seq = max(first, head - self.ring_size + 1, 1) - 1
                    if t.last_seq >= head:
                        t.ready.set_result(None)
                async for m in self.broker.subscribe(t.name, t.last_seq + 1):
                    t.fan_out(encode(m))
                    if m.seq >= head and not t.ready.done():
                        t.ready.set_result(None)
                    delay = 0.2
                await asyncio.sleep(delay)  # the broker ended the subscription (closing)
            except asyncio.CancelledError:
                raise
            except ReplayGap as gap:
                # Retention dropped what we had not read: clients here must resnapshot.
                log.warning("stream %s: fell behind retention (%s)", t.name, gap)
                with contextlib.suppress(Exception):
                    last = await self.broker.last_seq(t.name)
                    t.ring.clear()
                    t.fan_out(reset_frames(t.name, last, gap.first_available))
                    if not t.ready.done():
                        t.ready.set_result(None)
            except Exception:
                log.warning("stream %s: broker subscription failed; retrying", t.name)
                if not t.ready.done():
                    t.ready.set_exception(BrokerError("live stream unavailable"))
                    t.ready.exception()  # retrieved: nobody else may be waiting
                    self._topics.pop(t.name, None)
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            quiet_since = time.monotonic() - self.heartbeat_seconds
            for t in list(self._topics.values()):
                # A topic that just sent a message needs no keep-alive: skip its clients.
                if t.last_sent > quiet_since:
                    continue
                for r in list(t.raw):
                    r.write(HEARTBEAT_CHUNK)
                for c in list(t.sse):
                    c.deliver(HEARTBEAT_MSG)

    def _release(self, t: _Topic, client: _Client) -> None:
        t.detach(client)
        if t.clients() == 0 and not self._closed and t.idle_handle is None:
            # Keep the subscription a little: clients of a flaky link come straight back.
            t.idle_handle = asyncio.get_running_loop().call_later(
                self.idle_seconds, self._drop_if_idle, t
            )

    def _drop_if_idle(self, t: _Topic) -> None:
        t.idle_handle = None
        if t.clients() == 0 and self._topics.get(t.name) is t:
            del self._topics[t.name]
            if t.task is not None:
                t.task.cancel()

    def stats(self) -> dict[str, int]:
        return {
            "topics": len(self._topics),
            "clients": sum(t.clients() for t in self._topics.values()),
        }

    async def close(self) -> None:
        """End every stream (clients reconnect elsewhere) and stop the subscriptions."""
        self._closed = True
        tasks = [t.task for t in self._topics.values() if t.task is not None]
        for t in self._topics.values():
            for c in [*t.sse, *t.raw, *t.ws, *(c for _, c in t.ahead)]:
                c.close()
            if t.idle_handle is not None:
                t.idle_handle.cancel()
        if self._heartbeat is not None:
            tasks.append(self._heartbeat)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._topics.clear()

    # -- attaching a client -----------------------------------------------------------------
    async def attach(
        self,
        topic: str,
        since: int | None,
        *,
        ws: bool,
        send: Send | None = None,
        transport: Any = None,
    ) -> tuple[_Topic, _Client, list[Any], int | None]:
        """Join ``topic`` after sequence ``since`` (None: live only).

        Returns the topic, the client, frames to send first (from the ring, or a reset) and,
        when the ring does not reach back far enough, the sequence to replay from the broker
        up to (not including) the first live frame the client will receive.
        """
        t = await self.topic(topic)
        client: _Client
        if transport is not None and send is not None and not ws:
            raw = _RawClient(self.client_buffer, send, transport, self.client_buffer_bytes)
            client, join = raw, functools.partial(t.raw.add, raw)
        else:
            client = _Client(self.client_buffer, ws, send)
            join = functools.partial((t.ws if ws else t.sse).add, client)
        first: list[Any] = []
        replay_from: int | None = None
        if since is not None and since > t.last_seq:
            # Ahead of this process (another served it a fresher message) or of the broker.
            broker_last = await self.broker.last_seq(topic)
            if since > broker_last:  # the stream was reset under the client: resnapshot
                reset = reset_frames(topic, t.last_seq, broker_last + 1)
                first.append(reset.ws if ws else reset.sse)
                since = None
        if since is None:
            join()
        elif since > t.last_seq:
            t.ahead.append((since + 1, client))
        elif since == t.last_seq:
            join()
        else:
            ring = t.ring
            if ring and ring[0].seq <= since + 1:
                start = since + 1 - ring[0].seq
                first.extend(f.ws if ws else f.sse for f in list(ring)[start:])
            else:
                replay_from = since + 1
                client.buf.append(("replay", since + 1, t.last_seq))
            join()
        return t, client, first, replay_from

    async def replay(self, topic: str, start: int, end: int, *, ws: bool) -> list[Any]:
        """Frames ``start..end`` from the broker, or a reset when retention dropped them."""
        out: list[Any] = []
        if end < start:
            return out
        try:
            async with asyncio.timeout(10):
                async for m in self.broker.subscribe(topic, start):
                    f = encode(m)
                    out.append(f.ws if ws else f.sse)
                    if m.seq >= end:
                        break
        except ReplayGap as gap:
            reset = reset_frames(topic, end, gap.first_available)
            return [reset.ws if ws else reset.sse]
        except (BrokerError, TimeoutError):  # cannot replay now: a snapshot is always right
            reset = reset_frames(topic, end, end + 1)
            return [reset.ws if ws else reset.sse]
        return out

    # -- serving -----------------------------------------------------------------------------
    async def _pending(self, topic: str, client: _Client) -> list[Any] | None:
        """Next items to send (replays resolved); None when the client must go."""
        await client.wait()
        if client.overflow or (client.closed and not client.buf):
            return None
        items: list[Any] = []
        while client.buf:
            item = client.buf.popleft()
            if item is None:  # closed by the hub
                return items or None
            if isinstance(item, tuple):
                _, start, end = item
                items.extend(await self.replay(topic, start, end, ws=client.ws))
            else:
                items.append(item)
        return items

    async def serve_sse(
        self,
        topic: str,
        since: int | None,
        send: Send,
        receive: Receive,
        transport: Any = None,
    ) -> None:
        """Stream ``topic`` to one client; with ``transport`` the hub writes its socket."""
        t, client, first, _ = await self.attach(
            topic, since, ws=False, send=send, transport=transport
        )
        raw = isinstance(client, _RawClient)
        watcher = asyncio.create_task(_watch_disconnect(receive, client))
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache, no-transform"),
            (b"x-accel-buffering", b"no"),
        ]
        if raw:  # the chunks written on the socket are framed by us: say so
            headers.append((b"transfer-encoding", b"chunked"))

        async def put(data: bytes) -> None:
            if raw:
                transport.write(_chunk(data))
            else:
                await send(_body(data))

        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await put(RETRY + b"".join(first))
            # Catch up (replay, then what arrived meanwhile), then let the hub write directly.
            while client.buf and not client.closed:
                item = client.buf.popleft()
                if isinstance(item, tuple):
                    frames = await self.replay(topic, item[1], item[2], ws=False)
                    if frames:
                        await put(b"".join(frames))
                elif raw:
                    transport.write(item)
                else:
                    await send(item)
            client.writing = client.closed
            await client.ended
            if client.task is not None:
                client.task.cancel()
            if raw and client.overflow:
                # Cut: let the server see the connection go before this response returns.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(2):
                        await asyncio.shield(watcher)
            elif not client.disconnected:
                with contextlib.suppress(Exception):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client went away mid-write
            pass
        finally:
            watcher.cancel()
            if client.task is not None:
                client.task.cancel()
            client.close()
            self._release(t, client)

    async def serve_ws(self, topic: str, since: int | None, websocket: WebSocket) -> None:
        t, client, first, _ = await self.attach(topic, since, ws=True)
        watcher = asyncio.create_task(_watch_ws(websocket, client))
        try:
            for text in first:
                await websocket.send_text(text)
            while True:
                items = await self._pending(topic, client)
                if items is None:
                    break
                for text in items:
                    if isinstance(text, str):
                        await websocket.send_text(text)
            with contextlib.suppress(Exception):
                await websocket.close(code=1001 if client.overflow or client.closed else 1000)
        except (WebSocketDisconnect, OSError, RuntimeError):
            pass
        finally:
            watcher.cancel()
            self._release(t, client)


async def _watch_disconnect(receive: Receive, client: _Client) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            client.disconnected = True
            client.close()
            return


async def _watch_ws(websocket: WebSocket, client: _Client) -> None:
    with contextlib.suppress(Exception):
        while True:  # the stream is one-way: read only to notice the close
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
    client.close()


# --- wiring ----------------------------------------------------------------------------------


def hub_of(container: Container) -> StreamHub:
    hub = container.extras.get("streams")
    if not isinstance(hub, StreamHub):
        raise RuntimeError("stream hub not set up")
    return hub


def setup(app: FastAPI, container: Container) -> None:
    """Create the process's hub (closed at shutdown, before the broker)."""
    if isinstance(container.extras.get("streams"), StreamHub):
        return
    hub = StreamHub(container.broker)
    container.extras["streams"] = hub
    container.extras.setdefault("shutdown", []).append(hub.close)


def install_fast_path(app: FastAPI, container: Container) -> None:
    """Add StreamFastPath; call it after every other ``add_middleware`` (outermost wins)."""
    app.add_middleware(StreamFastPath, hub=hub_of(container))


async def _authorise(request_or_ws: Request | WebSocket, topic: str) -> None:
    try:
        check_topic(topic)
    except BrokerError:
        raise ValidationFailed("topic", "invalid topic name") from None
    if topic.startswith(PUBLIC_PREFIX):
        return
    principal = await optional_principal(request_or_ws)  # type: ignore[arg-type]
    if principal is None:
        raise Unauthorized("unauthorized", "authentication required for this topic")
    if not principal.can(PRIVATE_PERMISSION):
        raise Forbidden("forbidden", f"missing permission {PRIVATE_PERMISSION}")


def _since(last_event_id: str | None, since: int | None) -> int | None:
    if last_event_id:
        try:
            value = int(last_event_id.strip())
        except ValueError:
            raise ValidationFailed("Last-Event-ID", "must be a sequence number") from None
        if value < 0:
            raise ValidationFailed("Last-Event-ID", "must be >= 0")
        return value
    return since


class StreamFastPath:
    """Outermost ASGI middleware serving ``GET /api/v1/streams/public.*`` straight from the hub.

    Every middleware wraps ``send``, and a stream calls ``send`` once per message per
    client, so the fan-out would pay each wrapper 10,000 times per message. Public streams
    need no authentication, language, CSRF or compression, so valid requests for them skip
    the stack here; anything else (bad input, private topics, the hub unavailable) falls
    through to the routes below, which answer with the usual JSON errors.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], hub: StreamHub):
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path.startswith(FAST_PREFIX):
                topic = path[len(STREAMS_PATH) :]
                since = _fast_since(scope)
                if since is not False and _valid_topic(topic):
                    try:
                        await self.hub.topic(topic)
                    except (BrokerError, TimeoutError):
                        pass  # the route answers 503
                    else:
                        transport = scope.get("extensions", {}).get(TRANSPORT_EXTENSION)
                        await self.hub.serve_sse(topic, since, send, receive, transport)
                        return
        await self.app(scope, receive, send)


def _valid_topic(topic: str) -> bool:
    try:
        check_topic(topic)
    except BrokerError:
        return False
    return True


def _fast_since(scope: Scope) -> int | Literal[False] | None:
    """The resume point of a request, None for live only, False when malformed."""
    raw: str | None = None
    for name, value in scope["headers"]:
        if name == b"last-event-id" and value:
            raw = value.decode("latin-1")
            break
    if raw is None and scope.get("query_string"):
        values = urllib.parse.parse_qs(scope["query_string"].decode("latin-1")).get("since")
        raw = values[-1] if values else None
    if raw is None:
        return None
    raw = raw.strip()
    return int(raw) if raw.isascii() and raw.isdigit() else False


class _EventStream(Response):
    """Streams one client from the hub with pre-encoded bytes straight to ASGI ``send``."""

    media_type = "text/event-stream"

    def __init__(self, hub: StreamHub, topic: str, since: int | None) -> None:
        super().__init__(status_code=200, media_type=self.media_type)
        self.hub = hub
        self.topic = topic
        self.since = since

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = scope.get("extensions", {}).get(TRANSPORT_EXTENSION)
        await self.hub.serve_sse(self.topic, self.since, send, receive, transport)


router = APIRouter(prefix="/api/v1", tags=["streams"])


@router.get(
    "/streams/{topic}",
    dependencies=[Depends(public)],
    response_class=Response,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}},
    summary="Follow a topic as server-sent events",
)
async def stream_sse(
    request: Request,
    container: ContainerDep,
    topic: str,
    since: Annotated[
        int | None, Query(ge=0, description="Last sequence seen; replay what follows.")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    """Frames ``id: <seq>`` / ``event: <type>`` / ``data: <json>``; resume with
    ``Last-Event-ID`` (or ``?since=``). ``event: reset`` means: take a fresh snapshot.
    Topics outside ``public.`` need the ``platform.stream.subscribe`` permission."""
    await _authorise(request, topic)
    start = _since(last_event_id, since)
    hub = hub_of(container)
    try:
        await hub.topic(topic)  # fail with a clean 503 before the stream starts
    except (BrokerError, TimeoutError):
        return Response(
            orjson.dumps({"code": "unavailable", "message": "live stream unavailable"}),
            status_code=503,
            media_type="application/json",
        )
    return _EventStream(hub, topic, start)


@router.websocket("/streams/{topic}/ws", dependencies=[Depends(public)])
async def stream_ws(
    websocket: WebSocket,
    topic: str,
    since: Annotated[int | None, Query(ge=0)] = None,
) -> None:
    """The same stream over WebSocket: text frames ``{"id", "event", "data"}``."""
    container: Container = websocket.app.state.container
    try:
        await _authorise(websocket, topic)
    except (Unauthorized, Forbidden, ValidationFailed) as exc:
        await websocket.close(code=1008, reason=exc.code)
        return
    hub = hub_of(container)
    try:
        await hub.topic(topic)
    except (BrokerError, TimeoutError):
        await websocket.close(code=1011, reason="unavailable")
        return
    await websocket.accept()
    await hub.serve_ws(topic, since, websocket)


# --- organiser announcements (a public topic fed through the outbox) ---------------------


class AnnouncementIn(BaseModel):
    text: str = Field(min_length=1, max_length=500)
    lang: Literal["fr", "en"] = "fr"


class AnnouncementOut(BaseModel):
    status: Literal["queued"] = "queued"
    topic: str = Field(description="The tenant's topic: ``public.<tenant-slug>.announcements``.")


@router.post("/announcements", status_code=202, response_model=AnnouncementOut)
def post_announcement(
    body: AnnouncementIn,
    container: ContainerDep,
    p: Annotated[Principal, Depends(require("programme.announcement.write"))],
) -> AnnouncementOut:
    """Queue a public announcement: delivered on ``public.<tenant-slug>.announcements``
    after commit."""
    with container.uow(p.tenant_id) as uow:
        topic = announcements_topic(tenancy.get(uow, p.tenant_id).slug)
        uow.publish(topic, {"type": "announcement", "text": body.text, "lang": body.lang})
        audit.record(
            uow,
            action="programme.announcement.published",
            actor_id=p.user_id,
            target_type="topic",
            target_id=topic,
            details={"lang": body.lang, "length": len(body.text)},
        )
    return AnnouncementOut(topic=topic)


__all__ = [
    "StreamFastPath",
    "StreamHub",
    "hub_of",
    "install_fast_path",
    "router",
    "setup",
    "sse_frame",
]
