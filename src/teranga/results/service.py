"""Results use cases: units, scorer entry, official marking, ODF import, public views.

Every change to a unit is a new version (kept in ``results_versions``) and queues small
delta messages through the outbox on four public topics, namespaced by the tenant's slug
(unit codes and NOCs are the same in every tenant: without it, one tenant's scorer would
write into the stream another tenant's public pages follow):

* ``public.<slug>.results.unit.<code>``: ``{"type": "unit", ...header, "upsert": [lines],
  "remove": [participants]}``: lines keyed by participant, idempotent;
* ``public.<slug>.results.sport.<sport>`` and ``public.<slug>.schedule``:
  ``{"type": "summary", ...}``: the unit's summary row (status, leader), absolute values,
  idempotent;
* ``public.<slug>.medals``: ``{"type": "medals", "upsert": [rows], "remove": [nocs]}``.

Clients take a snapshot (which carries the topic's name and ``seq``), then apply deltas
with a higher seq. A delta may describe a change the snapshot already holds (the
snapshot's seq is read before its rows); applying it again changes nothing, and unit
deltas carry the unit version so a client can also skip older ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from teranga.audit import api as audit
from teranga.platform.clock import utcnow
from teranga.platform.errors import Conflict, NotFound, ValidationFailed
from teranga.platform.uow import UnitOfWork
from teranga.results import repo
from teranga.results.domain import (
    DomainError,
    Line,
    MedalRow,
    ResultStatus,
    ScheduleStatus,
    VersionDecision,
    decide_version,
    diff_lines,
    diff_medals,
    medal_table,
    parse_rsc,
    sort_lines,
    validate_lines,
)
from teranga.results.models import (
    OdfDocument,
    OdfImport,
    Participant,
    Unit,
    UnitLine,
    UnitVersion,
)
from teranga.results.odf import OdfError, OdfMessage, parse_message, safe_parse
from teranga.tenancy import api as tenancy

# Tenant slugs ([a-z0-9-], at most 63) and unit codes (34 of [A-Z0-9-]) are valid topic
# tokens, so every name below passes the broker's check_topic.


def unit_topic(tenant_slug: str, code: str) -> str:
    return f"public.{tenant_slug}.results.unit.{code}"


def sport_topic(tenant_slug: str, sport: str) -> str:
    return f"public.{tenant_slug}.results.sport.{sport}"


def schedule_topic(tenant_slug: str) -> str:
    return f"public.{tenant_slug}.schedule"


def medals_topic(tenant_slug: str) -> str:
    return f"public.{tenant_slug}.medals"


_slugs: dict[uuid.UUID, str] = {}  # per process: a tenant's slug never changes


def tenant_slug(uow: UnitOfWork) -> str:
    """The slug of the unit of work's tenant: the namespace of its public topics."""
    tid = uow.require_tenant()
    slug = _slugs.get(tid)
    if slug is None:
        slug = _slugs[tid] = tenancy.get(uow, tid).slug
    return slug


def _audit(
    uow: UnitOfWork, action: str, actor: uuid.UUID | None, code: str, **details: Any
) -> None:
    audit.record(
        uow, action=action, actor_id=actor, target_type="unit", target_id=code, details=details
    )


def _domain(exc: DomainError) -> ValidationFailed:
    return ValidationFailed(exc.field, exc.message)


# --- views ---------------------------------------------------------------------------


def unit_header(u: Unit) -> dict[str, Any]:
    return {
        "code": u.code,
        "sport": u.sport,
        "name": u.name,
        "name_fr": u.name_fr,
        "phase": u.phase,
        "venue": u.venue,
        "scheduled_at": u.scheduled_at.isoformat(),
        "status": u.status,
        "result_status": u.result_status,
        "official": u.official,
        "medal": u.medal,
        "version": u.version,
    }


def unit_summary(u: Unit, leader: UnitLine | Line | None) -> dict[str, Any]:
    out = unit_header(u)
    out["leader"] = (
        {"name": leader.name, "noc": leader.noc, "mark": leader.mark} if leader else None
    )
    return out


