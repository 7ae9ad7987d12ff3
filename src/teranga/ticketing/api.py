"""What other domains may use from the billetterie.

Access control verifies tickets through these functions: the signed payload (checked with
the tenant's public keys, as an offline scanner would) or the short code (looked up online),
revocations as deltas, and the public keys of the sessions a gate admits.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Sequence

import sqlalchemy as sa

from teranga.platform.uow import UnitOfWork
from teranga.ticketing.domain import (
    BadPayload,
    TicketClaims,
    b45decode,
    code_is_well_formed,
    normalise_code,
    verify_payload,
)
from teranga.ticketing.models import SigningKeyRow, Ticket, TicketSession


def _keys(uow: UnitOfWork) -> dict[int, bytes]:
    rows = uow.session.execute(
        sa.select(SigningKeyRow.key_id, SigningKeyRow.public_key).where(
            SigningKeyRow.tenant_id == uow.require_tenant()
        )
    )
    return {int(k): bytes(pk) for k, pk in rows}


def verify_ticket_text(uow: UnitOfWork, text: str) -> TicketClaims | None:
    """Claims of a scanned QR (base45 signed payload) or typed short code; None when the
    text is malformed, forged, signed by an unknown key or an unknown code."""
    raw = text.strip()
    if not raw:
        return None
    code = normalise_code(raw)
    if len(raw) <= 16 and code_is_well_formed(code):
        payload = uow.session.scalar(
            sa.select(Ticket.payload).where(
                Ticket.tenant_id == uow.require_tenant(), Ticket.code == code
            )
        )
        if payload is None:
            return None
        data = bytes(payload)
    else:
        try:
            data = b45decode(raw)
        except BadPayload:
            return None
    try:
        return verify_payload(data, _keys(uow))
    except BadPayload:
        return None


def is_revoked(uow: UnitOfWork, ticket_id: uuid.UUID) -> bool:
    """True when the ticket was transferred, refunded or cancelled (or does not exist)."""
    row = uow.session.execute(
        sa.select(Ticket.status, Ticket.revoked_at).where(
            Ticket.tenant_id == uow.require_tenant(), Ticket.id == ticket_id
        )
    ).first()
    return row is None or row.revoked_at is not None or row.status != "valid"


def public_keys_for_sessions(
    uow: UnitOfWork, session_ids: Sequence[uuid.UUID]
) -> list[dict[str, object]]:
    """Public keys (base64 raw Ed25519) of the events these sessions belong to."""
    events = sa.select(TicketSession.event_id).where(
        TicketSession.tenant_id == uow.require_tenant(), TicketSession.id.in_(session_ids)
    )
    rows = uow.session.scalars(
        sa.select(SigningKeyRow).where(
            SigningKeyRow.tenant_id == uow.require_tenant(), SigningKeyRow.event_id.in_(events)
        )
    )
    return [
        {
            "key_id": r.key_id,
            "event_id": str(r.event_id),
            "public_key": base64.b64encode(r.public_key).decode(),
        }
        for r in rows
    ]


def revoked_since(uow: UnitOfWork, after: dt.datetime | None) -> list[uuid.UUID]:
    q = sa.select(Ticket.id).where(
        Ticket.tenant_id == uow.require_tenant(), Ticket.revoked_at.is_not(None)
    )
    if after is not None:
        q = q.where(Ticket.revoked_at > after)
    return list(uow.session.scalars(q))


def session_ids(uow: UnitOfWork) -> list[uuid.UUID]:
    """Every ticketed session of the tenant (e.g. for a demo gate admitting them all)."""
    return list(
        uow.session.scalars(
            sa.select(TicketSession.id)
            .where(TicketSession.tenant_id == uow.require_tenant())
            .order_by(TicketSession.starts_at)
        )
    )
