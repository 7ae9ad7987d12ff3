"""Typed short codes checked offline: salted digests of the codes in a gate's bundle.

A spectator whose phone screen is broken reads out the short code printed on the ticket
(``ABCD-EFG-HJK``). Online, the server looks it up; offline, the scanner needs the ticket's
claims without the bundle carrying the codes themselves (they are bearer secrets: anyone
who has one can type it at a gate). So the bundle maps

    digest = HMAC-SHA256(key = the gate's code_salt, message = the normalised code)[:10]

(base64url, no padding) to the claims a QR would carry, and the scanner computes the same
digest of what the agent typed (WebCrypto) and looks it up.

Security, honestly stated:

* A stolen or copied scanner holds the salt and the digests of every valid ticket of its
  gate's sessions. A code carries 45 random bits (9 characters of 32 symbols, plus a
  check character), so recovering codes means an offline brute force of about 2^45 HMACs
  per code found at random, against a table of a few thousand digests: expensive, not
  impossible for a determined attacker with GPUs. What it yields is the ability to type
  (or print) codes of other people's tickets at a gate, where the first entry wins and a
  double entry shows as a conflict once scanners sync.
* The salt is per gate, so one stolen scanner says nothing about another gate's digests,
  and precomputed tables are useless.
* Rotation: ``service.rotate_code_salt`` (or setting ``access_gates.code_salt`` to NULL, a
  new one is then drawn on the next bundle) changes the salt. Every bundle, delta or not,
  carries the current salt; a scanner that sees a salt different from its own drops its
  digests and fetches a full bundle, so the old digests are gone at the next sync. Rotate
  when a scanner is lost.
* Bundles already require the gate agent's permission (``access.scan.read``) and are
  scoped to the caller's tenant.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from teranga.access.domain import Credential
from teranga.platform.crypto import b64url

SALT_BYTES = 16
DIGEST_BYTES = 10  # 80 bits: no accidental collision among a stadium's tickets


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def code_digest(salt: bytes, code: str) -> str:
    """Digest of an already normalised short code (upper-case, no separators)."""
    mac = hmac.new(salt, code.encode("utf-8"), hashlib.sha256).digest()
    return b64url(mac[:DIGEST_BYTES])


def _minutes(moment: dt.datetime) -> int:
    # The unit of the QR payload's validity window (whole minutes since the epoch).
    return int(moment.timestamp() // 60)


def bundle_codes(salt: bytes, tickets: Sequence[tuple[str, Credential]]) -> dict[str, object]:
    """The bundle's ``codes`` section: one short array per ticket,
    ``[digest, ticket id (base64url of the 16 UUID bytes), index into session_tags,
    zone no, category no, valid from, valid until (minutes since the epoch, UTC)]``."""
    tags: dict[bytes, int] = {}
    rows: list[list[object]] = []
    for code, cred in tickets:
        tag = cred.session_tag or b""
        index = tags.setdefault(tag, len(tags))
        rows.append(
            [
                code_digest(salt, code),
                b64url(cred.credential_id.bytes),
                index,
                cred.zone_no,
                cred.category_no,
                _minutes(cred.valid_from),
                _minutes(cred.valid_until),
            ]
        )
    return {
        "salt": b64url(salt),
        "digest_bytes": DIGEST_BYTES,
        "session_tags": [t.hex() for t in tags],
        "tickets": rows,
    }
