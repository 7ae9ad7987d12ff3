"""Per-tenant data keys: created on first use, wrapped by the tenant KEK, cached unwrapped.

Each tenant has one KEK in the KMS (id ``tenant-<uuid>``) and one or more DEK versions in
``tenant_data_keys``. Unwrapped DEKs are cached per process and per engine for
``CACHE_TTL`` seconds: a rotation or a shred done by another process takes effect here
within that time (at once in the process that did it).

A DEK created inside a unit of work enters the cache only after that unit commits, so a
rolled-back key never seals anything that outlives it.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from teranga.platform import crypto
from teranga.platform.clock import utcnow
from teranga.platform.errors import Conflict
from teranga.platform.kms import KeyInfo, KeyManagementService, KeyNotFound, kms_for
from teranga.platform.uow import UnitOfWork
from teranga.privacy.models import TenantDataKey

CACHE_TTL = 300.0
ACTIVE_TTL = 60.0
_INDEX_INFO = b"teranga.blind-index.v1\x00"
_PENDING = "teranga.privacy.pending_keys"


def kek_id(tenant_id: uuid.UUID) -> str:
    return f"tenant-{tenant_id}"


@dataclass
class _Cache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    deks: dict[tuple[uuid.UUID, int], tuple[bytes, float]] = field(default_factory=dict)
    active: dict[uuid.UUID, tuple[int, float]] = field(default_factory=dict)
    index: dict[uuid.UUID, tuple[bytes, float]] = field(default_factory=dict)

    def get_dek(self, tenant_id: uuid.UUID, version: int) -> bytes | None:
        with self.lock:
            hit = self.deks.get((tenant_id, version))
        return hit[0] if hit and hit[1] > time.monotonic() else None

    def put_dek(self, tenant_id: uuid.UUID, version: int, dek: bytes) -> None:
        with self.lock:
            self.deks[(tenant_id, version)] = (dek, time.monotonic() + CACHE_TTL)

    def get_active(self, tenant_id: uuid.UUID) -> int | None:
        with self.lock:
            hit = self.active.get(tenant_id)
        return hit[0] if hit and hit[1] > time.monotonic() else None

    def put_active(self, tenant_id: uuid.UUID, version: int) -> None:
        with self.lock:
            self.active[tenant_id] = (version, time.monotonic() + ACTIVE_TTL)

    def get_index(self, tenant_id: uuid.UUID) -> bytes | None:
        with self.lock:
            hit = self.index.get(tenant_id)
        return hit[0] if hit and hit[1] > time.monotonic() else None

    def put_index(self, tenant_id: uuid.UUID, key: bytes) -> None:
        with self.lock:
            self.index[tenant_id] = (key, time.monotonic() + CACHE_TTL)

    def forget(self, tenant_id: uuid.UUID) -> None:
        with self.lock:
            self.deks = {k: v for k, v in self.deks.items() if k[0] != tenant_id}
            self.active.pop(tenant_id, None)
            self.index.pop(tenant_id, None)


_CACHES: weakref.WeakKeyDictionary[Engine, _Cache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _engine(uow: UnitOfWork) -> Engine:
    bind = uow.session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def _cache(uow: UnitOfWork) -> _Cache:
    engine = _engine(uow)
    with _CACHES_LOCK:
        cache = _CACHES.get(engine)
        if cache is None:
            cache = _CACHES[engine] = _Cache()
        return cache


def kms(uow: UnitOfWork) -> KeyManagementService:
    return kms_for(_engine(uow))


def _rows(uow: UnitOfWork, tenant_id: uuid.UUID) -> sa.Select[TenantDataKey]:
    return sa.select(TenantDataKey).where(TenantDataKey.tenant_id == tenant_id)


def _insert_version(uow: UnitOfWork, tenant_id: uuid.UUID, version: int) -> bytes | None:
    """Insert DEK ``version``; None when a concurrent unit of work inserted it first."""
    dek, wrapped = kms(uow).generate_data_key(kek_id(tenant_id))
    row = TenantDataKey(
        tenant_id=tenant_id, version=version, kek_id=kek_id(tenant_id), wrapped_dek=wrapped
    )
    try:
        with uow.session.begin_nested():
            uow.session.add(row)
    except IntegrityError:
        return None
    cache = _cache(uow)
    pending = _pending(uow)
    pending.add((tenant_id, version))

    def _publish() -> None:
        pending.discard((tenant_id, version))
        cache.put_dek(tenant_id, version, dek)

    uow.on_commit(_publish)
    return dek


def _pending(uow: UnitOfWork) -> set[tuple[uuid.UUID, int]]:
    """DEK versions created by this unit's session and not yet committed: never cached."""
    pending: set[tuple[uuid.UUID, int]] = uow.session.info.setdefault(_PENDING, set())
    return pending


def _unwrap_row(uow: UnitOfWork, row: TenantDataKey) -> bytes:
    dek = kms(uow).unwrap(row.kek_id, bytes(row.wrapped_dek))
    if (row.tenant_id, row.version) not in _pending(uow):
        _cache(uow).put_dek(row.tenant_id, row.version, dek)
    return dek


