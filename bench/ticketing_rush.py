"""Ticket rush on one hot session through the public HTTP API: prints one JSON line.

    .venv/bin/python bench/ticketing_rush.py [--capacity 1000] [--buyers 1200]
        [--concurrency 64] [--workers 2] [--database-url postgresql+psycopg://...]
        [--separate-payment]

Creates a fresh PostgreSQL database (or uses ``--database-url``, an owner URL of an empty
database), migrates it, starts ``uvicorn`` with ``--workers`` processes on PostgreSQL as the
unprivileged RLS role, creates one session with ``--capacity`` general-admission places at
2,000 XOF, then fires ``--buyers`` buyers, ``--concurrency`` at a time. Each buyer does:
hold 1 place -> order with a phone, starting a sandbox payment in the same request (with
``--separate-payment``: a request of its own, as before the order could carry it) -> open
the sandbox page and approve (the sandbox delivers its signed callback, the server confirms
and issues) -> read the order and its ticket. ``p50_ms``/``p99_ms`` are per HTTP request;
``order_p50_ms`` and ``order_p99_ms`` per completed purchase; ``server_cpu_ms_per_order``
is the CPU time of the uvicorn processes (not PostgreSQL's) divided by completed orders.
``oversold`` and ``duplicate_seats`` are read from the database afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import uvloop

from _http import KeepAlive  # bench/ is on sys.path when run as a script
from gate_scan import (  # bench/ is on sys.path
    children,
    cpu_ticks,
    database,
    free_port,
    own_cpu,
    postgres_pids,
)
from teranga import schema
from teranga.config import Settings
from teranga.container import build_container
from teranga.tenancy import api as tenancy
from teranga.ticketing import service as catalogue

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432"


# Databases made by this run, dropped when the process exits.
_databases = contextlib.ExitStack()
atexit.register(_databases.close)


def fresh_database() -> str:
    """The owner URL of a new database on the local server, dropped at exit."""
    admin, _ = _databases.enter_context(database(PG_BASE))
    return admin


def app_url(admin_url: str, role: str) -> str:
    scheme, rest = admin_url.split("://", 1)
    return f"{scheme}://{role}@{rest.split('@', 1)[-1]}"


def setup(settings: Settings, capacity: int) -> tuple[uuid.UUID, uuid.UUID]:
    container = build_container(settings)
    try:
        with container.uow() as uow:
            tid = tenancy.create_tenant(
                uow,
                slug=settings.default_tenant,
                name="Bench",
                legal_entity="Bench SA",
                representative_sn="Dakar",
                dpo_contact="dpo@bench.example.sn",
            ).id
        now = dt.datetime.now(dt.UTC)
        with container.uow(tid) as uow:
            ev = catalogue.create_event(uow, name="Rush")
            s = catalogue.create_session(
                uow,
                event_id=ev.id,
                name="Finale",
                starts_at=now + dt.timedelta(days=1),
                ends_at=now + dt.timedelta(days=1, hours=2),
                sale_starts_at=now - dt.timedelta(hours=1),
                per_order_limit=4,
            )
            z = catalogue.add_zone(uow, session_id=s.id, name="Pelouse", capacity=capacity)
            c = catalogue.add_category(
                uow, session_id=s.id, zone_id=z.id, name="Pelouse", price_xof=2000
            )
        return s.id, c.id
    finally:
        container.dispose()


class Stats:
    def __init__(self) -> None:
        self.requests: list[float] = []
        self.steps: dict[str, list[float]] = {}
        self.orders: list[float] = []
        self.outcomes: dict[str, int] = {}

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


async def timed(stats: Stats, coro: Awaitable[tuple[int, bytes]], step: str) -> tuple[int, Any]:
    t = time.perf_counter()
    status, body = await coro
    ms = (time.perf_counter() - t) * 1000
    stats.requests.append(ms)
    stats.steps.setdefault(step, []).append(ms)
    try:
        return status, json.loads(body) if body[:1] in (b"{", b"[") else body.decode()
    except ValueError:
        return status, body.decode(errors="replace")


async def buyer(
    n: int,
    port: int,
    session: uuid.UUID,
    category: uuid.UUID,
    stats: Stats,
    sem: asyncio.Semaphore,
    separate: bool,
) -> None:
    # One keep-alive connection per buyer, as a phone's browser would keep; the client is
    # cheap so that the box's CPU goes to the server and PostgreSQL.
    async with sem:
        c = KeepAlive("127.0.0.1", port, {})
        try:
            await _buy(c, n, session, category, stats, separate)
        finally:
            await c.close()


async def _buy(
    c: KeepAlive, n: int, session: uuid.UUID, category: uuid.UUID, stats: Stats, separate: bool
) -> None:
    start = time.perf_counter()
    api = "/api/v1/ticketing"
    status, r = await timed(
        stats,
        c.request(
            "POST",
            f"{api}/sessions/{session}/holds",
            {"category_id": str(category), "quantity": 1},
        ),
        "hold",
    )
    if status != 201:
        stats.count(r.get("code", str(status)) if isinstance(r, dict) else str(status))
        return
    hold = r["id"]
    status, r = await timed(
        stats,
        c.request(
            "POST",
            f"{api}/holds/{hold}/order",
            {
                "phone": f"+22177{n:07d}",
                **({} if separate else {"payment": {"provider": "sandbox"}}),
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        ),
        "order",
    )
    if status != 201:
        stats.count("order_" + (r.get("code", str(status)) if isinstance(r, dict) else ""))
        return
    order, token = r["order"]["id"], r["access_token"]
    if separate:
        status, r = await timed(
            stats,
            c.request(
                "POST",
                f"{api}/orders/{order}/payments",
                {"provider": "sandbox"},
                headers={"X-Order-Token": token, "Idempotency-Key": str(uuid.uuid4())},
            ),
            "payment",
        )
        if status != 201:
            stats.count("payment_" + (r.get("code", str(status)) if isinstance(r, dict) else ""))
            return
    else:
        r = r["payment"]
        if r is None:
            stats.count("payment_not_started")
            return
    page = httpx.URL(r["redirect_url"]).path
    status, r = await timed(stats, c.request("GET", page), "sandbox_page")
    m = CSRF.search(r) if isinstance(r, str) else None
    if m is None:
        stats.count("sandbox_page")
        return
    await timed(
        stats,
        c.request("POST", page, form={"decision": "approve", "csrf_token": m[1]}),
        "sandbox_approve",
    )
    status, body = await timed(
        stats, c.request("GET", f"{api}/orders/{order}", headers={"X-Order-Token": token}), "ticket"
    )
    if isinstance(body, dict) and body.get("status") == "paid" and len(body["tickets"]) == 1:
        stats.count("issued")
        stats.orders.append((time.perf_counter() - start) * 1000)
    else:
        stats.count("not_issued_" + str(body.get("status") if isinstance(body, dict) else status))


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--capacity", type=int, default=1000)
    ap.add_argument("--buyers", type=int, default=1200)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--database-url", default="", help="owner URL of an empty PG database")
    ap.add_argument(
        "--sandbox-on-sqlite",
        action="store_true",
        help="keep the sandbox provider's store on its default SQLite file",
    )
    ap.add_argument(
        "--separate-payment",
        action="store_true",
        help="start the payment with its own request (POST /orders/{id}/payments) instead "
        "of with the order",
    )
    args = ap.parse_args()
    admin = args.database_url or fresh_database()
    role = "teranga_app"
    schema.upgrade(admin, role)
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "TERANGA_ENV": "dev",
            "TERANGA_DATA_DIR": tmp,
            "TERANGA_DATABASE_URL": app_url(admin, role),
            "TERANGA_DATABASE_ADMIN_URL": admin,
            "TERANGA_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnop",
            "TERANGA_DEFAULT_TENANT": f"bench-{uuid.uuid4().hex[:6]}",
            "TERANGA_LOG_LEVEL": "WARNING",
        }
        if not args.sandbox_on_sqlite:
            # The sandbox plays the provider: its store is the provider's, kept apart from
            # ours. On its default SQLite file, two worker processes' payment writes queue on
            # the file lock (SQLite's busy handler sleeps up to 100 ms a try), a cost a real
            # provider's server does not put on our side.
            env["TERANGA_PAYMENTS__SANDBOX_STORE_URL"] = fresh_database()
        port = free_port()
        env["TERANGA_BASE_URL"] = f"http://127.0.0.1:{port}"
        settings = Settings(
            data_dir=Path(tmp),
            database_url=env["TERANGA_DATABASE_URL"],
            database_admin_url=admin,
            secret_key=env["TERANGA_SECRET_KEY"],
            default_tenant=env["TERANGA_DEFAULT_TENANT"],
        )
        session, category = setup(settings, args.capacity)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "teranga.web.app:app_from_env",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=env,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            pids = [server.pid, *children(server.pid)]
            # Warm each worker (imports, key caches) before measuring.
            for _ in range(4 * args.workers):
                httpx.get(f"{base}/api/v1/ticketing/sessions/{session}", timeout=10)
            cpu0 = cpu_ticks(pids) * 1000
            pg0, own0 = {p: cpu_ticks([p]) for p in postgres_pids()}, own_cpu()
            stats = Stats()
            sem = asyncio.Semaphore(args.concurrency)
            t0 = time.perf_counter()

            async def run() -> None:
                await asyncio.gather(
                    *(
                        buyer(n, port, session, category, stats, sem, args.separate_payment)
                        for n in range(args.buyers)
                    )
                )

            uvloop.run(run())
            wall = time.perf_counter() - t0
            cpu = cpu_ticks(pids) * 1000 - cpu0
            # Backends opened during the run count in full; ones that exited are lost.
            pg_cpu = sum(cpu_ticks([p]) - pg0.get(p, 0.0) for p in postgres_pids())
            client_cpu = own_cpu() - own0
        finally:
            server.terminate()
            server.wait(timeout=30)
    eng = sa.create_engine(admin)
    with eng.connect() as c:
        sold = c.execute(
            sa.text("SELECT count(*) FROM ticketing_tickets WHERE status = 'valid'")
        ).scalar_one()
        dup = c.execute(
            sa.text(
                "SELECT count(*) FROM (SELECT seat_id FROM ticketing_tickets WHERE status='valid' "
                "AND seat_id IS NOT NULL GROUP BY session_id, seat_id HAVING count(*) > 1) d"
            )
        ).scalar_one()
    eng.dispose()
    issued = stats.outcomes.get("issued", 0)
    print(
        json.dumps(
            {
                "capacity": args.capacity,
                "buyers": args.buyers,
                "concurrency": args.concurrency,
                "workers": args.workers,
                "sold": sold,
                "oversold": max(0, sold - args.capacity),
                "duplicate_seats": dup,
                "completed_orders": issued,
                "wall_s": round(wall, 2),
                "orders_per_s": round(issued / wall, 1) if wall else 0,
                "requests": len(stats.requests),
                "requests_per_s": round(len(stats.requests) / wall, 1) if wall else 0,
                "p50_ms": pct(stats.requests, 0.5),
                "p99_ms": pct(stats.requests, 0.99),
                "order_p50_ms": pct(stats.orders, 0.5),
                "order_p99_ms": pct(stats.orders, 0.99),
                "server_cpu_ms_per_order": round(cpu / issued, 1) if issued else None,
                "postgres_cpu_ms_per_order": round(pg_cpu * 1000 / issued, 1) if issued else None,
                "client_cpu_ms_per_order": round(client_cpu * 1000 / issued, 1) if issued else None,
                "outcomes": stats.outcomes,
                "step_p50_ms": {k: pct(v, 0.5) for k, v in stats.steps.items()},
                "cpus": os.cpu_count(),
                "median_request_ms": round(statistics.median(stats.requests), 1)
                if stats.requests
                else None,
            }
        )
    )


if __name__ == "__main__":
    main()
