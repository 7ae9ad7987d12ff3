"""Live streams: SSE and WebSocket fan-out through a real uvicorn server, resume, reset."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
import websockets

from teranga import schema
from teranga.config import Settings
from teranga.container import Container, build_container
from teranga.platform.broker.memory import MemoryBroker
from teranga.web.app import create_app
from teranga.web.server import HTTP_PROTOCOL
from teranga.web.streams import StreamHub, hub_of
from tests.conftest import make_settings
from tests.factories import bearer, make_principal_token, make_tenant


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    url: str
    container: Container

    @property
    def hub(self) -> StreamHub:
        return hub_of(self.container)


@contextlib.asynccontextmanager
async def serve(container: Container, http: str = HTTP_PROTOCOL) -> AsyncIterator[Live]:
    app = create_app(container.settings, container=container)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=http, log_config=None, timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield Live(f"http://127.0.0.1:{port}", container)
    finally:
        await hub_of(container).close()  # ends open streams so the server can stop
        server.should_exit = True
        await task


def settings_with(tmp: Path, **kw: Any) -> Settings:
    s = make_settings(tmp, **kw)
    schema.upgrade(s.resolved_admin_url)
    return s


# Both ways a stream is written: the hub on the socket (our protocol, as `teranga serve`
# runs) and plain ASGI ``send`` (any other server).
@pytest.fixture(params=[HTTP_PROTOCOL, "httptools"], ids=["socket", "asgi"])
async def live(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Live]:
    container = build_container(settings_with(tmp_path, broker_retention_messages=20))
    async with serve(container, request.param) as srv:
        yield srv


def topic() -> str:
    return f"public.test.{uuid.uuid4().hex[:10]}"


# One line iterator per response (a response's body can be iterated only once).
_readers: weakref.WeakKeyDictionary[httpx.Response, AsyncIterator[str]] = (
    weakref.WeakKeyDictionary()
)


async def events(
    response: httpx.Response, n: int, *, comments: bool = False
) -> list[dict[str, Any]]:
    """Parse the next ``n`` SSE events (and comments when asked) of a streaming response."""
    lines = _readers.get(response)
    if lines is None:
        lines = _readers[response] = response.aiter_lines()
    out: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async with asyncio.timeout(10):
        async for line in lines:
            if line.startswith(":"):
                if comments:
                    out.append({"comment": line[1:].strip()})
            elif line.startswith("retry:"):
                continue
            elif line == "":
                if current:
                    out.append(current)
                    current = {}
            else:
                key, _, value = line.partition(": ")
                current[key] = int(value) if key == "id" else value
                if key == "data":
                    current["data"] = orjson.loads(value)
            if len(out) >= n:
                return out
    return out


async def wait_clients(hub: StreamHub, n: int) -> None:
    for _ in range(500):
        if hub.stats()["clients"] >= n:
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(f"{n} clients never attached")


async def test_sse_delivers_live_messages_with_seq_event_and_data(live: Live) -> None:
    name = topic()
    broker = live.container.broker
    async with (
        httpx.AsyncClient(base_url=live.url) as client,
        client.stream("GET", f"/api/v1/streams/{name}") as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        await wait_clients(live.hub, 1)
        await broker.publish(name, {"type": "score", "home": 1})
        await broker.publish(name, {"away": 2})
        got = await events(r, 2)
    assert got == [
        {"id": 1, "event": "score", "data": {"type": "score", "home": 1}},
        {"id": 2, "event": "message", "data": {"away": 2}},
    ]


async def test_resume_with_last_event_id_replays_then_goes_live(live: Live) -> None:
    name = topic()
    broker = live.container.broker
    for i in range(5):
        await broker.publish(name, {"i": i})
    async with (
        httpx.AsyncClient(base_url=live.url) as client,
        client.stream("GET", f"/api/v1/streams/{name}", headers={"Last-Event-ID": "2"}) as r,
    ):
        first = await events(r, 3)
        await broker.publish(name, {"i": 5})
        then = await events(r, 1)
    assert [e["id"] for e in first + then] == [3, 4, 5, 6]
    assert [e["data"]["i"] for e in first + then] == [2, 3, 4, 5]


async def test_resume_beyond_the_ring_replays_from_the_broker(live: Live) -> None:
    live.hub.ring_size = 2
    name = topic()
    broker = live.container.broker
    for i in range(10):
        await broker.publish(name, {"i": i})
    async with (
        httpx.AsyncClient(base_url=live.url) as client,
        client.stream("GET", f"/api/v1/streams/{name}?since=3") as r,
    ):
        got = await events(r, 7)
        await broker.publish(name, {"i": 10})
        got += await events(r, 1)
    assert [e["id"] for e in got] == list(range(4, 12))


async def test_resume_beyond_retention_sends_reset(live: Live) -> None:
    name = topic()
    broker = live.container.broker
    for i in range(30):  # retention keeps 20
        await broker.publish(name, {"i": i})
    async with (
        httpx.AsyncClient(base_url=live.url) as client,
        client.stream("GET", f"/api/v1/streams/{name}?since=2") as r,
    ):
        (reset,) = await events(r, 1)
        await broker.publish(name, {"i": 30})
        (after,) = await events(r, 1)
    assert reset["event"] == "reset"
    assert reset["id"] == 30  # resume point once the fresh snapshot is taken
    assert reset["data"]["first_available"] == 11
    assert after["id"] == 31


async def test_client_ahead_of_the_broker_is_told_to_resnapshot(live: Live) -> None:
    name = topic()
    await live.container.broker.publish(name, {"i": 0})
    async with (
        httpx.AsyncClient(base_url=live.url) as client,
        client.stream("GET", f"/api/v1/streams/{name}", headers={"Last-Event-ID": "99"}) as r,
    ):
        (reset,) = await events(r, 1)
    assert (reset["event"], reset["id"]) == ("reset", 1)


async def test_websocket_has_the_same_semantics(live: Live) -> None:
    name = topic()
    broker = live.container.broker
    for i in range(3):
        await broker.publish(name, {"i": i})
    ws_url = live.url.replace("http", "ws") + f"/api/v1/streams/{name}/ws?since=1"
    async with websockets.connect(ws_url) as ws, asyncio.timeout(10):
        got = [orjson.loads(await ws.recv()) for _ in range(2)]
        await broker.publish(name, {"type": "score", "i": 3})
        got.append(orjson.loads(await ws.recv()))
    assert [(g["id"], g["event"], g["data"]["i"]) for g in got] == [
        (2, "message", 1),
        (3, "message", 2),
        (4, "score", 3),
    ]


async def test_private_topics_and_bad_input_are_refused(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.url) as client:
        r = await client.get("/api/v1/streams/results.internal")
        assert r.status_code == 401
        assert r.json()["code"] == "unauthorized"
        r = await client.get("/api/v1/streams/public.a..b")
        assert r.status_code == 422
        r = await client.get(
            f"/api/v1/streams/{topic()}", headers={"Last-Event-ID": "not-a-number"}
        )
        assert r.status_code == 422
        r = await client.get(f"/api/v1/streams/{topic()}?since=-1")
        assert r.status_code == 422


async def test_heartbeats_keep_idle_streams_open(live: Live) -> None:
    live.hub.heartbeat_seconds = 0.1
    async with (
        httpx.AsyncClient(base_url=live.url) as client,
        client.stream("GET", f"/api/v1/streams/{topic()}") as r,
    ):
        got = await events(r, 1, comments=True)
    assert got == [{"comment": "hb"}]


async def test_one_subscription_per_topic_and_slow_clients_are_dropped() -> None:
    """The hub writes to healthy clients directly; a client whose socket stops draining
    (its ASGI ``send`` blocks, as uvicorn's does when the kernel buffer is full) gets a
    bounded buffer and is then dropped, without slowing the others."""
    broker = MemoryBroker()
    hub = StreamHub(broker, client_buffer=4)
    name = topic()
    received: list[bytes] = []
    stuck = asyncio.Event()

    async def fast_send(message: Any) -> None:
        received.append(message["body"])

    async def slow_send(message: Any) -> None:
        await stuck.wait()  # never drains

    try:
        _, fast, _, _ = await hub.attach(name, None, ws=False, send=fast_send)
        _, slow, _, _ = await hub.attach(name, None, ws=False, send=slow_send)
        fast.writing = slow.writing = False  # as serve_sse does once caught up
        for i in range(10):
            await broker.publish(name, {"i": i})
            await asyncio.sleep(0)
        for _ in range(500):
            if len(received) >= 10:
                break
            await asyncio.sleep(0.01)
        assert hub.stats() == {"topics": 1, "clients": 2}  # one subscription for both
        assert [f.split(b"\n", 1)[0] for f in received] == [b"id: %d" % i for i in range(1, 11)]
        assert fast.task is None  # every write completed inline: no task per message
        assert slow.overflow
        assert slow.closed  # its stream ends; it resumes by replay
        assert slow.ended.done()
        assert len(slow.buf) == 0  # and what it held is released
    finally:
        await hub.close()


async def test_announcement_reaches_sse_clients_through_the_outbox(
    container: Container,
) -> None:
    slug = f"ann-{uuid.uuid4().hex[:8]}"
    tid = make_tenant(container, slug)
    token = make_principal_token(container, tid, "organiser-admin")
    other = make_principal_token(container, make_tenant(container), "organiser-admin")
    async with (
        serve(container) as srv,
        httpx.AsyncClient(base_url=srv.url) as client,
    ):
        r = await client.post("/api/v1/announcements", json={"text": "Bonjour", "lang": "fr"})
        assert r.status_code == 401
        r = await client.post(
            "/api/v1/announcements", json={"text": "", "lang": "fr"}, headers=bearer(token)
        )
        assert r.status_code == 422
        async with client.stream("GET", f"/api/v1/streams/public.{slug}.announcements") as stream:
            await wait_clients(srv.hub, 1)
            r = await client.post(  # another tenant's announcement goes to its own topic
                "/api/v1/announcements", json={"text": "Autre", "lang": "fr"}, headers=bearer(other)
            )
            assert r.status_code == 202
            assert r.json()["topic"] != f"public.{slug}.announcements"
            r = await client.post(
                "/api/v1/announcements",
                json={"text": "Navettes toutes les 10 min", "lang": "fr"},
                headers=bearer(token),
            )
            assert r.status_code == 202
            assert r.json() == {"status": "queued", "topic": f"public.{slug}.announcements"}
            (got,) = await events(stream, 1)
    assert got["event"] == "announcement"
    assert got["data"] == {
        "type": "announcement",
        "text": "Navettes toutes les 10 min",
        "lang": "fr",
    }


async def test_private_topic_streams_through_the_routes_for_operators_only(
    live: Live,
) -> None:
    container = live.container
    tid = make_tenant(container)
    admin = make_principal_token(container, tid, "platform-admin")
    organiser = make_principal_token(container, tid, "organiser-admin")
    name = f"ops.test.{uuid.uuid4().hex[:8]}"
    await container.broker.publish(name, {"i": 0})
    async with httpx.AsyncClient(base_url=live.url) as client:
        r = await client.get(f"/api/v1/streams/{name}", headers=bearer(organiser))
        assert r.status_code == 403
        async with client.stream(
            "GET", f"/api/v1/streams/{name}?since=0", headers=bearer(admin)
        ) as stream:
            assert stream.status_code == 200
            first = await events(stream, 1)
            await container.broker.publish(name, {"i": 1})
            first += await events(stream, 1)
    assert [(e["id"], e["data"]["i"]) for e in first] == [(1, 0), (2, 1)]


async def test_live_topics_per_process_are_capped(live: Live) -> None:
    live.hub.max_topics = 1  # topic names come from URLs: never unbounded
    async with httpx.AsyncClient(base_url=live.url) as client:
        async with client.stream("GET", f"/api/v1/streams/{topic()}") as r:
            assert r.status_code == 200
        r = await client.get(f"/api/v1/streams/{topic()}")
        assert r.status_code == 503
        assert r.json()["code"] == "unavailable"


async def test_socket_path_is_used_and_a_client_that_stops_reading_is_cut(
    tmp_path: Path,
) -> None:
    """With our protocol the hub writes stream sockets itself. A peer that stops reading
    fills its socket; past the byte bound it is cut (memory stays bounded) while a healthy
    client on the same topic keeps receiving every message."""
    container = build_container(settings_with(tmp_path))
    async with serve(container) as srv:
        srv.hub.client_buffer_bytes = 64 * 1024
        name = topic()
        # A raw peer with a tiny receive window that never reads.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        port = int(srv.url.rsplit(":", 1)[1])
        sock.connect(("127.0.0.1", port))
        sock.sendall(f"GET /api/v1/streams/{name} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await wait_clients(srv.hub, 1)
        t = await srv.hub.topic(name)
        (stalled,) = t.raw
        async with (
            httpx.AsyncClient(base_url=srv.url) as client,
            client.stream("GET", f"/api/v1/streams/{name}") as r,
        ):
            await wait_clients(srv.hub, 2)
            assert len(t.raw) == 2  # both written on their sockets
            assert not t.sse
            pad = "x" * 16000
            got: list[dict[str, Any]] = []
            # The kernel absorbs a few MB first (socket buffers), then the transport's
            # own buffer grows past the bound.
            for i in range(1500):
                await container.broker.publish(name, {"i": i, "pad": pad})
                got += await events(r, 1)
                if stalled.overflow:
                    break
            assert stalled.overflow
            assert [e["data"]["i"] for e in got] == list(range(len(got)))
            for _ in range(200):
                if srv.hub.stats()["clients"] == 1:
                    break
                await asyncio.sleep(0.01)
            assert srv.hub.stats()["clients"] == 1  # the stalled peer is gone
            await container.broker.publish(name, {"i": "after"})
            assert (await events(r, 1))[0]["data"] == {"i": "after"}
        sock.close()
