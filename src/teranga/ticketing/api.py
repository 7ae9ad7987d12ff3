"""What other domains may use from ticketing (gate access control, reports).

    from teranga.ticketing import api as ticketing
    claims = ticketing.verify_ticket_text(uow, scanned)   # QR text or short code, or None
    ticketing.is_revoked(uow, claims.ticket_id)
    ticketing.codes_for_sessions(uow, session_ids, since)  # short codes for offline gates

The signed payload layout is documented on ``TicketClaims`` (``teranga.ticketing.domain``).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from teranga.platform.uow import UnitOfWork
from teranga.ticketing.domain import (
    PAYLOAD_VERSION,
    BadPayload,
    TicketClaims,
    TicketStatus,
    b45decode,
    code_is_well_formed,
    normalise_code,
    session_tag,
    unpack_claims,
    verify_payload,
)
from teranga.ticketing.fulfilment import FulfilmentResult, on_payment_confirmed, on_payment_failed
from teranga.ticketing.models import SigningKeyRow, Ticket, TicketSession, Zone

__all__ = [
    "PAYLOAD_VERSION",
    "FulfilmentResult",
    "TicketClaims",
    "TicketCode",
    "codes_for_sessions",
    "is_revoked",
    "is_short_code",
    "on_payment_confirmed",
    "on_payment_failed",
    "public_keys_for_sessions",
    "qr_key_id",
    "revoked_among",
    "revoked_since",
    "session_ids",
    "tenant_public_keys",
    "verify_qr_text",
    "verify_ticket_text",
]


def tenant_public_keys(uow: UnitOfWork) -> dict[int, bytes]:
    """Every event public key of the tenant by key id (for checking QR texts)."""
    rows = uow.session.execute(
        sa.select(SigningKeyRow.key_id, SigningKeyRow.public_key).where(
            SigningKeyRow.tenant_id == uow.require_tenant()
        )
    )
    return {int(k): bytes(pk) for k, pk in rows}


def _claims_of(uow: UnitOfWork, t: Ticket) -> TicketClaims:
    return verify_payload(bytes(t.payload), tenant_public_keys(uow))


def verify_ticket_text(uow: UnitOfWork, text: str) -> TicketClaims | None:
    """Claims of a scanned QR text (base45, signature checked against the tenant's event
    keys) or of a short code typed at a gate (looked up online); None if unknown/forged."""
    # Only line ends are trimmed: a space is a base45 character, and a QR text starts with
    # one for every ticket of an event whose key id begins with certain bytes.
    raw = text.strip("\r\n\t")
    code = normalise_code(raw)
    if len(code) <= 12 and code_is_well_formed(code):
        t = uow.session.scalar(
            sa.select(Ticket).where(Ticket.tenant_id == uow.require_tenant(), Ticket.code == code)
        )
        return _claims_of(uow, t) if t is not None else None
    try:
        return verify_payload(b45decode(raw), tenant_public_keys(uow))
    except BadPayload:
        return None


def is_short_code(text: str) -> bool:
    """True when ``text`` is a typed short code (checked online), not a QR text."""
    if len(text) > 40:  # a QR text (~100 characters): no need to normalise it
        return False
    code = normalise_code(text.strip("\r\n\t"))
    return len(code) <= 12 and code_is_well_formed(code)


def qr_key_id(text: str) -> int | None:
    """The key id a scanned QR text claims, unverified; None when it is malformed."""
    try:
        return unpack_claims(b45decode(text.strip("\r\n\t"))).key_id
    except BadPayload:
        return None


def verify_qr_text(text: str, public_keys: dict[int, bytes]) -> TicketClaims | None:
    """Claims of a scanned QR text checked against ``public_keys`` (no database access);
    None when malformed, forged or signed by a key not given."""
    try:
        return verify_payload(b45decode(text.strip("\r\n\t")), public_keys)
    except BadPayload:
        return None


def revoked_among(uow: UnitOfWork, ticket_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of ``ticket_ids`` that are transferred, refunded or unknown (one statement)."""
    if not ticket_ids:
        return set()
    valid = set(
        uow.session.scalars(
            sa.select(Ticket.id).where(
                Ticket.tenant_id == uow.require_tenant(),
                Ticket.id.in_(list(ticket_ids)),
                Ticket.status == TicketStatus.VALID.value,
            )
        )
    )
    return set(ticket_ids) - valid


