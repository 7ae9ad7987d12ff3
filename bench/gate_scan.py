"""Gate scanning benchmark: online redeems through the public API on PostgreSQL, and
offline verification speed.

    ./run bench gate_scan --tickets 8000 --gates 128 --workers 2

Creates a fresh PostgreSQL database, N credentials and G gates, starts ``teranga serve``,
then G concurrent gate clients (each gate phone with its own token, signed in before the
doors open; 128 by default, the entry lanes of a large stadium) scan every credential
once, and a share of them a second time at another gate at the same moment (the
double-entry attack). Prints one JSON line:
online_redeems_per_s, p50_ms, p99_ms, double_entries (accepted scans beyond one per
credential, must be 0), offline_verifies_per_s (one core), server_cpu_ms_per_scan.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import uvloop

from _http import KeepAlive  # bench/ is on sys.path when run as a script
from teranga import schema
from teranga.access import credentials, service
from teranga.access.domain import Credential
from teranga.access.scanner import OfflineScanner
from teranga.config import Settings
from teranga.container import build_container
from teranga.identity import service as identity
from teranga.tenancy import api as tenancy

APP_ROLE = "teranga_app"


def free_port() -> int:
    import socket

    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_ticks(pids: list[int]) -> float:
    """User+system CPU seconds of the given processes."""
    total = 0
    hz = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        with contextlib.suppress(FileNotFoundError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / hz


def postgres_pids() -> list[int]:
    """Every PostgreSQL process on the box (backends, WAL writer, checkpointer)."""
    out = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def settle(pids: list[int], limit_s: float = 90.0) -> None:
    """Wait until the server and the database are idle: at start the server's background
    workers catch up on the setup's events (webhook ingestion of the sales, audit
    integration) and autovacuum analyses the new rows, which is no part of a scan's cost."""
    deadline = time.monotonic() + limit_s
    quiet = 0
    while quiet < 3 and time.monotonic() < deadline:
        before = cpu_ticks(pids)
        time.sleep(0.5)
        quiet = quiet + 1 if cpu_ticks(pids) - before < 0.05 else 0


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


