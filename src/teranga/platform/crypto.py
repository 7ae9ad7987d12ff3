"""Cryptographic primitives: AES-256-GCM sealed values, HKDF, keyed blind indexes,
Ed25519 verification.

Only approved AEAD (AES-GCM, ASVS v5.0.0-11.3.2) is used. This module holds no keys and
knows no tenant: the privacy domain finds the right data key (DEK) and passes it in.

Sealed value layout (format version 1). A reader MUST reject any other version byte::

    offset  size  field
    0       1     format version, 0x01
    1       4     key id: the tenant DEK version, unsigned big-endian
    5       12    GCM nonce, random per value (96 bits, never reused with one key)
    17      n+16  ciphertext of the UTF-8 plaintext followed by the 16-byte GCM tag

The associated data (AAD) authenticated with each value is
``b"teranga.seal.v1\\x00" + context + b"\\x00" + header`` where ``context`` is supplied by
the caller (the privacy domain passes tenant id bytes and purpose) and ``header`` is bytes
0..4 above. A value copied to another tenant or purpose, or with a changed key id, fails
authentication instead of decrypting.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl.exceptions import BadSignatureError
from nacl.exceptions import ValueError as NaclValueError
from nacl.signing import VerifyKey

from teranga.platform.errors import TerangaError

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12
TAG_BYTES = 16
SEAL_FORMAT_V1 = 0x01
_HEADER = struct.Struct(">BI")  # format version, key id
HEADER_BYTES = _HEADER.size
MIN_SEALED_BYTES = HEADER_BYTES + NONCE_BYTES + TAG_BYTES
_AAD_PREFIX = b"teranga.seal.v1\x00"


class DecryptionFailed(TerangaError):
    """A sealed value is malformed, was tampered with, or belongs to another context."""

    status = 500
    code = "privacy.decryption_failed"


def generate_key() -> bytes:
    """A fresh random 256-bit key from the OS CSPRNG."""
    return os.urandom(KEY_BYTES)


def _check_key(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise ValueError("AES-256 keys are 32 bytes")


def seal_value(key: bytes, key_id: int, plaintext: bytes, context: bytes) -> bytes:
    """Encrypt ``plaintext`` into a version-1 sealed value (layout in the module docstring)."""
    _check_key(key)
    if not 0 <= key_id <= 0xFFFFFFFF:
        raise ValueError("key id out of range")
    header = _HEADER.pack(SEAL_FORMAT_V1, key_id)
    nonce = os.urandom(NONCE_BYTES)
    ct = AESGCM(key).encrypt(nonce, plaintext, _AAD_PREFIX + context + b"\x00" + header)
    return header + nonce + ct


def sealed_key_id(blob: bytes) -> int:
    """The key id of a sealed value, read without decrypting (to pick the DEK)."""
    if len(blob) < MIN_SEALED_BYTES:
        raise DecryptionFailed(message="sealed value too short")
    version, key_id = _HEADER.unpack_from(blob)
    if version != SEAL_FORMAT_V1:
        raise DecryptionFailed(message=f"unknown sealed value format {version}")
    return int(key_id)


def open_value(key: bytes, blob: bytes, context: bytes) -> bytes:
    """Decrypt and authenticate a sealed value; raise DecryptionFailed on any mismatch."""
    _check_key(key)
    sealed_key_id(blob)  # validates length and format
    header = blob[:HEADER_BYTES]
    nonce = blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
    ct = blob[HEADER_BYTES + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, ct, _AAD_PREFIX + context + b"\x00" + header)
    except InvalidTag:
        raise DecryptionFailed(
            message="sealed value failed authentication (tampered, or other tenant/purpose)"
        ) from None


def hkdf(key: bytes, *, info: bytes, length: int = KEY_BYTES, salt: bytes | None = None) -> bytes:
    """Derive a sub-key (RFC 5869, SHA-256) so one DEK never serves two purposes directly."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key)


def keyed_hash(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 as 64 lowercase hex characters (fits a ``String(64)`` column)."""
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def b64url(raw: bytes) -> str:
    """URL- and cookie-safe base64 without padding (tokens, digests in JSON)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def ed25519_verify(public_raw: bytes, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message`` (RFC 8032).

    Through libsodium: every gate scan and offline check verifies one, and it takes half
    the time of OpenSSL's here. Signing stays with ``cryptography``."""
    try:
        _verify_key(public_raw).verify(message, signature)
    except (BadSignatureError, NaclValueError):
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _verify_key(public_raw: bytes) -> VerifyKey:
    return VerifyKey(public_raw)
