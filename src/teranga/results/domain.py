"""Competition results: units, start lists, results, versions, medal standings, deltas.

Pure logic, no framework. Vocabulary follows the IOC Olympic Data Feed (ODF):

* a *unit* is the smallest competition element with its own results (a heat, a match, a
  final), identified by its 34-character Results System Code (RSC), e.g.
  ``ATHM100M--------------FNL-000100--``: discipline (3) + gender (1) + event (18) +
  phase (4) + unit (8), padded with ``-``;
* ``ResultStatus`` says how final a result is (START_LIST ... OFFICIAL);
* ``ScheduleStatus`` says where the unit stands in the day's schedule.

Every change to a unit's lines is a new *version*; documents keep only the highest version
per key, so a replayed or late message never overwrites a newer one.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RSC_LEN = 34
_RSC_RE = re.compile(r"^[A-Z0-9]{3}[A-Z0-9-]{31}$")
NOC_RE = re.compile(r"^[A-Z]{3}$")
_PARTICIPANT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class ResultStatus(enum.StrEnum):
    """ODF ``ResultStatus``, in increasing order of finality (OFFICIAL is final)."""

    START_LIST = "START_LIST"
    LIVE = "LIVE"
    INTERMEDIATE = "INTERMEDIATE"
    PARTIAL = "PARTIAL"
    UNCONFIRMED = "UNCONFIRMED"
    UNOFFICIAL = "UNOFFICIAL"
    PROTESTED = "PROTESTED"
    OFFICIAL = "OFFICIAL"


class ScheduleStatus(enum.StrEnum):
    """ODF ``ScheduleStatus`` of a unit."""

    SCHEDULED = "SCHEDULED"
    GETTING_READY = "GETTING_READY"
    RUNNING = "RUNNING"
    INTERRUPTED = "INTERRUPTED"
    DELAYED = "DELAYED"
    POSTPONED = "POSTPONED"
    CANCELLED = "CANCELLED"
    FINISHED = "FINISHED"


class Irm(enum.StrEnum):
    """Invalid Result Marks: a line that has no rank for a stated reason."""

    DNS = "DNS"
    DNF = "DNF"
    DSQ = "DSQ"
    DQB = "DQB"
    NM = "NM"


# ODF discipline codes of the demo sports -> our sport slugs (sports.yaml). Codes follow
# recent Games' ODF dictionaries; the Dakar 2026 codes are to be confirmed with the ORIS.
DISCIPLINES: Mapping[str, str] = {
    "ATH": "athletics",
    "SWM": "aquatics",
    "ARC": "archery",
    "BDM": "badminton",
    "BS5": "baseball_softball",
    "BK3": "basketball",
    "BOX": "boxing",
    "BKG": "breaking",
    "CRD": "cycling",
    "EQU": "equestrian",
    "FEN": "fencing",
    "FBL": "football",
    "FUT": "football",
    "GAR": "gymnastics",
    "HBB": "handball",
    "JUD": "judo",
    "ROC": "rowing",
    "RU7": "rugby",
    "SAL": "sailing",
    "SKB": "skateboarding",
    "TTE": "table_tennis",
    "TKW": "taekwondo",
    "TRI": "triathlon",
    "VBV": "volleyball",
    "WRB": "wrestling",
    "WUS": "wushu",
}
SPORTS: frozenset[str] = frozenset(DISCIPLINES.values())


class DomainError(ValueError):
    """Invalid input for a results rule; ``field`` names what was wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Rsc:
    discipline: str
    gender: str
    event: str
    phase: str
    unit: str

    @property
    def sport(self) -> str:
        return DISCIPLINES[self.discipline]


def parse_rsc(code: str) -> Rsc:
    """Split a unit RSC; raises DomainError when it is not 34 characters of [A-Z0-9-]."""
    if len(code) != RSC_LEN or not _RSC_RE.match(code):
        raise DomainError("code", "a unit code is 34 characters of A-Z, 0-9 and '-'")
    rsc = Rsc(code[0:3], code[3], code[4:22], code[22:26], code[26:34])
    if rsc.discipline not in DISCIPLINES:
        raise DomainError("code", f"unknown discipline {rsc.discipline!r}")
    return rsc


@dataclass(frozen=True, slots=True)
class Line:
    """One competitor in a unit: a start-list entry, then a result once ranked.

    ``rank`` is None until ranked (start list) or when ``irm`` says why not.
    ``mark`` is the sport's result as displayed (``10.21``, ``1:02.35``, ``10-0``).
    """

    participant: str
    name: str
    noc: str
    start_order: int | None = None
    rank: int | None = None
    mark: str = ""
    irm: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "participant": self.participant,
            "name": self.name,
            "noc": self.noc,
            "start_order": self.start_order,
            "rank": self.rank,
            "mark": self.mark,
            "irm": self.irm,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Line:
        return cls(
            participant=str(d["participant"]),
            name=str(d.get("name") or ""),
            noc=str(d["noc"]),
            start_order=d.get("start_order"),
            rank=d.get("rank"),
            mark=str(d.get("mark") or ""),
            irm=str(d.get("irm") or ""),
        )


