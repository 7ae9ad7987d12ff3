"""Validation notices and the per-feed report.

Rule codes follow MobilityData's gtfs-validator canonical names where one exists
(``missing_required_field``, ``stop_time_with_arrival_before_previous_departure_time`` ...).
Codes that exist only here are listed in ``TERANGA_CODES`` so a reader knows they are ours.

Severity contract: ``error`` blocks the record it is about (that row, trip or stop is left
out of the import); ``warning`` and ``info`` never block anything. The severity therefore says
what *we* did: where MobilityData calls a defect an error but we can repair it safely (a stop
without a name gets its id as name), the canonical code is kept with severity ``warning``.
A feed is *unusable* (and the CLI exits non-zero) only when a ``fatal`` notice was raised:
a required file missing or unreadable, or nothing left to plan with once blocked records are
removed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]

#: Notices that MobilityData's validator has no rule for.
TERANGA_CODES = frozenset(
    {
        "inconsistent_delimiter",
        "non_utf8_encoding",
        "all_pickup_drop_off_forbidden",
        "pickup_drop_off_flags_ignored",
        "no_usable_trip",
    }
)

# Store at most this many notices per (code, file); the rest are only counted.
SAMPLE_LIMIT = 50


@dataclass(frozen=True, slots=True)
class Notice:
    code: str
    severity: Severity
    file: str = ""
    line: int | None = None
    field: str = ""
    message: str = ""
    fatal: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "message": self.message,
        }


@dataclass
class ValidationReport:
    feed_id: str
    notices: list[Notice] = field(default_factory=list)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    stats: dict[str, int] = field(default_factory=dict)
    _sampled: Counter[tuple[str, str]] = field(default_factory=Counter, repr=False)

    def add(
        self,
        code: str,
        severity: Severity,
        *,
        file: str = "",
        line: int | None = None,
        field: str = "",
        message: str = "",
        fatal: bool = False,
    ) -> None:
        self.counts[(code, severity)] += 1
        self._sampled[(code, file)] += 1
        if fatal or self._sampled[(code, file)] <= SAMPLE_LIMIT:
            self.notices.append(Notice(code, severity, file, line, field, message, fatal))

    @property
    def usable(self) -> bool:
        return not any(n.fatal for n in self.notices)

    def count(self, severity: Severity | None = None, code: str | None = None) -> int:
        return sum(
            n
            for (c, s), n in self.counts.items()
            if (severity is None or s == severity) and (code is None or c == code)
        )

    def codes(self) -> set[str]:
        return {c for c, _ in self.counts}

    def summary_lines(self) -> list[str]:
        head = (
            f"feed {self.feed_id}: {'usable' if self.usable else 'UNUSABLE'} — "
            f"{self.count('error')} error(s), {self.count('warning')} warning(s), "
            f"{self.count('info')} info"
        )
        stats = ", ".join(f"{k}={v}" for k, v in self.stats.items())
        lines = [head + (f" ({stats})" if stats else "")]
        for (code, sev), n in sorted(self.counts.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            first = next(x for x in self.notices if x.code == code and x.severity == sev)
            where = first.file + (f":{first.line}" if first.line else "")
            where += f" [{first.field}]" if first.field else ""
            lines.append(f"  {sev:<7} {code} ×{n}  e.g. {where} {first.message}".rstrip())
        return lines

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationReport:
        """Rebuild a stored report (``as_dict`` output)."""
        report = cls(str(data.get("feed_id", "")))
        for c in data.get("counts", []):
            report.counts[(c["code"], c["severity"])] = int(c["count"])
        for n in data.get("notices", []):
            report.notices.append(
                Notice(n["code"], n["severity"], n["file"], n["line"], n["field"], n["message"])
            )
        report.stats.update({k: int(v) for k, v in data.get("stats", {}).items()})
        return report

    def as_dict(self) -> dict[str, Any]:
        return {
            "feed_id": self.feed_id,
            "usable": self.usable,
            "errors": self.count("error"),
            "warnings": self.count("warning"),
            "stats": dict(self.stats),
            "counts": [
                {"code": c, "severity": s, "count": n} for (c, s), n in sorted(self.counts.items())
            ],
            "notices": [n.as_dict() for n in self.notices],
        }