def unit_view(uow: UnitOfWork, code: str) -> dict[str, Any]:
    tid = uow.require_tenant()
    u = repo.unit_by_code(uow.session, tid, code)
    if u is None:
        raise NotFound("results.unit_not_found", f"no unit {code}")
    lines = sort_lines(repo.to_line(r) for r in repo.unit_lines(uow.session, u.id))
    out = unit_header(u)
    out["lines"] = [ln.as_dict() for ln in lines]
    return out


def schedule_view(uow: UnitOfWork, day: dt.date) -> list[dict[str, Any]]:
    tid = uow.require_tenant()
    # Dakar is UTC all year: the local day is the UTC day.
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    units = repo.units_between(uow.session, tid, start, start + dt.timedelta(days=1))
    lead = repo.leaders(uow.session, [u.id for u in units])
    return [unit_summary(u, lead.get(u.id)) for u in units]


def sport_view(uow: UnitOfWork, sport: str) -> list[dict[str, Any]]:
    tid = uow.require_tenant()
    units = repo.units_of_sport(uow.session, tid, sport)
    lead = repo.leaders(uow.session, [u.id for u in units])
    return [unit_summary(u, lead.get(u.id)) for u in units]


def medal_rows(uow: UnitOfWork) -> list[MedalRow]:
    return medal_table(repo.medal_awards(uow.session, uow.require_tenant()))


# --- publishing ----------------------------------------------------------------------


def _publish_unit(
    uow: UnitOfWork,
    u: Unit,
    upsert: Sequence[Line] = (),
    remove: Sequence[str] = (),
    *,
    lines: Sequence[Line] | None = None,
) -> None:
    """``lines``: all of the unit's lines as just written, when the caller has them (the
    leader is then read from them, as ``repo.leaders`` would pick it)."""
    msg = unit_header(u)
    msg.update(type="unit", upsert=[ln.as_dict() for ln in upsert], remove=list(remove))
    slug = tenant_slug(uow)
    uow.publish(unit_topic(slug, u.code), msg)
    lead: UnitLine | Line | None
    if lines is None:
        lead = repo.leaders(uow.session, [u.id]).get(u.id)
    else:
        firsts = [ln for ln in lines if ln.rank == 1]
        lead = min(firsts, key=lambda ln: ln.participant) if firsts else None
    summary = unit_summary(u, lead)
    summary["type"] = "summary"
    uow.publish(sport_topic(slug, u.sport), summary)
    uow.publish(schedule_topic(slug), summary)


def _publish_medals(uow: UnitOfWork, before: list[MedalRow]) -> None:
    after = medal_rows(uow)
    changed, gone = diff_medals(before, after)
    if changed or gone:
        uow.publish(
            medals_topic(tenant_slug(uow)),
            {"type": "medals", "upsert": [r.as_dict() for r in changed], "remove": gone},
        )


# --- units ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    scheduled_at: dt.datetime
    name_fr: str = ""
    venue: str = ""
    phase: str = ""
    status: str = ScheduleStatus.SCHEDULED
    medal: bool = False


def upsert_unit(uow: UnitOfWork, spec: UnitSpec, *, author_id: uuid.UUID | None = None) -> Unit:
    """Create or update a unit of the schedule (not its lines); publishes its summary."""
    tid = uow.require_tenant()
    try:
        rsc = parse_rsc(spec.code)
    except DomainError as exc:
        raise _domain(exc) from exc
    if spec.status not in ScheduleStatus.__members__:
        raise ValidationFailed("status", f"one of {', '.join(ScheduleStatus)}")
    if spec.scheduled_at.tzinfo is None:
        raise ValidationFailed("scheduled_at", "needs a UTC offset")
    if not spec.name.strip() or len(spec.name) > 200 or len(spec.name_fr) > 200:
        raise ValidationFailed("name", "1-200 characters")
    u = repo.unit_by_code(uow.session, tid, spec.code, lock=True)
    if u is None:
        u = Unit(
            tenant_id=tid,
            code=spec.code,
            sport=rsc.sport,
            event=rsc.event,
            version=0,
            official=False,
            result_status="",
        )
        uow.session.add(u)
    u.name = spec.name.strip()
    u.name_fr = (spec.name_fr or spec.name).strip()
    u.venue = spec.venue[:200]
    u.phase = (spec.phase or rsc.phase.strip("-"))[:20]
    u.scheduled_at = spec.scheduled_at.astimezone(dt.UTC)
    u.status = spec.status
    u.medal = spec.medal
    u.updated_at = utcnow()
    uow.session.flush()
    _publish_unit(uow, u)
    _audit(uow, "results.unit.scheduled", author_id, u.code, status=u.status)
    return u


