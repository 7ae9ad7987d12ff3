"""Programme tables. Tenant-scoped: each organiser publishes its own programme."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from teranga.platform.db import Base, IdMixin, TenantScoped


class Venue(IdMixin, TenantScoped, Base):
    """A competition or non-competition site, with how sure we are of its position."""

    __tablename__ = "programme_venues"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(sa.String(63))
    name: Mapped[str] = mapped_column(sa.String(200))
    city: Mapped[str] = mapped_column(sa.String(100))
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    coords_confidence: Mapped[str] = mapped_column(sa.String(10))
    capacity: Mapped[int | None] = mapped_column(sa.Integer)
    capacity_note: Mapped[str | None] = mapped_column(sa.String(300))
    kind: Mapped[str] = mapped_column(sa.String(20))
    sources: Mapped[str] = mapped_column(sa.String(200))


class Sport(IdMixin, TenantScoped, Base):
    """A sport and its single discipline at these Games (names in French and English)."""

    __tablename__ = "programme_sports"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(sa.String(40))
    discipline: Mapped[str] = mapped_column(sa.String(40))
    name_fr: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    discipline_fr: Mapped[str] = mapped_column(sa.String(100))
    discipline_en: Mapped[str] = mapped_column(sa.String(100))
    venue_confidence: Mapped[str] = mapped_column(sa.String(10))


class CompetitionSession(IdMixin, TenantScoped, Base):
    """A block of competition (or a ceremony) at one venue; what a ticket gives access to.

    ``illustrative`` marks a session whose venue or existence is a demo assumption; pages
    must say so. Times are UTC, which is Africa/Dakar local time.
    """

    __tablename__ = "programme_sessions"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(sa.String(63))
    kind: Mapped[str] = mapped_column(sa.String(20))
    day: Mapped[dt.date] = mapped_column(sa.Date, index=True)
    starts_at: Mapped[dt.datetime] = mapped_column()
    ends_at: Mapped[dt.datetime] = mapped_column()
    venue_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("programme_venues.id", ondelete="RESTRICT"), index=True
    )
    sport_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid, sa.ForeignKey("programme_sports.id", ondelete="RESTRICT"), index=True
    )
    title_fr: Mapped[str] = mapped_column(sa.String(200))
    title_en: Mapped[str] = mapped_column(sa.String(200))
    phase: Mapped[str] = mapped_column(sa.String(20))
    medal: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    illustrative: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    venue_confidence: Mapped[str] = mapped_column(sa.String(10))
