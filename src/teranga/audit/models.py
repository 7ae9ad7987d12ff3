"""Audit tables: entries (append-only; a trigger refuses UPDATE/DELETE on PostgreSQL) and
one head row per tenant, locked to serialise appends and used to detect truncation."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from teranga.platform.db import Base, IdMixin, TenantScoped, UTCDateTime


class AuditEntry(IdMixin, TenantScoped, Base):
    __tablename__ = "audit_entries"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "seq"),)

    seq: Mapped[int] = mapped_column(sa.BigInteger)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    action: Mapped[str] = mapped_column(sa.String(80), index=True)
    target_type: Mapped[str] = mapped_column(sa.String(40))
    target_id: Mapped[str] = mapped_column(sa.String(80))
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class AuditHead(IdMixin, TenantScoped, Base):
    __tablename__ = "audit_heads"
    __table_args__ = (sa.UniqueConstraint("tenant_id"),)

    seq: Mapped[int] = mapped_column(sa.BigInteger)
    hash: Mapped[str] = mapped_column(sa.String(64))
