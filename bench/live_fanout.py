"""Live results fan-out benchmark: N SSE clients, M scorer updates per second.

    python bench/live_fanout.py --clients 10000 --rate 10 --duration 20 [--churn 0.02]
    python bench/live_fanout.py --broker nats://127.0.0.1:4222 ...

Starts the server in a subprocess (uvicorn + uvloop, SQLite, the outbox relay and the stream
hub; embedded ``memory://`` broker unless ``--broker``), creates a unit and a scorer token,
connects N SSE clients to the unit's topic from ``--client-procs`` processes (asyncio
protocols on raw sockets, uvloop, so the client side stays cheap), then POSTs M result
updates per second through the scorer API (``/api/v1/results/units/{code}/lines``: audit,
version, outbox, relay, broker, hub). Each update carries its send time in the mark, so
latency is end to end: scorer request -> client socket.

``--churn F`` drops F x N clients every second (random ones) and reconnects them at once
with ``Last-Event-ID``: they must still receive every message, in order, once. Messages
sent while their client was away are caught up by replay; their latency is reported apart
(``catchup_*``), so ``p50_ms``/``p99_ms`` say what connected clients see.

Prints one JSON line: clients, rate, delivered, lost, out_of_order, duplicates, p50_ms,
p99_ms, server_cpu_us_per_msg (server process user+system CPU during the publishing window
/ messages delivered), server_rss_mb, plus reconnects and context. ``--floor`` then
measures a bare loop's CPU per socket write with as many connections
(``bench/write_floor.py``) and adds ``ratio_to_floor``: the figure to compare across days.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
UNIT = "ATHM100M--------------FNL-000100--"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- server ------------------------------------------------------------------------------


def serve(data_dir: str, broker: str, port: int, database_url: str = "", role: str = "all") -> None:
    """The server process: the app as `teranga serve` builds it, plus relay and hub.

    ``role="streams"`` runs no outbox relay: a process that only serves streams (with NATS,
    any process serves any client; the scorer API and the relay run elsewhere).
    """
    _raise_nofile()
    import uvicorn

    from teranga.config import Settings
    from teranga.container import build_container
    from teranga.platform import relay
    from teranga.web import streams
    from teranga.web.app import create_app

    settings = Settings(
        data_dir=Path(data_dir),
        broker_url=broker,
        secret_key="bench-secret-key-0123456789-abcdefghij",  # noqa: S106 - throwaway bench
        log_json=False,
        log_level="WARNING",
        database_url=database_url,
    )
    container = build_container(settings)
    relay.install(container)
    app = create_app(settings, container=container)
    if role == "streams":  # this process only serves streams: the writer process relays
        container.extras["startup"].remove(container.extras["relay"].start)
    if "streams" not in container.extras:
        streams.setup(app, container)
        app.include_router(streams.router)
    if os.environ.get("BENCH_SWITCH_INTERVAL"):  # experiment: GIL hand-over period
        sys.setswitchinterval(float(os.environ["BENCH_SWITCH_INTERVAL"]))
    profile = os.environ.get("BENCH_PROFILE")
    prof = None
    if profile:  # cProfile of the event loop thread (where the hub and HTTP run)
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http=os.environ.get("BENCH_HTTP", "teranga.web.server:StreamingHttpTools"),
        log_level="warning",
        access_log=False,
        backlog=4096,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=3,
    )
    if prof is not None and profile:
        prof.disable()
        prof.dump_stats(profile)


def prepare(data_dir: str, broker: str, database_url: str = "") -> str:
    """Schema, tenant, unit and a scorer API token; returns the token."""
    from teranga import schema
    from teranga.config import Settings
    from teranga.container import build_container
    from teranga.identity import service as identity
    from teranga.results import service
    from teranga.tenancy import api as tenancy

    settings = Settings(
        data_dir=Path(data_dir),
        broker_url=broker,
        secret_key="bench-secret-key-0123456789-abcdefghij",  # noqa: S106 - throwaway bench
        database_url=database_url,
    )
    schema.upgrade(settings.resolved_admin_url)
    c = build_container(settings)
    with c.uow() as uow:
        tid = tenancy.create_tenant(
            uow,
            slug=settings.default_tenant,
            name="bench",
            legal_entity="bench",
            representative_sn="Dakar",
            dpo_contact="dpo@example.sn",
        ).id
    with c.uow(tid) as uow:
        user = identity.create_user(
            uow,
            email=f"scorer-{uuid.uuid4().hex[:6]}@example.sn",
            display_name="Scorer",
            password="bench-password-1234567",  # noqa: S106 - throwaway bench user
        )
        identity.grant_role(uow, user_id=user.id, role="scorer")
        secret, _ = identity.create_token(
            uow, user_id=user.id, name="bench", scopes=["*"], expires_at=None
        )
    with c.uow(tid) as uow:
        import datetime as dt

        service.upsert_unit(
            uow,
            service.UnitSpec(
                code=UNIT,
                name="Men's 100m Final",
                scheduled_at=dt.datetime(2026, 11, 2, 18, 30, tzinfo=dt.UTC),
            ),
        )
    c.dispose()
    return secret


# --- clients -----------------------------------------------------------------------------


class Stats:
    __slots__ = (
        "catchup",
        "delivered",
        "duplicates",
        "gaps",
        "lat",
        "lost",
        "ooo",
        "reconnects",
        "rejoin",
    )

    def __init__(self) -> None:
        self.delivered = 0
        self.duplicates = 0
        self.ooo = 0  # an older seq after a newer one (counted among duplicates: already past)
        self.gaps = 0
        self.lost = 0
        self.reconnects = 0
        self.lat: list[tuple[int, float]] = []  # (seq, latency s) of sampled clients
        # Latency of messages sent before the server answered the receiving connection:
        # caught up by replay after a reconnect, late by the time the client was away.
        self.catchup: list[float] = []
        self.rejoin: list[float] = []  # churn: drop -> the new response's headers, s


class SseClient(asyncio.Protocol):
    """One EventSource-like client: HTTP/1.1, chunked SSE, resumes with Last-Event-ID."""

    def __init__(self, pool: ClientPool, start: int, sample: bool) -> None:
        self.pool = pool
        self.start = start  # seq already held (the snapshot's)
        self.last = start  # highest seq received
        self.seen = 0  # distinct seqs received
        self.sample = sample
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.body = b""
        self.chunk_left = -1  # -1: reading headers; 0: expecting a size line
        self.skip = 0
        self.closed = True
        self.attached_at = 0.0  # wall time the current response's headers came
        self.dropped_at = 0.0  # wall time churn dropped the connection (0: not dropped)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.closed = False
        req = (
            f"GET /api/v1/streams/{self.pool.topic} HTTP/1.1\r\nHost: bench\r\n"
            f"Accept: text/event-stream\r\nLast-Event-ID: {self.last}\r\n\r\n"
        )
        transport.write(req.encode())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        if self.chunk_left == -1:  # response headers
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 200"):
                self.pool.errors += 1
            self.attached_at = time.time()
            if self.dropped_at:
                self.pool.stats.rejoin.append(self.attached_at - self.dropped_at)
                self.dropped_at = 0.0
            buf = buf[end + 4 :]
            self.chunk_left = 0
        body = self.body
        while buf:
            if self.skip:  # the CRLF closing a chunk
                cut = min(self.skip, len(buf))
                buf = buf[cut:]
                self.skip -= cut
            elif self.chunk_left == 0:  # a chunk-size line
                nl = buf.find(b"\r\n")
                if nl < 0:
                    break
                size = int(buf[:nl].split(b";")[0], 16)
                buf = buf[nl + 2 :]
                if size == 0:
                    buf = b""
                    break
                self.chunk_left = size
            else:
                take = buf[: self.chunk_left]
                body += take
                buf = buf[len(take) :]
                self.chunk_left -= len(take)
                if self.chunk_left == 0:
                    self.skip = 2
        self.buf = buf
        self.body = self._frames(body) if body else body

    def _frames(self, body: bytes) -> bytes:
        # Frames end with a blank line; only "id:" and, on sampled clients, the mark matter.
        while True:
            end = body.find(b"\n\n")
            if end < 0:
                return body
            frame, body = body[:end], body[end + 2 :]
            if not frame.startswith(b"id: "):
                continue  # retry:, heartbeats
            nl = frame.find(b"\n")
            seq = int(frame[4:nl])
            if b"event: reset" in frame:
                self.pool.resets += 1
                continue
            st = self.pool.stats
            if seq <= self.last:
                st.duplicates += 1
                st.ooo += seq < self.last
                continue
            if seq > self.last + 1:
                st.gaps += seq - self.last - 1  # skipped: never comes back in an ordered stream
            self.last = seq
            self.seen += 1
            st.delivered += 1
            if self.sample:
                i = frame.find(b'"mark":"')
                if i > 0:
                    j = frame.find(b'"', i + 8)
                    with contextlib.suppress(ValueError):
                        sent = float(frame[i + 8 : j])
                        if sent < self.attached_at:
                            st.catchup.append(time.time() - sent)
                        else:
                            st.lat.append((seq, time.time() - sent))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        self.buf = b""
        self.body = b""
        self.chunk_left = -1
        self.skip = 0
        if not self.pool.stopping:
            self.pool.reconnect_soon(self)


class ClientPool:
    def __init__(self, port: int, topic: str, n: int, start: int, sample_every: int) -> None:
        self.port = port
        self.topic = topic
        self.stats = Stats()
        self.clients = [SseClient(self, start, i % sample_every == 0) for i in range(n)]
        self.stopping = False
        self.errors = 0
        self.resets = 0

    async def connect(self, c: SseClient) -> None:
        loop = asyncio.get_running_loop()
        for attempt in range(50):
            try:
                await loop.create_connection(lambda: c, "127.0.0.1", self.port)
                return
            except OSError:
                await asyncio.sleep(0.05 * (attempt + 1))
        self.errors += 1

    def reconnect_soon(self, c: SseClient) -> None:
        self.stats.reconnects += 1
        asyncio.get_running_loop().create_task(self.connect(c))

    async def connect_all(self, per_second: int) -> None:
        batch = max(1, per_second // 20)
        for i in range(0, len(self.clients), batch):
            await asyncio.gather(*(self.connect(c) for c in self.clients[i : i + batch]))
            await asyncio.sleep(0.05)

    def churn(self, k: int) -> None:
        live = [c for c in self.clients if not c.closed and c.transport is not None]
        for c in random.sample(live, min(k, len(live))):
            if c.transport is not None:
                c.dropped_at = time.time()
                c.transport.abort()  # connection_lost reconnects with Last-Event-ID


def client_proc(
    conn: Connection, port: int, topic: str, n: int, start: int, sample_every: int
) -> None:
    _raise_nofile()
    import uvloop

    async def main() -> None:
        pool = ClientPool(port, topic, n, start, sample_every)
        await pool.connect_all(per_second=2500)
        conn.send(("ready", sum(not c.closed for c in pool.clients)))
        loop = asyncio.get_running_loop()
        while True:
            while not conn.poll():  # noqa: ASYNC110 - a multiprocessing pipe has no event
                await asyncio.sleep(0.05)
            cmd = conn.recv()
            if cmd[0] == "churn":
                pool.churn(cmd[1])
            elif cmd[0] == "finish":
                final = cmd[1]
                deadline = loop.time() + 90  # an overloaded server may still be catching up
                while loop.time() < deadline and any(c.last < final for c in pool.clients):  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
                pool.stopping = True
                ru = resource.getrusage(resource.RUSAGE_SELF)
                st = pool.stats
                # A client may legitimately be ahead of ``final`` (read before the last relay).
                st.lost = sum(max(final, c.last) - c.start - c.seen for c in pool.clients)
                for c in pool.clients:
                    if c.transport is not None:
                        c.transport.close()
                conn.send(
                    (
                        "stats",
                        {
                            "delivered": st.delivered,
                            "lost": st.lost,
                            "gaps": st.gaps,
                            "late": st.lost - st.gaps,
                            "out_of_order": st.ooo,
                            "duplicates": st.duplicates,
                            "reconnects": st.reconnects,
                            "errors": pool.errors,
                            "resets": pool.resets,
                            "cpu": ru.ru_utime + ru.ru_stime,
                            "lat": st.lat,
                            "catchup": st.catchup,
                            "rejoin": st.rejoin,
                        },
                    )
                )
                return

    uvloop.run(main())


# --- orchestration ------------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


async def publish(
    base: str, token: str, rate: float, duration: float, post_lat: list[float]
) -> int:
    """POST ``rate`` scorer updates per second for ``duration`` s; returns how many."""
    headers = {"Authorization": f"Bearer {token}"}
    sent = 0
    failures = 0
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as c:

        async def one(i: int) -> None:
            nonlocal sent, failures
            lines = [
                {"participant": "1001", "noc": "SEN", "rank": 1, "mark": f"{time.time():.4f}"},
                {"participant": "1002", "noc": "GHA", "rank": 2, "mark": "10.30"},
                {"participant": "1003", "noc": "NGR", "rank": 3, "mark": "10.38"},
            ]
            t = time.monotonic()
            try:
                r = await c.post(
                    f"/api/v1/results/units/{UNIT}/lines",
                    json={"result_status": "LIVE", "lines": lines},
                )
            except httpx.HTTPError:
                failures += 1
                return
            post_lat.append(time.monotonic() - t)
            if r.status_code == 200:
                sent += 1
            else:
                failures += 1

        loop = asyncio.get_running_loop()
        t0 = loop.time()
        tasks = []
        i = 0
        while (nxt := t0 + i / rate) < t0 + duration:
            await asyncio.sleep(max(0.0, nxt - loop.time()))
            tasks.append(asyncio.create_task(one(i)))
            i += 1
        await asyncio.gather(*tasks)
    if failures:
        print(f"warning: {failures} scorer requests failed", file=sys.stderr)
    return sent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=10.0, help="scorer updates per second")
    ap.add_argument("--duration", type=float, default=20.0, help="publishing window, s")
    ap.add_argument("--churn", type=float, default=0.0, help="share of clients cycled per s")
    ap.add_argument("--broker", default="memory://")
    ap.add_argument(
        "--database-url", default="", help="empty: SQLite in a temp dir (embedded mode)"
    )
    ap.add_argument("--client-procs", type=int, default=2)
    ap.add_argument("--sample-every", type=int, default=10, help="latency from 1 client in K")
    ap.add_argument(
        "--floor",
        action="store_true",
        help="then run write_floor with as many connections at the same rate, and report "
        "the ratio (the VM's cost of a socket write varies several times between days)",
    )
    ap.add_argument(
        "--split",
        action="store_true",
        help="NATS only: scorer API + relay in one process, SSE clients on another",
    )
    ap.add_argument(
        "--serve",
        nargs=5,
        metavar=("DATA_DIR", "BROKER", "PORT", "DB", "ROLE"),
        help=argparse.SUPPRESS,
    )
    args = ap.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]), args.serve[3], args.serve[4])
        return
    _raise_nofile()
    data_dir = tempfile.mkdtemp(prefix="teranga-bench-")
    broker = args.broker
    if broker.startswith("nats"):
        tag = uuid.uuid4().hex[:8]
        broker += ("&" if "?" in broker else "?") + f"stream=BENCH{tag.upper()}&prefix=bench{tag}"
    token = prepare(data_dir, broker, args.database_url)
    if args.split and not broker.startswith("nats"):
        raise SystemExit("--split needs a NATS broker (processes share topics through it)")

    def start_server(role: str) -> tuple[subprocess.Popen[bytes], int]:
        port = free_port()
        cmd = [sys.executable, __file__, "--serve", data_dir, broker, str(port)]
        proc = subprocess.Popen(
            [*cmd, args.database_url, role], env={**os.environ, "PYTHONPATH": str(ROOT / "src")}
        )
        return proc, port

    server, port = start_server("streams" if args.split else "all")
    writer, wport = start_server("writer") if args.split else (server, port)
    base = f"http://127.0.0.1:{wport}"
    procs: list[tuple[Any, Connection]] = []
    try:
        deadline = time.monotonic() + 30
        for proc, p_ in ((server, port), (writer, wport)):
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{p_}/healthz", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("server did not start")
                time.sleep(0.1)
        snap = httpx.get(f"{base}/api/v1/results/units/{UNIT}", timeout=30).json()
        start = snap["seq"]
        # The snapshot names the (per-tenant) topic; BENCH_TOPIC: experiments only.
        topic = os.environ.get("BENCH_TOPIC", snap["topic"])
        ctx = mp.get_context("spawn")
        share = [args.clients // args.client_procs] * args.client_procs
        share[0] += args.clients - sum(share)
        for n in share:
            parent, child = ctx.Pipe()
            p = ctx.Process(
                target=client_proc, args=(child, port, topic, n, start, args.sample_every)
            )
            p.start()
            procs.append((p, parent))
        connected = sum(conn.recv()[1] for _, conn in procs)
        time.sleep(1.0)
        rss_before = proc_rss_mb(server.pid)
        print(
            f"server pid {server.pid}: {connected} clients connected, publishing", file=sys.stderr
        )
        cpu0 = proc_cpu_seconds(server.pid)
        wcpu0 = proc_cpu_seconds(writer.pid)
        t0 = time.monotonic()

        post_lat: list[float] = []

        async def drive() -> int:
            pub = asyncio.create_task(publish(base, token, args.rate, args.duration, post_lat))
            while not pub.done():
                await asyncio.sleep(1.0)
                if args.churn > 0 and not pub.done():
                    k = int(args.churn * args.clients / len(procs))
                    for _, conn in procs:
                        conn.send(("churn", k))
            return await pub

        sent = asyncio.run(drive())
        publish_wall = time.monotonic() - t0
        # Every accepted scorer update is one message on the unit topic: wait for the relay.
        final = start
        until = time.monotonic() + 60
        while final < start + sent and time.monotonic() < until:
            with contextlib.suppress(httpx.HTTPError):  # an overloaded server answers late
                r = httpx.get(f"{base}/api/v1/results/units/{UNIT}", timeout=30)
                final = max(final, int(r.json()["seq"]))
            time.sleep(0.2)
        for _, conn in procs:
            conn.send(("finish", final))
        results = [conn.recv()[1] for _, conn in procs]
        wall = time.monotonic() - t0
        cpu = proc_cpu_seconds(server.pid) - cpu0
        writer_cpu = proc_cpu_seconds(writer.pid) - wcpu0 if args.split else 0.0
        rss = proc_rss_mb(server.pid)
        per_seq: dict[int, list[float]] = {}
        for r in results:
            for seq, x in r["lat"]:
                per_seq.setdefault(seq, []).append(x)
        lat = [x for xs in per_seq.values() for x in xs]
        catchup = [x for r in results for x in r["catchup"]]
        rejoin = [x for r in results for x in r["rejoin"]]
        # Upstream (scorer -> relay -> broker -> hub: the first client to see a message) vs
        # fan-out (first to last client of the same message).
        first = [min(xs) for xs in per_seq.values()]
        spread = [max(xs) - min(xs) for xs in per_seq.values()]
        delivered = sum(r["delivered"] for r in results)
        out = {
            "clients": args.clients,
            "connected": connected,
            "rate": args.rate,
            "duration_s": args.duration,
            "churn": args.churn,
            "broker": args.broker.split("?")[0],
            "split": args.split,
            "database": args.database_url.split("://")[0] or "sqlite",
            "published": sent,
            "topic_messages": final - start,
            "delivered": delivered,
            "lost": sum(r["lost"] for r in results),
            "lost_gaps": sum(r["gaps"] for r in results),
            "lost_late": sum(r["late"] for r in results),
            "out_of_order": sum(r["out_of_order"] for r in results),
            "duplicates": sum(r["duplicates"] for r in results),
            "reconnects": sum(r["reconnects"] for r in results),
            "resets": sum(r["resets"] for r in results),
            "client_errors": sum(r["errors"] for r in results),
            "client_cpu_s": round(sum(r["cpu"] for r in results), 1),
            "publish_wall_s": round(publish_wall, 1),
            "total_wall_s": round(wall, 1),
            "p50_ms": round(pct(lat, 50) * 1000, 1),
            "p99_ms": round(pct(lat, 99) * 1000, 1),
            "max_ms": round(max(lat, default=0) * 1000, 1),
            # Messages sent while their client was reconnecting (churn), kept out of the
            # percentiles above: their delay is the time the client was away.
            "catchup_samples": len(catchup),
            "catchup_p50_ms": round(pct(catchup, 50) * 1000, 1),
            "catchup_p99_ms": round(pct(catchup, 99) * 1000, 1),
            # Churn: from the drop to the new response's headers (connect, request, attach).
            "rejoin_p50_ms": round(pct(rejoin, 50) * 1000, 1),
            "rejoin_p99_ms": round(pct(rejoin, 99) * 1000, 1),
            "first_client_p50_ms": round(pct(first, 50) * 1000, 1),
            "fanout_spread_p50_ms": round(pct(spread, 50) * 1000, 1),
            "scorer_post_p50_ms": round(pct(post_lat, 50) * 1000, 1),
            "scorer_post_p99_ms": round(pct(post_lat, 99) * 1000, 1),
            "server_cpu_us_per_msg": round(cpu / max(1, delivered) * 1e6, 2),
            "server_cpu_cores": round(cpu / wall, 2),
            "server_rss_mb": round(rss, 1),
            "server_rss_idle_clients_mb": round(rss_before, 1),
            "writer_cpu_s": round(writer_cpu, 2),
            "cpus": os.cpu_count(),
            # The machine may be shared: a high load average makes latencies pessimistic.
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }
        if args.floor:
            floor = write_floor(args.clients, args.rate)
            out["floor_cpu_us_per_write"] = floor
            out["ratio_to_floor"] = round(out["server_cpu_us_per_msg"] / floor, 2)
        print(json.dumps(out))
    finally:
        for p, _ in procs:
            p.join(20)
            if p.is_alive():
                p.kill()
        for proc in {server, writer}:
            proc.send_signal(signal.SIGINT)
        for proc in {server, writer}:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if broker.startswith("nats"):
            with contextlib.suppress(Exception):
                asyncio.run(_drop_nats(broker))
        shutil.rmtree(data_dir, ignore_errors=True)


def write_floor(connections: int, rate: float) -> float:
    """CPU per write of a bare uvloop loop on this machine now (``bench/write_floor.py``)."""
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "write_floor.py"),
            f"--connections={connections}",
            "--messages=40",
            f"--interval={1 / rate}",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(json.loads(done.stdout.splitlines()[-1])["cpu_us_per_write"])


async def _drop_nats(url: str) -> None:
    from teranga.platform.broker.nats import NatsBroker

    b = NatsBroker(url)
    await b.start()
    try:
        await b.delete_streams()
    finally:
        await b.close()


if __name__ == "__main__":
    main()
