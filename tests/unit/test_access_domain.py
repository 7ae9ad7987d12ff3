"""Pure access rules and the badge codec."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from teranga.access import credentials
from teranga.access.domain import (
    CheckinRule,
    Credential,
    Direction,
    Presence,
    Reason,
    decide,
)

T0 = dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC)
SESSION = uuid.uuid4()


def ticket(**kw: object) -> Credential:
    base: dict[str, object] = {
        "kind": "ticket",
        "credential_id": uuid.uuid4(),
        "valid_from": T0 - dt.timedelta(hours=2),
        "valid_until": T0 + dt.timedelta(hours=4),
        "session_tag": SESSION.bytes[8:],
        "zone_no": 1,
        "category_no": 2,
    }
    base.update(kw)
    return Credential(**base)  # type: ignore[arg-type]


RULE = CheckinRule(list_id=uuid.uuid4(), session_ids=frozenset({SESSION}))


def test_valid_ticket_enters_once() -> None:
    c = ticket()
    assert decide(c, RULE, T0, revoked=False, presence=None).accepted
    p = Presence(True, "Porte A", T0)
    d = decide(c, RULE, T0, revoked=False, presence=p)
    assert (d.accepted, d.reason, d.entered_gate, d.entered_at) == (
        False,
        Reason.ALREADY_ENTERED,
        "Porte A",
        T0,
    )


@pytest.mark.parametrize(
    ("cred", "rule", "now", "revoked", "reason"),
    [
        (ticket(), RULE, T0, True, Reason.REVOKED),
        (ticket(session_tag=uuid.uuid4().bytes[8:]), RULE, T0, False, Reason.WRONG_SESSION),
        (
            ticket(),
            CheckinRule(RULE.list_id, frozenset({SESSION}), zone_nos=frozenset({3})),
            T0,
            False,
            Reason.WRONG_ZONE,
        ),
        (ticket(), RULE, T0 - dt.timedelta(hours=3), False, Reason.NOT_YET_VALID),
        (ticket(), RULE, T0 + dt.timedelta(hours=5), False, Reason.EXPIRED),
        (
            ticket(),
            CheckinRule(RULE.list_id, frozenset({SESSION}), opens_at=T0 + dt.timedelta(minutes=1)),
            T0,
            False,
            Reason.NOT_YET_VALID,
        ),
    ],
)
def test_refusals(
    cred: Credential, rule: CheckinRule, now: dt.datetime, revoked: bool, reason: Reason
) -> None:
    d = decide(cred, rule, now, revoked=revoked, presence=None)
    assert not d.accepted
    assert d.reason is reason


def test_reentry_and_exit() -> None:
    rule = CheckinRule(RULE.list_id, frozenset({SESSION}), allow_reentry=True)
    c = ticket()
    inside = Presence(True, "A", T0)
    outside = Presence(False, "A", T0)
    assert decide(c, rule, T0, revoked=False, presence=inside).reason is Reason.ALREADY_ENTERED
    assert decide(c, rule, T0, revoked=False, presence=outside).accepted
    assert decide(c, rule, T0, revoked=False, presence=inside, direction=Direction.OUT).accepted
    assert (
        decide(c, rule, T0, revoked=False, presence=None, direction=Direction.OUT).reason
        is Reason.NOT_INSIDE
    )


def _badge(key: Ed25519PrivateKey, role: str = "media", zones: tuple[str, ...] = ("MEDIA",)) -> str:
    return credentials.encode_badge(
        credentials.BadgeClaims(
            1, uuid.uuid4(), T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=10), role, zones
        ),
        key,
    )


def test_badge_roundtrip_and_zone_rules() -> None:
    key = Ed25519PrivateKey.generate()
    text = _badge(key)
    assert text.isalnum()
    assert text.isupper()
    claims = credentials.verify_badge(text, {1: key.public_key()})
    cred = claims.credential()
    media_gate = CheckinRule(
        uuid.uuid4(), accreditation_roles=frozenset({"media"}), badge_zones=frozenset({"MEDIA"})
    )
    fop_gate = CheckinRule(
        uuid.uuid4(),
        accreditation_roles=frozenset({"athlete", "media"}),
        badge_zones=frozenset({"FOP"}),
    )
    assert decide(cred, media_gate, T0, revoked=False, presence=None).accepted
    assert decide(cred, fop_gate, T0, revoked=False, presence=None).reason is Reason.WRONG_ZONE
    assert decide(cred, RULE, T0, revoked=False, presence=None).reason is Reason.WRONG_ZONE


def test_badge_forgery_is_refused() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    text = _badge(key)
    with pytest.raises(credentials.BadCredential):
        credentials.verify_badge(text, {1: other.public_key()})
    with pytest.raises(credentials.BadCredential):
        credentials.verify_badge(text, {2: key.public_key()})
    # Flip one character inside the signed part.
    pos = 20
    flipped = text[:pos] + ("A" if text[pos] != "A" else "B") + text[pos + 1 :]
    with pytest.raises(credentials.BadCredential):
        credentials.verify_badge(flipped, {1: key.public_key()})
    for junk in ("", "TB1", "TB1!!!!", "TB1" + "A" * 20, "hello"):
        with pytest.raises(credentials.BadCredential):
            credentials.verify_badge(junk, {1: key.public_key()})
