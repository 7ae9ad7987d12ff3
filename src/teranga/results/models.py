"""Results tables: units, their current lines, every version, participants, ODF log.

Medal standings are not stored: they are computed from official medal units' lines, so a
correction to an official result moves the table with no second source of truth.
Competitor names are stored in clear on purpose: results are published as soon as they are
entered (they are the public record of the Games), unlike spectators' personal data.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from teranga.platform.clock import utcnow
from teranga.platform.db import Base, IdMixin, TenantScoped


class Unit(IdMixin, TenantScoped, Base):
    """A heat, match or final, identified by its RSC within the tenant."""

    __tablename__ = "results_units"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(sa.String(34))
    sport: Mapped[str] = mapped_column(sa.String(40), index=True)
    event: Mapped[str] = mapped_column(sa.String(18))
    phase: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str] = mapped_column(sa.String(200))
    name_fr: Mapped[str] = mapped_column(sa.String(200))
    venue: Mapped[str] = mapped_column(sa.String(200))
    scheduled_at: Mapped[dt.datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(sa.String(20))
    medal: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    result_status: Mapped[str] = mapped_column(sa.String(20), default="")
    version: Mapped[int] = mapped_column(sa.Integer, default=0)
    official: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class UnitLine(IdMixin, TenantScoped, Base):
    """A competitor's current line in a unit (start order, then rank and mark)."""

    __tablename__ = "results_lines"
    __table_args__ = (sa.UniqueConstraint("unit_id", "participant"),)

    unit_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("results_units.id", ondelete="CASCADE"), index=True
    )
    participant: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(120))
    noc: Mapped[str] = mapped_column(sa.String(3), index=True)
    start_order: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    rank: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    mark: Mapped[str] = mapped_column(sa.String(40))
    irm: Mapped[str] = mapped_column(sa.String(5))


class UnitVersion(IdMixin, TenantScoped, Base):
    """Every version of a unit's lines, kept for corrections and audit."""

    __tablename__ = "results_versions"
    __table_args__ = (sa.UniqueConstraint("unit_id", "version"),)

    unit_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("results_units.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(sa.Integer)
    result_status: Mapped[str] = mapped_column(sa.String(20))
    official: Mapped[bool] = mapped_column(sa.Boolean)
    source: Mapped[str] = mapped_column(sa.String(20))  # scorer | odf
    author_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Participant(IdMixin, TenantScoped, Base):
    """An athlete or team known from DT_PARTIC, to name result lines that carry codes only."""

    __tablename__ = "results_participants"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(120))
    noc: Mapped[str] = mapped_column(sa.String(3))


class OdfDocument(IdMixin, TenantScoped, Base):
    """Highest version applied per ODF document key; the row is locked while importing."""

    __tablename__ = "results_odf_documents"
    __table_args__ = (
        sa.UniqueConstraint(
            "tenant_id",
            "competition",
            "document_code",
            "document_type",
            name="uq_results_odf_documents_key",  # the default name passes 63 characters
        ),
    )

    competition: Mapped[str] = mapped_column(sa.String(20))
    document_code: Mapped[str] = mapped_column(sa.String(34))
    document_type: Mapped[str] = mapped_column(sa.String(20))
    version: Mapped[int] = mapped_column(sa.Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OdfImport(IdMixin, TenantScoped, Base):
    """Log of every ODF message received, with its outcome and reason."""

    __tablename__ = "results_odf_imports"

    competition: Mapped[str] = mapped_column(sa.String(20))
    document_code: Mapped[str] = mapped_column(sa.String(34))
    document_type: Mapped[str] = mapped_column(sa.String(20))
    version: Mapped[int] = mapped_column(sa.Integer)
    outcome: Mapped[str] = mapped_column(sa.String(20))  # applied|duplicate|stale|rejected
    reason: Mapped[str] = mapped_column(sa.String(500))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
