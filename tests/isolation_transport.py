"""Transport's contribution to the tenant-isolation walk (tests/isolation.py)."""

from __future__ import annotations

import uuid

from teranga.container import Container
from teranga.transport import service
from tests.isolation import factory

_FILES = {
    "agency.txt": b"agency_name,agency_url,agency_timezone\nX,https://x.sn,Africa/Dakar\n",
    "stops.txt": b"stop_id,stop_name,stop_lat,stop_lon\nA,A,14.70,-17.40\nB,B,14.71,-17.41\n",
    "routes.txt": b"route_id,route_short_name,route_type\nR,1,3\n",
    "trips.txt": b"route_id,service_id,trip_id\nR,S,T\n",
    "calendar_dates.txt": b"service_id,date,exception_type\nS,20261102,1\n",
    "stop_times.txt": b"trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
    b"T,08:00:00,08:00:00,A,1\nT,08:10:00,08:10:00,B,2\n",
}


@factory("feed_id", path="/api/v1/transport/realtime/{feed_id}")
def feed_in(container: Container, tenant_id: uuid.UUID) -> str:
    """A tiny feed imported in the tenant; another tenant's push to it must answer 404."""
    feed_id = f"iso-{uuid.uuid4().hex[:8]}"
    with container.uow(tenant_id) as uow:
        service.import_feed(
            uow, source=_FILES, feed_id=feed_id, data_dir=container.settings.data_dir
        )
    return feed_id
