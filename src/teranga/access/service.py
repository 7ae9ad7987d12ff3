"""Access-control use cases: gates, check-in lists, online scans, offline sync, badges.

Exactly-once entry rests on the database, not on timing: the first entry of a credential
in a list is an INSERT into ``access_presence`` whose primary key is (tenant, list,
credential), so of N concurrent scans exactly one inserts; re-entry and exit are
conditional UPDATEs (``WHERE inside = false`` / ``true``) that only one scan can win.
A rescan with the same (scanner, nonce) returns the recorded decision (idempotent).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from sqlalchemy.exc import IntegrityError

from teranga.access import codes, credentials, tickets
from teranga.access.domain import (
    ACCEPT,
    AccreditationRole,
    CheckinRule,
    Credential,
    Decision,
    Direction,
    Presence,
    Reason,
    check_rule,
    decide,
)
from teranga.access.models import (
    Accreditation,
    BadgeKey,
    CheckinList,
    ConflictRow,
    Gate,
    PresenceRow,
    ScanRow,
)
from teranga.platform.errors import NotFound, ValidationFailed
from teranga.platform.ids import new_id
from teranga.platform.uow import UnitOfWork, insert_for

BADGE_KEY_ID = 1
T = TypeVar("T")
MAX_PHOTO_BYTES = 200_000


# -- configuration -----------------------------------------------------------------------


def _uuid_list(values: Sequence[uuid.UUID | str]) -> list[str]:
    return [str(uuid.UUID(str(v))) for v in values]


def create_list(
    uow: UnitOfWork,
    *,
    name: str,
    session_ids: Sequence[uuid.UUID] = (),
    zone_nos: Sequence[int] = (),
    category_nos: Sequence[int] = (),
    badge_zones: Sequence[str] = (),
    accreditation_roles: Sequence[str] = (),
    opens_at: dt.datetime | None = None,
    closes_at: dt.datetime | None = None,
    allow_reentry: bool = False,
    exit_scans: bool = False,
) -> CheckinList:
    if not name.strip():
        raise ValidationFailed("name", "required")
    for role in accreditation_roles:
        if role not in AccreditationRole.__members__.values():
            raise ValidationFailed("accreditation_roles", f"unknown role {role!r}")
    if opens_at and closes_at and closes_at <= opens_at:
        raise ValidationFailed("closes_at", "must be after opens_at")
    row = CheckinList(
        tenant_id=uow.require_tenant(),
        name=name.strip(),
        session_ids=_uuid_list(session_ids),
        zone_nos=sorted(set(zone_nos)),
        category_nos=sorted(set(category_nos)),
        badge_zones=sorted(set(badge_zones)),
        accreditation_roles=sorted(set(accreditation_roles)),
        opens_at=opens_at,
        closes_at=closes_at,
        allow_reentry=allow_reentry,
        exit_scans=exit_scans,
    )
    uow.session.add(row)
    uow.session.flush()
    return row


def create_gate(uow: UnitOfWork, *, name: str, cluster: str, list_ids: Sequence[uuid.UUID]) -> Gate:
    if not name.strip():
        raise ValidationFailed("name", "required")
    for lid in list_ids:
        get_list(uow, lid)
    if uow.session.scalar(
        sa.select(Gate.id).where(Gate.tenant_id == uow.require_tenant(), Gate.name == name)
    ):
        raise ValidationFailed("name", f"a gate named {name!r} exists")
    gate = Gate(
        tenant_id=uow.require_tenant(),
        name=name.strip(),
        cluster=cluster.strip() or name.strip(),
        list_ids=_uuid_list(list_ids),
        code_salt=codes.new_salt(),
    )
    uow.session.add(gate)
    uow.session.flush()
    return gate


def rotate_code_salt(
    uow: UnitOfWork, gate_id: uuid.UUID, *, actor_id: uuid.UUID | None = None
) -> Gate:
    """Draw a new salt for the gate's short-code digests (do it when a scanner is lost):
    scanners see the new salt in their next bundle and fetch a full one with new digests.
    Audited: who made a lost phone's copy of the codes useless, and when."""
    gate = get_gate(uow, gate_id)
    gate.code_salt = codes.new_salt()
    _audit(uow, "access.gate.code_salt_rotated", actor_id, "gate", gate.id, {})
    uow.session.flush()
    return gate


def _code_salt(uow: UnitOfWork, gate: Gate) -> bytes:
    """The gate's salt, drawn on first use for gates made before salts existed (or whose
    salt was cleared). Concurrent first bundles race on a conditional UPDATE: one sets it,
    every one of them then reads that one."""
    if gate.code_salt:
        return gate.code_salt
    uow.session.execute(
        sa.update(Gate)
        .where(Gate.tenant_id == uow.require_tenant(), Gate.id == gate.id, Gate.code_salt.is_(None))
        .values(code_salt=codes.new_salt())
        .execution_options(synchronize_session=False)
    )
    salt = uow.session.scalar(
        sa.select(Gate.code_salt)
        .where(Gate.tenant_id == uow.require_tenant(), Gate.id == gate.id)
        .execution_options(populate_existing=True)
    )
    if not salt:  # pragma: no cover - the UPDATE above or a concurrent one set it
        raise RuntimeError("gate code salt missing")
    return salt


def get_list(uow: UnitOfWork, list_id: uuid.UUID) -> CheckinList:
    row = uow.session.scalar(
        sa.select(CheckinList).where(
            CheckinList.tenant_id == uow.require_tenant(), CheckinList.id == list_id
        )
    )
    if row is None:
        raise NotFound("access.list_not_found", "no such check-in list")
    return row


