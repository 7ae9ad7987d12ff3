"""GTFS-Realtime in and out (protobuf through ``gtfs-realtime-bindings``).

Operators push a FeedMessage (TripUpdates, VehiclePositions, Alerts) for one of their feeds;
we keep the latest state per entity and publish our own merged FeedMessage with ids in the
``FEEDID:ID`` form. Trip delays feed the planner: a delayed trip is shifted by its latest
delay from the stop the update names onwards (the whole trip when it names none).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from google.transit import gtfs_realtime_pb2 as rt

from teranga.platform.errors import ValidationFailed


@dataclass(frozen=True)
class TripDelay:
    trip_id: str
    delay_s: int
    from_sequence: int = 0  # first stop_sequence the delay applies to (0: whole trip)


@dataclass(frozen=True)
class Vehicle:
    id: str
    lat: float
    lon: float
    trip_id: str = ""
    route_id: str = ""
    timestamp: int = 0


@dataclass(frozen=True)
class Alert:
    id: str
    header: str
    description: str = ""
    route_ids: tuple[str, ...] = ()
    stop_ids: tuple[str, ...] = ()


@dataclass
class Snapshot:
    delays: list[TripDelay] = field(default_factory=list)
    vehicles: list[Vehicle] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


def _text(ts: Any) -> str:
    for t in ts.translation:
        if t.language in ("", "fr"):
            return str(t.text)
    return str(ts.translation[0].text) if ts.translation else ""


def parse_feed(data: bytes) -> Snapshot:
    msg = rt.FeedMessage()
    try:
        msg.ParseFromString(data)
    except DecodeError:
        raise ValidationFailed("body", "not a GTFS-Realtime FeedMessage") from None
    if not msg.header.gtfs_realtime_version:
        raise ValidationFailed("body", "FeedMessage without header.gtfs_realtime_version")
    snap = Snapshot()
    for e in msg.entity:
        if e.HasField("trip_update") and e.trip_update.trip.trip_id:
            tu = e.trip_update
            delay, seq = (tu.delay if tu.HasField("delay") else 0), 0
            for u in tu.stop_time_update:  # the first update with a delay sets it
                ev = u.arrival if u.HasField("arrival") else u.departure
                if ev.HasField("delay"):
                    delay, seq = ev.delay, u.stop_sequence
                    break
            snap.delays.append(TripDelay(tu.trip.trip_id, int(delay), int(seq)))
        if e.HasField("vehicle") and e.vehicle.HasField("position"):
            v = e.vehicle
            snap.vehicles.append(
                Vehicle(
                    id=v.vehicle.id or e.id,
                    lat=float(v.position.latitude),
                    lon=float(v.position.longitude),
                    trip_id=v.trip.trip_id,
                    route_id=v.trip.route_id,
                    timestamp=int(v.timestamp),
                )
            )
        if e.HasField("alert"):
            a = e.alert
            snap.alerts.append(
                Alert(
                    id=e.id,
                    header=_text(a.header_text),
                    description=_text(a.description_text),
                    route_ids=tuple(x.route_id for x in a.informed_entity if x.route_id),
                    stop_ids=tuple(x.stop_id for x in a.informed_entity if x.stop_id),
                )
            )
    return snap


def build_feed(snap: Snapshot, *, now: int | None = None) -> bytes:
    """Our own GTFS-Realtime feed (full dataset) from the stored state."""
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.incrementality = rt.FeedHeader.FULL_DATASET
    msg.header.timestamp = int(now if now is not None else time.time())
    for d in snap.delays:
        e = msg.entity.add()
        e.id = f"delay:{d.trip_id}"
        e.trip_update.trip.trip_id = d.trip_id
        if d.from_sequence:
            u = e.trip_update.stop_time_update.add()
            u.stop_sequence = d.from_sequence
            u.arrival.delay = d.delay_s
        else:
            e.trip_update.delay = d.delay_s
    for v in snap.vehicles:
        e = msg.entity.add()
        e.id = f"vehicle:{v.id}"
        e.vehicle.vehicle.id = v.id
        e.vehicle.position.latitude = v.lat
        e.vehicle.position.longitude = v.lon
        if v.trip_id:
            e.vehicle.trip.trip_id = v.trip_id
        if v.route_id:
            e.vehicle.trip.route_id = v.route_id
        if v.timestamp:
            e.vehicle.timestamp = v.timestamp
    for a in snap.alerts:
        e = msg.entity.add()
        e.id = f"alert:{a.id}"
        t = e.alert.header_text.translation.add()
        t.text, t.language = a.header, "fr"
        if a.description:
            t = e.alert.description_text.translation.add()
            t.text, t.language = a.description, "fr"
        for r in a.route_ids:
            e.alert.informed_entity.add().route_id = r
        for s in a.stop_ids:
            e.alert.informed_entity.add().stop_id = s
    out: bytes = msg.SerializeToString()
    return out
