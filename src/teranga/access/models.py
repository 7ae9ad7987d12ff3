from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from teranga.platform.clock import utcnow
from teranga.platform.db import Base, IdMixin, TenantScoped


class Gate(IdMixin, TenantScoped, Base):
    """A physical gate; gates of one cluster (an entrance with several lanes) share entries."""

    __tablename__ = "access_gates"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(sa.String(100))
    cluster: Mapped[str] = mapped_column(sa.String(100))
    list_ids: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # HMAC key of the short-code digests in this gate's offline bundle (teranga.access.codes);
    # NULL until first needed, and set back to NULL (or replaced) to rotate it.
    code_salt: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)


class CheckinList(IdMixin, TenantScoped, Base):
    __tablename__ = "access_lists"

    name: Mapped[str] = mapped_column(sa.String(200))
    session_ids: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    zone_nos: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    category_nos: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    badge_zones: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    accreditation_roles: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    opens_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    closes_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    allow_reentry: Mapped[bool] = mapped_column(default=False)
    exit_scans: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PresenceRow(TenantScoped, Base):
    """Where a credential is for one list. The primary key makes the first entry unique:
    concurrent scans race on the INSERT and exactly one wins."""

    __tablename__ = "access_presence"

    # No index of its own: the primary key starts with it.
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True
    )
    list_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    credential_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    inside: Mapped[bool] = mapped_column(default=True)
    gate: Mapped[str] = mapped_column(sa.String(100))
    at: Mapped[dt.datetime] = mapped_column()
    entries: Mapped[int] = mapped_column(default=1)


class ScanRow(IdMixin, TenantScoped, Base):
    """Every scan, accepted or not, online or synced from an offline scanner."""

    __tablename__ = "access_scans"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "scanner_id", "nonce"),)

    # No index of its own: the unique key above starts with it.
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False
    )

    scanner_id: Mapped[str] = mapped_column(sa.String(64))
    nonce: Mapped[str] = mapped_column(sa.String(64))
    credential_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True, index=True)
    list_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    gate: Mapped[str] = mapped_column(sa.String(100))
    at: Mapped[dt.datetime] = mapped_column()
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    direction: Mapped[str] = mapped_column(sa.String(3))
    accepted: Mapped[bool] = mapped_column()
    reason: Mapped[str] = mapped_column(sa.String(32))
    online: Mapped[bool] = mapped_column()
    agent_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    override_reason: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)


class ConflictRow(IdMixin, TenantScoped, Base):
    """A credential admitted twice by scanners that could not see each other."""

    __tablename__ = "access_conflicts"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "second_scan_id"),)

    credential_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    list_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    first_scan_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    second_scan_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    first_gate: Mapped[str] = mapped_column(sa.String(100))
    second_gate: Mapped[str] = mapped_column(sa.String(100))
    first_at: Mapped[dt.datetime] = mapped_column()
    second_at: Mapped[dt.datetime] = mapped_column()
    detected_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved: Mapped[bool] = mapped_column(default=False)


class BadgeKey(TenantScoped, Base):
    """The tenant's badge signing keys (Ed25519); the private key is sealed."""

    __tablename__ = "access_badge_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    key_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary)
    private_key_sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Accreditation(IdMixin, TenantScoped, Base):
    """A person accredited to zones (athlete, official, media, volunteer...)."""

    __tablename__ = "access_accreditations"

    name_sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)
    organisation: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(20))
    zones: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    valid_from: Mapped[dt.datetime] = mapped_column()
    valid_until: Mapped[dt.datetime] = mapped_column()
    photo_sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    photo_type: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    key_id: Mapped[int] = mapped_column(sa.Integer)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
