"""Live results end to end on a real server, on both brokers (memory and NATS JetStream).

Scorer API -> outbox -> relay -> broker -> stream hub -> SSE client. A client that drops
and comes back with ``Last-Event-ID`` gets exactly the messages it missed, in order, once;
one that was away beyond retention gets ``event: reset`` and resumes from a new snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from teranga.config import Settings
from teranga.container import Container, build_container
from teranga.platform import relay
from teranga.web import streams
from teranga.web.app import create_app
from tests.conftest import make_settings
from tests.factories import bearer, make_principal_token, make_tenant
from tests.routes import iter_routes

STREAM_PATH = "/api/v1/streams/{topic}"


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    url: str
    container: Container
    scorer: dict[str, str]


@contextlib.contextmanager
def live_server(settings: Settings, *, ring_size: int = 512) -> Iterator[Live]:
    """The app on a real port, with the outbox relay and the stream hub running."""
    from teranga import schema

    schema.upgrade(settings.resolved_admin_url)
    container = build_container(settings)
    relay.install(container)
    hub = streams.StreamHub(container.broker, ring_size=ring_size)
    container.extras["streams"] = hub
    container.extras.setdefault("shutdown", []).append(hub.close)
    app = create_app(settings, container=container)
    if not any(r.path == STREAM_PATH for r in iter_routes(app)):
        app.include_router(streams.router)  # until the app factory mounts the hub itself
    tid = make_tenant(container, settings.default_tenant)
    scorer = bearer(make_principal_token(container, tid, "scorer"))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield Live(f"http://127.0.0.1:{port}", container, scorer)
    finally:
        server.should_exit = True
        thread.join(20)


@pytest.fixture(params=["memory", pytest.param("nats", marks=pytest.mark.nats)])
def broker_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    base: str = request.getfixturevalue("nats_url")
    tag = uuid.uuid4().hex[:8]
    return f"{base}?stream=RES{tag.upper()}&prefix=res{tag}"


def _settings(tmp_path: Path, broker_url: str, **kw: Any) -> Settings:
    return make_settings(tmp_path, broker_url=broker_url, **kw)


Event = tuple[int, str, dict[str, Any]]


@contextlib.asynccontextmanager
async def sse(
    client: httpx.AsyncClient, topic: str, *, last_id: int | None = None, since: int | None = None
) -> AsyncIterator[asyncio.Queue[Event]]:
    """Events of one SSE connection, read by a task into a queue (so a timed-out wait
    does not cancel the reader and end the stream)."""
    headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
    params = {"since": since} if since is not None else {}
    queue: asyncio.Queue[Event] = asyncio.Queue()
    async with client.stream(
        "GET", f"/api/v1/streams/{topic}", headers=headers, params=params
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")

        async def read() -> None:
            ident, event, data = 0, "message", ""
            async for line in resp.aiter_lines():
                if line.startswith("id:"):
                    ident = int(line[3:].strip())
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "" and data:
                    queue.put_nowait((ident, event, json.loads(data)))
                    ident, event, data = 0, "message", ""

        reader = asyncio.create_task(read())
        try:
            yield queue
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await reader


async def take(events: asyncio.Queue[Event], n: int, within: float = 10) -> list[Event]:
    async with asyncio.timeout(within):
        return [await events.get() for _ in range(n)]


async def nothing_more(events: asyncio.Queue[Event], wait: float = 0.5) -> bool:
    await asyncio.sleep(wait)
    return events.empty()


def new_code() -> str:
    return f"ATH{('M' + uuid.uuid4().hex[:8].upper()).ljust(19, '-')}FNL-000100--"


async def _unit(
    c: httpx.AsyncClient, live: Live, code: str, scorer: dict[str, str] | None = None
) -> None:
    r = await c.put(
        f"/api/v1/results/units/{code}",
        json={"name": "100m", "scheduled_at": "2026-11-02T18:30:00Z", "medal": True},
        headers=scorer or live.scorer,
    )
    assert r.status_code == 200, r.text


async def _score(
    c: httpx.AsyncClient,
    live: Live,
    code: str,
    mark: str,
    scorer: dict[str, str] | None = None,
    noc: str = "SEN",
    status: str = "LIVE",
) -> None:
    lines = [{"participant": "a1", "name": "A", "noc": noc, "rank": 1, "mark": mark}]
    r = await c.post(
        f"/api/v1/results/units/{code}/lines",
        json={"result_status": status, "lines": lines},
        headers=scorer or live.scorer,
    )
    assert r.status_code == 200, r.text


async def _seq_reaches(c: httpx.AsyncClient, code: str, seq: int) -> dict[str, Any]:
    async with asyncio.timeout(15):
        while True:
            snap: dict[str, Any] = (await c.get(f"/api/v1/results/units/{code}")).json()
            if snap["seq"] >= seq:
                return snap
            await asyncio.sleep(0.05)


async def test_resume_with_last_event_id_gets_exactly_the_missed_messages(
    tmp_path: Path, broker_url: str
) -> None:
    with live_server(_settings(tmp_path, broker_url)) as live:
        code = new_code()
        async with httpx.AsyncClient(base_url=live.url, timeout=10) as c:
            await _unit(c, live, code)
            snap = await _seq_reaches(c, code, 1)
            s0, topic = snap["seq"], snap["topic"]
            assert topic == f"public.{live.container.settings.default_tenant}.results.unit.{code}"
            async with sse(c, topic, since=s0) as events:
                await asyncio.sleep(0.2)  # subscribed before the scorer writes
                await _score(c, live, code, "10.50")
                [(first, kind, msg)] = await take(events, 1)
            assert (first, kind, msg["version"]) == (s0 + 1, "unit", 1)
            # the client is away: three corrections land
            for mark in ("10.40", "10.30", "10.20"):
                await _score(c, live, code, mark)
            await _seq_reaches(c, code, s0 + 4)
            async with sse(c, topic, last_id=first) as events:
                missed = await take(events, 3)
                assert [m[0] for m in missed] == [s0 + 2, s0 + 3, s0 + 4]
                assert [m[2]["upsert"][0]["mark"] for m in missed] == ["10.40", "10.30", "10.20"]
                assert await nothing_more(events)  # once: no repeat of what was replayed
                await _score(c, live, code, "10.10")
                [(nxt, _, msg)] = await take(events, 1)
                assert (nxt, msg["version"]) == (s0 + 5, 5)
        if broker_url.startswith("nats"):
            await _drop_streams(live.container)


async def test_beyond_retention_the_client_is_told_to_resnapshot(
    tmp_path: Path, broker_url: str
) -> None:
    settings = _settings(tmp_path, broker_url, broker_retention_messages=3)
    with live_server(settings, ring_size=2) as live:
        code = new_code()
        async with httpx.AsyncClient(base_url=live.url, timeout=10) as c:
            await _unit(c, live, code)
            snap = await _seq_reaches(c, code, 1)
            s0, topic = snap["seq"], snap["topic"]
            async with sse(c, topic, since=s0) as events:
                await asyncio.sleep(0.2)
                await _score(c, live, code, "10.90")
                [(first, _, _)] = await take(events, 1)
            for i in range(6):
                await _score(c, live, code, f"10.{80 - i}")
            await _seq_reaches(c, code, s0 + 7)
            async with sse(c, topic, last_id=first) as events:
                [(_, kind, reset)] = await take(events, 1)
            assert kind == "reset"
            assert reset["topic"] == topic
            # the fresh snapshot holds the latest lines; follow on from its seq
            snap = (await c.get(f"/api/v1/results/units/{code}")).json()
            assert snap["lines"][0]["mark"] == "10.75"
            async with sse(c, topic, last_id=snap["seq"]) as events:
                await asyncio.sleep(0.2)
                await _score(c, live, code, "10.00")
                [(nxt, kind, msg)] = await take(events, 1)
            assert (nxt, kind, msg["upsert"][0]["mark"]) == (snap["seq"] + 1, "unit", "10.00")
        if broker_url.startswith("nats"):
            await _drop_streams(live.container)


async def test_another_tenant_with_the_same_unit_code_does_not_reach_our_stream(
    tmp_path: Path, broker_url: str
) -> None:
    """Tenant B scores (and makes official) a unit whose code the public tenant A also uses:
    nothing reaches A's unit or medals topics, A's snapshots do not change, and A's next
    message follows A's own sequence."""
    with live_server(_settings(tmp_path, broker_url)) as live:
        code = new_code()
        slug_b = f"t-{uuid.uuid4().hex[:10]}"
        tenant_b = make_tenant(live.container, slug_b)
        scorer_b = bearer(make_principal_token(live.container, tenant_b, "scorer"))
        async with httpx.AsyncClient(base_url=live.url, timeout=10) as c:
            await _unit(c, live, code)
            await _score(c, live, code, "10.50")
            snap = await _seq_reaches(c, code, 2)
            medals = (await c.get("/api/v1/results/medals")).json()
            topic, s0 = snap["topic"], snap["seq"]
            assert slug_b not in topic
            async with (
                sse(c, topic, since=s0) as ours,
                sse(c, medals["topic"], since=medals["seq"]) as our_medals,
                sse(c, f"public.{slug_b}.results.unit.{code}", since=0) as theirs,
                sse(c, f"public.{slug_b}.medals", since=0) as their_medals,
            ):
                await asyncio.sleep(0.2)  # subscribed before B writes
                await _unit(c, live, code, scorer_b)
                await _score(c, live, code, "9.10", scorer_b, noc="FRA", status="OFFICIAL")
                # B's own streams got B's messages (so the relay is past them) ...
                delivered = await take(theirs, 2)
                assert delivered[-1][2]["upsert"][0]["noc"] == "FRA"
                [(_, _, medal_b)] = await take(their_medals, 1)
                assert medal_b["upsert"][0]["noc"] == "FRA"
                # ... and none reached A's
                assert await nothing_more(ours)
                assert await nothing_more(our_medals, 0)
                assert (await c.get(f"/api/v1/results/units/{code}")).json() == snap
                assert (await c.get("/api/v1/results/medals")).json() == medals
                await _score(c, live, code, "10.40")
                [(seq, kind, msg)] = await take(ours, 1)
                assert (seq, kind, msg["upsert"][0]["mark"]) == (s0 + 1, "unit", "10.40")
        if broker_url.startswith("nats"):
            await _drop_streams(live.container)


async def _drop_streams(container: Container) -> None:
    # A fresh broker object: the server's one closed with the server's event loop.
    from teranga.platform.broker.nats import NatsBroker

    b = NatsBroker(container.settings.broker_url)
    await b.start()
    try:
        await b.delete_streams()
    finally:
        await b.close()
