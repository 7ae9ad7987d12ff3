"""Storage, idempotent re-import, planner cache and the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from teranga.config import Settings
from teranga.container import Container
from teranga.platform.errors import NotFound, ValidationFailed
from teranga.transport import repo, service
from teranga.transport.gtfs import Feed, FeedOverrides
from teranga.transport.models import TransportFeed, TransportStopTime
from tests.factories import make_tenant
from tests.transport.conftest import DAY

DEPART = dt.datetime.combine(DAY, dt.time(8, 0), tzinfo=service.TZ)


def _count(container: Container, tenant: object) -> int:
    with container.uow(tenant) as uow:
        return int(
            uow.session.scalar(
                sa.select(sa.func.count())
                .select_from(TransportStopTime)
                .where(TransportStopTime.tenant_id == tenant)
            )
            or 0
        )


def test_import_is_idempotent_and_round_trips(
    container: Container, small_gtfs: Path, small_feed: Feed
) -> None:
    tenant = make_tenant(container)
    data = container.settings.data_dir
    with container.uow(tenant) as uow:
        first = service.import_feed(uow, source=small_gtfs, feed_id="dkr", data_dir=data)
    assert first.status == "imported"
    n = _count(container, tenant)
    assert n == len(small_feed.stop_times)
    with container.uow(tenant) as uow:
        stamp = repo.get_feed(uow.session, tenant, "dkr").imported_at  # type: ignore[union-attr]
        again = service.import_feed(uow, source=small_gtfs, feed_id="dkr", data_dir=data)
    assert again.status == "unchanged"
    with container.uow(tenant) as uow:
        row = repo.get_feed(uow.session, tenant, "dkr")
        assert row is not None
        assert row.imported_at == stamp
        loaded = repo.load_feed(uow.session, row)
    assert _count(container, tenant) == n
    # What was stored is what was read (ids, times, flags).
    st, orig = loaded.stop_times, small_feed.stop_times
    key = lambda f, s: sorted(  # noqa: E731
        zip(
            [f.trips[t].id for t in s.trip.tolist()],
            s.sequence.tolist(),
            [f.stops[x].id for x in s.stop.tolist()],
            s.arrival.tolist(),
            s.departure.tolist(),
            s.pickup.tolist(),
            strict=True,
        )
    )
    assert key(loaded, st) == key(small_feed, orig)
    assert len(loaded.frequencies) == len(small_feed.frequencies)
    assert loaded.fare_attributes == small_feed.fare_attributes
    # A different override is a different import: rows replaced, not duplicated.
    with container.uow(tenant) as uow:
        third = service.import_feed(
            uow,
            source=small_gtfs,
            feed_id="dkr",
            overrides=FeedOverrides(ignore_pickup_drop_off=True),
            data_dir=data,
        )
    assert third.status == "imported"
    assert _count(container, tenant) == n


def test_plan_uses_cache_and_resolves_places(
    container: Container, small_gtfs: Path, tmp_path: Path
) -> None:
    tenant = make_tenant(container)
    data = container.settings.data_dir
    with container.uow(tenant) as uow:
        service.import_feed(uow, source=small_gtfs, feed_id="dkr", data_dir=data)
        key = service.network_key(repo.list_feeds(uow.session, tenant))
    assert (data / "transport" / f"{tenant}-{key}.npz").is_file()
    service._TIMETABLES.clear()  # force the .npz path
    with container.uow(tenant) as uow:
        res = service.plan(
            uow, data_dir=data, origin="dkr:TER01", destination="dakar-arena", depart=DEPART
        )
    js = res["journeys"]
    assert js
    assert js[0]["legs"][0]["from"]["stop_id"] == "dkr:TER01"
    assert js[0]["legs"][-1]["to"]["name"].startswith("Dakar Arena")
    arrivals = [j["arrival"] for j in js]
    assert arrivals == sorted(arrivals)
    assert [j["transfers"] for j in js] == sorted((j["transfers"] for j in js), reverse=True)
    for j in js:
        times = [t for leg in j["legs"] for t in (leg["departure"], leg["arrival"])]
        assert times == sorted(times)
        assert j["departure"] >= DEPART.isoformat()
    with container.uow(tenant) as uow:
        by = service.plan(
            uow,
            data_dir=data,
            origin="TER01",
            destination="dkr:TER13",
            arrive_by=DEPART + dt.timedelta(hours=2),
        )
        window = service.plan(
            uow,
            data_dir=data,
            origin="Gare TER Dakar",
            destination="TER13",
            depart=DEPART,
            window_min=60,
        )
        with pytest.raises(NotFound):
            service.plan(uow, data_dir=data, origin="nulle part", destination="TER13",
                         depart=DEPART)  # fmt: skip
        with pytest.raises(ValidationFailed):
            service.plan(uow, data_dir=data, origin="TER01", destination="TER13")
        stops = service.find_stops(uow, text="diamniadio")
    deadline = DEPART + dt.timedelta(hours=2)
    last = by["journeys"][0]
    assert last["arrival"] <= deadline.isoformat()
    # It is the latest departure: leaving one second later arrives after the deadline.
    later = dt.datetime.fromisoformat(last["departure"]) + dt.timedelta(seconds=1)
    with container.uow(tenant) as uow:
        after = service.plan(
            uow, data_dir=data, origin="dkr:TER01", destination="dkr:TER13", depart=later
        )
    assert after["journeys"][0]["arrival"] > deadline.isoformat()
    deps = [j["departure"] for j in window["journeys"]]
    # The thinned test network runs a TER every 30 min: two leave within the hour.
    assert len(deps) == 2
    gap = dt.datetime.fromisoformat(deps[1]) - dt.datetime.fromisoformat(deps[0])
    assert gap == dt.timedelta(minutes=30)
    assert any(s["stop_id"] == "dkr:TER13" for s in stops)
    other = make_tenant(container)
    with container.uow(other) as uow, pytest.raises(NotFound):
        service.plan(uow, data_dir=data, origin="TER01", destination="TER13", depart=DEPART)


def test_cli_import_plan_export(db_settings: Settings, small_gtfs: Path, tmp_path: Path) -> None:
    from teranga.cli.main import app

    env = {
        "TERANGA_DATA_DIR": str(db_settings.data_dir),
        "TERANGA_SECRET_KEY": "x" * 32,
        "TERANGA_DATABASE_ADMIN_URL": db_settings.database_admin_url,
    }
    url = db_settings.resolved_database_url
    runner = CliRunner()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "stops.txt").write_text("stop_id,stop_name,stop_lat,stop_lon\nA,A,14.7,-17.4\n")
    r = runner.invoke(
        app, ["transport", "import", str(small_gtfs), str(bad), "--database-url", url], env=env
    )
    assert r.exit_code == 1, r.output
    assert "missing_required_file" in r.output
    assert "-> imported" in r.output
    r = runner.invoke(
        app,
        ["transport", "plan", "--from", "dakar-small:TER01", "--to", "14.7339,-17.2124",
         "--depart", "2026-11-02T08:00", "--json", "--database-url", url],
        env=env,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    first = out["journeys"][0]
    assert first["departure"].startswith("2026-11-02T08")
    assert first["legs"][-1]["mode"] == "walk"  # egress to the coordinates
    assert min(j["arrival"] for j in out["journeys"]) == first["arrival"]
    r = runner.invoke(
        app, ["transport", "export", str(tmp_path / "net.zip"), "--database-url", url], env=env
    )
    assert r.exit_code == 0, r.output
    from teranga.transport.realtime import Alert, Snapshot, build_feed, parse_feed

    pb = tmp_path / "alert.pb"
    pb.write_bytes(build_feed(Snapshot(alerts=[Alert("a1", "Gare de Hann fermée")])))
    r = runner.invoke(
        app, ["transport", "realtime", "dakar-small", str(pb), "--database-url", url], env=env
    )
    assert r.exit_code == 0, r.output
    assert "alerts=1" in r.output
    out_pb = tmp_path / "own.pb"
    r = runner.invoke(app, ["transport", "gtfs-rt", str(out_pb), "--database-url", url], env=env)
    assert r.exit_code == 0, r.output
    assert parse_feed(out_pb.read_bytes()).alerts[0].header == "Gare de Hann fermée"
    empty = tmp_path / "empty.pb"
    empty.write_bytes(build_feed(Snapshot()))
    r = runner.invoke(
        app, ["transport", "realtime", "dakar-small", str(empty), "--database-url", url], env=env
    )
    assert "alerts=0" in r.output
    with sa.create_engine(db_settings.resolved_admin_url).connect() as c:
        assert c.scalar(sa.select(sa.func.count()).select_from(TransportFeed)) >= 1


def test_demo_load_is_idempotent(sqlite_settings: Settings) -> None:
    from teranga import demo as platform_demo
    from teranga.transport import demo

    platform_demo.ensure_demo_tenant(sqlite_settings)
    first = demo.load(sqlite_settings)
    second = demo.load(sqlite_settings)
    assert "imported" in first[0]
    assert "unchanged" in second[0]
