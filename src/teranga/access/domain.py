"""Pure access-control rules: what a gate decides for a credential, online or offline.

No framework imports: the same rules run on the server (online scans, sync) and in the
simulated offline scanners of the tests; the browser scanner mirrors them in JavaScript.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass, field


class Reason(enum.StrEnum):
    OK = "ok"
    ALREADY_ENTERED = "already_entered"
    REVOKED = "revoked"
    WRONG_SESSION = "wrong_session"
    WRONG_ZONE = "wrong_zone"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    NOT_INSIDE = "not_inside"  # exit scan of a credential that never entered


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


class AccreditationRole(enum.StrEnum):
    ATHLETE = "athlete"
    COACH = "coach"
    OFFICIAL = "official"
    MEDIA = "media"
    VOLUNTEER = "volunteer"
    STAFF = "staff"


@dataclass(frozen=True, slots=True)
class Credential:
    """What a verified QR (ticket or badge) says. ``credential_id`` is unique per tenant."""

    kind: str  # "ticket" | "badge"
    credential_id: uuid.UUID
    valid_from: dt.datetime
    valid_until: dt.datetime
    session_tag: bytes | None = None  # tickets: last 8 bytes of the session UUID
    zone_no: int = 0  # tickets: zone number within the session
    category_no: int = 0  # tickets: price category number within the session
    seat_no: int = 0  # tickets: 0 for general admission
    zones: frozenset[str] = frozenset()  # badges: zones the holder may enter
    role: str | None = None  # badges: accreditation role


@dataclass(frozen=True, slots=True)
class CheckinRule:
    """A check-in list: which credentials a gate admits, and when."""

    list_id: uuid.UUID
    session_ids: frozenset[uuid.UUID] = frozenset()  # tickets of these sessions
    zone_nos: frozenset[int] = frozenset()  # ticket zones admitted; empty: any
    category_nos: frozenset[int] = frozenset()  # ticket categories admitted; empty: any
    badge_zones: frozenset[str] = frozenset()  # accreditation zones this gate serves
    accreditation_roles: frozenset[str] = frozenset()  # empty: badges not admitted
    opens_at: dt.datetime | None = None
    closes_at: dt.datetime | None = None
    allow_reentry: bool = False
    # Derived once: tickets carry the last 8 bytes of their session id (see credentials).
    session_tags: frozenset[bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "session_tags", frozenset(s.bytes[8:] for s in self.session_ids))


@dataclass(frozen=True, slots=True)
class Decision:
    accepted: bool
    reason: Reason
    # Where and when the credential entered, for already_entered.
    entered_gate: str | None = None
    entered_at: dt.datetime | None = None


ACCEPT = Decision(True, Reason.OK)


def check_rule(cred: Credential, rule: CheckinRule, now: dt.datetime) -> Reason:
    """Everything except presence and revocation: validity window, session, zone, role."""
    if now < cred.valid_from or (rule.opens_at is not None and now < rule.opens_at):
        return Reason.NOT_YET_VALID
    if now > cred.valid_until or (rule.closes_at is not None and now > rule.closes_at):
        return Reason.EXPIRED
    if cred.kind == "badge":
        if cred.role not in rule.accreditation_roles:
            return Reason.WRONG_ZONE
        if rule.badge_zones and not (cred.zones & rule.badge_zones):
            return Reason.WRONG_ZONE
        return Reason.OK
    if cred.session_tag not in rule.session_tags:
        return Reason.WRONG_SESSION
    if rule.zone_nos and cred.zone_no not in rule.zone_nos:
        return Reason.WRONG_ZONE
    if rule.category_nos and cred.category_no not in rule.category_nos:
        return Reason.WRONG_ZONE
    return Reason.OK


@dataclass(slots=True)
class Presence:
    """Where a credential is for one check-in list."""

    inside: bool
    gate: str
    at: dt.datetime
    entries: int = 1


def decide(
    cred: Credential,
    rule: CheckinRule,
    now: dt.datetime,
    *,
    revoked: bool,
    presence: Presence | None,
    direction: Direction = Direction.IN,
) -> Decision:
    if revoked:
        return Decision(False, Reason.REVOKED)
    reason = check_rule(cred, rule, now)
    if reason is not Reason.OK:
        return Decision(False, reason)
    if direction is Direction.OUT:
        if presence is None or not presence.inside:
            return Decision(False, Reason.NOT_INSIDE)
        return ACCEPT
    if presence is not None and (presence.inside or not rule.allow_reentry):
        return Decision(False, Reason.ALREADY_ENTERED, presence.gate, presence.at)
    return ACCEPT