def get_gate(uow: UnitOfWork, gate_id: uuid.UUID) -> Gate:
    row = uow.session.scalar(
        sa.select(Gate).where(Gate.tenant_id == uow.require_tenant(), Gate.id == gate_id)
    )
    if row is None:
        raise NotFound("access.gate_not_found", "no such gate")
    return row


def list_gates(uow: UnitOfWork) -> list[Gate]:
    return list(
        uow.session.scalars(
            sa.select(Gate).where(Gate.tenant_id == uow.require_tenant()).order_by(Gate.name)
        )
    )


def list_lists(uow: UnitOfWork) -> list[CheckinList]:
    return list(
        uow.session.scalars(
            sa.select(CheckinList)
            .where(CheckinList.tenant_id == uow.require_tenant())
            .order_by(CheckinList.name)
        )
    )


def rule_of(row: CheckinList) -> CheckinRule:
    return CheckinRule(
        list_id=row.id,
        session_ids=frozenset(uuid.UUID(s) for s in row.session_ids),
        zone_nos=frozenset(row.zone_nos),
        category_nos=frozenset(row.category_nos),
        badge_zones=frozenset(row.badge_zones),
        accreditation_roles=frozenset(row.accreditation_roles),
        opens_at=row.opens_at,
        closes_at=row.closes_at,
        allow_reentry=row.allow_reentry,
    )


# -- badge keys and accreditations -------------------------------------------------------


def ensure_badge_key(uow: UnitOfWork) -> BadgeKey:
    """The tenant's badge key, created once; concurrent creators race on the primary key."""
    tid = uow.require_tenant()
    key = uow.session.get(BadgeKey, (tid, BADGE_KEY_ID))
    if key is not None:
        return key
    from teranga.privacy import api as privacy

    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    row = BadgeKey(
        tenant_id=tid,
        key_id=BADGE_KEY_ID,
        public_key=private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
        private_key_sealed=privacy.seal(
            uow, base64.b64encode(seed).decode(), purpose="access.badge_key"
        ),
    )
    try:
        with uow.session.begin_nested():
            uow.session.add(row)
    except IntegrityError:
        existing = uow.session.get(BadgeKey, (tid, BADGE_KEY_ID))
        if existing is None:
            raise
        return existing
    return row


def _badge_private(uow: UnitOfWork, key: BadgeKey) -> Ed25519PrivateKey:
    from teranga.privacy import api as privacy

    seed = base64.b64decode(privacy.unseal(uow, key.private_key_sealed, purpose="access.badge_key"))
    return Ed25519PrivateKey.from_private_bytes(seed)


def badge_public_keys(uow: UnitOfWork) -> dict[int, Ed25519PublicKey]:
    rows = uow.session.scalars(
        sa.select(BadgeKey).where(BadgeKey.tenant_id == uow.require_tenant())
    )
    return {r.key_id: Ed25519PublicKey.from_public_bytes(r.public_key) for r in rows}


@dataclass(frozen=True)
class BadgeView:
    accreditation_id: uuid.UUID
    name: str
    organisation: str
    role: str
    zones: tuple[str, ...]
    valid_from: dt.datetime
    valid_until: dt.datetime
    revoked: bool
    qr_text: str


def register_accreditation(
    uow: UnitOfWork,
    *,
    name: str,
    organisation: str,
    role: str,
    zones: Sequence[str],
    valid_from: dt.datetime,
    valid_until: dt.datetime,
    photo: bytes | None = None,
    photo_type: str | None = None,
    actor_id: uuid.UUID | None = None,
) -> BadgeView:
    from teranga.privacy import api as privacy

    if not name.strip():
        raise ValidationFailed("name", "required")
    if role not in AccreditationRole.__members__.values():
        raise ValidationFailed("role", f"one of {', '.join(r.value for r in AccreditationRole)}")
    clean_zones = sorted({z.strip().upper() for z in zones if z.strip()})
    for z in clean_zones:
        if not z.replace("-", "").replace("_", "").isalnum() or not z.isascii():
            raise ValidationFailed("zones", f"zone codes are letters and digits: {z!r}")
    if valid_until <= valid_from:
        raise ValidationFailed("valid_until", "must be after valid_from")
    if photo is not None:
        if len(photo) > MAX_PHOTO_BYTES:
            raise ValidationFailed("photo", f"at most {MAX_PHOTO_BYTES // 1000} kB")
        if photo_type not in {"image/jpeg", "image/png", "image/webp"}:
            raise ValidationFailed("photo", "JPEG, PNG or WebP")
    key = ensure_badge_key(uow)
    row = Accreditation(
        tenant_id=uow.require_tenant(),
        name_sealed=privacy.seal(uow, name.strip()),
        organisation=organisation.strip(),
        role=role,
        zones=clean_zones,
        valid_from=valid_from,
        valid_until=valid_until,
        photo_sealed=(
            privacy.seal(uow, base64.b64encode(photo).decode(), purpose="access.photo")
            if photo
            else None
        ),
        photo_type=photo_type if photo else None,
        key_id=key.key_id,
    )
    uow.session.add(row)
    uow.session.flush()
    _audit(uow, "access.accreditation.created", actor_id, "accreditation", row.id, {"role": role})
    return _badge_view(uow, row, _badge_private(uow, key))


