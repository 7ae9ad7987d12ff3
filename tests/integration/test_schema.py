"""Migrations are the only way the schema is made, and they agree with the models."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from teranga import schema
from teranga.domains import load_all_models
from teranga.platform.db import tenant_tables
from tests.conftest import make_settings
from tests.services import PgServer


def test_sqlite_upgrade_then_check(tmp_path: Path) -> None:
    s = make_settings(tmp_path)
    schema.upgrade(s.resolved_admin_url)
    schema.check(s.resolved_admin_url)


def test_check_fails_when_database_is_behind(tmp_path: Path) -> None:
    s = make_settings(tmp_path)
    with pytest.raises(schema.SchemaDrift):
        schema.check(s.resolved_admin_url)


def test_check_fails_on_model_drift(tmp_path: Path) -> None:
    s = make_settings(tmp_path)
    schema.upgrade(s.resolved_admin_url)
    eng = sa.create_engine(s.resolved_admin_url)
    with eng.begin() as c:
        c.execute(sa.text("ALTER TABLE tenants ADD COLUMN stray INTEGER"))
    eng.dispose()
    with pytest.raises(schema.SchemaDrift):
        schema.check(s.resolved_admin_url)


@pytest.mark.pg
def test_postgres_upgrade_check_and_rls(pg_database: tuple[str, str]) -> None:
    admin, _ = pg_database
    schema.check(admin)
    load_all_models()
    eng = sa.create_engine(admin)
    with eng.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
            )
        ).all()
        role = c.execute(
            sa.text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'teranga_app'")
        ).one()
        owners = c.execute(
            sa.text(
                "SELECT count(*) FROM pg_tables "
                "WHERE schemaname='public' AND tableowner='teranga_app'"
            )
        ).scalar_one()
    eng.dispose()
    flags = {r[0]: (r[1], r[2]) for r in rows}
    for table in tenant_tables():
        assert flags[table] == (True, True), f"{table}: RLS must be enabled and forced"
    assert tuple(role) == (False, False)
    assert owners == 0


def test_pg_server_fixture_type() -> None:
    assert PgServer("postgresql+psycopg://u@h").url("d", user="x") == "postgresql+psycopg://x@h/d"