def set_status(
    uow: UnitOfWork, *, code: str, status: str, author_id: uuid.UUID | None = None
) -> Unit:
    """Move a unit in the schedule (RUNNING, FINISHED...): published, no new version."""
    if status not in ScheduleStatus.__members__:
        raise ValidationFailed("status", f"one of {', '.join(ScheduleStatus)}")
    u = _unit_for_update(uow, code)
    u.status = status
    u.updated_at = utcnow()
    uow.session.flush()
    _publish_unit(uow, u)
    _audit(uow, "results.unit.status_changed", author_id, u.code, status=status)
    return u


def _unit_for_update(uow: UnitOfWork, code: str) -> Unit:
    u = repo.unit_by_code(uow.session, uow.require_tenant(), code, lock=True)
    if u is None:
        raise NotFound("results.unit_not_found", f"no unit {code}")
    return u


# --- lines (scorer and ODF) ------------------------------------------------------------


def record_lines(
    uow: UnitOfWork,
    *,
    code: str,
    lines: Sequence[Line],
    result_status: str,
    source: str = "scorer",
    author_id: uuid.UUID | None = None,
    expected_version: int | None = None,
) -> Unit:
    """Replace a unit's lines with a new version (start list or results).

    ``expected_version`` (the version the scorer's form showed) turns a lost update between
    two scorers into a 409 instead of a silent overwrite. ``OFFICIAL`` marks the unit
    official; medal standings follow from official medal units only.
    """
    if result_status not in ResultStatus.__members__:
        raise ValidationFailed("result_status", f"one of {', '.join(ResultStatus)}")
    try:
        clean = validate_lines(lines, ranked=result_status != ResultStatus.START_LIST)
    except DomainError as exc:
        raise _domain(exc) from exc
    u = _unit_for_update(uow, code)
    if expected_version is not None and expected_version != u.version:
        raise Conflict(
            "results.version_conflict",
            f"unit is at version {u.version}, not {expected_version}: reload and retry",
            current_version=u.version,
        )
    if u.status == ScheduleStatus.CANCELLED:
        raise Conflict("results.unit_cancelled", "the unit is cancelled")
    tid = uow.require_tenant()
    # Medals follow from official medal units only: an update that neither was nor becomes
    # official cannot move them (a live final's updates skip two medal-table reads).
    medals_move = u.medal and (u.official or result_status == ResultStatus.OFFICIAL)
    medals_before = medal_rows(uow) if medals_move else []
    rows = {r.participant: r for r in repo.unit_lines(uow.session, u.id)}
    old = [repo.to_line(r) for r in rows.values()]
    delta = diff_lines(old, clean)
    official = result_status == ResultStatus.OFFICIAL
    for p in delta.remove:
        uow.session.delete(rows[p])
    for ln in delta.upsert:
        row = rows.get(ln.participant)
        if row is None:
            row = UnitLine(tenant_id=tid, unit_id=u.id, participant=ln.participant)
            uow.session.add(row)
        row.name, row.noc, row.start_order = ln.name, ln.noc, ln.start_order
        row.rank, row.mark, row.irm = ln.rank, ln.mark, ln.irm
    u.version += 1
    u.result_status = result_status
    u.official = official
    if official and u.status not in (ScheduleStatus.FINISHED, ScheduleStatus.CANCELLED):
        u.status = ScheduleStatus.FINISHED
    elif result_status in (ResultStatus.LIVE, ResultStatus.INTERMEDIATE) and u.status in (
        ScheduleStatus.SCHEDULED,
        ScheduleStatus.GETTING_READY,
    ):
        u.status = ScheduleStatus.RUNNING
    u.updated_at = utcnow()
    uow.session.add(
        UnitVersion(
            tenant_id=tid,
            unit_id=u.id,
            version=u.version,
            result_status=result_status,
            official=official,
            source=source,
            author_id=author_id,
            lines=[ln.as_dict() for ln in clean],
        )
    )
    uow.session.flush()
    _publish_unit(uow, u, delta.upsert, delta.remove, lines=clean)
    if medals_move:
        _publish_medals(uow, medals_before)
    _audit(
        uow,
        "results.unit.official" if official else "results.unit.lines_recorded",
        author_id,
        u.code,
        version=u.version,
        result_status=result_status,
        source=source,
        lines=len(clean),
    )
    return u


