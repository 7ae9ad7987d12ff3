from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from teranga.access.domain import Direction


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    session_ids: list[uuid.UUID] = Field(default_factory=list, max_length=500)
    zone_nos: list[int] = Field(default_factory=list, max_length=200)
    category_nos: list[int] = Field(default_factory=list, max_length=200)
    badge_zones: list[str] = Field(default_factory=list, max_length=50)
    accreditation_roles: list[str] = Field(default_factory=list, max_length=10)
    opens_at: dt.datetime | None = None
    closes_at: dt.datetime | None = None
    allow_reentry: bool = False
    exit_scans: bool = False


class ListOut(BaseModel):
    id: uuid.UUID
    name: str
    session_ids: list[uuid.UUID]
    zone_nos: list[int]
    category_nos: list[int]
    badge_zones: list[str]
    accreditation_roles: list[str]
    opens_at: dt.datetime | None
    closes_at: dt.datetime | None
    allow_reentry: bool
    exit_scans: bool


class GateIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    cluster: str = Field(default="", max_length=100)
    list_ids: list[uuid.UUID] = Field(min_length=1, max_length=50)


class GateOut(BaseModel):
    id: uuid.UUID
    name: str
    cluster: str
    list_ids: list[uuid.UUID]


class ScanIn(Strict):
    text: str = Field(min_length=1, max_length=400, description="QR content or short code")
    scanner_id: str = Field(min_length=1, max_length=64)
    nonce: str = Field(
        min_length=1,
        max_length=64,
        description="Unique per scan; a rescan with the same nonce returns the recorded answer",
    )
    direction: Direction = Direction.IN


class ScanOut(BaseModel):
    accepted: bool
    reason: str
    message: str
    entered_gate: str | None = None
    entered_at: dt.datetime | None = None
    credential_kind: Literal["ticket", "badge"] | None = None
    credential_id: uuid.UUID | None = None
    replayed: bool = False


class OverrideIn(Strict):
    text: str = Field(min_length=1, max_length=400)
    reason: str = Field(min_length=5, max_length=300)
    scanner_id: str = Field(min_length=1, max_length=64)
    nonce: str = Field(min_length=1, max_length=64)


class OfflineScanIn(Strict):
    nonce: str = Field(min_length=1, max_length=64)
    list_id: uuid.UUID | None = None
    credential_id: uuid.UUID | None = None
    at: dt.datetime
    direction: Direction = Direction.IN
    accepted: bool
    reason: str = Field(max_length=32)


class SyncIn(Strict):
    scanner_id: str = Field(min_length=1, max_length=64)
    scans: list[OfflineScanIn] = Field(max_length=5000)


class SyncOutcomeOut(BaseModel):
    nonce: str
    status: Literal["recorded", "duplicate", "conflict"]


class SyncOut(BaseModel):
    outcomes: list[SyncOutcomeOut]
    conflicts: int


class ConflictOut(BaseModel):
    id: uuid.UUID
    credential_id: uuid.UUID
    list_id: uuid.UUID
    first_gate: str
    first_at: dt.datetime
    second_gate: str
    second_at: dt.datetime
    detected_at: dt.datetime


class AccreditationIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    organisation: str = Field(min_length=1, max_length=200)
    role: str
    zones: list[str] = Field(default_factory=list, max_length=20)
    valid_from: dt.datetime
    valid_until: dt.datetime


class AccreditationOut(BaseModel):
    id: uuid.UUID
    name: str
    organisation: str
    role: str
    zones: list[str]
    valid_from: dt.datetime
    valid_until: dt.datetime
    revoked: bool
    qr_text: str
