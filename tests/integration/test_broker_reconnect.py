"""NATS restart (R4): subscribers resume in order, sequences continue, nothing is lost.

Runs its own nats-server (the pip-installed build, else the system one) on a free port so
it can restart it without disturbing anybody else's server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from teranga.platform.broker import BrokerError, Message
from teranga.platform.broker.nats import NatsBroker
from tests import services

pytestmark = pytest.mark.nats


def nats_server_binary() -> str:
    local = Path(sys.executable).parent / "nats-server"
    found = str(local) if local.exists() else shutil.which("nats-server")
    if not found:
        found = "/usr/sbin/nats-server"
    return found


class Server:
    def __init__(self, store: Path, *, sync_always: bool = False) -> None:
        self.port = services._free_port()
        self.monitor_port = services._free_port()
        self.store = store
        self.sync_always = sync_always
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    def start(self) -> None:
        sync = "sync_interval: always" if self.sync_always else ""
        conf = self.store.parent / f"nats-{self.port}.conf"
        conf.write_text(
            f"listen: 127.0.0.1:{self.port}\nhttp: 127.0.0.1:{self.monitor_port}\n"
            f'jetstream {{\n  store_dir: "{self.store}"\n  {sync}\n}}\n'
        )
        self.proc = subprocess.Popen(
            [nats_server_binary(), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def ready(self) -> None:
        for _ in range(200):
            if services._port_open("127.0.0.1", self.port):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "js")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


async def publish_retrying(broker: NatsBroker, topic: str, data: dict[str, int]) -> int:
    """Publish as the outbox relay does: retry while the connection comes back."""
    for _ in range(100):
        with contextlib.suppress(BrokerError, TimeoutError, Exception):
            return await broker.publish(topic, data, msg_id=f"row-{data['i']}")
        await asyncio.sleep(0.1)
    raise RuntimeError("broker never came back")


async def test_subscriber_resumes_after_server_restart(server: Server) -> None:
    await server.ready()
    broker = NatsBroker(server.url)
    await broker.start()
    topic = "public.joj-dakar-2026.results.unit.ATHM100M"
    received: list[Message] = []
    try:
        for i in range(3):
            await broker.publish(topic, {"i": i}, msg_id=f"row-{i}")

        async def follow() -> None:
            async for m in broker.subscribe(topic, 1):
                received.append(m)
                if len(received) == 6:
                    return

        follower = asyncio.create_task(follow())
        for _ in range(200):
            if len(received) == 3:
                break
            await asyncio.sleep(0.02)
        assert [m.seq for m in received] == [1, 2, 3]

        server.stop()  # file storage: the stream survives the restart
        await asyncio.sleep(0.3)
        server.start()
        await server.ready()

        seqs = [await publish_retrying(broker, topic, {"i": i}) for i in range(3, 6)]
        assert seqs == [4, 5, 6]  # numbering continues from the stored stream
        async with asyncio.timeout(20):
            await follower
        assert [m.seq for m in received] == [1, 2, 3, 4, 5, 6]
        assert [m.data["i"] for m in received] == list(range(6))
    finally:
        await broker.close()


async def start_logging(url: str, caplog: pytest.LogCaptureFixture) -> list[str]:
    broker = NatsBroker(url)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="teranga.platform.broker.nats"):
        await broker.start()
    try:
        assert await broker.ping()
    finally:
        await broker.close()
    return [r.getMessage() for r in caplog.records if "sync" in r.getMessage()]


async def test_start_checks_that_jetstream_syncs_every_write(
    tmp_path: Path, server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    await server.ready()
    # The app user cannot read the server's settings without a monitoring URL: say so.
    (msg,) = await start_logging(server.url, caplog)
    assert "cannot verify" in msg
    # With it, the default (periodic sync) is reported...
    (msg,) = await start_logging(f"{server.url}?monitor={server.monitor}", caplog)
    assert "is not 'always'" in msg
    # ...and a server with sync_interval: always passes without a warning.
    synced = Server(tmp_path / "js-sync", sync_always=True)
    synced.start()
    try:
        await synced.ready()
        (msg,) = await start_logging(f"{synced.url}?monitor={synced.monitor}", caplog)
        assert "syncs every write" in msg
    finally:
        synced.stop()
