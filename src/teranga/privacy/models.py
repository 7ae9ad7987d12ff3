from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from teranga.platform.clock import utcnow
from teranga.platform.db import Base, IdMixin, TenantScoped


class TenantDataKey(IdMixin, TenantScoped, Base):
    """A tenant data key (DEK), stored only wrapped by the tenant's KEK in the KMS.

    Versions only grow: the highest one seals new values, every one still present opens
    the values sealed with it. Crypto-shredding deletes the rows and destroys the KEK, so a
    restored backup holding the rows cannot unwrap them either.
    """

    __tablename__ = "tenant_data_keys"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "version"),)

    version: Mapped[int] = mapped_column(sa.Integer)
    kek_id: Mapped[str] = mapped_column(sa.String(100))
    wrapped_dek: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    rewrapped_at: Mapped[dt.datetime | None] = mapped_column(default=None)
