"""Shared fixtures: settings and migrated databases on SQLite and PostgreSQL, NATS URL.

``db_settings`` is parametrised over both databases; tests that take it run twice.
On PostgreSQL the app connects as the unprivileged role ``teranga_app`` (RLS applies)
while migrations run as the owner.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from teranga import schema
from teranga.config import Settings
from teranga.container import Container, build_container
from teranga.web.app import create_app
from tests import services

os.environ.setdefault("TERANGA_ENV", "test")
APP_ROLE = "teranga_app"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[services.PgServer]:
    with services.postgres() as srv:
        yield srv


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    with services.nats() as url:
        yield url


@pytest.fixture(scope="session")
def pg_database(pg_server: services.PgServer) -> Iterator[tuple[str, str]]:
    """A fresh migrated database for the session: (admin_url, app_url)."""
    name = pg_server.create_database()
    admin = pg_server.url(name)
    schema.upgrade(admin, APP_ROLE)
    try:
        yield admin, pg_server.url(name, user=APP_ROLE)
    finally:
        pg_server.drop_database(name)


def make_settings(tmp: Path, **kw: object) -> Settings:
    base: dict[str, object] = {
        "env": "test",
        "data_dir": tmp,
        "secret_key": "test-secret-key-not-for-production-0123456789",
        "log_json": False,
    }
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite database migrated for the whole session. Each test gets a copy: the
    schema still comes from the migrations alone, run once instead of once a test."""
    s = make_settings(tmp_path_factory.mktemp("sqlite-template"))
    schema.upgrade(s.resolved_admin_url)
    return _sqlite_path(s)


def _sqlite_path(s: Settings) -> Path:
    database = make_url(s.resolved_admin_url).database
    assert database, s.resolved_admin_url
    return Path(database)


def _migrated_sqlite(tmp_path: Path, template: Path) -> Settings:
    s = make_settings(tmp_path)
    # The backup API copies what the write-ahead log holds too, unlike a file copy.
    with (
        contextlib.closing(sqlite3.connect(template)) as src,
        contextlib.closing(sqlite3.connect(_sqlite_path(s))) as dst,
    ):
        src.backup(dst)
    return s


@pytest.fixture
def sqlite_settings(tmp_path: Path, sqlite_template: Path) -> Settings:
    return _migrated_sqlite(tmp_path, sqlite_template)


@pytest.fixture
def pg_settings(tmp_path: Path, pg_database: tuple[str, str]) -> Settings:
    admin, app = pg_database
    return make_settings(tmp_path, database_url=app, database_admin_url=admin, app_db_role=APP_ROLE)


def _container_on(settings: Settings) -> Iterator[Container]:
    c = build_container(settings)
    try:
        yield c
    finally:
        c.dispose()


@pytest.fixture
def pg_container(pg_settings: Settings) -> Iterator[Container]:
    """A container on this test's own PostgreSQL database (concurrency tests)."""
    yield from _container_on(pg_settings)


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def db_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return _migrated_sqlite(tmp_path, request.getfixturevalue("sqlite_template"))
    settings: Settings = request.getfixturevalue("pg_settings")
    return settings


@pytest.fixture
def container(db_settings: Settings) -> Iterator[Container]:
    yield from _container_on(db_settings)


@pytest.fixture
def client(db_settings: Settings) -> Iterator[TestClient]:
    """The whole app on this test's database (both backends); redirects are not followed."""
    with TestClient(create_app(db_settings), follow_redirects=False) as c:
        yield c
