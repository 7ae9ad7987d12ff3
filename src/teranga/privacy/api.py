"""What other domains may use from privacy: sealing, blind indexes, residency, register."""

from __future__ import annotations

from teranga.platform.crypto import DecryptionFailed
from teranga.platform.kms import KeyDestroyed, KeyVersionRetired
from teranga.privacy.domain import normalise_phone
from teranga.privacy.register import Processing, Register, load_register
from teranga.privacy.residency import (
    StoreStatus,
    enforce_residency,
    require_store,
    residency_report,
)
from teranga.privacy.service import (
    blind_index,
    rotate_data_key,
    rotate_tenant_kek,
    seal,
    shred_tenant,
    unseal,
)
from teranga.privacy.subjects import (
    TOMBSTONE,
    Identifier,
    RetentionClass,
    SubjectRecord,
    ids_of,
    iso,
)


def register(env: str = "dev") -> Register:
    """The validated register of processings shipped with the platform."""
    return load_register(env=env)


__all__ = [
    "TOMBSTONE",
    "DecryptionFailed",
    "Identifier",
    "KeyDestroyed",
    "KeyVersionRetired",
    "Processing",
    "Register",
    "RetentionClass",
    "StoreStatus",
    "SubjectRecord",
    "blind_index",
    "enforce_residency",
    "ids_of",
    "iso",
    "normalise_phone",
    "register",
    "require_store",
    "residency_report",
    "rotate_data_key",
    "rotate_tenant_kek",
    "seal",
    "shred_tenant",
    "unseal",
]
