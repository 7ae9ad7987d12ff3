"""Read the JOJ Dakar 2026 programme facts shipped in ``teranga/data/joj2026/programme.yaml``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from teranga.programme.domain import (
    PlannedSession,
    SportPlan,
    SportSpec,
    VenueSpec,
    parse_days,
    plan_ceremony,
    plan_sessions,
)

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "joj2026" / "programme.yaml"


@dataclass(frozen=True)
class Programme:
    venues: list[VenueSpec]
    sports: list[SportSpec]
    sessions: list[PlannedSession]


def _day(token: str) -> int:
    days = parse_days(token)
    if len(days) != 1:
        raise ValueError(f"expected one day, got {token!r}")
    return days[0]


def load_reference(path: Path = DATA_FILE) -> Programme:
    """Venues and sports as sourced, plus the demo timetable built from their demo days."""
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    venues = [
        VenueSpec(
            code=str(v["code"]),
            name=str(v["name"]),
            city=str(v["city"]),
            lat=float(v["lat"]),
            lon=float(v["lon"]),
            coords_confidence=str(v["coords_conf"]),
            capacity=int(v["capacity"]) if v.get("capacity") is not None else None,
            capacity_note=str(v["capacity_note"]) if v.get("capacity_note") else None,
            kind=str(v["kind"]),
            sources=str(v["src"]),
        )
        for v in raw["venues"]
    ]
    sports = [
        SportSpec(
            code=str(s["code"]),
            discipline=str(s["discipline"]),
            name_fr=str(s["name_fr"]),
            name_en=str(s["name_en"]),
            discipline_fr=str(s["discipline_fr"]),
            discipline_en=str(s["discipline_en"]),
            venue_confidence=str(s["venue_conf"]),
        )
        for s in raw["sports"]
    ]
    plans = [
        SportPlan(
            code=str(s["code"]),
            discipline_fr=str(s["discipline_fr"]),
            discipline_en=str(s["discipline_en"]),
            venues=tuple(str(v) for v in s["venues"]),
            venue_confidence=str(s["venue_conf"]),
            days=tuple(parse_days(str(s["days"]))),
        )
        for s in raw["sports"]
    ]
    sessions = plan_sessions(plans)
    sessions.extend(
        plan_ceremony(
            code=str(c["code"]),
            day=_day(str(c["day"])),
            venue=str(c["venue"]),
            start=str(c["start"]),
            end=str(c["end"]),
            title_fr=str(c["title_fr"]),
            title_en=str(c["title_en"]),
        )
        for c in raw.get("ceremonies", [])
    )
    return Programme(venues=venues, sports=sports, sessions=sessions)
