"""The fallback path of the test harness works: on a machine without PostgreSQL or NATS on
loopback, the tests start their own (pip-installed builds) instead of skipping."""

from __future__ import annotations

import asyncio

import nats
import pytest
import sqlalchemy as sa

from tests import services


@pytest.fixture
def own_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERANGA_TEST_OWN_SERVICES", "1")


@pytest.mark.pg
@pytest.mark.usefixtures("own_services")
def test_harness_starts_its_own_postgres() -> None:
    with services.postgres() as srv:
        assert "5432" not in srv.admin_base or srv.query  # not the machine's server
        name = srv.create_database()
        eng = sa.create_engine(srv.url(name), poolclass=sa.pool.NullPool)
        with eng.connect() as c:
            assert c.scalar(sa.text("SELECT current_database()")) == name
        eng.dispose()
        srv.drop_database(name)


@pytest.mark.nats
@pytest.mark.usefixtures("own_services")
def test_harness_starts_its_own_nats() -> None:
    with services.nats() as url:
        assert not url.endswith(":4222")

        async def roundtrip() -> bytes:
            nc = await nats.connect(url)
            js = nc.jetstream()
            await js.add_stream(name="HARNESS", subjects=["harness.>"])
            await js.publish("harness.x", b"ok")
            msg = await js.get_last_msg("HARNESS", "harness.x")
            await nc.close()
            return bytes(msg.data or b"")

        assert asyncio.run(roundtrip()) == b"ok"
