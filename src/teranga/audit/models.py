"""Audit tables (all append-only on PostgreSQL, through triggers, except the pending queue).

- ``audit_entries``: what happened, with its RFC 6962 leaf hash; written by ``record`` in
  the caller's transaction, with no sequence number and no lock.
- ``audit_pending``: entries committed but not yet in the tree (Trillian's "unsequenced"
  queue); the integrator drains it.
- ``audit_leaves``: the tree, one row per leaf: gapless per-tenant ``seq`` (1-based; leaf
  index = seq - 1) pointing at an entry and carrying its leaf hash.
- ``audit_tree_heads``: a signed tree head per integration pass, with the compact range
  (``frontier``) the next pass extends.
- ``audit_signing_keys``: each tenant's Ed25519 key, the private half sealed under a data
  key wrapped by the KMS key ``audit-signing`` (not the tenant's KEK: shredding a tenant's
  personal data must leave its audit trail verifiable).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from teranga.platform.clock import utcnow
from teranga.platform.db import Base, IdMixin, TenantScoped, UTCDateTime


class AuditEntry(IdMixin, TenantScoped, Base):
    __tablename__ = "audit_entries"

    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    action: Mapped[str] = mapped_column(sa.String(80), index=True)
    target_type: Mapped[str] = mapped_column(sa.String(40))
    target_id: Mapped[str] = mapped_column(sa.String(80))
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    leaf_hash: Mapped[str] = mapped_column(sa.String(64))


class AuditPending(TenantScoped, Base):
    __tablename__ = "audit_pending"

    entry_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)


class AuditLeaf(IdMixin, TenantScoped, Base):
    __tablename__ = "audit_leaves"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "seq"), sa.UniqueConstraint("entry_id"))

    seq: Mapped[int] = mapped_column(sa.BigInteger)
    entry_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    leaf_hash: Mapped[str] = mapped_column(sa.String(64))


class AuditTreeHead(IdMixin, TenantScoped, Base):
    __tablename__ = "audit_tree_heads"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "tree_size"),)

    tree_size: Mapped[int] = mapped_column(sa.BigInteger)
    root_hash: Mapped[str] = mapped_column(sa.String(64))
    timestamp_ms: Mapped[int] = mapped_column(sa.BigInteger)
    signature: Mapped[str] = mapped_column(sa.String(128))
    frontier: Mapped[list[str]] = mapped_column(sa.JSON)


class AuditSigningKey(TenantScoped, Base):
    __tablename__ = "audit_signing_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary)
    kek_id: Mapped[str] = mapped_column(sa.String(100))
    wrapped_dek: Mapped[bytes] = mapped_column(sa.LargeBinary)
    private_key_sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
