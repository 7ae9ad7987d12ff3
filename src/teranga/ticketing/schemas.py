"""Request and response bodies of the ticketing JSON API (``/api/v1/ticketing``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")  # mass-assignment protection


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# -- catalogue -------------------------------------------------------------------------


class EventIn(_In):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    programme_event_id: uuid.UUID | None = None


class EventOut(_Out):
    id: uuid.UUID
    name: str
    description: str
    status: str
    key_id: int


class SessionIn(_In):
    name: str = Field(min_length=1, max_length=200)
    starts_at: dt.datetime
    ends_at: dt.datetime
    sale_starts_at: dt.datetime
    sale_ends_at: dt.datetime | None = None
    venue_id: str | None = Field(default=None, max_length=100)
    venue_name: str = Field(default="", max_length=200)
    capacity: int | None = Field(default=None, ge=0)
    per_order_limit: int = Field(default=10, ge=1, le=100)
    per_person_limit: int | None = Field(default=None, ge=1)
    require_id_number: bool = False
    hold_minutes: int = Field(default=10, ge=1, le=60)
    programme_session_id: uuid.UUID | None = None


class SessionOut(_Out):
    id: uuid.UUID
    event_id: uuid.UUID
    name: str
    venue_id: str | None
    venue_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    sale_starts_at: dt.datetime
    sale_ends_at: dt.datetime
    hold_minutes: int
    capacity: int | None
    per_order_limit: int
    per_person_limit: int | None
    status: str
    illustrative: bool


class SeatGridIn(_In):
    section: str = Field(min_length=1, max_length=40)
    rows: list[str] = Field(min_length=1, max_length=200)
    per_row: int = Field(ge=1, le=500)
    accessible_rows: list[str] = Field(default_factory=list)


class ZoneIn(_In):
    name: str = Field(min_length=1, max_length=200)
    capacity: int | None = Field(default=None, ge=0, le=200_000)
    seat_grids: list[SeatGridIn] | None = None


class ZoneOut(_Out):
    id: uuid.UUID
    number: int
    name: str
    seated: bool
    capacity: int
    taken: int


class CategoryIn(_In):
    zone_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    price_xof: int = Field(ge=0, le=10_000_000, description="Integer francs CFA; 0 is free")
    quota: int | None = Field(default=None, ge=0)


class CategoryOut(_Out):
    id: uuid.UUID
    zone_id: uuid.UUID
    number: int
    name: str
    price_xof: int
    quota: int | None


class QuotaIn(_In):
    quota: int = Field(ge=0)


class AvailabilityOut(BaseModel):
    category_id: uuid.UUID
    category: str
    zone_id: uuid.UUID
    zone: str
    seated: bool
    price_xof: int
    left: int


class SessionDetailOut(BaseModel):
    session: SessionOut
    zones: list[ZoneOut]
    categories: list[CategoryOut]
    availability: list[AvailabilityOut]


class SeatOut(_Out):
    id: uuid.UUID
    zone_id: uuid.UUID
    section: str
    row: str
    label: str
    accessible: bool = Field(description="Suitable for a wheelchair user")
    free: bool = Field(description="False while a hold or a sale has the seat")


# -- sales -----------------------------------------------------------------------------


class HoldIn(_In):
    category_id: uuid.UUID
    quantity: int | None = Field(default=None, ge=1, le=100)
    seat_ids: list[uuid.UUID] | None = Field(default=None, max_length=100)


class PlaceOut(_Out):
    line_id: uuid.UUID
    zone: str
    category: str
    price_xof: int
    seat: str | None
    accessible: bool
    status: str


class HoldOut(_Out):
    id: uuid.UUID
    session_id: uuid.UUID
    status: str
    channel: str
    quantity: int
    expires_at: dt.datetime
    total_xof: int
    places: list[PlaceOut]


class TicketOut(_Out):
    id: uuid.UUID
    order_id: uuid.UUID
    session_id: uuid.UUID
    code: str = Field(description="Short code, 10 characters with a Luhn mod 32 check")
    status: str
    zone: str
    category: str
    seat: str | None
    price_xof: int
    qr: str = Field(description="Base45 text of the Ed25519-signed binary payload")
    valid_from: dt.datetime
    valid_until: dt.datetime
    issued_at: dt.datetime


class OrderOut(_Out):
    id: uuid.UUID
    reference: str
    session_id: uuid.UUID
    hold_id: uuid.UUID
    channel: str
    status: str
    total_xof: int
    refunded_xof: int
    payment_status: str
    hold_expires_at: dt.datetime
    created_at: dt.datetime
    paid_at: dt.datetime | None
    places: list[PlaceOut]
    tickets: list[TicketOut] = Field(
        description="Valid tickets the buyer's phone still holds (all of them for staff)"
    )
    transferred_line_ids: list[uuid.UUID] = Field(
        default_factory=list,
        description="Places whose ticket was given to another phone: only its holder sees it",
    )


class PaymentIn(_In):
    provider: str = Field(min_length=1, max_length=40)
    phone: str | None = Field(default=None, max_length=32)
    return_url: str | None = Field(default=None, max_length=500)


class OrderIn(_In):
    phone: str = Field(min_length=6, max_length=32, description="Buyer's phone, +221...")
    id_number: str | None = Field(default=None, max_length=64)
    payment: PaymentIn | None = Field(
        default=None,
        description="Start paying in the same request (one round trip fewer on a slow "
        "network): the answer's ``payment`` is what ``POST /orders/{id}/payments`` "
        "would return. Ignored for a free order, which is issued at once.",
    )


class PaymentOut(BaseModel):
    payment_id: uuid.UUID
    order_id: uuid.UUID
    provider: str
    status: str
    amount_xof: int
    action_kind: str | None
    redirect_url: str | None
    instructions: str | None
    qr_payload: str | None
    expires_at: dt.datetime | None


class OrderCreatedOut(BaseModel):
    order: OrderOut
    access_token: str = Field(
        description="Secret for X-Order-Token: shown once, lets the buyer see and move tickets"
    )
    payment: PaymentOut | None = Field(
        default=None,
        description="The payment started with the order, when the request asked for one. "
        "Null when it did not, for a free order, or when the order stands but its payment "
        "could not start: pay it with ``POST /orders/{id}/payments``.",
    )


class TransferIn(_In):
    to_phone: str = Field(min_length=6, max_length=32)


class TransferOut(_Out):
    status: Literal["transferred"]
    ticket_id: uuid.UUID = Field(
        description="The new ticket, sent by SMS to its holder (its code is not shown here)"
    )
    replaced_ticket_id: uuid.UUID = Field(description="The ticket given, now revoked")
    to_phone_masked: str = Field(examples=["+221 ••• •• 12"])


class HeldTicketSessionOut(_Out):
    id: uuid.UUID
    name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    venue_name: str


class HeldTicketOut(BaseModel):
    """A ticket seen through its holder's own link; ``ticket`` (code, QR) while valid."""

    id: uuid.UUID
    status: str = Field(description="valid, revoked (transferred on) or void (refunded)")
    zone: str
    category: str
    seat: str | None
    session: HeldTicketSessionOut
    ticket: TicketOut | None


