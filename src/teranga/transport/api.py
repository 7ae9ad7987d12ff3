"""What other domains may use from transport.

``journey_url(venue_id, when)``: the public journey page pre-filled to reach a venue for a
session (ticket pages link to it); ``VENUES``: (id, name, lat, lon) of the Games venues.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from teranga.transport.venues import VENUES

ARRIVE_EARLY = dt.timedelta(minutes=45)  # gates and security checks before the session


def journey_url(venue_id: str, session_start: dt.datetime | None = None) -> str:
    """``/transport?to=<venue>&mode=arrive&when=<start - 45 min>`` (Dakar time)."""
    params = {"to": venue_id}
    if session_start is not None:
        when = session_start.astimezone(dt.UTC) - ARRIVE_EARLY  # Dakar is UTC+0 all year
        params.update(mode="arrive", when=when.strftime("%Y-%m-%dT%H:%M"))
    return "/transport?" + urlencode(params)


__all__ = ["VENUES", "journey_url"]