def _badge_view(
    uow: UnitOfWork, row: Accreditation, signer: Ed25519PrivateKey | None = None
) -> BadgeView:
    from teranga.privacy import api as privacy

    signer = signer or _badge_private(uow, ensure_badge_key(uow))
    claims = credentials.BadgeClaims(
        key_id=row.key_id,
        badge_id=row.id,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        role=row.role,
        zones=tuple(row.zones),
    )
    return BadgeView(
        accreditation_id=row.id,
        name=privacy.unseal(uow, row.name_sealed),
        organisation=row.organisation,
        role=row.role,
        zones=tuple(row.zones),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        revoked=row.revoked_at is not None,
        qr_text=credentials.encode_badge(claims, signer),
    )


def get_accreditation(uow: UnitOfWork, accreditation_id: uuid.UUID) -> BadgeView:
    row = uow.session.scalar(
        sa.select(Accreditation).where(
            Accreditation.tenant_id == uow.require_tenant(), Accreditation.id == accreditation_id
        )
    )
    if row is None:
        raise NotFound("access.accreditation_not_found", "no such accreditation")
    return _badge_view(uow, row)


def accreditation_photo(uow: UnitOfWork, accreditation_id: uuid.UUID) -> tuple[bytes, str]:
    from teranga.privacy import api as privacy

    row = uow.session.scalar(
        sa.select(Accreditation).where(
            Accreditation.tenant_id == uow.require_tenant(), Accreditation.id == accreditation_id
        )
    )
    if row is None or row.photo_sealed is None or row.photo_type is None:
        raise NotFound("access.photo_not_found", "no photo")
    raw = privacy.unseal(uow, row.photo_sealed, purpose="access.photo")
    return base64.b64decode(raw), row.photo_type


def list_accreditations(uow: UnitOfWork) -> list[BadgeView]:
    rows = list(
        uow.session.scalars(
            sa.select(Accreditation)
            .where(Accreditation.tenant_id == uow.require_tenant())
            .order_by(Accreditation.created_at)
        )
    )
    if not rows:
        return []
    # One key unseal for the whole list, not one per person.
    signer = _badge_private(uow, ensure_badge_key(uow))
    return [_badge_view(uow, r, signer) for r in rows]


def revoke_accreditation(
    uow: UnitOfWork, accreditation_id: uuid.UUID, *, now: dt.datetime, actor_id: uuid.UUID | None
) -> None:
    row = uow.session.scalar(
        sa.select(Accreditation).where(
            Accreditation.tenant_id == uow.require_tenant(), Accreditation.id == accreditation_id
        )
    )
    if row is None:
        raise NotFound("access.accreditation_not_found", "no such accreditation")
    if row.revoked_at is None:
        row.revoked_at = now
        _audit(uow, "access.accreditation.revoked", actor_id, "accreditation", row.id, {})


# -- decoding ----------------------------------------------------------------------------


def decode(
    uow: UnitOfWork, text: str, *, badge_keys: dict[int, Ed25519PublicKey] | None = None
) -> Credential | None:
    """Verify a scanned QR or typed short code; None when it is not ours or is forged."""
    text = text.strip("\r\n\t")  # not spaces: a ticket's base45 text may start with one
    bare = text.strip()
    if not bare or len(text) > 400:
        return None
    if bare.upper().startswith(credentials.PREFIX):
        try:
            keys = badge_keys if badge_keys is not None else badge_public_keys(uow)
            return credentials.verify_badge(bare, keys).credential()
        except credentials.BadCredential:
            return None
    return tickets.decode(uow, text)


def _revoked(uow: UnitOfWork, cred: Credential) -> bool:
    if cred.kind == "badge":
        revoked_at = uow.session.scalar(
            sa.select(Accreditation.revoked_at).where(
                Accreditation.tenant_id == uow.require_tenant(),
                Accreditation.id == cred.credential_id,
            )
        )
        return revoked_at is not None
    return tickets.is_revoked(uow, cred.credential_id)


# -- scanning ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanResult:
    decision: Decision
    credential: Credential | None
    list_id: uuid.UUID | None
    replayed: bool = False


# The hot inserts of a scan go to the tables as Core statements: the ORM's bulk-insert
# path costs more CPU than the statement itself here, and no ORM object is needed.
_SCANS = cast(sa.Table, ScanRow.__table__)
_PRESENCE = cast(sa.Table, PresenceRow.__table__)


def _presence(uow: UnitOfWork, list_id: uuid.UUID, cred_id: uuid.UUID) -> PresenceRow | None:
    return uow.session.scalar(
        sa.select(PresenceRow).where(
            PresenceRow.tenant_id == uow.require_tenant(),
            PresenceRow.list_id == list_id,
            PresenceRow.credential_id == cred_id,
        )
    )


def _claim(
    uow: UnitOfWork,
    rule: CheckinRule,
    cred_id: uuid.UUID,
    gate: str,
    at: dt.datetime,
    direction: Direction,
) -> bool:
    """Atomically claim the entry (or exit). True when this scan won."""
    tid = uow.require_tenant()
    where = (
        PresenceRow.tenant_id == tid,
        PresenceRow.list_id == rule.list_id,
        PresenceRow.credential_id == cred_id,
    )
    if direction is Direction.OUT:
        won = uow.session.execute(
            sa.update(PresenceRow)
            .where(*where, PresenceRow.inside.is_(True))
            .values(inside=False)
            .returning(PresenceRow.list_id)
            .execution_options(synchronize_session=False)
        ).first()
        return won is not None
    ins = (
        insert_for(uow)(_PRESENCE)
        .values(
            tenant_id=tid,
            list_id=rule.list_id,
            credential_id=cred_id,
            inside=True,
            gate=gate,
            at=at,
            entries=1,
        )
        .on_conflict_do_nothing()
        .returning(_PRESENCE.c.list_id)
    )
    # RETURNING, not rowcount: the row comes back only when this INSERT created it.
    if uow.session.execute(ins).first() is not None:
        return True
    if not rule.allow_reentry:
        return False
    res = uow.session.execute(
        sa.update(PresenceRow)
        .where(*where, PresenceRow.inside.is_(False))
        .values(inside=True, gate=gate, at=at, entries=PresenceRow.entries + 1)
        .returning(PresenceRow.list_id)
        .execution_options(synchronize_session=False)
    ).first()
    return res is not None


