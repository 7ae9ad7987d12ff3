"""Sealed values, the local KMS and identifier normalisation (no database)."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teranga.config import Settings
from teranga.platform import crypto
from teranga.platform.errors import ValidationFailed
from teranga.platform.kms import (
    KeyDestroyed,
    KeyNotFound,
    KeyVersionRetired,
    KmsError,
    LocalFileKMS,
    make_kms,
    parse_wrapped,
)
from teranga.privacy.domain import normalise, normalise_phone

KEY = bytes(range(32))
CTX = uuid.UUID(int=1).bytes + b"\x00pii"


# -- sealed values -------------------------------------------------------------------------
def test_sealed_layout_is_version_key_id_nonce_ciphertext() -> None:
    blob = crypto.seal_value(KEY, 7, b"Awa Ndiaye", CTX)
    assert blob[0] == crypto.SEAL_FORMAT_V1
    assert int.from_bytes(blob[1:5], "big") == 7
    assert crypto.sealed_key_id(blob) == 7
    assert len(blob) == 1 + 4 + 12 + len(b"Awa Ndiaye") + 16
    assert crypto.open_value(KEY, blob, CTX) == b"Awa Ndiaye"


def test_same_plaintext_seals_differently() -> None:
    assert crypto.seal_value(KEY, 1, b"x", CTX) != crypto.seal_value(KEY, 1, b"x", CTX)


def test_other_context_or_key_does_not_open() -> None:
    blob = crypto.seal_value(KEY, 1, b"secret", CTX)
    with pytest.raises(crypto.DecryptionFailed):
        crypto.open_value(KEY, blob, uuid.UUID(int=2).bytes + b"\x00pii")
    with pytest.raises(crypto.DecryptionFailed):
        crypto.open_value(KEY, blob, uuid.UUID(int=1).bytes + b"\x00marketing")
    with pytest.raises(crypto.DecryptionFailed):
        crypto.open_value(bytes(32), blob, CTX)


def test_changed_key_id_or_unknown_format_is_refused() -> None:
    blob = bytearray(crypto.seal_value(KEY, 1, b"secret", CTX))
    blob[4] = 2  # claims key id 2: the header is authenticated
    with pytest.raises(crypto.DecryptionFailed):
        crypto.open_value(KEY, bytes(blob), CTX)
    blob[0] = 9
    with pytest.raises(crypto.DecryptionFailed, match="format"):
        crypto.sealed_key_id(bytes(blob))
    with pytest.raises(crypto.DecryptionFailed, match="short"):
        crypto.sealed_key_id(b"\x01\x00")


@settings(max_examples=60, deadline=None)
@given(
    plaintext=st.binary(max_size=64),
    position=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
)
def test_any_flipped_byte_breaks_the_seal(plaintext: bytes, position: int, flip: int) -> None:
    blob = bytearray(crypto.seal_value(KEY, 3, plaintext, CTX))
    blob[position % len(blob)] ^= flip
    with pytest.raises(crypto.DecryptionFailed):
        crypto.open_value(KEY, bytes(blob), CTX)


def test_keyed_hash_and_hkdf() -> None:
    h = crypto.keyed_hash(KEY, b"+221771234567")
    assert len(h) == 64
    assert h == crypto.keyed_hash(KEY, b"+221771234567")
    assert h != crypto.keyed_hash(bytes(32), b"+221771234567")
    a = crypto.hkdf(KEY, info=b"a")
    assert len(a) == 32
    assert a != crypto.hkdf(KEY, info=b"b")
    assert a != KEY


# -- local KMS -----------------------------------------------------------------------------
def test_local_kms_files_are_private_and_created_on_first_use(tmp_path: Path) -> None:
    kms = LocalFileKMS(tmp_path / "kms")
    dek, wrapped = kms.generate_data_key("tenant-a")
    assert len(dek) == 32
    assert dek not in wrapped
    key_file = tmp_path / "kms" / "tenant-a.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "kms").stat().st_mode) == 0o700
    key_id, version, *_ = parse_wrapped(wrapped)
    assert (key_id, version) == ("tenant-a", 1)
    assert kms.unwrap("tenant-a", wrapped) == dek
    # A second instance (another process) reads the same key.
    assert LocalFileKMS(tmp_path / "kms").unwrap("tenant-a", wrapped) == dek


def test_local_kms_refuses_bad_ids_and_foreign_blobs(tmp_path: Path) -> None:
    kms = LocalFileKMS(tmp_path)
    with pytest.raises(ValueError, match="invalid key id"):
        kms.create_key("../etc/passwd")
    _, wrapped = kms.generate_data_key("tenant-a")
    kms.create_key("tenant-b")
    with pytest.raises(KmsError, match="another key id"):
        kms.unwrap("tenant-b", wrapped)
    with pytest.raises(KeyNotFound):
        kms.unwrap("tenant-c", wrapped)
    tampered = bytearray(wrapped)
    tampered[-1] ^= 1
    with pytest.raises(KmsError, match="authentication"):
        kms.unwrap("tenant-a", bytes(tampered))


def test_rotation_rewrap_and_min_decryption_version(tmp_path: Path) -> None:
    kms = LocalFileKMS(tmp_path)
    dek, old = kms.generate_data_key("k")
    info = kms.rotate_key("k")
    assert (info.latest_version, info.min_decryption_version) == (2, 1)
    new = kms.rewrap("k", old)
    assert parse_wrapped(new)[1] == 2
    assert kms.unwrap("k", old) == dek  # old version still opens until retired
    assert kms.unwrap("k", new) == dek
    kms.set_min_decryption_version("k", 2)
    with pytest.raises(KeyVersionRetired):
        kms.unwrap("k", old)
    assert kms.unwrap("k", new) == dek
    with pytest.raises(ValueError, match="min decryption version"):
        kms.set_min_decryption_version("k", 3)


def test_destroy_is_final(tmp_path: Path) -> None:
    kms = LocalFileKMS(tmp_path)
    _, wrapped = kms.generate_data_key("k")
    kms.destroy_key("k")
    assert not (tmp_path / "k.json").exists()
    with pytest.raises(KeyDestroyed):
        kms.unwrap("k", wrapped)
    # No silent resurrection by "create on first use".
    with pytest.raises(KeyDestroyed):
        kms.generate_data_key("k")
    with pytest.raises(KeyDestroyed):
        kms.create_key("k")


def test_make_kms_uses_settings_path(tmp_path: Path) -> None:
    kms = make_kms(Settings(data_dir=tmp_path))
    assert isinstance(kms, LocalFileKMS)
    assert kms.root == tmp_path / "kms"


# -- normalisation -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("77 123 45 67", "+221771234567"),
        ("771234567", "+221771234567"),
        ("+221 77 123 45 67", "+221771234567"),
        ("00221-77-123-45-67", "+221771234567"),
        ("221771234567", "+221771234567"),
        ("(+221) 33.821.00.00", "+221338210000"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033612345678", "+33612345678"),
    ],
)
def test_normalise_phone(raw: str, expected: str) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "abc", "12345", "+221 12 345 67 89", "+221 77 123 45 6", "0612345678", "+0123456"]
)
def test_normalise_phone_rejects_with_bilingual_message(raw: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        normalise_phone(raw)
    assert err.value.field == "phone"
    assert "numéro de téléphone invalide" in err.value.message
    assert "invalid phone number" in err.value.message


def test_normalise_other_kinds() -> None:
    assert normalise("email", "  Awa.Ndiaye@Example.SN ") == "awa.ndiaye@example.sn"
    assert normalise("id_number", "1 234-5678 90123") == "1234567890123"
    assert normalise("name", "  AWA   Ndiaye ") == "awa ndiaye"
    with pytest.raises(ValidationFailed):
        normalise("email", "   ")
    with pytest.raises(ValueError, match="kind"):
        normalise("colour", "blue")


@settings(max_examples=80, deadline=None)
@given(
    prefix=st.sampled_from(["70", "75", "76", "77", "78", "33"]),
    rest=st.text(alphabet="0123456789", min_size=7, max_size=7),
    intl=st.sampled_from(["", "+221", "00221", "221", "+221 "]),
    sep=st.sampled_from(["", " ", ".", "-"]),
)
def test_any_written_form_of_a_senegalese_number_normalises_alike(
    prefix: str, rest: str, intl: str, sep: str
) -> None:
    written = intl + sep.join([prefix, rest[:3], rest[3:5], rest[5:]])
    assert normalise_phone(written) == f"+221{prefix}{rest}"


def test_ed25519_verify_agrees_with_openssl_and_rejects_without_raising() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    message = b"ticket body"
    sig = key.sign(message)
    assert crypto.ed25519_verify(public, sig, message)
    key.public_key().verify(sig, message)  # the signer's library agrees
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    assert not crypto.ed25519_verify(other, sig, message)
    assert not crypto.ed25519_verify(public, sig, message + b"!")
    assert not crypto.ed25519_verify(public, sig[:-1] + bytes([sig[-1] ^ 1]), message)
    assert not crypto.ed25519_verify(public, sig[:10], message)  # malformed signature
    assert not crypto.ed25519_verify(public[:10], sig, message)  # malformed key