def validate_lines(lines: Sequence[Line], *, ranked: bool) -> list[Line]:
    """Check a unit's lines; returns them sorted for display (rank, then start order).

    Rules: participants unique and well-formed, NOC three capital letters, ranks >= 1,
    an IRM line has no rank; a start list (``ranked=False``) carries no rank.
    """
    seen: set[str] = set()
    for i, ln in enumerate(lines):
        where = f"lines[{i}]"
        if not _PARTICIPANT_RE.match(ln.participant):
            raise DomainError(f"{where}.participant", "1-40 characters of A-Z, a-z, 0-9, _ . -")
        if ln.participant in seen:
            raise DomainError(f"{where}.participant", f"{ln.participant} appears twice")
        seen.add(ln.participant)
        if not NOC_RE.match(ln.noc):
            raise DomainError(f"{where}.noc", "three capital letters (e.g. SEN)")
        if len(ln.name) > 120 or len(ln.mark) > 40:
            raise DomainError(where, "name or mark too long")
        if ln.start_order is not None and ln.start_order < 1:
            raise DomainError(f"{where}.start_order", "must be >= 1")
        if ln.irm and ln.irm not in Irm.__members__:
            raise DomainError(f"{where}.irm", f"one of {', '.join(Irm)}")
        if ln.rank is not None:
            if not ranked:
                raise DomainError(f"{where}.rank", "a start list has no ranks")
            if ln.rank < 1:
                raise DomainError(f"{where}.rank", "must be >= 1")
            if ln.irm:
                raise DomainError(f"{where}.rank", "a line with an IRM has no rank")
    return sort_lines(lines)


def _sort_key(ln: Line) -> tuple[int, int, int, str]:
    return (
        0 if ln.rank is not None else (2 if ln.irm else 1),
        ln.rank if ln.rank is not None else 0,
        ln.start_order if ln.start_order is not None else 10_000,
        ln.participant,
    )


def sort_lines(lines: Iterable[Line]) -> list[Line]:
    return sorted(lines, key=_sort_key)


# --- versions ------------------------------------------------------------------------


class VersionDecision(enum.StrEnum):
    APPLY = "applied"
    DUPLICATE = "duplicate"  # same version again: harmless, ignored
    STALE = "stale"  # older than what we hold: ignored, reported


def decide_version(current: int | None, incoming: int) -> VersionDecision:
    """Keep the highest version per document: equal or older never overwrites."""
    if current is None or incoming > current:
        return VersionDecision.APPLY
    if incoming == current:
        return VersionDecision.DUPLICATE
    return VersionDecision.STALE


# --- medals --------------------------------------------------------------------------

MEDALS = ("gold", "silver", "bronze")


@dataclass(frozen=True, slots=True)
class MedalAward:
    unit: str
    noc: str
    medal: str  # gold | silver | bronze


def awards_for_unit(unit: str, lines: Iterable[Line]) -> list[MedalAward]:
    """Medals of an official medal unit: rank 1 gold, 2 silver, 3 bronze.

    Equal ranks share the medal (a tie for first gives two golds); sports with two
    bronzes (judo, boxing, taekwondo, wrestling) rank both losing semi-finalists 3rd.
    """
    out = []
    for ln in lines:
        if ln.rank is not None and 1 <= ln.rank <= 3 and not ln.irm:
            out.append(MedalAward(unit, ln.noc, MEDALS[ln.rank - 1]))
    return out


@dataclass(frozen=True, slots=True)
class MedalRow:
    rank: int
    noc: str
    gold: int
    silver: int
    bronze: int

    @property
    def total(self) -> int:
        return self.gold + self.silver + self.bronze

    def as_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "noc": self.noc,
            "gold": self.gold,
            "silver": self.silver,
            "bronze": self.bronze,
            "total": self.total,
        }


def medal_table(awards: Iterable[MedalAward]) -> list[MedalRow]:
    """Standings by NOC: most golds, then silvers, then bronzes (the IOC's order).

    NOCs equal on all three share a rank (the next rank is skipped, 1, 1, 3) and are
    listed by NOC code.
    """
    counts: dict[str, list[int]] = {}
    for a in awards:
        counts.setdefault(a.noc, [0, 0, 0])[MEDALS.index(a.medal)] += 1
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1][0], -kv[1][1], -kv[1][2], kv[0]))
    rows: list[MedalRow] = []
    prev: tuple[int, ...] | None = None
    rank = 0
    for i, (noc, c) in enumerate(ordered, start=1):
        if tuple(c) != prev:
            rank = i
            prev = tuple(c)
        rows.append(MedalRow(rank, noc, c[0], c[1], c[2]))
    return rows


# --- deltas --------------------------------------------------------------------------


@dataclass(frozen=True)
class LinesDelta:
    """What changed between two versions of a unit's lines (keyed by participant)."""

    upsert: list[Line] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.upsert and not self.remove


def diff_lines(old: Iterable[Line], new: Iterable[Line]) -> LinesDelta:
    before = {ln.participant: ln for ln in old}
    after = {ln.participant: ln for ln in new}
    upsert = [ln for p, ln in after.items() if before.get(p) != ln]
    remove = sorted(p for p in before if p not in after)
    return LinesDelta(sort_lines(upsert), remove)


def apply_lines_delta(lines: Iterable[Line], delta: LinesDelta) -> list[Line]:
    """What a client does with a delta; applying it twice gives the same lines."""
    cur = {ln.participant: ln for ln in lines}
    for p in delta.remove:
        cur.pop(p, None)
    for ln in delta.upsert:
        cur[ln.participant] = ln
    return sort_lines(cur.values())


def diff_medals(
    old: Iterable[MedalRow], new: Iterable[MedalRow]
) -> tuple[list[MedalRow], list[str]]:
    """Rows that changed (values or rank) and NOCs that left the table."""
    before = {r.noc: r for r in old}
    after = {r.noc: r for r in new}
    changed = [r for n, r in after.items() if before.get(n) != r]
    gone = sorted(n for n in before if n not in after)
    return changed, gone
