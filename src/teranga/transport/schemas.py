"""Transport API schemas (documented in OpenAPI)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PlaceOut(BaseModel):
    stop_id: str | None = None
    name: str
    lat: float | None = None
    lon: float | None = None


class RouteOut(BaseModel):
    id: str
    name: str
    type: int
    color: str


class FareOut(BaseModel):
    fare_id: str = Field(description="FEEDID:FARE_ID from fare_attributes.txt")
    price: int = Field(description="whole currency units (XOF has no minor unit)")
    currency: str = Field(description="ISO 4217, from the feed")
    transfer: bool = Field(description="covered by the ticket bought on an earlier leg")


class TotalFareOut(BaseModel):
    price: int
    currency: str


class LegOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    mode: str = Field(description='"transit" or "walk"')
    from_: PlaceOut = Field(alias="from")
    to: PlaceOut
    departure: str = Field(description="ISO 8601, Dakar time")
    arrival: str
    trip_id: str | None = None
    headsign: str | None = None
    route: RouteOut | None = None
    stops: list[PlaceOut] | None = Field(default=None, description="stops served on the leg")
    shape: list[list[float]] | None = Field(
        default=None, description="[lat, lon] points of the trip's shape over the leg"
    )
    fare: FareOut | None = Field(default=None, description="null when the feed has no fare")


class JourneyOut(BaseModel):
    departure: str
    arrival: str
    duration_min: int
    transfers: int
    total_fare: TotalFareOut | None = Field(
        default=None, description="null when a transit leg has no known fare"
    )
    legs: list[LegOut]


class PlanOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    date: str
    journeys: list[JourneyOut] = Field(description="earliest arrival first")


class StopOut(BaseModel):
    stop_id: str = Field(description="FEEDID:STOP_ID")
    name: str
    lat: float
    lon: float


class ImportOut(BaseModel):
    feed_id: str
    status: str = Field(description='"imported", "unchanged" or "rejected"')
    usable: bool
    errors: int
    warnings: int
    report: dict[str, Any]


class FeedOut(BaseModel):
    feed_id: str
    content_hash: str
    overrides: dict[str, Any]
    imported_at: str
    report: dict[str, Any]


class ShuttleStopIn(BaseModel):
    id: str = Field(max_length=64)
    name: str = Field(max_length=200)
    lat: float
    lon: float
    minutes: int = Field(ge=0, le=600, description="running minutes from the first stop")


class ShuttleLineIn(BaseModel):
    id: str = Field(max_length=64)
    name: str = Field(max_length=200)
    stops: list[ShuttleStopIn] = Field(min_length=2, max_length=60)
    start_date: dt.date
    end_date: dt.date
    first: str = Field(default="07:00", pattern=r"^\d{2}:\d{2}$")
    last: str = Field(default="23:00", pattern=r"^\d{2}:\d{2}$")
    headway_min: int | None = Field(default=15, ge=1, le=180)
    departures: list[str] = Field(default_factory=list, max_length=300)
    days: list[bool] = Field(default_factory=lambda: [True] * 7, min_length=7, max_length=7)
    one_way: bool = False


class ShuttlesIn(BaseModel):
    lines: list[ShuttleLineIn] = Field(min_length=1, max_length=50)
