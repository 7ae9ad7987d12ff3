"""Data residency: every store holding personal data stays in an allowed jurisdiction.

Loi 2008-12 art. 49-51 forbids transferring personal data abroad without CDP notice or
authorisation (security reference L9, C1, R10). Every store is declared in settings with
its jurisdiction and operator (``Settings.declared_stores()``); ``enforce_residency`` runs
when the container is built, so a process configured to put personal data abroad does not
start (fail closed). A ``transfer_authorisation`` naming the store, its jurisdiction, a CDP
reference and an expiry allows that one store until the expiry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from teranga.config import Settings, StoreDeclaration, TransferAuthorisation
from teranga.platform.clock import utcnow
from teranga.platform.errors import ResidencyViolation


@dataclass(frozen=True)
class StoreStatus:
    store: StoreDeclaration
    allowed: bool
    reason: str
    authorisation: TransferAuthorisation | None = None


def _authorisation(
    settings: Settings, store: StoreDeclaration, now: dt.datetime
) -> tuple[TransferAuthorisation | None, TransferAuthorisation | None]:
    """(active authorisation, expired one) for this store, if any."""
    active = expired = None
    for auth in settings.transfer_authorisations:
        if auth.store != store.name or auth.jurisdiction.upper() != store.jurisdiction.upper():
            continue
        if now < auth.expires_at:
            active = auth
        else:
            expired = auth
    return active, expired


def store_status(
    settings: Settings, store: StoreDeclaration, *, now: dt.datetime | None = None
) -> StoreStatus:
    now = now or utcnow()
    jurisdiction = store.jurisdiction.strip().upper()
    allowed = settings.allowed_jurisdictions
    if not store.holds_personal_data:
        return StoreStatus(store, True, "holds no personal data")
    if jurisdiction in allowed:
        return StoreStatus(store, True, f"in {jurisdiction}")
    active, expired = _authorisation(settings, store, now)
    if active is not None:
        return StoreStatus(
            store,
            True,
            f"in {jurisdiction} under CDP transfer authorisation {active.cdp_ref} "
            f"({active.scope}) until {active.expires_at.isoformat()}",
            active,
        )
    reason = (
        f"store '{store.name}' ({store.kind}, operated by {store.operator}) is declared in "
        f"{jurisdiction}, outside the allowed jurisdictions {', '.join(allowed) or '(none)'}"
    )
    if expired is not None:
        reason += (
            f"; its CDP transfer authorisation {expired.cdp_ref} expired on "
            f"{expired.expires_at.isoformat()}"
        )
    else:
        reason += "; personal data may go there only under a CDP transfer authorisation"
    return StoreStatus(store, False, reason, expired)


def residency_report(settings: Settings, *, now: dt.datetime | None = None) -> list[StoreStatus]:
    """The status of every declared store (for operators and transparency statements)."""
    now = now or utcnow()
    return [store_status(settings, s, now=now) for s in settings.declared_stores()]


def enforce_residency(settings: Settings, *, now: dt.datetime | None = None) -> None:
    """Raise ResidencyViolation naming every store of personal data outside the rules."""
    bad = [s for s in residency_report(settings, now=now) if not s.allowed]
    if bad:
        raise ResidencyViolation(
            message="data residency violation (Loi 2008-12 art. 49): "
            + "; ".join(s.reason for s in bad),
            stores=[s.store.name for s in bad],
        )


def require_store(settings: Settings, name: str, *, now: dt.datetime | None = None) -> StoreStatus:
    """Check one store before a runtime write of personal data to it (e.g. an export).

    Unknown stores are refused: a destination nobody declared cannot be vetted.
    """
    for store in settings.declared_stores():
        if store.name == name:
            status = store_status(settings, store, now=now)
            if not status.allowed:
                raise ResidencyViolation(message=status.reason, stores=[name])
            return status
    raise ResidencyViolation(
        message=f"store '{name}' is not declared; declare it with its jurisdiction first",
        stores=[name],
    )
