from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from teranga.platform.clock import utcnow
from teranga.platform.db import Base
from teranga.platform.ids import new_id


class Tenant(Base):
    """A controller of personal data: an organising committee, an administration, a business.

    Loi 2008-12 asks a non-resident controller for a representative in Senegal, and every
    controller for a DPO contact: onboarding records both (security reference L10).
    """

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(sa.String(63), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    legal_entity: Mapped[str] = mapped_column(sa.String(200))
    representative_sn: Mapped[str] = mapped_column(sa.String(200))
    dpo_contact: Mapped[str] = mapped_column(sa.String(200))
    allowed_jurisdictions: Mapped[list[str]] = mapped_column(sa.JSON, default=lambda: ["SN"])
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