def _recorded(uow: UnitOfWork, scanner_id: str, nonce: str) -> ScanRow | None:
    return uow.session.scalar(
        sa.select(ScanRow).where(
            ScanRow.tenant_id == uow.require_tenant(),
            ScanRow.scanner_id == scanner_id,
            ScanRow.nonce == nonce,
        )
    )


def _replay(uow: UnitOfWork, row: ScanRow) -> ScanResult:
    entered = None
    if row.reason == Reason.ALREADY_ENTERED and row.list_id and row.credential_id:
        entered = _presence(uow, row.list_id, row.credential_id)
    decision = Decision(
        row.accepted,
        Reason(row.reason),
        entered.gate if entered else None,
        entered.at if entered else None,
    )
    return ScanResult(decision, None, row.list_id, replayed=True)


@dataclass(frozen=True)
class GateConfig:
    """What a scan needs about a gate, cached per process for a few seconds."""

    gate_id: uuid.UUID
    name: str
    lists: tuple[tuple[CheckinRule, bool], ...]  # (rule, exit scans allowed)


# Per process and engine: gate configuration (5 s) and badge keys (60 s). A scan then costs
# a handful of indexed statements; configuration changes reach every process within 5 s.
GATE_TTL = 5.0
_KEYS_TTL = 60.0
_caches: weakref.WeakKeyDictionary[object, dict[tuple[str, object], tuple[float, object]]] = (
    weakref.WeakKeyDictionary()
)
_caches_lock = threading.Lock()


def _cached(uow: UnitOfWork, key: tuple[str, object], ttl: float, load: Callable[[], T]) -> T:
    bind = uow.session.get_bind()
    engine = getattr(bind, "engine", bind)
    with _caches_lock:
        cache = _caches.setdefault(engine, {})
        hit = cache.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]  # type: ignore[return-value]
    value = load()
    with _caches_lock:
        cache[key] = (now + ttl, value)
    return value


def load_gate_config(uow: UnitOfWork, gate_id: uuid.UUID) -> GateConfig:
    """A gate's configuration as stored now (no cache)."""
    gate = get_gate(uow, gate_id)
    rows = [get_list(uow, uuid.UUID(lid)) for lid in gate.list_ids]
    return GateConfig(gate.id, gate.name, tuple((rule_of(r), r.exit_scans) for r in rows))


def gate_config(uow: UnitOfWork, gate_id: uuid.UUID) -> GateConfig:
    return _cached(
        uow,
        ("gate", (uow.require_tenant(), gate_id)),
        GATE_TTL,
        lambda: load_gate_config(uow, gate_id),
    )


def _cached_badge_keys(uow: UnitOfWork) -> dict[int, Ed25519PublicKey]:
    return _cached(
        uow, ("badge_keys", uow.require_tenant()), _KEYS_TTL, lambda: badge_public_keys(uow)
    )


def check_nonce(scanner_id: str, nonce: str) -> None:
    if not scanner_id or len(scanner_id) > 64 or not nonce or len(nonce) > 64:
        raise ValidationFailed("nonce", "scanner_id and nonce are 1-64 characters")


def scan(
    uow: UnitOfWork,
    *,
    gate_id: uuid.UUID,
    text: str,
    scanner_id: str,
    nonce: str,
    now: dt.datetime,
    direction: Direction = Direction.IN,
    agent_id: uuid.UUID | None = None,
) -> ScanResult:
    """Online scan at a gate: verify, apply the gate's lists, record the entry atomically.

    Raises DuplicateScan when this (scanner, nonce) was already recorded (a retry or a
    concurrent duplicate): the caller rolls back and replays the recorded answer
    (``scan_once`` does both).
    """
    check_nonce(scanner_id, nonce)
    gate = gate_config(uow, gate_id)
    cred = decode(uow, text, badge_keys=_cached_badge_keys(uow))
    decision: Decision
    chosen: CheckinRule | None = None
    if cred is None:
        decision = Decision(False, Reason.UNKNOWN)
    else:
        revoked = _revoked(uow, cred)
        decision = Decision(
            False, Reason.WRONG_SESSION if cred.kind == "ticket" else Reason.WRONG_ZONE
        )
        for rule, exit_scans in gate.lists:
            if direction is Direction.OUT and not exit_scans:
                continue
            reason = Reason.REVOKED if revoked else check_rule(cred, rule, now)
            if reason is not Reason.OK:
                d = Decision(False, reason)
            elif direction is Direction.IN and not rule.allow_reentry:
                # The common case at a gate costs one statement: the claim itself.
                d = (
                    ACCEPT
                    if _claim(uow, rule, cred.credential_id, gate.name, now, direction)
                    else _already_entered(uow, rule.list_id, cred.credential_id)
                )
            else:
                p = _presence(uow, rule.list_id, cred.credential_id)
                presence = Presence(p.inside, p.gate, p.at, p.entries) if p else None
                d = decide(cred, rule, now, revoked=False, presence=presence, direction=direction)
                if d.accepted and not _claim(
                    uow, rule, cred.credential_id, gate.name, now, direction
                ):
                    # Lost the race to a concurrent scan.
                    d = (
                        _already_entered(uow, rule.list_id, cred.credential_id)
                        if direction is Direction.IN
                        else Decision(False, Reason.NOT_INSIDE)
                    )
            if d.accepted or d.reason not in (Reason.WRONG_SESSION, Reason.WRONG_ZONE):
                decision, chosen = d, rule
                break
    tid = uow.require_tenant()
    inserted = uow.session.execute(
        insert_for(uow)(_SCANS)
        .values(
            id=new_id(),
            tenant_id=tid,
            scanner_id=scanner_id,
            nonce=nonce,
            credential_id=cred.credential_id if cred else None,
            list_id=chosen.list_id if chosen else None,
            gate=gate.name,
            at=now,
            received_at=now,
            direction=direction.value,
            accepted=decision.accepted,
            reason=decision.reason.value,
            online=True,
            agent_id=agent_id,
        )
        .on_conflict_do_nothing()
        .returning(_SCANS.c.id)
    ).first()
    if inserted is None:
        # The same (scanner, nonce) raced in concurrently and won: undo this attempt's
        # claim and answer what was recorded.
        raise DuplicateScan(scanner_id, nonce)
    return ScanResult(decision, cred, chosen.list_id if chosen else None)