def is_revoked(uow: UnitOfWork, ticket_id: uuid.UUID) -> bool:
    """True when the ticket was transferred (revoked) or refunded (void), or is unknown."""
    status = uow.session.scalar(
        sa.select(Ticket.status).where(
            Ticket.tenant_id == uow.require_tenant(), Ticket.id == ticket_id
        )
    )
    return status != TicketStatus.VALID.value


def public_keys_for_sessions(
    uow: UnitOfWork, session_ids: Sequence[uuid.UUID]
) -> list[dict[str, object]]:
    """The event keys that sign tickets of these sessions, for offline scanners."""
    events = set(
        uow.session.scalars(
            sa.select(TicketSession.event_id).where(
                TicketSession.tenant_id == uow.require_tenant(),
                TicketSession.id.in_(list(session_ids)),
            )
        )
    )
    if not events:
        return []
    rows = uow.session.scalars(
        sa.select(SigningKeyRow)
        .where(SigningKeyRow.event_id.in_(events))
        .order_by(SigningKeyRow.key_id)
    )
    return [
        {
            "key_id": r.key_id,
            "algorithm": "Ed25519",
            "payload_version": PAYLOAD_VERSION,
            "public_key": base64.b64encode(r.public_key).decode(),
            "event_id": str(r.event_id),
        }
        for r in rows
    ]


def revoked_since(uow: UnitOfWork, after: dt.datetime | None) -> list[uuid.UUID]:
    """Ids of tickets revoked or voided after ``after`` (all of them when None)."""
    q = sa.select(Ticket.id).where(
        Ticket.tenant_id == uow.require_tenant(), Ticket.revoked_at.is_not(None)
    )
    if after is not None:
        q = q.where(Ticket.revoked_at > after)
    return list(uow.session.scalars(q.order_by(Ticket.revoked_at, Ticket.id)))


@dataclass(frozen=True)
class TicketCode:
    """A valid ticket's short code (normalised, as stored) and its signed claims."""

    code: str
    claims: TicketClaims


def codes_for_sessions(
    uow: UnitOfWork, session_ids: Sequence[uuid.UUID], since: dt.datetime | None
) -> list[TicketCode]:
    """Short codes and claims of the valid tickets of these sessions, issued after
    ``since`` when given (a transfer issues a new ticket, so it shows up here; the old one
    is in ``revoked_since``). The codes are bearer secrets: callers ship digests of them,
    never the codes. Claims come from our own stored payloads, so no signature check."""
    if not session_ids:
        return []
    q = sa.select(Ticket.code, Ticket.payload).where(
        Ticket.tenant_id == uow.require_tenant(),
        Ticket.session_id.in_(list(session_ids)),
        Ticket.status == TicketStatus.VALID.value,
    )
    if since is not None:
        q = q.where(Ticket.issued_at > since)
    rows = uow.session.execute(q.order_by(Ticket.issued_at, Ticket.id))
    return [TicketCode(code, unpack_claims(bytes(payload))) for code, payload in rows]


def session_ids(uow: UnitOfWork) -> list[uuid.UUID]:
    """Ticketed sessions of the tenant, in time order."""
    return list(
        uow.session.scalars(
            sa.select(TicketSession.id)
            .where(TicketSession.tenant_id == uow.require_tenant())
            .order_by(TicketSession.starts_at)
        )
    )


def zone_numbers(uow: UnitOfWork, session_id: uuid.UUID) -> dict[int, str]:
    """Zone number (as in the QR payload) -> zone name, for a session."""
    return {
        z.number: z.name
        for z in uow.session.scalars(sa.select(Zone).where(Zone.session_id == session_id))
    }


def tag_of(session_id: uuid.UUID) -> bytes:
    """The 8-byte session tag carried in ticket payloads."""
    return session_tag(session_id)


def session_labels(uow: UnitOfWork) -> dict[uuid.UUID, str]:
    """Every ticketed session of the tenant with a readable label ("name · start, venue")."""
    rows = uow.session.execute(
        sa.select(
            TicketSession.id, TicketSession.name, TicketSession.starts_at, TicketSession.venue_name
        )
        .where(TicketSession.tenant_id == uow.require_tenant())
        .order_by(TicketSession.starts_at)
    )
    return {
        r.id: f"{r.name} · {r.starts_at:%d/%m %H:%M}"
        + (f", {r.venue_name}" if r.venue_name else "")
        for r in rows
    }
