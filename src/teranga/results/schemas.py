"""Pydantic shapes of the results API (documented in OpenAPI)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from teranga.results.domain import Line


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participant: str = Field(min_length=1, max_length=40, examples=["1001"])
    name: str = Field(default="", max_length=120, examples=["Moussa DIALLO"])
    noc: str = Field(min_length=3, max_length=3, examples=["SEN"])
    start_order: int | None = Field(default=None, ge=1, le=10_000)
    rank: int | None = Field(default=None, ge=1, le=10_000)
    mark: str = Field(default="", max_length=40, examples=["10.21"])
    irm: str = Field(default="", max_length=5, examples=["DNF"])

    def to_line(self) -> Line:
        return Line(
            participant=self.participant,
            name=self.name,
            noc=self.noc,
            start_order=self.start_order,
            rank=self.rank,
            mark=self.mark,
            irm=self.irm,
        )


class LinesIn(BaseModel):
    """A full new version of the unit's lines (start list or results)."""

    model_config = ConfigDict(extra="forbid")

    result_status: str = Field(examples=["UNOFFICIAL"])
    lines: list[LineIn] = Field(max_length=500)
    expected_version: int | None = Field(
        default=None, description="The version you edited; 409 if someone changed it since."
    )


class OfficialIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expected_version: int | None = None


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str = Field(examples=["RUNNING"])


class UnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Men's 100m Final"])
    name_fr: str = Field(default="", max_length=200, examples=["100 m hommes, finale"])
    venue: str = Field(default="", max_length=200)
    phase: str = Field(default="", max_length=20)
    scheduled_at: dt.datetime
    status: str = "SCHEDULED"
    medal: bool = False


class LineOut(BaseModel):
    participant: str
    name: str
    noc: str
    start_order: int | None
    rank: int | None
    mark: str
    irm: str


class LeaderOut(BaseModel):
    name: str
    noc: str
    mark: str


class UnitSummaryOut(BaseModel):
    code: str
    sport: str
    name: str
    name_fr: str
    phase: str
    venue: str
    scheduled_at: str
    status: str
    result_status: str
    official: bool
    medal: bool
    version: int
    leader: LeaderOut | None = None


TOPIC_HELP = (
    "The live topic to follow from ``seq`` (``/api/v1/streams/{topic}``), namespaced by the "
    "tenant: ``public.<tenant-slug>...``. Use it as given rather than building it."
)


class UnitOut(UnitSummaryOut):
    seq: int = Field(description="Last sequence number of the unit's topic covered.")
    topic: str = Field(
        description=TOPIC_HELP,
        examples=["public.joj-dakar-2026.results.unit.ATHM100M--------------FNL-000100--"],
    )
    lines: list[LineOut]


class ScheduleOut(BaseModel):
    day: dt.date
    seq: int
    topic: str = Field(description=TOPIC_HELP, examples=["public.joj-dakar-2026.schedule"])
    units: list[UnitSummaryOut]


class SportOut(BaseModel):
    sport: str
    seq: int
    topic: str = Field(
        description=TOPIC_HELP, examples=["public.joj-dakar-2026.results.sport.athletics"]
    )
    units: list[UnitSummaryOut]


class MedalRowOut(BaseModel):
    rank: int
    noc: str
    gold: int
    silver: int
    bronze: int
    total: int


class MedalsOut(BaseModel):
    seq: int
    topic: str = Field(description=TOPIC_HELP, examples=["public.joj-dakar-2026.medals"])
    rows: list[MedalRowOut]


class ImportOut(BaseModel):
    outcome: str = Field(description="applied, duplicate, stale or rejected")
    document_type: str
    document_code: str
    version: int
    reason: str
    code: str


class VersionOut(BaseModel):
    version: int
    result_status: str
    official: bool
    source: str
    created_at: str
    lines: list[LineOut]