def _already_entered(uow: UnitOfWork, list_id: uuid.UUID, cred_id: uuid.UUID) -> Decision:
    p = _presence(uow, list_id, cred_id)
    return Decision(False, Reason.ALREADY_ENTERED, p.gate if p else None, p.at if p else None)


class DuplicateScan(Exception):
    """A concurrent request with the same (scanner, nonce) was recorded first."""

    def __init__(self, scanner_id: str, nonce: str) -> None:
        super().__init__(f"{scanner_id}/{nonce}")
        self.scanner_id = scanner_id
        self.nonce = nonce


def scan_once(
    container_uow: Callable[[], UnitOfWork],
    **kwargs: Any,
) -> ScanResult:
    """Run ``scan`` in its own unit of work, replaying the recorded answer when a concurrent
    duplicate (same scanner and nonce) won the race."""
    try:
        with container_uow() as uow:
            return scan(uow, **kwargs)
    except DuplicateScan as dup:
        with container_uow() as uow:
            previous = _recorded(uow, dup.scanner_id, dup.nonce)
            if previous is None:  # pragma: no cover - the winner committed before us
                raise
            return _replay(uow, previous)


# -- batched online scans ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """One entry scan, already decoded and verified, waiting for its batch."""

    gate: GateConfig
    cred: Credential | None  # None: unknown or forged
    scanner_id: str
    nonce: str
    now: dt.datetime
    agent_id: uuid.UUID | None


class DuplicateScans(Exception):
    """Some requests' (scanner, nonce) were recorded by another transaction first: the
    batch rolls back, those are answered from the record, the rest run again."""

    def __init__(self, indexes: list[int]) -> None:
        super().__init__(f"{len(indexes)} duplicate scans")
        self.indexes = indexes