@contextlib.contextmanager
def database(admin_base: str) -> Iterator[tuple[str, str]]:
    name = f"teranga_bench_{uuid.uuid4().hex[:8]}"
    eng = sa.create_engine(f"{admin_base}/postgres", isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        host = admin_base.split("@", 1)[1]
        yield f"{admin_base}/{name}", f"postgresql+psycopg://{APP_ROLE}@{host}/{name}"
    finally:
        with eng.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


def setup(
    settings: Settings, n: int, gates: int, kind: str
) -> tuple[list[str], list[str], list[str], Any]:
    """Tenant, a gate-agent token per gate, one check-in list served by G gates, N
    credentials."""
    from teranga.ticketing import api as ticketing_api
    from teranga.ticketing import sales
    from teranga.ticketing import service as catalogue

    now = dt.datetime.now(dt.UTC)
    c = build_container(settings)
    with c.uow() as uow:
        tid = tenancy.create_tenant(
            uow,
            slug="bench",
            name="Bench",
            legal_entity="Bench SA",
            representative_sn="Dakar",
            dpo_contact="dpo@bench.sn",
        ).id
    with c.uow(tid) as uow:
        user = identity.create_user(
            uow,
            email="agent@bench.sn",
            display_name="Agent",
            password="bench-password-1234",  # noqa: S106 - bench-only account
        )
        identity.grant_role(uow, user_id=user.id, role="gate-agent")
        # One token per gate device, as each gate phone signs in on its own.
        tokens = [
            identity.create_token(
                uow, user_id=user.id, name=f"gate {i}", scopes=["*"], expires_at=None
            )[0]
            for i in range(gates)
        ]
        session_id = None
        if kind == "ticket":
            ev = catalogue.create_event(uow, name="Finale — bench")
            sess = catalogue.create_session(
                uow,
                event_id=ev.id,
                name="Finale",
                starts_at=now + dt.timedelta(hours=1),
                ends_at=now + dt.timedelta(hours=3),
                sale_starts_at=now - dt.timedelta(days=1),
                venue_name="Dakar Arena",
                per_order_limit=10,
                per_person_limit=None,
            )
            zone = catalogue.add_zone(uow, session_id=sess.id, name="Pelouse", capacity=n)
            cat = catalogue.add_category(
                uow, session_id=sess.id, zone_id=zone.id, name="Pelouse", price_xof=2000
            )
            session_id = sess.id
            lst = service.create_list(uow, name="Tribune", session_ids=[sess.id])
        else:
            lst = service.create_list(uow, name="Tribune", accreditation_roles=["volunteer"])
        gate_ids = [
            str(service.create_gate(uow, name=f"G{i}", cluster="C", list_ids=[lst.id]).id)
            for i in range(gates)
        ]
    texts: list[str] = []
    batch = 100
    for start in range(0, n, batch * 10):
        with c.uow(tid) as uow:
            for i in range(start, min(n, start + batch * 10), 10 if kind == "ticket" else 1):
                if kind == "ticket":
                    res = sales.box_office_sale(
                        uow,
                        session_id=session_id,
                        category_id=cat.id,
                        quantity=min(10, n - i),
                        actor_id=None,
                        now=now,
                    )
                    texts += [t.qr for t in res.order.tickets]
                else:
                    texts.append(
                        service.register_accreditation(
                            uow,
                            name=f"Volontaire {i}",
                            organisation="JAMBAAR26",
                            role="volunteer",
                            zones=[],
                            valid_from=now - dt.timedelta(days=1),
                            valid_until=now + dt.timedelta(days=2),
                        ).qr_text
                    )
    with c.uow(tid) as uow:
        bundle = service.bundle(uow, gate_id=uuid.UUID(gate_ids[0]), since=None, now=now)
        badge_keys = service.badge_public_keys(uow)
        ticket_keys = {
            int(k["key_id"]): base64.b64decode(str(k["public_key"]))
            for k in ticketing_api.public_keys_for_sessions(uow, [session_id] if session_id else [])
        }
    c.dispose()
    return tokens, gate_ids, texts, (badge_keys, ticket_keys, bundle)


def offline_rate(texts: list[str], keys_bundle: Any) -> float:
    """Offline decisions per second on one core: signature check, rules, local presence."""
    from teranga.ticketing.domain import BadPayload, b45decode, verify_payload

    badge_keys, ticket_keys, bundle = keys_bundle

    def verify(text: str) -> Credential | None:
        if text.startswith(credentials.PREFIX):
            try:
                return credentials.verify_badge(text, badge_keys).credential()
            except credentials.BadCredential:
                return None
        try:
            c = verify_payload(b45decode(text), ticket_keys)
        except BadPayload:
            return None
        return Credential(
            kind="ticket",
            credential_id=c.ticket_id,
            valid_from=c.valid_from,
            valid_until=c.valid_until,
            session_tag=c.session_tag,
            zone_no=c.zone_no,
            category_no=c.category_no,
            seat_no=c.seat_no,
        )

    s = OfflineScanner("bench", uuid.UUID(bundle["gate"]["id"]), "G0", verify)
    s.load_bundle(bundle)
    now = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    accepted = sum(1 for t in texts if s.scan(t, now).accepted)
    rate = len(texts) / (time.perf_counter() - t0)
    if accepted != len(texts):
        raise SystemExit(f"offline scanner admitted {accepted} of {len(texts)}")
    return rate


async def load(
    port: int, tokens: list[str], gate_ids: list[str], texts: list[str], dup_share: float, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    jobs: list[list[tuple[str, str]]] = [[] for _ in gate_ids]
    for i, text in enumerate(texts):
        g = i % len(gate_ids)
        jobs[g].append((gate_ids[g], text))
        if rng.random() < dup_share:  # the same ticket presented at another gate
            other = (g + 1 + rng.randrange(len(gate_ids) - 1)) % len(gate_ids)
            jobs[other].append((gate_ids[other], text))
    for j in jobs:
        rng.shuffle(j)
    latencies: list[float] = []
    accepted: dict[str, int] = {}
    errors = 0
    clients = [
        KeepAlive("127.0.0.1", port, {"Authorization": f"Bearer {tokens[k]}"})
        for k in range(len(gate_ids))
    ]

    async def warm(k: int) -> None:
        # A gate phone signs in and loads its gate before the doors open.
        await clients[k].connect()
        status, _ = await clients[k].request("GET", f"/api/v1/access/gates/{gate_ids[k]}")
        if status != 200:
            raise SystemExit(f"gate {k}: GET gate answered {status}")

    await asyncio.gather(*(warm(k) for k in range(len(gate_ids))))

    async def gate(k: int) -> None:
        nonlocal errors
        cli = clients[k]
        for n, (gid, text) in enumerate(jobs[k]):
            t0 = time.perf_counter()
            status, body = await cli.request(
                "POST",
                f"/api/v1/access/gates/{gid}/scans",
                {"text": text, "scanner_id": f"gate-{k}", "nonce": f"{k}-{n}"},
            )
            latencies.append((time.perf_counter() - t0) * 1000)
            if status != 200:
                errors += 1
                continue
            if json.loads(body)["accepted"]:
                accepted[text] = accepted.get(text, 0) + 1
        await cli.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(gate(k) for k in range(len(gate_ids))))
    wall = time.perf_counter() - t0
    latencies.sort()
    total = len(latencies)
    return {
        "scans": total,
        "wall_s": wall,
        "online_redeems_per_s": round(total / wall, 1),
        "p50_ms": round(latencies[total // 2], 2),
        "p99_ms": round(latencies[min(total - 1, int(total * 0.99))], 2),
        "double_entries": sum(v - 1 for v in accepted.values() if v > 1),
        "not_admitted": len(texts) - len(accepted),
        "errors": errors,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tickets", type=int, default=4000)
    ap.add_argument("--gates", type=int, default=128)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dup-share", type=float, default=0.2)
    ap.add_argument("--admin-base", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--credential", choices=["ticket", "badge"], default="ticket")
    args = ap.parse_args()
    with database(args.admin_base) as (admin, app), tempfile.TemporaryDirectory() as tmp:
        schema.upgrade(admin, APP_ROLE)
        settings = Settings(
            data_dir=Path(tmp),
            database_url=app,
            database_admin_url=admin,
            secret_key="bench-secret-key-0123456789abcdef",  # noqa: S106 - bench-only
            log_json=True,
            log_level="WARNING",
        )
        t0 = time.perf_counter()
        tokens, gate_ids, texts, kb = setup(settings, args.tickets, args.gates, args.credential)
        setup_s = time.perf_counter() - t0
        offline = offline_rate(texts, kb)
        port = free_port()
        env = {
            **os.environ,
            "TERANGA_DATABASE_URL": app,
            "TERANGA_DATABASE_ADMIN_URL": admin,
            "TERANGA_DATA_DIR": tmp,
            "TERANGA_SECRET_KEY": settings.secret_key,
            "TERANGA_LOG_LEVEL": "WARNING",
        }
        exe = str(Path(sys.executable).parent / "teranga")
        server_log = (Path(tmp) / "server.log").open("wb")
        proc = subprocess.Popen(
            [
                exe,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--no-upgrade",
            ],
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("server did not start")
                time.sleep(0.2)
            pids = [proc.pid, *children(proc.pid)]
            settle(pids + postgres_pids())
            cpu0 = cpu_ticks(pids)
            pg0, own0 = cpu_ticks(postgres_pids()), own_cpu()
            try:
                # uvloop keeps the load generator's own CPU low: it shares the 2 cores.
                res = uvloop.run(load(port, tokens, gate_ids, texts, args.dup_share, args.seed))
            except OSError as exc:
                tail = (Path(tmp) / "server.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"load failed ({exc}); server log:\n{tail}") from exc
            cpu = cpu_ticks(pids) - cpu0
            pg_cpu, client_cpu = cpu_ticks(postgres_pids()) - pg0, own_cpu() - own0
        finally:
            proc.terminate()
            proc.wait(20)
    res.update(
        {
            "credentials": args.tickets,
            "credential_kind": args.credential,
            "gates": args.gates,
            "workers": args.workers,
            "offline_verifies_per_s": round(offline, 1),
            "server_cpu_ms_per_scan": round(cpu * 1000 / res["scans"], 3),
            # Where the rest of the box goes: the database and this load generator.
            "postgres_cpu_ms_per_scan": round(pg_cpu * 1000 / res["scans"], 3),
            "client_cpu_ms_per_scan": round(client_cpu * 1000 / res["scans"], 3),
            "setup_s": round(setup_s, 1),
            "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
            f"Python {platform.python_version()}",
        }
    )
    print(json.dumps(res))


if __name__ == "__main__":
    main()
