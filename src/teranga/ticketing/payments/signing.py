"""Timestamped HMAC-SHA256 callback signatures (``t=<unix>,v1=<hex>[,v1=<hex>...]``).

Wave signs ``t + raw_body`` with no separator (two independent public integrations agree;
the Stripe scheme, which the sandbox uses, puts a ``.`` between them). Several ``v1``
values are accepted so a provider can sign with old and new secrets during a rotation;
each configured secret is tried, in constant time per comparison.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from teranga.platform.errors import Unauthorized


def sign(secret: str, timestamp: int, body: bytes, *, separator: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + separator + body, hashlib.sha256)
    return mac.hexdigest()


def header(secret: str, timestamp: int, body: bytes, *, separator: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body, separator=separator)}"


def verify(
    value: str | None,
    body: bytes,
    *,
    secrets: list[str],
    now: dt.datetime,
    tolerance_seconds: int,
    separator: bytes,
) -> int:
    """Check a signature header; return its timestamp or raise Unauthorized."""
    if not value:
        raise Unauthorized("missing_signature", "callback signature missing")
    usable = [s for s in secrets if s]
    if not usable:
        raise Unauthorized("signature_not_configured", "no callback secret configured")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in value.split(","):
        key, _, val = part.strip().partition("=")
        if key == "t" and val.isdigit():
            timestamp = int(val)
        elif key == "v1" and val:
            candidates.append(val.strip().lower())
    if timestamp is None or not candidates:
        raise Unauthorized("bad_signature", "malformed callback signature")
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise Unauthorized("stale_signature", "callback timestamp outside the allowed window")
    ok = False
    for secret in usable:
        expected = sign(secret, timestamp, body, separator=separator)
        for candidate in candidates:
            ok |= hmac.compare_digest(expected, candidate)
    if not ok:
        raise Unauthorized("bad_signature", "callback signature does not match")
    return timestamp


def verify_bearer(value: str | None, *, secrets: list[str]) -> None:
    """A static shared secret sent as ``Authorization: Bearer <secret>``.

    Weaker than a MAC (it can leak from a log and be replayed), which is why a callback
    only ever triggers a status query.
    """
    usable = [s for s in secrets if s]
    if not usable:
        raise Unauthorized("signature_not_configured", "no callback secret configured")
    scheme, _, token = (value or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing_signature", "callback credentials missing")
    ok = False
    for secret in usable:
        ok |= hmac.compare_digest(secret.encode(), token.strip().encode())
    if not ok:
        raise Unauthorized("bad_signature", "callback credentials do not match")
