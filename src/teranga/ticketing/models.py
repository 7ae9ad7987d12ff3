"""Ticketing tables. Counters (``taken``) sit next to their capacity with a CHECK constraint.

Inventory rules enforced by the database itself, whatever the code does:

* ``taken <= capacity`` on sessions, zones, price categories and channel quotas;
* one live place per seat: partial UNIQUE ``(session_id, seat_id)`` on order lines that are
  ``held`` or ``sold``, and on tickets that are ``valid``;
* one valid ticket per place: partial UNIQUE ``(line_id)`` on valid tickets.
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from teranga.platform.clock import utcnow
from teranga.platform.db import Base, IdMixin, TenantScoped, UTCDateTime

LIVE_LINE = sa.text("status IN ('held', 'sold') AND seat_id IS NOT NULL")
VALID_TICKET_SEAT = sa.text("status = 'valid' AND seat_id IS NOT NULL")
VALID_TICKET = sa.text("status = 'valid'")


class TicketedEvent(IdMixin, TenantScoped, Base):
    __tablename__ = "ticketing_events"

    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    programme_event_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SigningKeyRow(IdMixin, TenantScoped, Base):
    """Per-event Ed25519 key, created in the same transaction as the event."""

    __tablename__ = "ticketing_signing_keys"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "key_id"),)

    event_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("ticketing_events.id"), index=True
    )
    key_id: Mapped[int] = mapped_column(sa.BigInteger)
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    private_key_sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TicketSession(IdMixin, TenantScoped, Base):
    """A dated occurrence on sale. Its row is the lock that serialises its inventory."""

    __tablename__ = "ticketing_sessions"
    __table_args__ = (
        sa.CheckConstraint("taken >= 0 AND (capacity IS NULL OR taken <= capacity)", name="taken"),
        sa.CheckConstraint("per_order_limit >= 1", name="per_order"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("ticketing_events.id"), index=True
    )
    programme_session_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    venue_id: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    venue_name: Mapped[str] = mapped_column(sa.String(200), default="")
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    sale_starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    sale_ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    hold_minutes: Mapped[int] = mapped_column(sa.Integer, default=10)
    capacity: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    taken: Mapped[int] = mapped_column(sa.Integer, default=0)
    per_order_limit: Mapped[int] = mapped_column(sa.Integer, default=10)
    per_person_limit: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    require_id_number: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    status: Mapped[str] = mapped_column(sa.String(20), default="scheduled")
    illustrative: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Zone(IdMixin, TenantScoped, Base):
    __tablename__ = "ticketing_zones"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "number"),
        sa.CheckConstraint("taken >= 0 AND taken <= capacity", name="taken"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("ticketing_sessions.id"), index=True
    )
    number: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str] = mapped_column(sa.String(200))
    seated: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    capacity: Mapped[int] = mapped_column(sa.Integer)
    taken: Mapped[int] = mapped_column(sa.Integer, default=0)


class Seat(IdMixin, TenantScoped, Base):
    __tablename__ = "ticketing_seats"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "number"),
        sa.UniqueConstraint("zone_id", "section", "row", "label"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("ticketing_sessions.id"), index=True
    )
    zone_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("ticketing_zones.id"), index=True
    )
    number: Mapped[int] = mapped_column(sa.Integer)  # ordinal in the session, in the QR
    section: Mapped[str] = mapped_column(sa.String(40))
    row: Mapped[str] = mapped_column(sa.String(20))
    label: Mapped[str] = mapped_column(sa.String(20))
    accessible: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class PriceCategory(IdMixin, TenantScoped, Base):
    __tablename__ = "ticketing_categories"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "number"),
        sa.CheckConstraint("price_xof >= 0", name="price"),
        sa.CheckConstraint("taken >= 0 AND (quota IS NULL OR taken <= quota)", name="taken"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("ticketing_sessions.id"), index=True
    )
    zone_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("ticketing_zones.id"), index=True
    )
    number: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str] = mapped_column(sa.String(200))
    price_xof: Mapped[int] = mapped_column(sa.Integer)
    quota: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    taken: Mapped[int] = mapped_column(sa.Integer, default=0)


class ChannelQuota(IdMixin, TenantScoped, Base):
    __tablename__ = "ticketing_channel_quotas"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "channel"),
        sa.CheckConstraint("taken >= 0 AND taken <= quota", name="taken"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("ticketing_sessions.id"), index=True
    )
    channel: Mapped[str] = mapped_column(sa.String(20))
    quota: Mapped[int] = mapped_column(sa.Integer)
    taken: Mapped[int] = mapped_column(sa.Integer, default=0)


class Hold(IdMixin, TenantScoped, Base):
    __tablename__ = "ticketing_holds"
    __table_args__ = (sa.Index("ix_ticketing_holds_sweep", "session_id", "status", "expires_at"),)

    session_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("ticketing_sessions.id"))
    channel: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20), default="active")
    quantity: Mapped[int] = mapped_column(sa.Integer)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Order(IdMixin, TenantScoped, Base):
    __tablename__ = "ticketing_orders"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "reference"),
        sa.Index("ix_ticketing_orders_person", "session_id", "phone_index"),
        sa.CheckConstraint("total_xof >= 0 AND refunded_xof >= 0", name="money"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("ticketing_sessions.id"))
    hold_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("ticketing_holds.id"), unique=True
    )
    reference: Mapped[str] = mapped_column(sa.String(12))
    # SHA-256 of the bearer secret handed to the buyer at checkout (ticket view, transfer).
    access_hash: Mapped[str] = mapped_column(sa.String(64))
    channel: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    total_xof: Mapped[int] = mapped_column(sa.Integer)
    refunded_xof: Mapped[int] = mapped_column(sa.Integer, default=0)
    phone_sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    phone_index: Mapped[str | None] = mapped_column(sa.String(128), nullable=True)
    id_number_index: Mapped[str | None] = mapped_column(sa.String(128), nullable=True)
    payment_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    payment_provider: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    payment_status: Mapped[str] = mapped_column(sa.String(20), default="none")
    refund_reason: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OrderLine(IdMixin, TenantScoped, Base):
    """One place: created held with its hold, sold with its order, released or refunded."""

    __tablename__ = "ticketing_order_lines"
    __table_args__ = (
        sa.Index(
            "uq_ticketing_order_lines_live_seat",
            "session_id",
            "seat_id",
            unique=True,
            postgresql_where=LIVE_LINE,
            sqlite_where=LIVE_LINE,
        ),
        sa.CheckConstraint("price_xof >= 0", name="price"),
    )

    hold_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("ticketing_holds.id"), index=True
    )
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid, sa.ForeignKey("ticketing_orders.id"), nullable=True, index=True
    )
    session_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("ticketing_sessions.id"))
    zone_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("ticketing_zones.id"))
    category_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("ticketing_categories.id")
    )
    seat_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid, sa.ForeignKey("ticketing_seats.id"), nullable=True
    )
    price_xof: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(20), default="held")


class Ticket(IdMixin, TenantScoped, Base):
    __tablename__ = "ticketing_tickets"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "code"),
        sa.Index(
            "uq_ticketing_tickets_valid_line",
            "line_id",
            unique=True,
            postgresql_where=VALID_TICKET,
            sqlite_where=VALID_TICKET,
        ),
        sa.Index(
            "uq_ticketing_tickets_valid_seat",
            "session_id",
            "seat_id",
            unique=True,
            postgresql_where=VALID_TICKET_SEAT,
            sqlite_where=VALID_TICKET_SEAT,
        ),
        sa.Index("ix_ticketing_tickets_revoked", "tenant_id", "revoked_at"),
        sa.Index("ix_ticketing_tickets_holder", "tenant_id", "holder_phone_index"),
        sa.Index("uq_ticketing_tickets_access_hash", "access_hash", unique=True),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("ticketing_orders.id"), index=True
    )
    line_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("ticketing_order_lines.id"))
    session_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("ticketing_sessions.id"))
    seat_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid, sa.ForeignKey("ticketing_seats.id"), nullable=True
    )
    code: Mapped[str] = mapped_column(sa.String(12))
    status: Mapped[str] = mapped_column(sa.String(20), default="valid")
    key_id: Mapped[int] = mapped_column(sa.BigInteger)
    payload: Mapped[bytes] = mapped_column(sa.LargeBinary)
    holder_phone_sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    holder_phone_index: Mapped[str | None] = mapped_column(sa.String(128), nullable=True)
    replaces_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    # SHA-256 of the bearer secret sent to the recipient of a transfer (their ticket link);
    # NULL for tickets issued at purchase, which the order's own secret covers.
    access_hash: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TicketSms(IdMixin, TenantScoped, Base):
    """An SMS to send after commit (a domain outbox): written in the transaction that
    causes it, so a rolled-back transaction sends nothing; retried until sent or given up.

    Holds no phone in clear: the recipient is the ticket's sealed holder, resolved at send
    time; the link's secret is sealed with the tenant key and wiped once settled.
    """

    __tablename__ = "ticketing_sms"
    __table_args__ = (sa.Index("ix_ticketing_sms_due", "status", "next_attempt_at"),)

    ticket_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("ticketing_tickets.id"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(30))
    secret_sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class IdempotencyKey(IdMixin, TenantScoped, Base):
    """Stripe-style idempotency: the first response to a key is stored and replayed."""

    __tablename__ = "ticketing_idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "scope", "key"),)

    scope: Mapped[str] = mapped_column(sa.String(200))
    key: Mapped[str] = mapped_column(sa.String(255))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(20), default="in_flight")
    response_status: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    response_body: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    locked_until: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# The payments package keeps its tables in its own module; import it so that the metadata
# Alembic compares (teranga.domains.load_all_models) includes them. (Added by payments.)
from teranga.ticketing.payments import models as _payments_models  # noqa: E402, F401


class WaitingRoom(IdMixin, TenantScoped, Base):
    """A session's virtual waiting room. Its row is the lock that numbers arrivals."""

    __tablename__ = "ticketing_waiting_rooms"
    __table_args__ = (
        sa.CheckConstraint("rate_per_minute >= 1", name="rate"),
        sa.CheckConstraint("admission_minutes >= 1", name="admission"),
        sa.CheckConstraint("last_seq >= 0", name="last_seq"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("ticketing_sessions.id"), unique=True
    )
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    rate_per_minute: Mapped[int] = mapped_column(sa.Integer)
    opens_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    admission_minutes: Mapped[int] = mapped_column(sa.Integer, default=10)
    last_seq: Mapped[int] = mapped_column(sa.Integer, default=0)
    # HMAC key of this room's admission tokens, shared by every process through the DB.
    secret: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QueueEntry(IdMixin, TenantScoped, Base):
    """One arrival in a waiting room; ``seq`` is gapless per session (order of arrival)."""

    __tablename__ = "ticketing_queue_entries"
    __table_args__ = (sa.UniqueConstraint("session_id", "seq"),)

    session_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("ticketing_sessions.id"))
    seq: Mapped[int] = mapped_column(sa.Integer)
    # SHA-256 of the bearer entry token handed to the visitor.
    entry_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
