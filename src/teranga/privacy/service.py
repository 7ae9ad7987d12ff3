"""Sealing personal data with the tenant's key, blind indexes, rotation and shredding.

Pattern for other domains (personal data columns)::

    class Holder(IdMixin, TenantScoped, Base):
        __tablename__ = "ticket_holders"
        name_sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)
        phone_sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)
        phone_index: Mapped[str] = mapped_column(sa.String(64), index=True)

    holder = Holder(
        tenant_id=uow.require_tenant(),
        name_sealed=privacy.seal(uow, name),
        phone_sealed=privacy.seal(uow, phone),
        phone_index=privacy.blind_index(uow, phone, kind="phone"),
    )
    # lookup / per-person cap: WHERE tenant_id = :t AND phone_index = :ix
    privacy.blind_index(uow, typed_phone, kind="phone")
    # display
    privacy.unseal(uow, holder.name_sealed)

Put an index ``(tenant_id, <x>_index)`` on blind-index columns used for lookups. Never
sort or filter on sealed columns; never log their plaintext. A value sealed with a purpose
other than "pii" must be unsealed with the same purpose.
"""

from __future__ import annotations

import re
import uuid

from teranga.audit import api as audit
from teranga.platform import crypto
from teranga.platform.kms import KeyInfo
from teranga.platform.uow import UnitOfWork
from teranga.privacy import keys
from teranga.privacy.domain import normalise

_PURPOSE_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


def _context(tenant_id: uuid.UUID, purpose: str) -> bytes:
    if not _PURPOSE_RE.match(purpose):
        raise ValueError(f"invalid purpose {purpose!r}")
    return tenant_id.bytes + b"\x00" + purpose.encode("ascii")


def seal(uow: UnitOfWork, plaintext: str, *, purpose: str = "pii") -> bytes:
    """Encrypt ``plaintext`` with the tenant's current DEK; AAD binds tenant and purpose."""
    if not isinstance(plaintext, str):
        raise TypeError("seal() takes text; encode other values explicitly")
    context = _context(uow.require_tenant(), purpose)
    version, dek = keys.active_key(uow)
    return crypto.seal_value(dek, version, plaintext.encode("utf-8"), context)


def unseal(uow: UnitOfWork, blob: bytes, *, purpose: str = "pii") -> str:
    """Decrypt a value sealed by ``seal`` for the same tenant and purpose.

    Raises KeyDestroyed (410) when the tenant was crypto-shredded and DecryptionFailed when
    the value was altered or sealed for another tenant or purpose.
    """
    context = _context(uow.require_tenant(), purpose)
    raw = bytes(blob)
    dek = keys.data_key(uow, crypto.sealed_key_id(raw))
    return crypto.open_value(dek, raw, context).decode("utf-8")


def blind_index(uow: UnitOfWork, value: str, *, kind: str = "phone") -> str:
    """A keyed hash (64 hex chars) of the normalised value, for equality lookups.

    HMAC-SHA256 under a per-tenant key derived with HKDF from the tenant's DEK: the same
    phone gives the same index within a tenant, unrelated values across tenants, and
    nothing guessable without the key. ``kind`` (phone, email, id_number, name, text)
    selects the normalisation and separates the index spaces.
    """
    normalised = normalise(kind, value)
    message = kind.encode("ascii") + b"\x00" + normalised.encode("utf-8")
    return crypto.keyed_hash(keys.index_key(uow), message)


def rotate_data_key(uow: UnitOfWork, *, actor_id: uuid.UUID | None = None) -> int:
    """New DEK version for the tenant; returns it. Old values stay readable. Audited."""
    version = keys.rotate_data_key(uow)
    audit.record(
        uow,
        action="privacy.data_key.rotated",
        actor_id=actor_id,
        target_type="tenant_key",
        target_id=keys.kek_id(uow.require_tenant()),
        details={"dek_version": version},
    )
    return version


def rotate_tenant_kek(uow: UnitOfWork, *, actor_id: uuid.UUID | None = None) -> KeyInfo:
    """Rotate the tenant KEK and rewrap its DEKs; old KEK versions retire after commit."""
    info = keys.rotate_kek(uow)
    audit.record(
        uow,
        action="privacy.kek.rotated",
        actor_id=actor_id,
        target_type="tenant_key",
        target_id=info.key_id,
        details={"kek_version": info.latest_version},
    )
    return info


def shred_tenant(uow: UnitOfWork, *, actor_id: uuid.UUID | None = None) -> None:
    """Crypto-shred every value sealed for the tenant (irreversible, backups included).

    The audit entry is written first, in the same transaction: the record of the
    destruction survives it.
    """
    audit.record(
        uow,
        action="privacy.tenant.shredded",
        actor_id=actor_id,
        target_type="tenant_key",
        target_id=keys.kek_id(uow.require_tenant()),
    )
    keys.shred(uow)