def active_key(uow: UnitOfWork) -> tuple[int, bytes]:
    """(version, DEK) that seals new values for the unit's tenant; created on first use."""
    tenant_id = uow.require_tenant()
    cache = _cache(uow)
    version = cache.get_active(tenant_id)
    if version is not None:
        dek = cache.get_dek(tenant_id, version)
        if dek is not None:
            return version, dek
    row = uow.session.scalars(
        _rows(uow, tenant_id).order_by(TenantDataKey.version.desc()).limit(1)
    ).first()
    if row is None:
        created = _insert_version(uow, tenant_id, 1)
        if created is not None:
            return 1, created
        row = uow.session.scalars(_rows(uow, tenant_id).where(TenantDataKey.version == 1)).one()
    dek = _unwrap_row(uow, row)
    if (tenant_id, row.version) not in _pending(uow):
        cache.put_active(tenant_id, row.version)
    return row.version, dek


def data_key(uow: UnitOfWork, version: int) -> bytes:
    """The DEK of ``version`` for the unit's tenant, to open values sealed with it."""
    tenant_id = uow.require_tenant()
    if not 0 < version < 2**31:  # the column's range: bytes that were never sealed by us
        raise crypto.DecryptionFailed(message=f"no data key can have version {version}")
    dek = _cache(uow).get_dek(tenant_id, version)
    if dek is not None:
        return dek
    row = uow.session.scalars(_rows(uow, tenant_id).where(TenantDataKey.version == version)).first()
    if row is None:
        # Shredded tenants say so (KeyDestroyed from the KMS); anything else is a value that
        # belongs to another tenant or database.
        with contextlib.suppress(KeyNotFound):
            kms(uow).key_info(kek_id(tenant_id))
        raise crypto.DecryptionFailed(message=f"this tenant has no data key version {version}")
    return _unwrap_row(uow, row)


def index_key(uow: UnitOfWork) -> bytes:
    """The tenant's blind-index key, derived from its first DEK.

    Derived from the lowest surviving version so a DEK rotation does not change the index
    values already stored; changing it means recomputing every index.
    """
    tenant_id = uow.require_tenant()
    cache = _cache(uow)
    key = cache.get_index(tenant_id)
    if key is not None:
        return key
    first = _rows(uow, tenant_id).order_by(TenantDataKey.version.asc()).limit(1)
    row = uow.session.scalars(first).first()
    if row is None:
        active_key(uow)
        row = uow.session.scalars(first).one()
    derived = crypto.hkdf(data_key(uow, row.version), info=_INDEX_INFO + tenant_id.bytes)
    if (tenant_id, row.version) in _pending(uow):
        uow.on_commit(lambda: cache.put_index(tenant_id, derived))
    else:
        cache.put_index(tenant_id, derived)
    return derived


def rotate_data_key(uow: UnitOfWork) -> int:
    """Add a DEK version that seals from now on; values sealed before stay readable."""
    tenant_id = uow.require_tenant()
    current = uow.session.scalar(
        sa.select(sa.func.max(TenantDataKey.version)).where(TenantDataKey.tenant_id == tenant_id)
    )
    version = int(current or 0) + 1
    if _insert_version(uow, tenant_id, version) is None:
        raise Conflict("privacy.rotation_conflict", "another rotation of this key ran at once")
    cache = _cache(uow)
    uow.on_commit(lambda: cache.forget(tenant_id))
    return version


def rotate_kek(uow: UnitOfWork, *, retire_old: bool = True) -> KeyInfo:
    """Rotate the tenant KEK and rewrap every DEK under the new version.

    The old KEK versions are retired (min decryption version raised) only after the
    rewrapped rows are committed, so a failure in between loses nothing.
    """
    tenant_id = uow.require_tenant()
    service = kms(uow)
    key = kek_id(tenant_id)
    service.create_key(key)
    info = service.rotate_key(key)
    now = utcnow()
    for row in uow.session.scalars(_rows(uow, tenant_id)):
        row.wrapped_dek = service.rewrap(key, bytes(row.wrapped_dek))
        row.rewrapped_at = now
    uow.session.flush()
    if retire_old:
        uow.on_commit(lambda: service.set_min_decryption_version(key, info.latest_version))
    return info


def shred(uow: UnitOfWork) -> None:
    """Crypto-shred the tenant: destroy its KEK, then drop its wrapped DEKs.

    The KEK goes first and at once (not after commit): destruction is the point, and a
    rollback afterwards still leaves only wrapped keys nobody can open.
    """
    tenant_id = uow.require_tenant()
    kms(uow).destroy_key(kek_id(tenant_id))
    uow.session.execute(sa.delete(TenantDataKey).where(TenantDataKey.tenant_id == tenant_id))
    cache = _cache(uow)
    cache.forget(tenant_id)
    uow.on_commit(lambda: cache.forget(tenant_id))
