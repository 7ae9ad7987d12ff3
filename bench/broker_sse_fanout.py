"""SSE fan-out cost: server CPU per delivered message, one ``teranga serve`` process.

Starts ``teranga serve`` (SQLite, NATS on 127.0.0.1:4222 with a private stream), opens
CLIENTS raw SSE connections to a ``public.`` topic, publishes RATE messages/s for SECONDS
through the broker, and reads the server's CPU time from /proc. Prints one JSON line.

    .venv/bin/python bench/broker_sse_fanout.py [clients] [rate] [seconds]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from teranga.platform.broker.nats import NatsBroker

NATS = os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222")


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tck, int(fields[12]) / tck


async def client(port: int, path: str, counts: list[int], i: int, ready: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    ready.set()
    with contextlib.suppress(Exception):
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            counts[i] += chunk.count(b"\nid: ") + chunk.startswith(b"id: ")
    writer.close()


async def main(clients: int, rate: int, seconds: int) -> dict[str, object]:
    tag = uuid.uuid4().hex[:8]
    broker_url = f"{NATS}?stream=BENCH_{tag}&prefix=bench_{tag}"
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="teranga-bench-")
    env = {
        **os.environ,
        "TERANGA_DATA_DIR": data_dir,
        "TERANGA_BROKER_URL": broker_url,
        "TERANGA_SECRET_KEY": "bench-secret-key-not-for-production-0123456789",
        "TERANGA_LOG_LEVEL": "WARNING",
    }
    exe = str(Path(sys.executable).parent / "teranga")
    proc = subprocess.Popen(  # noqa: ASYNC220 - start-up only
        [exe, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    broker = NatsBroker(broker_url)
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        await broker.start()
        topic = f"public.bench.{tag}"
        counts = [0] * clients
        events = [asyncio.Event() for _ in range(clients)]
        tasks = []
        for i in range(clients):
            tasks.append(
                asyncio.create_task(client(port, f"/api/v1/streams/{topic}", counts, i, events[i]))
            )
            if i % 200 == 199:
                await asyncio.sleep(0.05)
        for e in events:
            await e.wait()
        await asyncio.sleep(1)
        (user0, sys0), t0 = cpu_times(proc.pid), time.monotonic()
        total = rate * seconds
        for n in range(total):
            await broker.publish(topic, {"type": "score", "n": n, "home": n % 7, "away": n % 5})
            await asyncio.sleep(max(0.0, t0 + (n + 1) / rate - time.monotonic()))
        for _ in range(200):  # up to 10 s for the last deliveries
            if sum(counts) >= total * clients:
                break
            await asyncio.sleep(0.05)
        user1, sys1 = cpu_times(proc.pid)
        user, system = user1 - user0, sys1 - sys0
        cpu = user + system
        delivered = sum(counts)
        for t in tasks:
            t.cancel()
        return {
            "bench": "broker_sse_fanout",
            "clients": clients,
            "rate": rate,
            "seconds": seconds,
            "delivered": delivered,
            "expected": total * clients,
            "server_cpu_s": round(cpu, 3),
            "server_user_s": round(user, 3),
            "server_sys_s": round(system, 3),
            "us_per_delivered_message": round(cpu / max(delivered, 1) * 1e6, 2),
        }
    finally:
        with contextlib.suppress(Exception):
            await broker.delete_streams()
            await broker.close()
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    result = asyncio.run(main(*(args + [2000, 10, 10][len(args) :])))
    print(json.dumps(result))
