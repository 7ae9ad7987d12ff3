"""Two ``teranga serve`` processes on one PostgreSQL database and one NATS: an event caused
through process A reaches an SSE client of process B, with its broker sequence number."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from teranga import schema
from teranga.container import build_container
from teranga.platform.broker.nats import NatsBroker
from tests import services
from tests.conftest import APP_ROLE, make_settings
from tests.factories import bearer, make_principal_token, make_tenant

pytestmark = [pytest.mark.pg, pytest.mark.nats]


def teranga_bin() -> str:
    return str(Path(sys.executable).parent / "teranga")


@contextlib.contextmanager
def teranga_serve(env: dict[str, str], ports: list[int], logs: Path) -> Iterator[list[str]]:
    """Start one ``teranga serve`` per port (in parallel) and wait until all are ready."""
    procs: list[tuple[subprocess.Popen[bytes], str, Path]] = []
    try:
        for port in ports:
            log = logs / f"serve-{port}.log"
            with log.open("wb") as out:
                cmd = [teranga_bin(), "serve", "--host", "127.0.0.1", "--port", str(port)]
                proc = subprocess.Popen(
                    [*cmd, "--no-upgrade"], env=env, stdout=out, stderr=subprocess.STDOUT
                )
            procs.append((proc, f"http://127.0.0.1:{port}", log))
        deadline = time.monotonic() + 30
        for proc, url, log in procs:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"teranga serve exited:\n{log.read_text()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"teranga serve not ready:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
        yield [url for _, url, _ in procs]
    finally:
        for proc, _, _ in procs:
            proc.send_signal(signal.SIGTERM)
        for proc, _, _ in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


async def sse_lines(response: httpx.Response) -> AsyncIterator[dict[str, object]]:
    current: dict[str, object] = {}
    async for line in response.aiter_lines():
        if not line:
            if current:
                yield current
                current = {}
        elif not line.startswith((":", "retry:")):
            key, _, value = line.partition(": ")
            current[key] = int(value) if key == "id" else value


@pytest.fixture
def cluster_env(
    tmp_path: Path, pg_server: services.PgServer, nats_url: str
) -> Iterator[dict[str, str]]:
    name = pg_server.create_database()
    admin, app = pg_server.url(name), pg_server.url(name, user=APP_ROLE)
    tag = uuid.uuid4().hex[:10]
    broker_url = f"{nats_url}?stream=TWOPROC_{tag}&prefix=twoproc_{tag}"
    schema.upgrade(admin, APP_ROLE)  # once; the servers start with --no-upgrade
    env = {
        **os.environ,
        "TERANGA_ENV": "test",
        "TERANGA_DATABASE_URL": app,
        "TERANGA_DATABASE_ADMIN_URL": admin,
        "TERANGA_BROKER_URL": broker_url,
        "TERANGA_DATA_DIR": str(tmp_path),
        "TERANGA_SECRET_KEY": "test-secret-key-not-for-production-0123456789",
        "TERANGA_LOG_JSON": "false",
    }
    try:
        yield env
    finally:
        with contextlib.suppress(Exception):
            broker = NatsBroker(broker_url)

            async def drop() -> None:
                await broker.start()
                await broker.delete_streams()
                await broker.close()

            asyncio.run(drop())
        pg_server.drop_database(name)


def test_event_through_process_a_reaches_sse_client_of_process_b(
    tmp_path: Path, cluster_env: dict[str, str]
) -> None:
    settings = make_settings(
        tmp_path,
        database_url=cluster_env["TERANGA_DATABASE_URL"],
        database_admin_url=cluster_env["TERANGA_DATABASE_ADMIN_URL"],
        app_db_role=APP_ROLE,
    )
    container = build_container(settings)
    try:
        slug = f"two-{uuid.uuid4().hex[:8]}"
        tid = make_tenant(container, slug)
        token = make_principal_token(container, tid, "organiser-admin")
    finally:
        container.dispose()
    ports = [services._free_port(), services._free_port()]
    with teranga_serve(cluster_env, ports, tmp_path) as (url_a, url_b):
        got = asyncio.run(_scenario(url_a, url_b, token, f"public.{slug}.announcements"))
    assert [(e["id"], e["event"]) for e in got] == [(1, "announcement"), (2, "announcement")]
    assert [orjson.loads(str(e["data"]))["text"] for e in got] == [
        "Navettes vers Diamniadio toutes les 10 min",
        "Shuttles every 10 min",
    ]


async def _scenario(url_a: str, url_b: str, token: str, topic: str) -> list[dict[str, object]]:
    got: list[dict[str, object]] = []
    async with (
        httpx.AsyncClient(timeout=10) as client,
        # since=0: replay from the first message, so no race with B's subscription start.
        client.stream("GET", f"{url_b}/api/v1/streams/{topic}?since=0") as stream,
        asyncio.timeout(20),
    ):
        assert stream.status_code == 200
        events = sse_lines(stream)
        r = await client.post(
            f"{url_a}/api/v1/announcements",
            json={"text": "Navettes vers Diamniadio toutes les 10 min", "lang": "fr"},
            headers=bearer(token),
        )
        assert r.status_code == 202, r.text
        got.append(await anext(events))
        # And the other way round, on the live path: B publishes, B's client sees seq 2.
        r = await client.post(
            f"{url_b}/api/v1/announcements",
            json={"text": "Shuttles every 10 min", "lang": "en"},
            headers=bearer(token),
        )
        assert r.status_code == 202, r.text
        got.append(await anext(events))
    return got
