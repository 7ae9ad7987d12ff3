"""Tickets as access credentials, through the billetterie's public api only."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from teranga.access.domain import Credential
from teranga.platform.uow import UnitOfWork

if TYPE_CHECKING:
    from teranga.ticketing.api import TicketClaims


def decode(uow: UnitOfWork, text: str) -> Credential | None:
    """A signed QR payload (checked offline-style against the tenant's keys) or a short
    code (looked up online); None when unknown, forged or malformed."""
    from teranga.ticketing import api as ticketing

    claims = ticketing.verify_ticket_text(uow, text)
    if claims is None:
        return None
    return _credential(claims)


def _credential(claims: TicketClaims) -> Credential:
    return Credential(
        kind="ticket",
        credential_id=claims.ticket_id,
        valid_from=claims.valid_from,
        valid_until=claims.valid_until,
        session_tag=claims.session_tag,
        zone_no=claims.zone_no,
        category_no=claims.category_no,
        seat_no=claims.seat_no,
    )


def is_revoked(uow: UnitOfWork, ticket_id: uuid.UUID) -> bool:
    from teranga.ticketing import api as ticketing

    return ticketing.is_revoked(uow, ticket_id)


def public_keys_for_sessions(
    uow: UnitOfWork, session_ids: Sequence[uuid.UUID]
) -> list[dict[str, object]]:
    from teranga.ticketing import api as ticketing

    return ticketing.public_keys_for_sessions(uow, session_ids)


def revoked_since(uow: UnitOfWork, after: dt.datetime | None) -> list[str]:
    from teranga.ticketing import api as ticketing

    return [str(t) for t in ticketing.revoked_since(uow, after)]


def codes_for_sessions(
    uow: UnitOfWork, session_ids: Sequence[uuid.UUID], after: dt.datetime | None
) -> list[tuple[str, Credential]]:
    """(short code, credential) of the valid tickets of these sessions issued after ``after``."""
    from teranga.ticketing import api as ticketing

    return [
        (t.code, _credential(t.claims))
        for t in ticketing.codes_for_sessions(uow, session_ids, after)
    ]


def tenant_public_keys(uow: UnitOfWork) -> dict[int, bytes]:
    from teranga.ticketing import api as ticketing

    return ticketing.tenant_public_keys(uow)


def is_short_code(text: str) -> bool:
    from teranga.ticketing import api as ticketing

    return ticketing.is_short_code(text)


def qr_key_id(text: str) -> int | None:
    from teranga.ticketing import api as ticketing

    return ticketing.qr_key_id(text)


def verify_qr(text: str, public_keys: dict[int, bytes]) -> Credential | None:
    """A QR text checked against the given keys, with no database access."""
    from teranga.ticketing import api as ticketing

    claims = ticketing.verify_qr_text(text, public_keys)
    return _credential(claims) if claims is not None else None


def revoked_among(uow: UnitOfWork, ticket_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    from teranga.ticketing import api as ticketing

    return ticketing.revoked_among(uow, ticket_ids)
