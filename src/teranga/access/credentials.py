"""Accreditation badge codec: compact signed binary in a small QR.

Byte layout of a badge payload (version 1), all integers big-endian:

    offset size field
    0      1    version (1)
    1      1    kind (0x42, "B")
    2      4    key id (uint32), the tenant's badge signing key
    6      16   badge id (UUID bytes)
    22     4    valid from, unix seconds (uint32)
    26     4    valid until, unix seconds (uint32)
    30     1    accreditation role (index in ROLES)
    31     1    n = length of the zones field
    32     n    zones, ASCII codes joined by ","
    32+n   64   Ed25519 signature over bytes [0, 32+n)

Text form in the QR: ``TB1`` + RFC 4648 base32 without padding (upper-case letters and
digits only, so the QR uses the compact alphanumeric mode). About 100 bytes → ~165 chars,
a version 8 QR at level M: readable by low-end phone cameras.
"""

from __future__ import annotations

import base64
import datetime as dt
import struct
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from teranga.access.domain import AccreditationRole, Credential
from teranga.platform.crypto import ed25519_verify

PREFIX = "TB1"
VERSION = 1
KIND_BADGE = 0x42
ROLES: tuple[str, ...] = tuple(r.value for r in AccreditationRole)
_HEAD = struct.Struct(">BBI16sIIBB")
SIG_LEN = 64


class BadCredential(ValueError):
    """The text is not a well-formed, correctly signed credential we know the key of."""


@dataclass(frozen=True, slots=True)
class BadgeClaims:
    key_id: int
    badge_id: uuid.UUID
    valid_from: dt.datetime
    valid_until: dt.datetime
    role: str
    zones: tuple[str, ...]

    def credential(self) -> Credential:
        return Credential(
            kind="badge",
            credential_id=self.badge_id,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            zones=frozenset(self.zones),
            role=self.role,
        )


def _ts(d: dt.datetime) -> int:
    return int(d.timestamp())


def encode_badge(claims: BadgeClaims, key: Ed25519PrivateKey) -> str:
    zones = ",".join(claims.zones).encode("ascii")
    if len(zones) > 255:
        raise ValueError("too many zones for one badge")
    body = (
        _HEAD.pack(
            VERSION,
            KIND_BADGE,
            claims.key_id,
            claims.badge_id.bytes,
            _ts(claims.valid_from),
            _ts(claims.valid_until),
            ROLES.index(claims.role),
            len(zones),
        )
        + zones
    )
    raw = body + key.sign(body)
    return PREFIX + base64.b32encode(raw).decode("ascii").rstrip("=")


def parse_badge(text: str) -> tuple[BadgeClaims, bytes, bytes]:
    """Split a badge into claims, signed bytes and signature (no signature check)."""
    text = text.strip().upper()
    if not text.startswith(PREFIX):
        raise BadCredential("not a badge")
    b32 = text[len(PREFIX) :]
    try:
        raw = base64.b32decode(b32 + "=" * (-len(b32) % 8))
    except ValueError as exc:
        raise BadCredential("badge is not valid base32") from exc
    if len(raw) < _HEAD.size + SIG_LEN:
        raise BadCredential("badge too short")
    version, kind, key_id, bid, vf, vu, role, n = _HEAD.unpack_from(raw)
    if version != VERSION or kind != KIND_BADGE:
        raise BadCredential("unsupported badge version")
    if len(raw) != _HEAD.size + n + SIG_LEN or role >= len(ROLES):
        raise BadCredential("malformed badge")
    zones_raw = raw[_HEAD.size : _HEAD.size + n]
    try:
        zones = tuple(z for z in zones_raw.decode("ascii").split(",") if z)
    except UnicodeDecodeError as exc:
        raise BadCredential("malformed badge zones") from exc
    claims = BadgeClaims(
        key_id=key_id,
        badge_id=uuid.UUID(bytes=bid),
        valid_from=dt.datetime.fromtimestamp(vf, dt.UTC),
        valid_until=dt.datetime.fromtimestamp(vu, dt.UTC),
        role=ROLES[role],
        zones=zones,
    )
    return claims, raw[: _HEAD.size + n], raw[_HEAD.size + n :]


def verify_badge(text: str, public_keys: dict[int, Ed25519PublicKey]) -> BadgeClaims:
    claims, signed, sig = parse_badge(text)
    key = public_keys.get(claims.key_id)
    if key is None:
        raise BadCredential("unknown key")
    if not ed25519_verify(key.public_bytes_raw(), sig, signed):
        raise BadCredential("bad signature")
    return claims
