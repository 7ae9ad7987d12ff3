"""Webhook endpoints (subscriptions), deliveries (one per event x endpoint) and the
ingestion ledger of outbox rows already turned into deliveries."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from teranga.platform.clock import utcnow
from teranga.platform.db import Base, IdMixin, TenantScoped, UTCDateTime


class WebhookEndpoint(IdMixin, TenantScoped, Base):
    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(sa.String(2000))
    description: Mapped[str] = mapped_column(sa.String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(10), default="active")
    # Signing secrets, sealed with the tenant's key (teranga.privacy.api.seal).
    secret_sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)
    previous_secret_sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    previous_secret_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(IdMixin, TenantScoped, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("endpoint_id", "event_id"),
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(sa.String(64))
    event_type: Mapped[str] = mapped_column(sa.String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    last_response: Mapped[str | None] = mapped_column(sa.String(600), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookIngested(Base):
    """Outbox rows the dispatcher has processed (platform-wide, like the outbox itself:
    it holds no tenant data, only row ids)."""

    __tablename__ = "webhook_ingested"

    outbox_id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    ingested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
