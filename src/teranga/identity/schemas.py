"""Request and response bodies of the identity API."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["scanner porte Nord"])
    scopes: list[str] = Field(min_length=1, max_length=50, examples=[["access.scan.*"]])
    expires_days: int | None = Field(default=90, ge=1, le=3650)


class TokenCreated(BaseModel):
    """The secret appears in this response only; store it now."""

    id: uuid.UUID
    prefix: str
    token: str
    name: str
    scopes: list[str]
    expires_at: dt.datetime | None


class Me(BaseModel):
    user_id: uuid.UUID
    email: str
    display_name: str
    tenant_id: uuid.UUID
    roles: list[str]
    scopes: list[str] | None
    via: str


class UserCreate(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    display_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=256)
    role: str


class RoleGrant(BaseModel):
    role: str


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str
    active: bool
    roles: list[str]
