"""In-memory GTFS feed: typed records plus columnar stop times (no framework imports).

Stop times are held as numpy columns because a Dakar-sized feed has ~300,000 of them: one
Python object per row would dominate import time and memory.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class Agency:
    id: str
    name: str
    url: str
    timezone: str
    lang: str = ""
    phone: str = ""
    fare_url: str = ""


@dataclass(frozen=True, slots=True)
class Stop:
    id: str
    name: str
    lat: float
    lon: float
    code: str = ""
    desc: str = ""
    zone_id: str = ""
    location_type: int = 0
    parent_station: str = ""
    wheelchair_boarding: int = 0


@dataclass(frozen=True, slots=True)
class Route:
    id: str
    agency_id: str
    short_name: str
    long_name: str
    type: int
    color: str = ""
    text_color: str = ""
    desc: str = ""


@dataclass(frozen=True, slots=True)
class Trip:
    id: str
    route_id: str
    service_id: str
    headsign: str = ""
    direction_id: int | None = None
    shape_id: str = ""
    block_id: str = ""


@dataclass(frozen=True, slots=True)
class Calendar:
    service_id: str
    days: tuple[bool, bool, bool, bool, bool, bool, bool]  # Monday first
    start: dt.date
    end: dt.date


@dataclass(frozen=True, slots=True)
class CalendarDate:
    service_id: str
    date: dt.date
    exception_type: int  # 1 added, 2 removed


@dataclass(frozen=True, slots=True)
class Frequency:
    trip_id: str
    start: int  # seconds after midnight of the service day
    end: int
    headway: int
    exact_times: int = 0


@dataclass(frozen=True, slots=True)
class ShapePoint:
    shape_id: str
    lat: float
    lon: float
    sequence: int
    dist: float | None = None


@dataclass
class StopTimes:
    """Columnar stop times sorted by (trip, sequence); trip/stop are indexes into the feed lists.

    ``arrival``/``departure`` are seconds after midnight of the service day and may exceed
    86,400 (trips running past midnight are legal GTFS).
    """

    trip: IntArray
    stop: IntArray
    sequence: IntArray
    arrival: IntArray
    departure: IntArray
    pickup: npt.NDArray[np.int8]
    drop_off: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return int(self.trip.shape[0])

    @classmethod
    def empty(cls) -> StopTimes:
        i = np.zeros(0, dtype=np.int32)
        b = np.zeros(0, dtype=np.int8)
        return cls(i, i.copy(), i.copy(), i.copy(), i.copy(), b, b.copy())


@dataclass
class Feed:
    """One operator's feed after repair: every record here is usable."""

    feed_id: str
    agencies: list[Agency] = field(default_factory=list)
    stops: list[Stop] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    trips: list[Trip] = field(default_factory=list)
    stop_times: StopTimes = field(default_factory=StopTimes.empty)
    calendars: list[Calendar] = field(default_factory=list)
    calendar_dates: list[CalendarDate] = field(default_factory=list)
    frequencies: list[Frequency] = field(default_factory=list)
    shapes: list[ShapePoint] = field(default_factory=list)
    # Fare tables are carried through verbatim (GTFS fares v1): rows as column -> value.
    fare_attributes: list[dict[str, str]] = field(default_factory=list)
    fare_rules: list[dict[str, str]] = field(default_factory=list)
    content_hash: str = ""

    def stop_index(self) -> dict[str, int]:
        return {s.id: i for i, s in enumerate(self.stops)}

    def trip_index(self) -> dict[str, int]:
        return {t.id: i for i, t in enumerate(self.trips)}


def format_time(seconds: int) -> str:
    """GTFS HH:MM:SS, hours may exceed 23."""
    h, rem = divmod(int(seconds), 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}"


def parse_time(value: str) -> int | None:
    """Parse GTFS H:MM:SS / HH:MM:SS (hours may exceed 23); None when malformed."""
    parts = value.split(":")
    if len(parts) != 3:
        return None
    try:
        h, m, s = (int(p) for p in parts)
    except ValueError:
        return None
    if h < 0 or not (0 <= m < 60) or not (0 <= s < 60) or h > 240:
        return None
    return h * 3600 + m * 60 + s
