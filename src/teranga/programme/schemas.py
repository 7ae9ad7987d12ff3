"""JSON shapes of the public programme API (open data: venues, sports, sessions)."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field

from teranga.programme.domain import SessionInfo, SportInfo, VenueInfo


class VenueOut(BaseModel):
    id: uuid.UUID
    code: str = Field(examples=["dakar-arena"])
    name: str
    city: str
    lat: float
    lon: float
    coords_confidence: str = Field(description="high | medium | low: how sure the position is")
    capacity: int | None = Field(description="Spectator capacity when published")
    capacity_note: str | None
    kind: str = Field(description="competition | non_competition")
    sources: str = Field(description="Source keys (see data/joj2026/SOURCES.md)")

    @classmethod
    def of(cls, v: VenueInfo) -> VenueOut:
        return cls(
            id=v.id,
            code=v.code,
            name=v.name,
            city=v.city,
            lat=v.lat,
            lon=v.lon,
            coords_confidence=v.coords_confidence,
            capacity=v.capacity,
            capacity_note=v.capacity_note,
            kind=v.kind,
            sources=v.sources,
        )


class SportOut(BaseModel):
    id: uuid.UUID
    code: str = Field(examples=["athletics"])
    discipline: str
    name_fr: str
    name_en: str
    discipline_fr: str
    discipline_en: str
    venue_confidence: str = Field(description="high | medium | low | none (venue not found)")

    @classmethod
    def of(cls, s: SportInfo) -> SportOut:
        return cls(
            id=s.id,
            code=s.code,
            discipline=s.discipline,
            name_fr=s.name_fr,
            name_en=s.name_en,
            discipline_fr=s.discipline_fr,
            discipline_en=s.discipline_en,
            venue_confidence=s.venue_confidence,
        )


class SessionOut(BaseModel):
    id: uuid.UUID
    code: str = Field(examples=["athletics-d02-1"])
    kind: str = Field(description="competition | ceremony")
    day: dt.date
    starts_at: dt.datetime = Field(description="UTC (Africa/Dakar local time is UTC)")
    ends_at: dt.datetime
    venue_id: uuid.UUID
    venue_code: str
    sport_id: uuid.UUID | None
    sport_code: str | None
    title_fr: str
    title_en: str
    phase: str
    medal: bool
    illustrative: bool = Field(description="Demo assumption (venue or schedule not published)")
    venue_confidence: str

    @classmethod
    def of(cls, s: SessionInfo) -> SessionOut:
        return cls(
            id=s.id,
            code=s.code,
            kind=s.kind,
            day=s.day,
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            venue_id=s.venue_id,
            venue_code=s.venue_code,
            sport_id=s.sport_id,
            sport_code=s.sport_code,
            title_fr=s.title_fr,
            title_en=s.title_en,
            phase=s.phase,
            medal=s.medal,
            illustrative=s.illustrative,
            venue_confidence=s.venue_confidence,
        )