def mark_official(
    uow: UnitOfWork,
    *,
    code: str,
    author_id: uuid.UUID | None = None,
    expected_version: int | None = None,
) -> Unit:
    """Confirm the current results as official (a new version with the same lines)."""
    u = _unit_for_update(uow, code)
    lines = [repo.to_line(r) for r in repo.unit_lines(uow.session, u.id)]
    if not any(ln.rank is not None for ln in lines):
        raise Conflict("results.no_results", "no ranked results to make official")
    return record_lines(
        uow,
        code=code,
        lines=lines,
        result_status=ResultStatus.OFFICIAL,
        author_id=author_id,
        expected_version=expected_version,
    )


def versions(uow: UnitOfWork, code: str) -> list[dict[str, Any]]:
    tid = uow.require_tenant()
    u = repo.unit_by_code(uow.session, tid, code)
    if u is None:
        raise NotFound("results.unit_not_found", f"no unit {code}")
    rows = uow.session.scalars(
        sa.select(UnitVersion).where(UnitVersion.unit_id == u.id).order_by(UnitVersion.version)
    )
    return [
        {
            "version": v.version,
            "result_status": v.result_status,
            "official": v.official,
            "source": v.source,
            "created_at": v.created_at.isoformat(),
            "lines": v.lines,
        }
        for v in rows
    ]


# --- ODF import ----------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    outcome: str  # applied | duplicate | stale | rejected
    document_type: str
    document_code: str
    version: int
    reason: str
    code: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "document_type": self.document_type,
            "document_code": self.document_code,
            "version": self.version,
            "reason": self.reason,
            "code": self.code,
        }


def _best_effort_header(data: bytes) -> tuple[str, str, str, int]:
    """Header fields of a message we refuse, for the log (empty when unreadable)."""
    try:
        root = safe_parse(data)
        version = int(root.get("Version", "0") or 0)
    except (OdfError, ValueError):
        return "", "", "", 0
    return (
        root.get("CompetitionCode", "")[:20],
        root.get("DocumentCode", "")[:34],
        root.get("DocumentType", "")[:20],
        version if -(2**31) < version < 2**31 else 0,
    )


def _log(
    uow: UnitOfWork,
    digest: str,
    header: tuple[str, str, str, int],
    outcome: str,
    reason: str,
    code: str = "",
    actor: uuid.UUID | None = None,
) -> ImportReport:
    comp, doc_code, doc_type, version = header
    audit.record(
        uow,
        action=f"results.odf.{outcome}",
        actor_id=actor,
        target_type="odf_document",
        target_id=f"{doc_type}:{doc_code}"[:200],
        details={"version": version, "sha256": digest, "code": code},
    )
    uow.session.add(
        OdfImport(
            tenant_id=uow.require_tenant(),
            competition=comp,
            document_code=doc_code,
            document_type=doc_type,
            version=version,
            outcome=outcome,
            reason=reason[:500],
            sha256=digest,
        )
    )
    uow.session.flush()
    return ImportReport(outcome, doc_type, doc_code, version, reason, code)


