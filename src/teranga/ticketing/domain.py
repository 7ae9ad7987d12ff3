"""Pure ticketing rules: state machines, short codes, the signed ticket payload, limits.

No SQLAlchemy, no FastAPI: everything here is tested without a database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import struct
import uuid
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from teranga.platform.crypto import ed25519_verify

# --------------------------------------------------------------------------------------
# State machines (monotonic: a state never goes back to an earlier one)
# --------------------------------------------------------------------------------------


class HoldStatus(StrEnum):
    ACTIVE = "active"  # places counted until expires_at
    ORDERED = "ordered"  # converted: the order's payment made the places sold
    EXPIRED = "expired"  # swept after expires_at; places returned
    RELEASED = "released"  # given back by the buyer or cancelled with its order


class OrderStatus(StrEnum):
    PENDING = "pending"  # waiting for payment (or for the free registration)
    PAID = "paid"  # tickets issued
    CANCELLED = "cancelled"  # never paid; places returned
    REFUNDED = "refunded"  # every place refunded (whole refund or all parts)


class LineStatus(StrEnum):
    HELD = "held"
    SOLD = "sold"
    RELEASED = "released"  # hold expired/released before the sale
    REFUNDED = "refunded"


class TicketStatus(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"  # replaced by a transfer
    VOID = "void"  # refunded or session cancelled


class Channel(StrEnum):
    ONLINE = "online"
    BOX_OFFICE = "box_office"
    AGENT = "agent"


_HOLD_NEXT: dict[HoldStatus, frozenset[HoldStatus]] = {
    HoldStatus.ACTIVE: frozenset({HoldStatus.ORDERED, HoldStatus.EXPIRED, HoldStatus.RELEASED}),
    # An expired hold whose late payment found its places free again becomes ORDERED.
    HoldStatus.EXPIRED: frozenset({HoldStatus.ORDERED}),
    HoldStatus.ORDERED: frozenset({HoldStatus.RELEASED}),  # refunded/cancelled after sale
    HoldStatus.RELEASED: frozenset(),
}

_ORDER_NEXT: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REFUNDED: frozenset(),
}


class IllegalTransition(ValueError):
    def __init__(self, kind: str, current: str, target: str) -> None:
        super().__init__(f"{kind}: {current} -> {target} is not allowed")
        self.kind, self.current, self.target = kind, current, target


def hold_can(current: HoldStatus, target: HoldStatus) -> bool:
    return target in _HOLD_NEXT[current]


def order_can(current: OrderStatus, target: OrderStatus) -> bool:
    return target in _ORDER_NEXT[current]


def check_order_transition(current: OrderStatus, target: OrderStatus) -> None:
    if not order_can(current, target):
        raise IllegalTransition("order", current, target)


def check_hold_transition(current: HoldStatus, target: HoldStatus) -> None:
    if not hold_can(current, target):
        raise IllegalTransition("hold", current, target)


def hold_is_live(status: HoldStatus, expires_at: dt.datetime, now: dt.datetime) -> bool:
    """A hold counts against inventory only while ACTIVE and before its expiry instant."""
    return status is HoldStatus.ACTIVE and now < expires_at


# --------------------------------------------------------------------------------------
# Money and limits
# --------------------------------------------------------------------------------------


def order_total(prices_xof: list[int]) -> int:
    """Sum of integer XOF prices; negative prices are rejected (free is 0)."""
    total = 0
    for p in prices_xof:
        if not isinstance(p, int) or isinstance(p, bool) or p < 0:
            raise ValueError("prices are non-negative integer XOF")
        total += p
    return total


@dataclass(frozen=True)
class Limits:
    per_order: int
    per_person: int | None  # across every order of the session; None: no cap


def check_person_cap(limits: Limits, already: int, wanted: int) -> bool:
    """True when a person holding ``already`` places may take ``wanted`` more."""
    if wanted > limits.per_order:
        return False
    return limits.per_person is None or already + wanted <= limits.per_person


# --------------------------------------------------------------------------------------
# Short codes
# --------------------------------------------------------------------------------------

#: 32 symbols, no 0/O nor 1/I: nothing two people could confuse when reading a code aloud.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_N = len(CODE_ALPHABET)
CODE_BODY_LEN = 9  # 9 x 5 bits = 45 random bits; + 1 check character = 10 characters


def luhn_mod_n_check(body: str) -> str:
    """Check character of the Luhn mod N algorithm over ``CODE_ALPHABET``.

    Luhn mod N catches every single-character error and every transposition of adjacent
    characters (except, as in decimal Luhn, the pair of the first and last symbols, here
    "2" and "Z"): the two mistakes people make when reading a code aloud or typing it.
    """
    factor = 2
    total = 0
    for ch in reversed(body):
        addend = factor * CODE_ALPHABET.index(ch)
        factor = 1 if factor == 2 else 2
        total += addend // _N + addend % _N
    return CODE_ALPHABET[(_N - total % _N) % _N]


def new_short_code() -> str:
    body = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_BODY_LEN))
    return body + luhn_mod_n_check(body)


def normalise_code(raw: str) -> str:
    """Upper-case and drop the separators people type (spaces, dashes)."""
    return "".join(ch for ch in raw.upper() if ch.isalnum())


def code_is_well_formed(code: str) -> bool:
    if len(code) != CODE_BODY_LEN + 1 or any(ch not in CODE_ALPHABET for ch in code):
        return False
    return luhn_mod_n_check(code[:-1]) == code[-1]


def format_code(code: str) -> str:
    """Groups of 4-3-3 for reading aloud: ``ABCD-EFG-HJK``."""
    return f"{code[:4]}-{code[4:7]}-{code[7:]}"


# --------------------------------------------------------------------------------------
# Signed ticket payload
# --------------------------------------------------------------------------------------

PAYLOAD_VERSION = 1
_BODY = struct.Struct(">BI16s8sHHIII")  # 45 bytes
SIGNATURE_LEN = 64
PAYLOAD_LEN = _BODY.size + SIGNATURE_LEN  # 109 bytes


@dataclass(frozen=True)
class TicketClaims:
    """What a ticket's QR code asserts, signed by the event key.

    Byte layout of version 1 (all integers big-endian, 109 bytes in total):

    ====== ===== ==========================================================================
    offset bytes field
    ====== ===== ==========================================================================
    0      1     version, MUST be 1
    1      4     key id: first 4 bytes of SHA-256 of the event's raw 32-byte public key
    5      16    ticket id (UUID bytes); the revocation list is keyed by it
    21     8     session tag: the last 8 bytes of the session UUID (its random part)
    29     2     zone number within the session (1-based)
    31     2     price category number within the session (1-based)
    33     4     seat number within the session (1-based), 0 for general admission
    37     4     valid from, minutes since the Unix epoch (UTC)
    41     4     valid until, minutes since the Unix epoch (UTC), exclusive
    45     64    Ed25519 signature over bytes 0..44
    ====== ===== ==========================================================================

    A verifier MUST reject an unknown version or key id, a bad signature, and a payload of
    any other length; it SHOULD check the validity window with its own clock and MUST
    check the revocation list (a transfer revokes the old ticket id). The text form in the
    QR code is base45 (RFC 9285), which QR alphanumeric mode stores at 5.5 bits a
    character: 164 characters, a version 6 code at error level L.
    """

    key_id: int
    ticket_id: uuid.UUID
    session_tag: bytes
    zone_no: int
    category_no: int
    seat_no: int
    valid_from: dt.datetime
    valid_until: dt.datetime

    def body(self) -> bytes:
        return _BODY.pack(
            PAYLOAD_VERSION,
            self.key_id,
            self.ticket_id.bytes,
            self.session_tag,
            self.zone_no,
            self.category_no,
            self.seat_no,
            _minutes(self.valid_from),
            _minutes(self.valid_until),
        )


def session_tag(session_id: uuid.UUID) -> bytes:
    return session_id.bytes[8:]


def _minutes(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return int(moment.timestamp() // 60)


def key_id_of(public_raw: bytes) -> int:
    return int.from_bytes(hashlib.sha256(public_raw).digest()[:4], "big")


@dataclass(frozen=True)
class SigningKey:
    key_id: int
    private_raw: bytes  # 32-byte Ed25519 seed
    public_raw: bytes


def generate_signing_key() -> SigningKey:
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return SigningKey(key_id_of(public), seed, public)


def sign_claims(claims: TicketClaims, private_raw: bytes) -> bytes:
    body = claims.body()
    return body + Ed25519PrivateKey.from_private_bytes(private_raw).sign(body)


class BadPayload(ValueError):
    """The payload is malformed, of an unknown version or key, or its signature is wrong."""


def verify_payload(payload: bytes, public_keys: dict[int, bytes]) -> TicketClaims:
    """Check length, version, key and signature; return the claims. Raises BadPayload."""
    claims = unpack_claims(payload)
    public = public_keys.get(claims.key_id)
    if public is None:
        raise BadPayload("unknown_key")
    if not ed25519_verify(public, payload[_BODY.size :], payload[: _BODY.size]):
        raise BadPayload("signature")
    return claims


def unpack_claims(payload: bytes) -> TicketClaims:
    """The claims of a payload, checking length and version but NOT the signature: only for
    payloads read back from our own ticket rows (bulk exports); anything scanned or received
    goes through ``verify_payload``. Raises BadPayload."""
    if len(payload) != PAYLOAD_LEN:
        raise BadPayload("length")
    fields = _BODY.unpack(payload[: _BODY.size])
    version, key_id, tid, tag, zone_no, cat_no, seat_no, v_from, v_until = fields
    if version != PAYLOAD_VERSION:
        raise BadPayload("version")
    try:
        valid_from = dt.datetime.fromtimestamp(v_from * 60, dt.UTC)
        valid_until = dt.datetime.fromtimestamp(v_until * 60, dt.UTC)
    except (ValueError, OverflowError, OSError) as exc:  # a tampered window: no such date
        raise BadPayload("window") from exc
    return TicketClaims(
        key_id=key_id,
        ticket_id=uuid.UUID(bytes=tid),
        session_tag=tag,
        zone_no=zone_no,
        category_no=cat_no,
        seat_no=seat_no,
        valid_from=valid_from,
        valid_until=valid_until,
    )


# -- base45 (RFC 9285) ------------------------------------------------------------------

B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def b45encode(data: bytes) -> str:
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        c, n = n % 45, n // 45
        d, e = n % 45, n // 45
        out += [B45[c], B45[d], B45[e]]
    if len(data) % 2:
        n = data[-1]
        out += [B45[n % 45], B45[n // 45]]
    return "".join(out)


# Value of each base45 character by code point; -1 for the others (a gate decodes every
# scan, so no per-character search).
_B45_VALUE = [-1] * 128
for _i, _ch in enumerate(B45):
    _B45_VALUE[ord(_ch)] = _i


def b45decode(text: str) -> bytes:
    if not text.isascii():
        raise BadPayload("base45")
    table = _B45_VALUE
    vals = [table[b] for b in text.encode("ascii")]
    if -1 in vals or len(vals) % 3 == 1:
        raise BadPayload("base45")
    out = bytearray()
    full = len(vals) - len(vals) % 3
    for i in range(0, full, 3):
        n = vals[i] + vals[i + 1] * 45 + vals[i + 2] * 2025
        if n > 0xFFFF:
            raise BadPayload("base45")
        out += n.to_bytes(2, "big")
    if full < len(vals):
        n = vals[full] + vals[full + 1] * 45
        if n > 0xFF:
            raise BadPayload("base45")
        out.append(n)
    return bytes(out)
