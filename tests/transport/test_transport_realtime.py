"""GTFS-Realtime: push, our own feed, and delays applied to journey planning."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from google.transit import gtfs_realtime_pb2 as rt

from teranga.platform.errors import ValidationFailed
from teranga.transport.realtime import Alert, Snapshot, TripDelay, Vehicle, build_feed, parse_feed
from tests.factories import app_container, bearer, make_principal_token, make_tenant
from tests.transport.test_transport_web import _zip


def test_feed_round_trip_and_rejects_garbage() -> None:
    snap = Snapshot(
        delays=[TripDelay("T1", 300), TripDelay("T2", -60, from_sequence=4)],
        vehicles=[Vehicle("bus-7", 14.7, -17.4, trip_id="T1", route_id="R", timestamp=1)],
        alerts=[Alert("a1", "Travaux à Colobane", "Arrêt déplacé", ("R",), ("S1",))],
    )
    back = parse_feed(build_feed(snap, now=1_700_000_000))
    assert back.delays == snap.delays
    assert back.alerts[0].id == "alert:a1"  # entity ids are namespaced by kind in our feed
    assert back.alerts[0].header == "Travaux à Colobane"
    assert back.alerts[0].route_ids == ("R",)
    assert back.alerts[0].stop_ids == ("S1",)
    assert back.vehicles[0].id == "bus-7"
    assert back.vehicles[0].trip_id == "T1"
    with pytest.raises(ValidationFailed):
        parse_feed(b"\xff\x00not protobuf")
    with pytest.raises(ValidationFailed):
        parse_feed(rt.FeedMessage().SerializePartialToString())  # no header


def test_delay_pushed_by_operator_moves_the_journey(client: TestClient, small_gtfs: Path) -> None:
    container = app_container(client)
    tid = make_tenant(container, container.settings.default_tenant)
    op = bearer(make_principal_token(container, tid, "transport-operator"))
    files = {"file": ("dkr.zip", _zip(small_gtfs), "application/zip")}
    assert client.post("/api/v1/transport/feeds", files=files, headers=op).status_code == 200
    params = {"from": "dkr:TER01", "to": "dkr:TER13", "depart": "2026-11-02T08:00"}
    before = client.get("/api/v1/transport/plan", params=params).json()["journeys"][0]
    trip = before["legs"][0]["trip_id"]
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    e = msg.entity.add()
    e.id = "1"
    e.trip_update.trip.trip_id = trip.removeprefix("dkr:")
    e.trip_update.delay = 600
    v = msg.entity.add()
    v.id = "2"
    v.vehicle.vehicle.id = "rame-12"
    v.vehicle.position.latitude = 14.70
    v.vehicle.position.longitude = -17.43
    a = msg.entity.add()
    a.id = "3"
    tr = a.alert.header_text.translation.add()
    tr.text, tr.language = "Retards sur le TER", "fr"
    a.alert.informed_entity.add().route_id = "TER"
    data = msg.SerializeToString()
    box = bearer(make_principal_token(container, tid, "box-office"))
    url = "/api/v1/transport/realtime/dkr"
    assert client.post(url, content=data, headers=box).status_code == 403
    assert client.post(url + "x", content=data, headers=op).status_code == 404
    assert client.post(url, content=b"garbage", headers=op).status_code == 422
    r = client.post(url, content=data, headers=op)
    assert r.status_code == 200, r.text
    assert r.json() == {"delays": 1, "vehicles": 1, "alerts": 1}
    after = client.get("/api/v1/transport/plan", params=params).json()["journeys"][0]
    shift = dt.datetime.fromisoformat(after["arrival"]) - dt.datetime.fromisoformat(
        before["arrival"]
    )
    assert shift == dt.timedelta(minutes=10)  # the next TER is 30 min later: wait for it
    assert after["legs"][0]["trip_id"] == trip
    own = rt.FeedMessage()
    own.ParseFromString(client.get("/api/v1/transport/gtfs-rt").content)
    ids = {x.id for x in own.entity}
    assert f"delay:{trip}" in ids
    assert "vehicle:dkr:rame-12" in ids
    vehicles = client.get("/api/v1/transport/vehicles").json()
    assert vehicles[0]["id"] == "dkr:rame-12"
    page = client.get(
        "/transport",
        params={"from": "dkr:TER01", "to": "dakar-arena", "when": "2026-11-02T08:00"},
    ).text
    assert "Retards sur le TER" in page  # the alert names the route the journey takes
    assert 'class="vehicle"' in page  # the train is inside the journey's map
    # A full dataset without entities clears the state (the PG database is session-wide).
    empty = rt.FeedMessage()
    empty.header.gtfs_realtime_version = "2.0"
    r = client.post(url, content=empty.SerializeToString(), headers=op)
    assert r.json() == {"delays": 0, "vehicles": 0, "alerts": 0}
    cleared = client.get("/api/v1/transport/plan", params=params).json()["journeys"][0]
    assert cleared["arrival"] == before["arrival"]
