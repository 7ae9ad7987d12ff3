"""Access control's data-subject provider: accreditations and gate entry records.

An accreditation stores the person's name and photo sealed; there is no phone, e-mail or
ID-number index, so a person is found by accreditation id. Gate records (scans, presence)
hold no name, only a credential id: they are found through the ``credential`` identifiers
other providers derive (a ticket's id) or through the accreditation itself.

Erasure seals a tombstone over the name (the column is NOT NULL) and drops the photo. A
badge without a name or photo can no longer be checked against its bearer, so the badge
is revoked (audited by access; harmless when it has expired already). Entry records
stay: they carry no personal data once the credential is pseudonymised, and presence rows
are what stops a second entry. Without legal hold, the scans of an erased accreditation
are deleted too.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from teranga.access import service
from teranga.access.models import Accreditation, CheckinList, ConflictRow, PresenceRow, ScanRow
from teranga.platform.clock import utcnow
from teranga.platform.uow import UnitOfWork
from teranga.privacy import api as privacy
from teranga.privacy.api import (
    TOMBSTONE,
    Identifier,
    RetentionClass,
    SubjectRecord,
    ids_of,
    iso,
)

ACCREDITATIONS = "access.accreditation"
ENTRY_LOG = "access.entry_log"
PHOTO_PURPOSE = "access.photo"


class AccessSubjects:
    domain = "access"
    tables = ("access_accreditations",)
    retention = (
        RetentionClass(
            name=ACCREDITATIONS,
            processing="access",
            period="P6M",
            anchor="end of the accreditation's validity",
            action="seal a tombstone over the name and drop the photo",
        ),
        RetentionClass(
            name=ENTRY_LOG,
            processing="access",
            period="P6M",
            anchor="closing of the check-in list (or the scan, for scans without a list)",
            action="delete scans, presence rows and double-entry conflicts",
        ),
    )

    # -- find ------------------------------------------------------------------------------

    def find(self, uow: UnitOfWork, identifier: Identifier) -> list[SubjectRecord]:
        tid = uow.require_tenant()
        if identifier.kind == "accreditation":
            acc = uow.session.scalar(
                sa.select(Accreditation.id).where(
                    Accreditation.tenant_id == tid,
                    Accreditation.id == uuid.UUID(identifier.value),
                )
            )
            if acc is None:
                return []
            return [
                SubjectRecord(
                    self.domain,
                    "accreditation",
                    str(acc),
                    derived=(Identifier("credential", str(acc)),),
                )
            ]
        if identifier.kind != "credential":
            return []
        cred = uuid.UUID(identifier.value)
        scans = uow.session.scalars(
            sa.select(ScanRow.id).where(ScanRow.tenant_id == tid, ScanRow.credential_id == cred)
        )
        presence = uow.session.scalars(
            sa.select(PresenceRow.list_id).where(
                PresenceRow.tenant_id == tid, PresenceRow.credential_id == cred
            )
        )
        return [SubjectRecord(self.domain, "scan", str(s)) for s in scans] + [
            SubjectRecord(self.domain, "presence", f"{lst}:{cred}") for lst in presence
        ]

    # -- export ----------------------------------------------------------------------------

    def export(self, uow: UnitOfWork, records: Sequence[SubjectRecord]) -> dict[str, Any]:
        tid = uow.require_tenant()
        accs = list(
            uow.session.scalars(
                sa.select(Accreditation)
                .where(
                    Accreditation.tenant_id == tid,
                    Accreditation.id.in_(ids_of(records, "accreditation")),
                )
                .order_by(Accreditation.created_at, Accreditation.id)
            )
        )
        scans = list(
            uow.session.scalars(
                sa.select(ScanRow)
                .where(ScanRow.tenant_id == tid, ScanRow.id.in_(ids_of(records, "scan")))
                .order_by(ScanRow.at, ScanRow.id)
            )
        )
        presence = _presence(uow, records)
        lists = _list_names(
            uow, {s.list_id for s in scans if s.list_id} | {p.list_id for p in presence}
        )
        return {
            "accreditations": [
                {
                    "id": str(a.id),
                    "name": privacy.unseal(uow, a.name_sealed),
                    "organisation": a.organisation,
                    "role": a.role,
                    "zones": list(a.zones),
                    "valid_from": iso(a.valid_from),
                    "valid_until": iso(a.valid_until),
                    "revoked_at": iso(a.revoked_at),
                    "created_at": iso(a.created_at),
                    "photo": (
                        {
                            "type": a.photo_type,
                            "base64": privacy.unseal(uow, a.photo_sealed, purpose=PHOTO_PURPOSE),
                        }
                        if a.photo_sealed is not None
                        else None
                    ),
                }
                for a in accs
            ],
            "entries": [
                {
                    "credential_id": str(s.credential_id),
                    "list": lists.get(s.list_id) if s.list_id else None,
                    "gate": s.gate,
                    "at": iso(s.at),
                    "direction": s.direction,
                    "accepted": s.accepted,
                    "reason": s.reason,
                    "online": s.online,
                }
                for s in scans
            ],
            "presence": [
                {
                    "credential_id": str(p.credential_id),
                    "list": lists.get(p.list_id),
                    "inside": p.inside,
                    "gate": p.gate,
                    "at": iso(p.at),
                    "entries": p.entries,
                }
                for p in presence
            ],
        }

    # -- erase -----------------------------------------------------------------------------

    def erase(self, uow: UnitOfWork, records: Sequence[SubjectRecord], *, keep_legal: bool) -> int:
        tid = uow.require_tenant()
        now = utcnow()
        changed = 0
        accs = list(
            uow.session.scalars(
                sa.select(Accreditation)
                .where(
                    Accreditation.tenant_id == tid,
                    Accreditation.id.in_(ids_of(records, "accreditation")),
                )
                .order_by(Accreditation.id)
                .with_for_update()
            )
        )
        for a in accs:
            if a.revoked_at is None:
                service.revoke_accreditation(uow, a.id, now=now, actor_id=None)
            if _tombstone(uow, a):
                changed += 1
        uow.session.flush()
        if not keep_legal and accs:
            erased = [a.id for a in accs]
            uow.session.execute(
                sa.delete(ScanRow)
                .where(ScanRow.tenant_id == tid, ScanRow.credential_id.in_(erased))
                .execution_options(synchronize_session=False)
            )
            uow.session.execute(
                sa.delete(ConflictRow)
                .where(ConflictRow.tenant_id == tid, ConflictRow.credential_id.in_(erased))
                .execution_options(synchronize_session=False)
            )
        return changed

    # -- retention -------------------------------------------------------------------------

    def purge_expired(
        self, uow: UnitOfWork, cutoffs: Mapping[str, dt.datetime], *, dry_run: bool
    ) -> dict[str, int]:
        tid = uow.require_tenant()
        counts: dict[str, int] = {}
        if ACCREDITATIONS in cutoffs:
            expired = uow.session.scalars(
                sa.select(Accreditation)
                .where(
                    Accreditation.tenant_id == tid,
                    Accreditation.valid_until < cutoffs[ACCREDITATIONS],
                )
                .order_by(Accreditation.id)
            )
            n = 0
            for a in expired:
                if _is_tombstoned(uow, a):
                    continue
                n += 1
                if not dry_run:
                    _tombstone(uow, a)
            counts[ACCREDITATIONS] = n
            uow.session.flush()
        if ENTRY_LOG in cutoffs:
            cutoff = cutoffs[ENTRY_LOG]
            closed = sa.select(CheckinList.id).where(
                CheckinList.tenant_id == tid,
                CheckinList.closes_at.is_not(None),
                CheckinList.closes_at < cutoff,
            )
            scans = sa.and_(
                ScanRow.tenant_id == tid,
                sa.or_(
                    ScanRow.list_id.in_(closed),
                    sa.and_(ScanRow.list_id.is_(None), ScanRow.at < cutoff),
                ),
            )
            presence = sa.and_(PresenceRow.tenant_id == tid, PresenceRow.list_id.in_(closed))
            conflicts = sa.and_(ConflictRow.tenant_id == tid, ConflictRow.list_id.in_(closed))
            n = 0
            for model, where in (
                (ScanRow, scans),
                (PresenceRow, presence),
                (ConflictRow, conflicts),
            ):
                n += int(
                    uow.session.scalar(sa.select(sa.func.count()).select_from(model).where(where))
                    or 0
                )
                if not dry_run:
                    uow.session.execute(
                        sa.delete(model).where(where).execution_options(synchronize_session=False)
                    )
            counts[ENTRY_LOG] = n
        return counts


def _is_tombstoned(uow: UnitOfWork, a: Accreditation) -> bool:
    if a.photo_sealed is not None:
        return False
    try:
        return privacy.unseal(uow, a.name_sealed) == TOMBSTONE
    except (privacy.DecryptionFailed, privacy.KeyDestroyed):
        return True  # unreadable already (crypto-shredded): nothing left to erase


def _tombstone(uow: UnitOfWork, a: Accreditation) -> bool:
    """Seal the tombstone over the name and drop the photo; False when already done."""
    if _is_tombstoned(uow, a):
        return False
    a.name_sealed = privacy.seal(uow, TOMBSTONE)
    a.photo_sealed = None
    a.photo_type = None
    return True


def _presence(uow: UnitOfWork, records: Sequence[SubjectRecord]) -> list[PresenceRow]:
    keys = {tuple(r.id.split(":")) for r in records if r.kind == "presence"}
    if not keys:
        return []
    rows = uow.session.scalars(
        sa.select(PresenceRow)
        .where(
            PresenceRow.tenant_id == uow.require_tenant(),
            PresenceRow.credential_id.in_({uuid.UUID(cred) for _, cred in keys}),
        )
        .order_by(PresenceRow.at)
    )
    return [p for p in rows if (str(p.list_id), str(p.credential_id)) in keys]


def _list_names(uow: UnitOfWork, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = uow.session.execute(
        sa.select(CheckinList.id, CheckinList.name).where(CheckinList.id.in_(ids))
    ).all()
    return dict(rows)


provider = AccessSubjects()
