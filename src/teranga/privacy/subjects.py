"""The data-subject provider registry: how each domain finds, exports and erases a person.

Each domain that stores personal data exposes ``teranga.<domain>.subject.provider``, an
object following :class:`SubjectProvider`. Privacy discovers them through
``teranga.domains.DOMAINS`` (module ``subject``), so privacy imports no domain statically.

Contract for providers:

* ``find(uow, identifier)`` returns every record of the person in the unit's tenant,
  matching through blind indexes (never by scanning sealed columns). A record may name
  ``derived`` identifiers (e.g. the ids of the person's tickets, kind ``credential``):
  the orchestrator feeds them to every provider until nothing new turns up, which is how
  gate entries of a ticket bought with a phone are found by the access provider.
* ``export(uow, records)`` returns a JSON-ready, decrypted, human-readable section.
* ``erase(uow, records, keep_legal=...)`` removes or pseudonymises the personal data and
  returns how many records it changed. With ``keep_legal`` (the default for erasure
  requests) rows under a legal hold (accounting, security logs) stay, without names,
  phones or blind indexes. It MUST NOT break invariants: a valid ticket keeps its id,
  its signed payload and its entry records.
* ``purge_expired(uow, cutoffs, dry_run=...)`` applies the provider's retention classes:
  ``cutoffs`` maps each class name to the instant before which its data has expired.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from teranga.domains import domain_modules
from teranga.platform.errors import ValidationFailed
from teranga.platform.uow import UnitOfWork
from teranga.privacy.domain import normalise_phone, normalise_text

#: What erased sealed fields are replaced with (sealed again, so the columns keep their type).
TOMBSTONE = "[effacé / erased]"

#: Identifier kinds a requester may give, and the internal ``credential`` kind.
PUBLIC_KINDS = ("phone", "email", "id_number", "accreditation")
KINDS = (*PUBLIC_KINDS, "credential")

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Identifier:
    """A normalised way to designate a person (or one of their credentials)."""

    kind: str
    value: str

    @staticmethod
    def parse(kind: str, raw: str) -> Identifier:
        """Validate and normalise; ValidationFailed (422) on a malformed value."""
        if kind not in KINDS:
            raise ValidationFailed("kind", f"one of {', '.join(PUBLIC_KINDS)}")
        raw = (raw or "").strip()
        if not raw or len(raw) > 200:
            raise ValidationFailed("value", "1 to 200 characters")
        if kind == "phone":
            return Identifier(kind, normalise_phone(raw, field="value"))
        if kind == "email":
            value = normalise_text(raw)
            if not _EMAIL_RE.match(value):
                raise ValidationFailed("value", "not an e-mail address")
            return Identifier(kind, value)
        if kind in ("accreditation", "credential"):
            try:
                return Identifier(kind, str(uuid.UUID(raw)))
            except ValueError:
                raise ValidationFailed("value", "not an identifier (UUID)") from None
        return Identifier(kind, raw)

    @property
    def index_kind(self) -> str:
        """The blind-index kind used to pseudonymise this identifier in audit entries."""
        return self.kind if self.kind in ("phone", "email", "id_number") else "text"


@dataclass(frozen=True)
class SubjectRecord:
    """One row about the person: ``kind`` is the provider's own ("order", "ticket"...)."""

    domain: str
    kind: str
    id: str
    derived: tuple[Identifier, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class RetentionClass:
    """A class of personal data with its retention, bounded by its register processing.

    ``period`` is an ISO 8601 duration counted from ``anchor`` (described in words: the
    provider applies it); it must not exceed the retention of ``processing`` in the
    register of processings.
    """

    name: str
    processing: str
    period: str
    anchor: str
    action: str


@runtime_checkable
class SubjectProvider(Protocol):
    domain: str
    retention: tuple[RetentionClass, ...]
    #: Tables holding sealed personal data that this provider is responsible for.
    tables: tuple[str, ...]

    def find(self, uow: UnitOfWork, identifier: Identifier) -> list[SubjectRecord]: ...

    def export(self, uow: UnitOfWork, records: Sequence[SubjectRecord]) -> dict[str, Any]: ...

    def erase(
        self, uow: UnitOfWork, records: Sequence[SubjectRecord], *, keep_legal: bool
    ) -> int: ...

    def purge_expired(
        self, uow: UnitOfWork, cutoffs: Mapping[str, dt.datetime], *, dry_run: bool
    ) -> dict[str, int]: ...


def providers() -> list[SubjectProvider]:
    """Every domain's provider, in DOMAINS order (a domain without ``subject`` has none)."""
    found: list[SubjectProvider] = []
    for module in domain_modules("subject"):
        provider = getattr(module, "provider", None)
        if not isinstance(provider, SubjectProvider):
            raise TypeError(f"{module.__name__}.provider is not a SubjectProvider")
        found.append(provider)
    return found


def ids_of(records: Sequence[SubjectRecord], kind: str) -> list[uuid.UUID]:
    """The ids of ``records`` of ``kind``, as UUIDs (helper for providers)."""
    return [uuid.UUID(r.id) for r in records if r.kind == kind]


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