class RefundIn(_In):
    line_ids: list[uuid.UUID] | None = None
    reason: str = Field(min_length=1, max_length=200)


class RefundOut(BaseModel):
    order_id: uuid.UUID
    amount_xof: int
    money: Literal["provider", "cash", "none"]
    payment_refund_status: str | None = None


class SessionCancelOut(BaseModel):
    session_id: uuid.UUID
    refunds: list[RefundOut]


class BoxOfficeSaleIn(_In):
    session_id: uuid.UUID
    category_id: uuid.UUID
    quantity: int | None = Field(default=None, ge=1, le=100)
    seat_ids: list[uuid.UUID] | None = None
    phone: str | None = Field(default=None, max_length=32)


class PhoneLookupIn(_In):
    phone: str = Field(min_length=6, max_length=32)


class CodeCheckOut(BaseModel):
    valid: bool
    reason: str
    ticket: TicketOut | None


# -- keys, revocations, dashboard -------------------------------------------------------


class PublicKeyOut(_Out):
    key_id: int
    event_id: uuid.UUID
    algorithm: str
    public_key: str = Field(description="Base64 of the raw 32-byte Ed25519 public key")
    created_at: dt.datetime
    retired_at: dt.datetime | None


class KeysOut(BaseModel):
    payload_version: int
    keys: list[PublicKeyOut]


class RevocationOut(_Out):
    ticket_id: uuid.UUID
    session_id: uuid.UUID
    status: str
    revoked_at: dt.datetime


class RevocationsOut(BaseModel):
    until: dt.datetime | None = Field(description="Pass as ?since= next time")
    revocations: list[RevocationOut]


class CategoryStatsOut(_Out):
    category_id: uuid.UUID
    category: str
    zone: str
    price_xof: int
    sold: int
    held: int
    left: int
    revenue_xof: int


class SessionStatsOut(_Out):
    session_id: uuid.UUID
    name: str
    status: str
    capacity: int
    sold: int
    held: int
    left: int
    revenue_xof: int
    categories: list[CategoryStatsOut]
