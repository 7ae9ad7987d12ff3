"""Personal data and key custody for ticketing, through ``teranga.privacy.api``.

Phones (and optional ID numbers) are sealed with the tenant key and capped or looked up
through keyed blind indexes; event signing keys are sealed under their own purpose so a
phone blob can never be opened as a key or the reverse.
"""

from __future__ import annotations

import base64

from teranga.platform.uow import UnitOfWork
from teranga.privacy import api as privacy

KEY_PURPOSE = "ticketing.signing-key"


def normalise_phone(raw: str) -> str:
    return privacy.normalise_phone(raw)


def seal_phone(uow: UnitOfWork, phone: str) -> bytes:
    return privacy.seal(uow, phone)


def unseal_phone(uow: UnitOfWork, blob: bytes) -> str:
    return privacy.unseal(uow, blob)


def phone_index(uow: UnitOfWork, phone: str) -> str:
    return privacy.blind_index(uow, phone, kind="phone")


def id_number_index(uow: UnitOfWork, id_number: str) -> str:
    return privacy.blind_index(uow, id_number, kind="id_number")


def seal_private_key(uow: UnitOfWork, raw: bytes) -> bytes:
    return privacy.seal(uow, base64.b64encode(raw).decode("ascii"), purpose=KEY_PURPOSE)


def unseal_private_key(uow: UnitOfWork, blob: bytes) -> bytes:
    return base64.b64decode(privacy.unseal(uow, blob, purpose=KEY_PURPOSE))


LINK_PURPOSE = "ticketing.ticket-link"


def seal_link_secret(uow: UnitOfWork, secret: str) -> bytes:
    return privacy.seal(uow, secret, purpose=LINK_PURPOSE)


def unseal_link_secret(uow: UnitOfWork, blob: bytes) -> str:
    return privacy.unseal(uow, blob, purpose=LINK_PURPOSE)
