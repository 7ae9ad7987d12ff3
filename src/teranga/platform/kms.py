"""Key management: key-encryption keys (KEKs) that wrap data keys (DEKs), never exported.

The platform only sees DEKs (plaintext briefly, in memory) and wrapped DEKs (stored in the
database). KEKs stay inside the KMS. Destroying a KEK makes every DEK it wrapped, and so
every value sealed with those DEKs, unreadable everywhere, backups included: that is
crypto-shredding (security reference C2, L5, R11).

``KeyManagementService`` is shaped after OpenBao/Vault transit so a transit or PKCS#11
backend can implement it without changing callers:

- ``create_key(key_id)``: transit ``POST /transit/keys/:name`` (type ``aes256-gcm96``,
  ``exportable=false``); PKCS#11 ``C_GenerateKey`` (CKK_AES, 256 bits,
  ``CKA_EXTRACTABLE=false``, ``CKA_SENSITIVE=true``).
- ``generate_data_key(key_id)``: transit ``POST /transit/datakey/plaintext/:name`` returns
  the plaintext DEK and its ciphertext ``vault:vN:...``; PKCS#11 ``C_GenerateRandom`` then
  ``C_WrapKey``/``C_Encrypt`` with ``CKM_AES_GCM``.
- ``unwrap(key_id, wrapped)``: transit ``POST /transit/decrypt/:name``; PKCS#11
  ``C_Decrypt`` (or ``C_UnwrapKey`` into a session object).
- ``rewrap(key_id, wrapped)``: transit ``POST /transit/rewrap/:name`` (to the latest
  version, plaintext never leaves the KMS); PKCS#11 decrypt + encrypt inside the token.
- ``rotate_key(key_id)``: transit ``POST /transit/keys/:name/rotate``; PKCS#11 a new key
  object labelled ``<key_id>:v<N>``.
- ``set_min_decryption_version(key_id, n)``: transit ``POST /transit/keys/:name/config``
  with ``min_decryption_version``; PKCS#11 ``C_DestroyObject`` on versions below ``n``.
- ``destroy_key(key_id)``: transit ``POST /transit/keys/:name/config`` with
  ``deletion_allowed=true`` then ``DELETE /transit/keys/:name``; PKCS#11
  ``C_DestroyObject`` on every version.

Wrapped blobs are opaque to callers but always carry the key id and KEK version, as
transit's ``vault:vN:`` prefix does, so ``rewrap`` and ``min_decryption_version`` work.

``LocalFileKMS`` is the embedded-mode backend: one JSON file per KEK (mode 0600, directory
0700) under ``settings.resolved_kms_path``. Its wrapped-DEK layout (format version 1)::

    offset  size  field
    0       1     format version, 0x01
    1       1     length L of the key id (1..100)
    2       L     key id, ASCII
    2+L     4     KEK version, unsigned big-endian
    6+L     12    GCM nonce
    18+L    48    AES-256-GCM ciphertext of the 32-byte DEK + 16-byte tag

The AAD is ``b"teranga.kms.wrap.v1\\x00"`` + bytes ``0..6+L``, so a blob cannot be
replayed under another key id or version. A local KEK file is only as safe as the disk
holding it: production uses a transit backend running in-country.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import struct
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Connection, Engine

from teranga.platform.crypto import KEY_BYTES, NONCE_BYTES, generate_key
from teranga.platform.errors import TerangaError

if TYPE_CHECKING:
    from teranga.config import Settings

KEY_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
WRAP_FORMAT_V1 = 0x01
_WRAP_AAD = b"teranga.kms.wrap.v1\x00"
_VERSION = struct.Struct(">I")


class KmsError(TerangaError):
    status = 500
    code = "kms.error"


class KeyNotFound(KmsError):
    code = "kms.key_not_found"


class KeyDestroyed(KmsError):
    """The key was destroyed on purpose (crypto-shredding): the data is gone for good."""

    status = 410
    code = "kms.key_destroyed"


class KeyVersionRetired(KmsError):
    code = "kms.key_version_retired"


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    latest_version: int
    min_decryption_version: int


class KeyManagementService(Protocol):
    """A KMS holding KEKs by id, with versions and a minimum decryption version."""

    def create_key(self, key_id: str) -> KeyInfo:
        """Create the KEK if absent (idempotent); refuse a destroyed id (KeyDestroyed)."""
        ...

    def key_info(self, key_id: str) -> KeyInfo:
        """Versions of an existing KEK (KeyNotFound / KeyDestroyed otherwise)."""
        ...

    def generate_data_key(self, key_id: str) -> tuple[bytes, bytes]:
        """A fresh 32-byte DEK and its wrapping under the latest KEK version.

        The KEK is created on first use.
        """
        ...

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        """The DEK inside ``wrapped``; KeyVersionRetired below min_decryption_version."""
        ...

    def rewrap(self, key_id: str, wrapped: bytes) -> bytes:
        """Re-wrap under the latest KEK version without exposing the DEK to the caller."""
        ...

    def rotate_key(self, key_id: str) -> KeyInfo:
        """Add a KEK version; new wraps use it, older versions still unwrap."""
        ...

    def set_min_decryption_version(self, key_id: str, version: int) -> KeyInfo:
        """Refuse to unwrap blobs wrapped under versions below ``version``."""
        ...

    def destroy_key(self, key_id: str) -> None:
        """Destroy every version of the KEK, irreversibly (crypto-shredding)."""
        ...


def _check_key_id(key_id: str) -> None:
    if not KEY_ID_RE.match(key_id):
        raise ValueError(f"invalid key id {key_id!r}")


def wrap_header(key_id: str, version: int) -> bytes:
    """Bytes 0..6+L of a version-1 wrapped DEK (also its AAD suffix)."""
    raw_id = key_id.encode("ascii")
    return bytes([WRAP_FORMAT_V1, len(raw_id)]) + raw_id + _VERSION.pack(version)


def parse_wrapped(wrapped: bytes) -> tuple[str, int, bytes, bytes, bytes]:
    """(key id, KEK version, header, nonce, ciphertext) of a version-1 wrapped DEK."""
    if len(wrapped) < 2 or wrapped[0] != WRAP_FORMAT_V1:
        raise KmsError("kms.bad_wrapped_key", "unknown wrapped key format")
    n = wrapped[1]
    end = 2 + n + _VERSION.size
    if n == 0 or len(wrapped) < end + NONCE_BYTES + KEY_BYTES + 16:
        raise KmsError("kms.bad_wrapped_key", "wrapped key too short")
    key_id = wrapped[2 : 2 + n].decode("ascii", errors="replace")
    (version,) = _VERSION.unpack_from(wrapped, 2 + n)
    return (
        key_id,
        int(version),
        wrapped[:end],
        wrapped[end : end + NONCE_BYTES],
        wrapped[end + NONCE_BYTES :],
    )


class LocalFileKMS:
    """KEKs as files under one directory; for the embedded mode and tests.

    Nothing is cached in memory, so a destroy or rotation in one process is seen at once
    by every other process sharing the directory. Writes are atomic (temp file + rename)
    and serialised per key with an ``fcntl`` lock.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()

    # -- files -----------------------------------------------------------------------
    def _path(self, key_id: str, suffix: str = ".json") -> Path:
        _check_key_id(key_id)
        return self.root / f"{key_id}{suffix}"

    def _ensure_root(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    @contextlib.contextmanager
    def _locked(self, key_id: str) -> Iterator[None]:
        self._ensure_root()
        with self._lock:
            fd = os.open(self._path(key_id, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def _write(self, path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _load(self, key_id: str) -> dict[str, Any]:
        path = self._path(key_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            if self._path(key_id, ".destroyed").exists():
                raise KeyDestroyed(message=f"key {key_id} was destroyed") from None
            raise KeyNotFound(message=f"no key {key_id}") from None
        data: dict[str, Any] = json.loads(raw)
        return data

    def _save(self, key_id: str, data: dict[str, Any]) -> None:
        self._write(self._path(key_id), json.dumps(data, sort_keys=True).encode())

    @staticmethod
    def _info(key_id: str, data: dict[str, Any]) -> KeyInfo:
        versions = [int(v) for v in data["versions"]]
        return KeyInfo(key_id, max(versions), int(data["min_decryption_version"]))

    @staticmethod
    def _kek(data: dict[str, Any], version: int) -> bytes:
        return base64.b64decode(data["versions"][str(version)])

    # -- protocol ----------------------------------------------------------------------
    def create_key(self, key_id: str) -> KeyInfo:
        with self._locked(key_id):
            try:
                return self._info(key_id, self._load(key_id))
            except KeyNotFound:
                pass
            data = {
                "key_id": key_id,
                "algorithm": "aes256-gcm96",
                "created_at": dt.datetime.now(dt.UTC).isoformat(),
                "versions": {"1": base64.b64encode(generate_key()).decode()},
                "min_decryption_version": 1,
            }
            self._save(key_id, data)
            return self._info(key_id, data)

    def key_info(self, key_id: str) -> KeyInfo:
        return self._info(key_id, self._load(key_id))

    def _wrap(self, key_id: str, data: dict[str, Any], dek: bytes) -> bytes:
        version = self._info(key_id, data).latest_version
        nonce = os.urandom(NONCE_BYTES)
        header = wrap_header(key_id, version)
        ct = AESGCM(self._kek(data, version)).encrypt(nonce, dek, _WRAP_AAD + header)
        return header + nonce + ct

    def _unwrap(self, key_id: str, data: dict[str, Any], wrapped: bytes) -> bytes:
        blob_key, version, header, nonce, ct = parse_wrapped(wrapped)
        if blob_key != key_id:
            raise KmsError("kms.wrong_key", "wrapped key belongs to another key id")
        info = self._info(key_id, data)
        if version < info.min_decryption_version:
            raise KeyVersionRetired(
                message=f"key {key_id} version {version} is below the minimum decryption "
                f"version {info.min_decryption_version}"
            )
        if str(version) not in data["versions"]:
            raise KeyNotFound(message=f"key {key_id} has no version {version}")
        try:
            return AESGCM(self._kek(data, version)).decrypt(nonce, ct, _WRAP_AAD + header)
        except InvalidTag:
            raise KmsError("kms.bad_wrapped_key", "wrapped key failed authentication") from None

    def generate_data_key(self, key_id: str) -> tuple[bytes, bytes]:
        self.create_key(key_id)
        dek = generate_key()
        return dek, self._wrap(key_id, self._load(key_id), dek)

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        return self._unwrap(key_id, self._load(key_id), wrapped)

    def rewrap(self, key_id: str, wrapped: bytes) -> bytes:
        data = self._load(key_id)
        return self._wrap(key_id, data, self._unwrap(key_id, data, wrapped))

    def rotate_key(self, key_id: str) -> KeyInfo:
        with self._locked(key_id):
            data = self._load(key_id)
            latest = self._info(key_id, data).latest_version
            data["versions"][str(latest + 1)] = base64.b64encode(generate_key()).decode()
            self._save(key_id, data)
            return self._info(key_id, data)

    def set_min_decryption_version(self, key_id: str, version: int) -> KeyInfo:
        with self._locked(key_id):
            data = self._load(key_id)
            info = self._info(key_id, data)
            if not 1 <= version <= info.latest_version:
                raise ValueError(f"min decryption version must be in 1..{info.latest_version}")
            data["min_decryption_version"] = version
            # Versions no one may use any more are deleted, not just hidden.
            data["versions"] = {k: v for k, v in data["versions"].items() if int(k) >= version}
            self._save(key_id, data)
            return self._info(key_id, data)

    def destroy_key(self, key_id: str) -> None:
        with self._locked(key_id):
            path = self._path(key_id)
            # The tombstone stops "create on first use" from silently resurrecting the id.
            self._write(
                self._path(key_id, ".destroyed"),
                dt.datetime.now(dt.UTC).isoformat().encode(),
            )
            if path.exists():
                # Overwrite before unlinking so the key bytes do not linger in the file's blocks
                # (best effort: journalling and SSD wear levelling may keep copies).
                size = path.stat().st_size
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.write(fd, b"\x00" * size)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                path.unlink()


def make_kms(settings: Settings) -> KeyManagementService:
    """The KMS selected by ``settings.kms_backend``."""
    if settings.kms_backend == "local":
        return LocalFileKMS(settings.resolved_kms_path)
    raise ValueError(f"unknown KMS backend {settings.kms_backend!r}")


# The KMS serving each engine, so code holding only a unit of work can reach it. Set once by
# build_container; weak so disposed containers do not pin their engines.
_BY_ENGINE: weakref.WeakKeyDictionary[Engine, KeyManagementService] = weakref.WeakKeyDictionary()


def bind_kms(engine: Engine, kms: KeyManagementService) -> None:
    _BY_ENGINE[engine] = kms


def kms_for(bind: Engine | Connection) -> KeyManagementService:
    engine = bind.engine if isinstance(bind, Connection) else bind
    kms = _BY_ENGINE.get(engine)
    if kms is None:
        raise RuntimeError("no KMS bound to this engine; build it with build_container")
    return kms
