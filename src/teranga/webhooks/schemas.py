"""Webhook API schemas. Secrets appear only in ``EndpointWithSecret`` (create, rotate)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EXAMPLE_TYPES = ["ticketing.order.paid", "results.unit.official"]


class EndpointIn(BaseModel):
    url: str = Field(
        max_length=2000,
        description="HTTPS URL receiving POSTed events",
        examples=["https://hooks.example.sn/teranga"],
    )
    event_types: list[str] = Field(
        min_length=1,
        max_length=50,
        description="Event types to receive, or ['*'] for all",
        examples=[EXAMPLE_TYPES],
    )
    description: str = Field(default="", max_length=200)


class EndpointPatch(BaseModel):
    url: str | None = Field(default=None, max_length=2000)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=200)
    status: Literal["active", "paused"] | None = None


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    previous_secret_until: dt.datetime | None = Field(
        default=None, description="Until when the previous secret still signs (after rotation)"
    )


class EndpointWithSecret(EndpointOut):
    secret: str = Field(
        description="Signing secret (whsec_...): shown once, store it now",
    )


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: str = Field(description="The webhook-id header: the same on every retry")
    event_type: str
    status: str = Field(description="pending, succeeded or failed")
    attempts: int
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    last_response: str | None = Field(description="Start of the receiver's answer (truncated)")
    created_at: dt.datetime
    delivered_at: dt.datetime | None


class EventTypeOut(BaseModel):
    name: str
    description: str
    fields: list[str]