def _insert_rows(
    uow: UnitOfWork, table: sa.Table, rows: list[dict[str, Any]], returning: tuple[str, ...]
) -> Sequence[sa.Row[Any]]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING ``returning`` of each created row, in
    the given order. On PostgreSQL one statement of the same text whatever the number of
    rows (a column of values per array, through unnest): prepared once per connection, and
    no per-row SQL to render in Python."""
    dialect = uow.session.get_bind().dialect
    if dialect.name != "postgresql":
        stmt = (
            insert_for(uow)(table)
            .on_conflict_do_nothing()
            .returning(*(table.c[c] for c in returning))
        )
        return list(uow.session.execute(stmt, rows))
    cols = tuple(rows[0])
    sql = _unnest_insert(table, cols, returning, dialect)
    return list(uow.session.execute(sa.text(sql), {c: [r[c] for r in rows] for c in cols}))


@functools.lru_cache(maxsize=32)
def _unnest_insert(
    table: sa.Table, cols: tuple[str, ...], returning: tuple[str, ...], dialect: sa.Dialect
) -> str:
    """The statement text, built once: identifiers are the table's own columns (a name that
    is not raises KeyError), array types their own; every value is a bound parameter."""
    types = [table.c[c].type.compile(dialect=dialect) for c in cols]
    arrays = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in zip(cols, types, strict=True))
    return (
        f"INSERT INTO {table.name} ({', '.join(cols)}) "  # noqa: S608
        f"SELECT {', '.join(cols)} FROM unnest({arrays}) WITH ORDINALITY "
        f"AS x({', '.join(cols)}, ord) ORDER BY ord "
        f"ON CONFLICT DO NOTHING RETURNING {', '.join(returning)}"
    )


def _badges_revoked(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    live = set(
        uow.session.scalars(
            sa.select(Accreditation.id).where(
                Accreditation.tenant_id == uow.require_tenant(),
                Accreditation.id.in_(list(ids)),
                Accreditation.revoked_at.is_(None),
            )
        )
    )
    return set(ids) - live


def scan_batch(uow: UnitOfWork, reqs: Sequence[ScanRequest]) -> list[ScanResult]:
    """Entry scans of many gates in one transaction, with the decisions ``scan`` would give
    them one by one in this order.

    A handful of statements whatever the batch size: revocations of the batch's
    credentials, one INSERT claiming every first entry (in key order, so concurrent batches
    lock rows in the same order and cannot deadlock), one SELECT of where the losers
    entered, one INSERT of the scan records. Raises DuplicateScans when a (scanner, nonce)
    was already recorded; the caller rolls back and retries without them.
    """
    tid = uow.require_tenant()
    n = len(reqs)
    creds = [r.cred for r in reqs]
    revoked = tickets.revoked_among(
        uow, list({c.credential_id for c in creds if c and c.kind == "ticket"})
    ) | _badges_revoked(uow, list({c.credential_id for c in creds if c and c.kind == "badge"}))

    decisions: list[Decision | None] = [None] * n
    chosen: list[CheckinRule | None] = [None] * n
    first_of_nonce: dict[tuple[str, str], int] = {}
    copies: dict[int, int] = {}  # index -> earlier index with the same (scanner, nonce)
    claimants: dict[tuple[uuid.UUID, uuid.UUID], int] = {}  # (list, credential) -> index
    claim_of: dict[int, tuple[uuid.UUID, uuid.UUID]] = {}
    for i, r in enumerate(reqs):
        first = first_of_nonce.setdefault((r.scanner_id, r.nonce), i)
        if first != i:
            copies[i] = first
            continue
        cred = r.cred
        if cred is None:
            decisions[i] = Decision(False, Reason.UNKNOWN)
            continue
        is_revoked = cred.credential_id in revoked
        decisions[i] = Decision(
            False, Reason.WRONG_SESSION if cred.kind == "ticket" else Reason.WRONG_ZONE
        )
        for rule, _exit_scans in r.gate.lists:
            reason = Reason.REVOKED if is_revoked else check_rule(cred, rule, r.now)
            if reason is not Reason.OK:
                if reason in (Reason.WRONG_SESSION, Reason.WRONG_ZONE):
                    continue
                decisions[i], chosen[i] = Decision(False, reason), rule
                break
            chosen[i] = rule
            if rule.allow_reentry:
                # Rare at a stadium gate: presence decides, one credential at a time.
                p = _presence(uow, rule.list_id, cred.credential_id)
                presence = Presence(p.inside, p.gate, p.at, p.entries) if p else None
                d = decide(cred, rule, r.now, revoked=False, presence=presence)
                if d.accepted and not _claim(
                    uow, rule, cred.credential_id, r.gate.name, r.now, Direction.IN
                ):
                    d = _already_entered(uow, rule.list_id, cred.credential_id)
                decisions[i] = d
            else:
                key = (rule.list_id, cred.credential_id)
                claimants.setdefault(key, i)
                claim_of[i] = key
                decisions[i] = None  # settled by the claim below
            break

    if claimants:
        keys = sorted(claimants, key=lambda k: (k[0].bytes, k[1].bytes))
        rows = [
            {
                "tenant_id": tid,
                "list_id": lid,
                "credential_id": cid,
                "inside": True,
                "gate": reqs[claimants[(lid, cid)]].gate.name,
                "at": reqs[claimants[(lid, cid)]].now,
                "entries": 1,
            }
            for lid, cid in keys
        ]
        won = {
            (row.list_id, row.credential_id)
            for row in _insert_rows(uow, _PRESENCE, rows, ("list_id", "credential_id"))
        }
        lost = {k for i, k in claim_of.items() if k not in won or claimants[k] != i}
        where: dict[tuple[uuid.UUID, uuid.UUID], tuple[str, dt.datetime]] = {}
        if lost:
            where = {
                (row.list_id, row.credential_id): (row.gate, row.at)
                for row in uow.session.execute(
                    sa.select(
                        PresenceRow.list_id,
                        PresenceRow.credential_id,
                        PresenceRow.gate,
                        PresenceRow.at,
                    ).where(
                        PresenceRow.tenant_id == tid,
                        sa.tuple_(PresenceRow.list_id, PresenceRow.credential_id).in_(
                            sorted(lost, key=lambda k: (k[0].bytes, k[1].bytes))
                        ),
                    )
                )
            }
        for i, key in claim_of.items():
            if key in won and claimants[key] == i:
                decisions[i] = ACCEPT
            else:
                gate, at = where.get(key, (None, None))
                decisions[i] = Decision(False, Reason.ALREADY_ENTERED, gate, at)

    records = sorted(
        (i for i in range(n) if i not in copies), key=lambda i: (reqs[i].scanner_id, reqs[i].nonce)
    )
    params = []
    for i in records:
        r, d, picked = reqs[i], _decided(decisions[i]), chosen[i]
        params.append(
            {
                "id": new_id(),
                "tenant_id": tid,
                "scanner_id": r.scanner_id,
                "nonce": r.nonce,
                "credential_id": r.cred.credential_id if r.cred else None,
                "list_id": picked.list_id if picked else None,
                "gate": r.gate.name,
                "at": r.now,
                "received_at": r.now,
                "direction": Direction.IN.value,
                "accepted": d.accepted,
                "reason": d.reason.value,
                "online": True,
                "agent_id": r.agent_id,
            }
        )
    recorded = {
        (row.scanner_id, row.nonce)
        for row in _insert_rows(uow, _SCANS, params, ("scanner_id", "nonce"))
    }
    missing = [i for i in records if (reqs[i].scanner_id, reqs[i].nonce) not in recorded]
    if missing:
        raise DuplicateScans(missing + [i for i, f in copies.items() if f in missing])

    out: list[ScanResult] = []
    for i in range(n):
        f = copies.get(i)
        if f is not None:
            d, picked = _decided(decisions[f]), chosen[f]
            out.append(ScanResult(d, None, picked.list_id if picked else None, replayed=True))
        else:
            d, picked = _decided(decisions[i]), chosen[i]
            out.append(ScanResult(d, reqs[i].cred, picked.list_id if picked else None))
    return out


def _decided(d: Decision | None) -> Decision:
    if d is None:  # pragma: no cover - every request is decided above
        raise RuntimeError("scan left undecided")
    return d


def replay(uow: UnitOfWork, scanner_id: str, nonce: str) -> ScanResult:
    """The recorded answer to (scanner, nonce); raises NotFound when none is recorded."""
    row = _recorded(uow, scanner_id, nonce)
    if row is None:
        raise NotFound("access.scan_not_found", "no scan recorded for this nonce")
    return _replay(uow, row)


def override(
    uow: UnitOfWork,
    *,
    gate_id: uuid.UUID,
    credential_text: str,
    reason: str,
    agent_id: uuid.UUID,
    scanner_id: str,
    nonce: str,
    now: dt.datetime,
) -> ScanResult:
    """A gate agent lets someone in despite a refusal; always audited with agent and reason."""
    if len(reason.strip()) < 5:
        raise ValidationFailed("reason", "say why (at least 5 characters)")
    gate = get_gate(uow, gate_id)
    cred = decode(uow, credential_text)
    row = ScanRow(
        tenant_id=uow.require_tenant(),
        scanner_id=scanner_id,
        nonce=nonce,
        credential_id=cred.credential_id if cred else None,
        list_id=uuid.UUID(gate.list_ids[0]) if gate.list_ids else None,
        gate=gate.name,
        at=now,
        direction=Direction.IN.value,
        accepted=True,
        reason="override",
        online=True,
        agent_id=agent_id,
        override_reason=reason.strip(),
    )
    uow.session.add(row)
    uow.session.flush()
    _audit(
        uow,
        "access.scan.override",
        agent_id,
        "scan",
        row.id,
        {
            "gate": gate.name,
            "reason": reason.strip(),
            "credential_id": str(cred.credential_id) if cred else None,
        },
    )
    return ScanResult(Decision(True, Reason.OK), cred, row.list_id)


def _audit(
    uow: UnitOfWork,
    action: str,
    actor_id: uuid.UUID | None,
    target_type: str,
    target_id: uuid.UUID,
    details: dict[str, object],
) -> None:
    from teranga.audit import api as audit

    audit.record(
        uow,
        action=action,
        actor_id=actor_id,
        target_type=target_type,
        target_id=str(target_id),
        details=details,
    )


# -- offline bundle and sync ----------------------------------------------------------------

CURSOR_SLACK = dt.timedelta(minutes=5)  # overlap so rows committed late are not missed


def _parse_cursor(cursor: str | None) -> dt.datetime | None:
    if not cursor:
        return None
    try:
        value = dt.datetime.fromisoformat(cursor)
    except ValueError as exc:
        raise ValidationFailed("since", "a cursor returned by a previous bundle") from exc
    if value.tzinfo is None:
        raise ValidationFailed("since", "cursor must carry a time zone")
    return value


def bundle(
    uow: UnitOfWork, *, gate_id: uuid.UUID, since: str | None, now: dt.datetime
) -> dict[str, object]:
    """What a scanner needs to decide alone: keys, rules, revocations, entries and the
    digests of the short codes of valid tickets (deltas since ``since``), plus the cursor
    to send next time. See ``teranga.access.codes`` for the digests and their limits."""
    tid = uow.require_tenant()
    gate = get_gate(uow, gate_id)
    lists = [get_list(uow, uuid.UUID(lid)) for lid in gate.list_ids]
    after = _parse_cursor(since)
    revoked_badges = sa.select(Accreditation.id).where(
        Accreditation.tenant_id == tid, Accreditation.revoked_at.is_not(None)
    )
    if after is not None:
        revoked_badges = revoked_badges.where(Accreditation.revoked_at > after)
    entered_q = (
        sa.select(
            ScanRow.list_id, ScanRow.credential_id, ScanRow.gate, ScanRow.at, ScanRow.direction
        )
        .where(
            ScanRow.tenant_id == tid,
            ScanRow.accepted.is_(True),
            ScanRow.list_id.in_([row.id for row in lists]),
            ScanRow.credential_id.is_not(None),
        )
        .order_by(ScanRow.at)
    )
    if after is not None:
        entered_q = entered_q.where(ScanRow.received_at > after)
    session_ids = sorted({s for row in lists for s in row.session_ids})
    session_uuids = [uuid.UUID(s) for s in session_ids]
    ticket_codes = codes.bundle_codes(
        _code_salt(uow, gate),
        tickets.codes_for_sessions(uow, session_uuids, after) if session_ids else [],
    )
    return {
        "gate": {"id": str(gate.id), "name": gate.name, "cluster": gate.cluster},
        "generated_at": now.isoformat(),
        "cursor": (now - CURSOR_SLACK).isoformat(),
        "full": after is None,
        "lists": [
            {
                "id": str(row.id),
                "name": row.name,
                "session_ids": row.session_ids,
                "session_tags": [uuid.UUID(s).bytes[8:].hex() for s in row.session_ids],
                "zone_nos": row.zone_nos,
                "category_nos": row.category_nos,
                "badge_zones": row.badge_zones,
                "accreditation_roles": row.accreditation_roles,
                "opens_at": row.opens_at.isoformat() if row.opens_at else None,
                "closes_at": row.closes_at.isoformat() if row.closes_at else None,
                "allow_reentry": row.allow_reentry,
                "exit_scans": row.exit_scans,
            }
            for row in lists
        ],
        "keys": {
            "badge": [
                {
                    "key_id": k,
                    "public_key": base64.b64encode(
                        pk.public_bytes(Encoding.Raw, PublicFormat.Raw)
                    ).decode(),
                }
                for k, pk in badge_public_keys(uow).items()
            ],
            "ticket": (tickets.public_keys_for_sessions(uow, session_uuids) if session_ids else []),
        },
        "revoked": sorted(
            [str(i) for i in uow.session.scalars(revoked_badges)]
            + (tickets.revoked_since(uow, after) if session_ids else [])
        ),
        "entries": [
            {
                "list_id": str(r.list_id),
                "credential_id": str(r.credential_id),
                "gate": r.gate,
                "at": r.at.isoformat(),
                "direction": r.direction,
            }
            for r in uow.session.execute(entered_q)
        ],
        "codes": ticket_codes,
    }


@dataclass(frozen=True)
class OfflineScan:
    nonce: str
    list_id: uuid.UUID | None
    credential_id: uuid.UUID | None
    at: dt.datetime
    direction: Direction
    accepted: bool
    reason: str


@dataclass(frozen=True)
class SyncOutcome:
    nonce: str
    status: str  # "recorded" | "duplicate" | "conflict"


def sync(
    uow: UnitOfWork,
    *,
    gate_id: uuid.UUID,
    scanner_id: str,
    scans: Sequence[OfflineScan],
    now: dt.datetime,
) -> list[SyncOutcome]:
    """Record scans made offline, once each; report double admissions as conflicts."""
    tid = uow.require_tenant()
    gate = get_gate(uow, gate_id)
    lists = {uuid.UUID(lid): get_list(uow, uuid.UUID(lid)) for lid in gate.list_ids}
    outcomes: list[SyncOutcome] = []
    for s in sorted(scans, key=lambda x: x.at):
        if not s.nonce or len(s.nonce) > 64:
            raise ValidationFailed("nonce", "1-64 characters")
        if s.list_id is not None and s.list_id not in lists:
            raise ValidationFailed("list_id", f"list {s.list_id} is not served by this gate")
        if s.at > now + dt.timedelta(minutes=10):
            raise ValidationFailed("at", "scan time is in the future (check the device clock)")
        if _recorded(uow, scanner_id, s.nonce) is not None:
            outcomes.append(SyncOutcome(s.nonce, "duplicate"))
            continue
        status = "recorded"
        accepted_in = s.accepted and s.direction is Direction.IN
        first: PresenceRow | None = None
        if s.accepted and s.list_id is not None and s.credential_id is not None:
            rule = rule_of(lists[s.list_id])
            won = _claim(uow, rule, s.credential_id, gate.name, s.at, s.direction)
            if not won and accepted_in:
                status = "conflict"
                first = _presence(uow, s.list_id, s.credential_id)
        row = ScanRow(
            tenant_id=tid,
            scanner_id=scanner_id,
            nonce=s.nonce,
            credential_id=s.credential_id,
            list_id=s.list_id,
            gate=gate.name,
            at=s.at,
            direction=s.direction.value,
            accepted=s.accepted,
            reason=s.reason[:32],
            online=False,
        )
        uow.session.add(row)
        uow.session.flush()
        if status == "conflict" and s.list_id is not None and s.credential_id is not None:
            first_scan = uow.session.scalar(
                sa.select(ScanRow)
                .where(
                    ScanRow.tenant_id == tid,
                    ScanRow.list_id == s.list_id,
                    ScanRow.credential_id == s.credential_id,
                    ScanRow.accepted.is_(True),
                    ScanRow.direction == Direction.IN.value,
                    ScanRow.id != row.id,
                )
                .order_by(ScanRow.at)
                .limit(1)
            )
            uow.session.add(
                ConflictRow(
                    tenant_id=tid,
                    credential_id=s.credential_id,
                    list_id=s.list_id,
                    first_scan_id=first_scan.id if first_scan else None,
                    second_scan_id=row.id,
                    first_gate=first.gate if first else (first_scan.gate if first_scan else "?"),
                    second_gate=gate.name,
                    first_at=first.at if first else (first_scan.at if first_scan else s.at),
                    second_at=s.at,
                )
            )
            uow.publish(
                "access.conflicts",
                {"tenant_id": str(tid), "credential_id": str(s.credential_id), "gate": gate.name},
            )
        outcomes.append(SyncOutcome(s.nonce, status))
    return outcomes


def list_conflicts(uow: UnitOfWork) -> list[ConflictRow]:
    return list(
        uow.session.scalars(
            sa.select(ConflictRow)
            .where(ConflictRow.tenant_id == uow.require_tenant())
            .order_by(ConflictRow.detected_at)
        )
    )


def entry_stats(uow: UnitOfWork) -> dict[str, int]:
    tid = uow.require_tenant()
    inside = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(PresenceRow)
        .where(PresenceRow.tenant_id == tid, PresenceRow.inside.is_(True))
    )
    scans = uow.session.scalar(
        sa.select(sa.func.count()).select_from(ScanRow).where(ScanRow.tenant_id == tid)
    )
    conflicts = uow.session.scalar(
        sa.select(sa.func.count()).select_from(ConflictRow).where(ConflictRow.tenant_id == tid)
    )
    return {"inside": inside or 0, "scans": scans or 0, "conflicts": conflicts or 0}
