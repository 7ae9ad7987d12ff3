"""Limited retention (Loi 2008-12; security reference L7): the purge job.

Each domain provider (see ``privacy.subjects``) declares retention classes, each tied to a
processing of the register and no longer than that processing's retention. ``purge``
computes, for each class, the instant before which data has expired (``now`` minus the
period) and lets the provider erase or anonymise what is older, in the caller's unit of
work, then writes one audit entry with the counts. Running it twice changes nothing the
second time (providers count only rows that still hold personal data).

Time travel: pass ``now`` (tests and the CLI's ``--now``), or let it default to the
container clock's reading given by the caller.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import uuid
from dataclasses import dataclass

from teranga.audit import api as audit
from teranga.platform.db import Base
from teranga.platform.uow import UnitOfWork
from teranga.privacy.register import Register, load_register
from teranga.privacy.subjects import RetentionClass, SubjectProvider, providers

_DURATION_RE = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")
#: Sealed columns that hold keys or secrets (signing keys, webhook secrets), not personal data.
_KEY_COLUMNS = frozenset({"private_key_sealed", "secret_sealed", "previous_secret_sealed"})


@dataclass(frozen=True)
class Duration:
    years: int = 0
    months: int = 0
    days: int = 0

    @staticmethod
    def parse(text: str) -> Duration:
        m = _DURATION_RE.match(text)
        if not m or text == "P":
            raise ValueError(f"not an ISO 8601 duration of years/months/weeks/days: {text!r}")
        y, mo, w, d = (int(g) if g else 0 for g in m.groups())
        return Duration(y, mo, 7 * w + d)

    def before(self, moment: dt.datetime) -> dt.datetime:
        """``moment`` minus this duration, calendar-wise (31 March - P1M = 28/29 Feb)."""
        months = moment.year * 12 + (moment.month - 1) - (self.years * 12 + self.months)
        year, month = divmod(months, 12)
        month += 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day) - dt.timedelta(days=self.days)

    def within(self, other: Duration) -> bool:
        """True when this duration never reaches past ``other``, whatever the calendar."""
        return all(self.before(ref) >= other.before(ref) for ref in _REFERENCE_INSTANTS)


# Month ends and leap days, where calendar arithmetic differs most.
_REFERENCE_INSTANTS = tuple(
    dt.datetime(y, m, d, tzinfo=dt.UTC)
    for y, m, d in ((2024, 1, 31), (2024, 2, 29), (2024, 3, 31), (2025, 3, 1), (2026, 12, 31))
)


@dataclass(frozen=True)
class Rule:
    """A retention class checked against the register."""

    domain: str
    cls: RetentionClass
    duration: Duration
    processing_retention: str


def rules(register: Register | None = None) -> list[Rule]:
    """Every provider's retention classes, validated against the register.

    Raises ValueError when a class names an unknown processing or keeps data longer than
    the processing's declared retention: the register is what the CDP was told.
    """
    reg = register or load_register()
    out: list[Rule] = []
    for p in providers():
        for cls in p.retention:
            try:
                processing = reg.get(cls.processing)
            except KeyError:
                raise ValueError(
                    f"{cls.name}: processing {cls.processing!r} is not in the register"
                ) from None
            duration = Duration.parse(cls.period)
            declared = Duration.parse(processing.retention)
            if not duration.within(declared):
                raise ValueError(
                    f"{cls.name}: {cls.period} exceeds the register's {processing.retention} "
                    f"for {processing.id}"
                )
            out.append(Rule(p.domain, cls, duration, processing.retention))
    return out


def processings_without_purge(register: Register | None = None) -> list[str]:
    """Register processings no provider purges yet (their domain has no ``subject``)."""
    reg = register or load_register()
    purged = {c.processing for p in providers() for c in p.retention}
    return [p.id for p in reg.processings if p.id not in purged]


def uncovered_tables() -> list[str]:
    """Tables holding sealed personal data that no provider takes responsibility for."""
    claimed = {t for p in providers() for t in p.tables}
    sealed = {
        table.name
        for table in Base.metadata.tables.values()
        if any(c.name.endswith("_sealed") and c.name not in _KEY_COLUMNS for c in table.columns)
    }
    return sorted(sealed - claimed)


@dataclass(frozen=True)
class PurgeReport:
    now: dt.datetime
    dry_run: bool
    counts: dict[str, int]
    cutoffs: dict[str, dt.datetime]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def purge(
    uow: UnitOfWork,
    now: dt.datetime,
    *,
    dry_run: bool = False,
    actor_id: uuid.UUID | None = None,
) -> PurgeReport:
    """Erase or anonymise the unit's tenant data whose retention ended before ``now``.

    A real run writes ``privacy.retention.purged`` (counts per class, no personal data),
    even when nothing expired: the audit log then shows the job ran. A dry run only counts.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    by_domain: dict[str, list[Rule]] = {}
    for rule in rules():
        by_domain.setdefault(rule.domain, []).append(rule)
    counts: dict[str, int] = {}
    cutoffs: dict[str, dt.datetime] = {}
    provider_of: dict[str, SubjectProvider] = {p.domain: p for p in providers()}
    for domain, domain_rules in by_domain.items():
        wanted = {r.cls.name: r.duration.before(now) for r in domain_rules}
        cutoffs.update(wanted)
        counts.update(provider_of[domain].purge_expired(uow, wanted, dry_run=dry_run))
    report = PurgeReport(now, dry_run, counts, cutoffs)
    if not dry_run:
        audit.record(
            uow,
            action="privacy.retention.purged",
            actor_id=actor_id,
            target_type="retention",
            target_id=now.date().isoformat(),
            details={"now": now.isoformat(), "counts": dict(counts), "total": report.total},
        )
    return report
