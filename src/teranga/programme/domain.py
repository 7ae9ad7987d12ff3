"""Programme rules without a database: Games days, demo schedule, map projection.

The official per-session schedule of the JOJ Dakar 2026 is not published. ``plan_sessions``
builds a plausible one from each sport's demo days (D1 = 31 October 2026) so the rest of the
platform (tickets, gates, transport) has sessions to work with; callers must show it as
illustrative. Africa/Dakar is UTC+0 all year, so local wall-clock times are UTC.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

GAMES_START = dt.date(2026, 10, 31)
GAMES_END = dt.date(2026, 11, 13)
CONFIDENCE_LEVELS = ("high", "medium", "low", "none")
SESSION_KINDS = ("competition", "ceremony")

_DAY_TOKEN = re.compile(r"^D(\d{1,2})(?:-D(\d{1,2}))?$")


class InvalidDays(ValueError):
    pass


def games_days() -> list[dt.date]:
    """Every day of the Games, 31 October to 13 November 2026."""
    count = (GAMES_END - GAMES_START).days + 1
    return [GAMES_START + dt.timedelta(days=i) for i in range(count)]


def day_date(number: int) -> dt.date:
    """``D<number>`` as a date (D1 = 31 October 2026)."""
    last = (GAMES_END - GAMES_START).days + 1
    if not 1 <= number <= last:
        raise InvalidDays(f"D{number} is outside the Games (D1-D{last})")
    return GAMES_START + dt.timedelta(days=number - 1)


def day_number(day: dt.date) -> int:
    return (day - GAMES_START).days + 1


def parse_days(spec: str) -> list[int]:
    """``"D2-D8"`` -> [2..8], ``"D3, D5"`` -> [3, 5]; sorted, without duplicates."""
    numbers: set[int] = set()
    for token in spec.replace(" ", "").split(","):
        match = _DAY_TOKEN.match(token)
        if match is None:
            raise InvalidDays(f"bad day token {token!r} in {spec!r}")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if last < first:
            raise InvalidDays(f"reversed range {token!r}")
        for n in range(first, last + 1):
            day_date(n)  # validates the bounds
            numbers.add(n)
    return sorted(numbers)


# -- value objects shared with the service and other domains -------------------------------
@dataclass(frozen=True)
class VenueInfo:
    id: uuid.UUID
    code: str
    name: str
    city: str
    lat: float
    lon: float
    coords_confidence: str
    capacity: int | None
    capacity_note: str | None
    kind: str
    sources: str


@dataclass(frozen=True)
class SportInfo:
    id: uuid.UUID
    code: str
    discipline: str
    name_fr: str
    name_en: str
    discipline_fr: str
    discipline_en: str
    venue_confidence: str

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_fr

    def discipline_name(self, lang: str) -> str:
        return self.discipline_en if lang == "en" else self.discipline_fr


@dataclass(frozen=True)
class SessionInfo:
    id: uuid.UUID
    code: str
    kind: str
    day: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    venue_id: uuid.UUID
    venue_code: str
    venue_name: str
    city: str
    sport_id: uuid.UUID | None
    sport_code: str | None
    title_fr: str
    title_en: str
    phase: str
    medal: bool
    illustrative: bool
    venue_confidence: str

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" else self.title_fr


@dataclass(frozen=True)
class VenueSpec:
    """A venue as published by the organiser (input of the loader)."""

    code: str
    name: str
    city: str
    lat: float
    lon: float
    coords_confidence: str
    capacity: int | None
    capacity_note: str | None
    kind: str
    sources: str


@dataclass(frozen=True)
class SportSpec:
    code: str
    discipline: str
    name_fr: str
    name_en: str
    discipline_fr: str
    discipline_en: str
    venue_confidence: str


# -- demo schedule ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SportPlan:
    """What the reference data says about one sport (input of ``plan_sessions``)."""

    code: str
    discipline_fr: str
    discipline_en: str
    venues: tuple[str, ...]
    venue_confidence: str
    days: tuple[int, ...]


@dataclass(frozen=True)
class PlannedSession:
    code: str
    sport_code: str | None
    kind: str
    venue_code: str
    day: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    title_fr: str
    title_en: str
    phase: str
    medal: bool
    illustrative: bool
    venue_confidence: str


# Phase names: (code, French, English).
PHASES = {
    "preliminary": ("Tour préliminaire", "Preliminary round"),
    "semifinal": ("Demi-finales", "Semi-finals"),
    "final": ("Finales", "Finals"),
}

# Sports raced once a day outdoors, in the cool of the morning or with the sea breeze.
_SINGLE_SESSION = {
    "cycling": ((8, 0), (12, 0)),
    "triathlon": ((8, 0), (11, 0)),
    "rowing": ((8, 30), (12, 0)),
    "sailing": ((11, 0), (16, 0)),
    "equestrian": ((15, 0), (18, 30)),
    "archery": ((9, 0), (12, 30)),
}
_MORNING_STARTS = ((9, 0), (9, 30), (10, 0), (10, 30))
_EVENING_STARTS = ((15, 0), (16, 0), (17, 0), (18, 0))


def _at(day: dt.date, hm: tuple[int, int]) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hm[0], hm[1], tzinfo=dt.UTC)


def _phase(index: int, count: int) -> str:
    if index == count - 1:
        return "final"
    if count >= 3 and index == count - 2:
        return "semifinal"
    return "preliminary"


def plan_sessions(sports: Sequence[SportPlan]) -> list[PlannedSession]:
    """A plausible timetable: one or two sessions a day per sport on its demo days.

    Deterministic (same input, same codes and times) so the demo loader is idempotent.
    Sessions at a venue not found in the sources (``venue_confidence == "none"``) are
    flagged ``illustrative``. A sport with two venues alternates: morning at the first,
    evening at the second, finals at the second.
    """
    planned: list[PlannedSession] = []
    for index, sport in enumerate(sports):
        if not sport.venues:
            raise ValueError(f"sport {sport.code} has no venue")
        illustrative = sport.venue_confidence == "none"
        count = len(sport.days)
        for position, number in enumerate(sport.days):
            day = day_date(number)
            phase = _phase(position, count)
            phase_fr, phase_en = PHASES[phase]
            slots: list[tuple[str, tuple[int, int], tuple[int, int], str]] = []
            if sport.code in _SINGLE_SESSION:
                start, end = _SINGLE_SESSION[sport.code]
                slots.append(("1", start, end, sport.venues[-1]))
            else:
                m_start = _MORNING_STARTS[index % len(_MORNING_STARTS)]
                e_start = _EVENING_STARTS[index % len(_EVENING_STARTS)]
                morning_venue = sport.venues[-1] if phase == "final" else sport.venues[0]
                slots.append(("1", m_start, (m_start[0] + 3, m_start[1]), morning_venue))
                slots.append(("2", e_start, (e_start[0] + 3, e_start[1]), sport.venues[-1]))
            for suffix, start, end, venue in slots:
                medal = phase == "final" and suffix == slots[-1][0]
                planned.append(
                    PlannedSession(
                        code=f"{sport.code}-d{number:02d}-{suffix}",
                        sport_code=sport.code,
                        kind="competition",
                        venue_code=venue,
                        day=day,
                        starts_at=_at(day, start),
                        ends_at=_at(day, end),
                        title_fr=f"{sport.discipline_fr} — {phase_fr}",
                        title_en=f"{sport.discipline_en} — {phase_en}",
                        phase=phase,
                        medal=medal,
                        illustrative=illustrative,
                        venue_confidence=sport.venue_confidence,
                    )
                )
    return planned


def plan_ceremony(
    *, code: str, day: int, venue: str, start: str, end: str, title_fr: str, title_en: str
) -> PlannedSession:
    """A ceremony: its date is sourced, its venue and times are not (illustrative)."""
    date = day_date(day)
    sh, sm = (int(x) for x in start.split(":"))
    eh, em = (int(x) for x in end.split(":"))
    return PlannedSession(
        code=f"ceremony-{code}",
        sport_code=None,
        kind="ceremony",
        venue_code=venue,
        day=date,
        starts_at=_at(date, (sh, sm)),
        ends_at=_at(date, (eh, em)),
        title_fr=title_fr,
        title_en=title_en,
        phase=code,
        medal=False,
        illustrative=True,
        venue_confidence="none",
    )


# -- schematic map ------------------------------------------------------------------------------
# Bounding box of the three host cities (Dakar, Diamniadio, Saly) and a rough coastline of the
# Cap-Vert peninsula and the Petite-Côte, drawn by hand: a sketch for orientation, not a map.
MAP_WEST, MAP_EAST, MAP_SOUTH, MAP_NORTH = -17.56, -16.92, 14.38, 14.80
MAP_WIDTH = 360.0
_COS_LAT = 0.9677  # cos(14.6 degrees): keeps distances east-west true at this latitude
_SCALE = MAP_WIDTH / ((MAP_EAST - MAP_WEST) * _COS_LAT)
MAP_HEIGHT = round((MAP_NORTH - MAP_SOUTH) * _SCALE, 1)
COASTLINE: tuple[tuple[float, float], ...] = (  # (lat, lon), land on the east side
    (14.745, -17.53),
    (14.755, -17.51),
    (14.765, -17.47),
    (14.78, -17.40),
    (14.80, -17.30),
    (14.84, -17.10),
    (14.84, -16.90),
    (14.35, -16.90),
    (14.38, -16.96),
    (14.435, -17.01),
    (14.48, -17.08),
    (14.55, -17.11),
    (14.60, -17.15),
    (14.69, -17.23),
    (14.71, -17.27),
    (14.725, -17.33),
    (14.72, -17.39),
    (14.68, -17.42),
    (14.655, -17.43),
    (14.675, -17.47),
    (14.695, -17.48),
    (14.72, -17.50),
)


def project(lat: float, lon: float) -> tuple[float, float]:
    """Equirectangular projection into the SVG's user space (x east, y south)."""
    x = (lon - MAP_WEST) * _COS_LAT * _SCALE
    y = (MAP_NORTH - lat) * _SCALE
    return round(x, 1), round(y, 1)


def coastline_points() -> str:
    return " ".join(f"{x},{y}" for x, y in (project(lat, lon) for lat, lon in COASTLINE))


def city_labels(venues: Iterable[VenueInfo]) -> list[tuple[str, float, float]]:
    """One label per city, at the mean position of its venues."""
    groups: dict[str, list[tuple[float, float]]] = {}
    for v in venues:
        groups.setdefault(v.city, []).append(project(v.lat, v.lon))
    labels = []
    for city, points in sorted(groups.items()):
        x = sum(p[0] for p in points) / len(points)
        y = sum(p[1] for p in points) / len(points)
        labels.append((city, round(x, 1), round(y, 1)))
    return labels
