"""Floor of a live fan-out on this machine: CPU per small socket write from a bare loop.

    ./run bench write_floor --connections 2000 --messages 50

A bare uvloop server writes one pre-framed 200-byte SSE chunk to each of N loopback TCP
connections, M times (20 ms apart), while a client process drains them. Prints one JSON
line with the server's user and system CPU per write. This is what one delivery costs with
no framework at all: ``live_fanout``'s ``server_cpu_us_per_msg`` cannot go below it, so
quote the two as a ratio from the same session.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import time

import uvloop

CHUNK = b"%x\r\n%s\r\n" % (200, b"x" * 200)


def _client(port: int, n: int) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()

        class Drain(asyncio.Protocol):
            def data_received(self, data: bytes) -> None:
                pass

        for _ in range(n):
            await loop.create_connection(Drain, "127.0.0.1", port)
        await asyncio.sleep(3600)

    uvloop.run(main())


async def _server(n: int, messages: int, interval: float) -> dict[str, float]:
    transports: list[asyncio.Transport] = []
    ready = asyncio.Event()

    class Keep(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transports.append(transport)  # type: ignore[arg-type]
            if len(transports) == n:
                ready.set()

    server = await asyncio.get_running_loop().create_server(Keep, "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    proc = mp.Process(target=_client, args=(port, n), daemon=True)
    proc.start()
    try:
        async with asyncio.timeout(120):
            await ready.wait()
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        for _ in range(messages):
            for tr in transports:
                tr.write(CHUNK)
                tr.get_write_buffer_size()  # as the hub checks its bound
            await asyncio.sleep(interval)
        r1, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - t0
    finally:
        proc.kill()
        server.close()
    writes = n * messages
    return {
        "connections": n,
        "messages": messages,
        "interval_s": interval,
        "writes": writes,
        "user_us_per_write": round((r1.ru_utime - r0.ru_utime) / writes * 1e6, 2),
        "sys_us_per_write": round((r1.ru_stime - r0.ru_stime) / writes * 1e6, 2),
        "cpu_us_per_write": round(
            (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) / writes * 1e6, 2
        ),
        "wall_s": round(wall, 2),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--messages", type=int, default=50)
    ap.add_argument(
        "--interval", type=float, default=0.1, help="seconds between messages (0.1: 10 msg/s)"
    )
    args = ap.parse_args()
    print(json.dumps(uvloop.run(_server(args.connections, args.messages, args.interval))))


if __name__ == "__main__":
    main()