def import_odf(uow: UnitOfWork, data: bytes, *, author_id: uuid.UUID | None = None) -> ImportReport:
    """Apply one ODF message if it is valid and newer than what we hold for its key.

    The outcome is logged either way. A rejected message changes nothing but the log: its
    changes are applied inside a savepoint that is rolled back on any validation failure.
    """
    digest = hashlib.sha256(data).hexdigest()
    try:
        msg = parse_message(data)
    except OdfError as exc:
        return _log(
            uow, digest, _best_effort_header(data), "rejected", exc.reason, exc.code, author_id
        )
    h = msg.header
    head = (h.competition, h.document_code, h.document_type, h.version)
    if h.feed_flag == "T":
        return _log(
            uow, digest, head, "rejected", "test message (FeedFlag=T)", "test_feed", author_id
        )
    tid = uow.require_tenant()
    doc = repo.odf_document(uow.session, tid, h.competition, h.document_code, h.document_type)
    decision = decide_version(doc.version if doc else None, h.version)
    if decision is not VersionDecision.APPLY:
        held = doc.version if doc else 0
        how = "the one" if decision is VersionDecision.DUPLICATE else "older than the one"
        reason = f"version {h.version} is {how} held ({held})"
        return _log(uow, digest, head, str(decision), reason, str(decision), author_id)
    savepoint = uow.session.begin_nested()
    try:
        note = _apply(uow, msg, author_id)
    except (ValidationFailed, NotFound, Conflict) as exc:
        savepoint.rollback()
        return _log(uow, digest, head, "rejected", exc.message, exc.code, author_id)
    savepoint.commit()
    if doc is None:
        doc = OdfDocument(
            tenant_id=tid,
            competition=h.competition,
            document_code=h.document_code,
            document_type=h.document_type,
        )
        uow.session.add(doc)
    doc.version = h.version
    doc.payload = {"result_status": h.result_status, "source": h.source}
    doc.updated_at = utcnow()
    return _log(uow, digest, head, "applied", note, "", author_id)


def _apply(uow: UnitOfWork, msg: OdfMessage, author_id: uuid.UUID | None) -> str:
    h = msg.header
    tid = uow.require_tenant()
    if h.document_type == "DT_SCHEDULE":
        for s in msg.schedule:
            upsert_unit(
                uow,
                UnitSpec(
                    code=s.code,
                    name=s.name,
                    name_fr=s.name_fr,
                    venue=s.venue,
                    phase=s.phase,
                    scheduled_at=s.start,
                    status=s.status,
                    medal=s.medal,
                ),
                author_id=author_id,
            )
        return f"{len(msg.schedule)} unit(s) scheduled"
    if h.document_type == "DT_PARTIC":
        for p in msg.participants:
            row = repo.participant(uow.session, tid, p.code)
            if row is None:
                uow.session.add(Participant(tenant_id=tid, code=p.code, name=p.name, noc=p.noc))
            else:
                row.name, row.noc = p.name, p.noc
        uow.session.flush()
        return f"{len(msg.participants)} participant(s)"
    if h.document_type == "DT_RESULT":
        known = repo.participants(uow.session, tid, [ln.participant for ln in msg.lines])
        lines = [
            ln if ln.name else Line(**{**ln.as_dict(), "name": known.get(ln.participant, "")})
            for ln in msg.lines
        ]
        record_lines(
            uow,
            code=h.document_code,
            lines=lines,
            result_status=h.result_status,
            source="odf",
            author_id=author_id,
        )
        return f"{len(lines)} line(s), {h.result_status}"
    # DT_MEDALS: our standings are computed from official results; the feed is a check.
    computed = {r.noc: (r.gold, r.silver, r.bronze) for r in medal_rows(uow)}
    fed = {m.noc: (m.gold, m.silver, m.bronze) for m in msg.medals if m.gold + m.silver + m.bronze}
    differ = sorted(n for n in set(computed) | set(fed) if computed.get(n) != fed.get(n))
    if differ:
        return "standings differ from official results for " + ", ".join(differ[:20])
    return "standings match official results"


def import_log(uow: UnitOfWork, limit: int = 100) -> list[dict[str, Any]]:
    rows = uow.session.scalars(
        sa.select(OdfImport)
        .where(OdfImport.tenant_id == uow.require_tenant())
        .order_by(OdfImport.received_at.desc())
        .limit(limit)
    )
    return [
        {
            "received_at": r.received_at.isoformat(),
            "document_type": r.document_type,
            "document_code": r.document_code,
            "version": r.version,
            "outcome": r.outcome,
            "reason": r.reason,
        }
        for r in rows
    ]


def days(uow: UnitOfWork) -> list[dt.date]:
    """Days (Dakar = UTC) that have at least one unit, for the schedule's day links."""
    rows = uow.session.scalars(
        sa.select(Unit.scheduled_at).where(Unit.tenant_id == uow.require_tenant())
    )
    return sorted({r.date() for r in rows})
