"""Parse and validate IOC Olympic Data Feed (ODF) XML messages, safely.

Every ODF message is one ``OdfBody`` element whose attributes form the header:
``CompetitionCode``, ``DocumentCode`` (an RSC), ``DocumentType`` (``DT_SCHEDULE``,
``DT_PARTIC``, ``DT_RESULT``, ``DT_MEDALS``...), ``Version`` (a positive integer, higher is
newer), ``ResultStatus`` (for results), ``FeedFlag`` (``P`` production, ``T`` test), ``Date``,
``Time``, ``LogicalDate`` and ``Source``. Most messages are full snapshots of their document,
so a receiver keeps the highest version per (competition, document code, document type).

Parsing uses expat directly and builds the tree itself: a DOCTYPE, an entity declaration or
an external entity reference is refused outright, so neither "billion laughs" expansion nor
external entity fetches can happen. Only UTF-8 (or ASCII) input is accepted.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET  # holds a tree built by expat; never parses
from dataclasses import dataclass, field
from typing import Any, NoReturn
from xml.parsers import expat

from teranga.results.domain import (
    NOC_RE,
    DomainError,
    Line,
    ResultStatus,
    ScheduleStatus,
    parse_rsc,
)

MAX_BYTES = 2_000_000
DOC_TYPES = ("DT_SCHEDULE", "DT_PARTIC", "DT_RESULT", "DT_MEDALS")
_CODE_RE = re.compile(r"^[A-Z0-9-]{1,34}$")
_COMP_RE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
_ENC_RE = re.compile(rb"^<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9_.-]+)[\"']")


class OdfError(ValueError):
    """A message we refuse, with a stable ``code`` and a human reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OdfHeader:
    competition: str
    document_code: str
    document_type: str
    version: int
    result_status: str
    feed_flag: str
    source: str


@dataclass(frozen=True, slots=True)
class ScheduleUnit:
    code: str
    sport: str
    name: str
    name_fr: str
    phase: str
    venue: str
    start: dt.datetime
    status: str
    medal: bool


@dataclass(frozen=True, slots=True)
class Participant:
    code: str
    name: str
    noc: str


@dataclass(frozen=True, slots=True)
class NocMedals:
    noc: str
    gold: int
    silver: int
    bronze: int


@dataclass(frozen=True)
class OdfMessage:
    header: OdfHeader
    schedule: list[ScheduleUnit] = field(default_factory=list)
    participants: list[Participant] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    medals: list[NocMedals] = field(default_factory=list)


# --- safe XML ------------------------------------------------------------------------


def _refuse(*_: Any) -> NoReturn:
    raise OdfError("xml_forbidden", "DOCTYPE and entity declarations are not accepted")


def safe_parse(data: bytes) -> ET.Element:
    """Parse XML bytes into an ElementTree element, refusing DTDs and entities."""
    if len(data) > MAX_BYTES:
        raise OdfError("too_large", f"message larger than {MAX_BYTES} bytes")
    m = _ENC_RE.match(data.lstrip())
    if m and m.group(1).lower() not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
        raise OdfError("bad_encoding", "only UTF-8 messages are accepted")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OdfError("bad_encoding", "message is not valid UTF-8") from exc
    parser = expat.ParserCreate(encoding="utf-8")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    stack: list[ET.Element] = []
    root: list[ET.Element] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        el = ET.Element(tag, attrs)
        if stack:
            stack[-1].append(el)
        else:
            root.append(el)
        stack.append(el)

    def end(_tag: str) -> None:
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise OdfError("malformed_xml", f"not well-formed XML: {exc}") from exc
    if not root:
        raise OdfError("malformed_xml", "empty document")
    return root[0]


# --- ODF -----------------------------------------------------------------------------


def _int(el: ET.Element, attr: str, *, required: bool = False, default: int = 0) -> int:
    raw = el.get(attr)
    if raw is None or raw == "":
        if required:
            raise OdfError("missing_attribute", f"{el.tag}@{attr} is required")
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise OdfError("bad_attribute", f"{el.tag}@{attr}={raw!r} is not an integer") from exc


def _header(root: ET.Element) -> OdfHeader:
    if root.tag != "OdfBody":
        raise OdfError("not_odf", f"root element is <{root.tag}>, expected <OdfBody>")
    comp = root.get("CompetitionCode", "")
    if not _COMP_RE.match(comp):
        raise OdfError("missing_attribute", "OdfBody@CompetitionCode is required")
    code = root.get("DocumentCode", "")
    if not _CODE_RE.match(code):
        raise OdfError("bad_attribute", "OdfBody@DocumentCode must be an RSC of [A-Z0-9-]")
    doc_type = root.get("DocumentType", "")
    if doc_type not in DOC_TYPES:
        raise OdfError("unsupported_type", f"DocumentType {doc_type!r} not handled here")
    version = _int(root, "Version", required=True)
    if version < 1:
        raise OdfError("bad_attribute", "OdfBody@Version must be >= 1")
    status = root.get("ResultStatus", "")
    if doc_type == "DT_RESULT" and status not in ResultStatus.__members__:
        raise OdfError("bad_attribute", f"ResultStatus {status!r} is not an ODF result status")
    flag = root.get("FeedFlag", "P")
    if flag not in ("P", "T"):
        raise OdfError("bad_attribute", "OdfBody@FeedFlag must be P or T")
    return OdfHeader(comp, code, doc_type, version, status, flag, root.get("Source", ""))


def _competition(root: ET.Element) -> ET.Element:
    comp = root.find("Competition")
    if comp is None:
        raise OdfError("missing_element", "<Competition> is required")
    return comp


def _rsc(code: str, where: str) -> str:
    try:
        parse_rsc(code)
    except DomainError as exc:
        raise OdfError("bad_code", f"{where}: {exc.message}") from exc
    return code


def _noc(value: str, where: str) -> str:
    if not NOC_RE.match(value):
        raise OdfError("bad_attribute", f"{where}@Organisation must be a 3-letter NOC code")
    return value


def _when(raw: str, where: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise OdfError("bad_attribute", f"{where}@StartDate {raw!r} is not ISO 8601") from exc
    if when.tzinfo is None:
        raise OdfError("bad_attribute", f"{where}@StartDate needs a UTC offset")
    return when.astimezone(dt.UTC)


def _item_name(unit: ET.Element, lang: str) -> str:
    for n in unit.findall("ItemName"):
        if n.get("Language") == lang:
            return n.get("Value", "")
    return ""


def _schedule(comp: ET.Element) -> list[ScheduleUnit]:
    out = []
    for i, u in enumerate(comp.iter("Unit")):
        where = f"Unit[{i}]"
        code = _rsc(u.get("Code", ""), where)
        status = u.get("ScheduleStatus", "SCHEDULED")
        if status not in ScheduleStatus.__members__:
            raise OdfError("bad_attribute", f"{where}@ScheduleStatus {status!r} unknown")
        venue_el = u.find("VenueDescription")
        venue = venue_el.get("VenueName", "") if venue_el is not None else u.get("Venue", "")
        name = _item_name(u, "ENG") or code
        out.append(
            ScheduleUnit(
                code=code,
                sport=parse_rsc(code).sport,
                name=name,
                name_fr=_item_name(u, "FRA") or name,
                phase=u.get("PhaseType", "") or code[22:26].strip("-"),
                venue=venue,
                start=_when(u.get("StartDate", ""), where),
                status=status,
                medal=u.get("Medal", "0") not in ("", "0"),
            )
        )
    if not out:
        raise OdfError("missing_element", "DT_SCHEDULE carries no <Unit>")
    return out


def _participants(comp: ET.Element) -> list[Participant]:
    out = []
    for i, p in enumerate(comp.iter("Participant")):
        where = f"Participant[{i}]"
        code = p.get("Code", "")
        if not code:
            raise OdfError("missing_attribute", f"{where}@Code is required")
        name = p.get("PrintName") or " ".join(
            x for x in (p.get("GivenName", ""), p.get("FamilyName", "")) if x
        )
        out.append(Participant(code, name, _noc(p.get("Organisation", ""), where)))
    if not out:
        raise OdfError("missing_element", "DT_PARTIC carries no <Participant>")
    return out


def _competitor_name(c: ET.Element) -> str:
    desc = c.find("Description")
    if desc is not None and desc.get("TeamName"):
        return desc.get("TeamName", "")
    names = []
    for ath in c.iter("Athlete"):
        d = ath.find("Description")
        if d is not None:
            given, family = d.get("GivenName", ""), d.get("FamilyName", "")
            names.append(" ".join(x for x in (given, family) if x))
    if not names and desc is not None:
        names.append(" ".join(x for x in (desc.get("GivenName", ""), desc.get("FamilyName", ""))))
    return " / ".join(n for n in names if n)


def _results(comp: ET.Element, status: str) -> list[Line]:
    out = []
    for i, r in enumerate(comp.findall("Result")):
        where = f"Result[{i}]"
        c = r.find("Competitor")
        if c is None or not c.get("Code"):
            raise OdfError("missing_element", f"{where} needs a <Competitor Code=...>")
        rank_raw = r.get("Rank", "")
        rank = _int(r, "Rank") if rank_raw else None
        if status == ResultStatus.START_LIST:
            rank = None  # start lists are sent with empty ranks; ignore stray values
        start = _int(r, "StartOrder") or None
        out.append(
            Line(
                participant=c.get("Code", ""),
                name=_competitor_name(c),
                noc=_noc(c.get("Organisation", ""), f"{where}/Competitor"),
                start_order=start,
                rank=rank,
                mark=r.get("Result", ""),
                irm=r.get("IRM", ""),
            )
        )
    return out


def _medals(comp: ET.Element) -> list[NocMedals]:
    out = []
    for i, m in enumerate(comp.iter("MedalNOC")):
        where = f"MedalNOC[{i}]"
        noc = _noc(m.get("Organisation", ""), where)
        tot = next((n for n in m.findall("MedalNumber") if n.get("Type") == "TOT"), None)
        if tot is None:
            raise OdfError("missing_element", f"{where} needs <MedalNumber Type='TOT'>")
        g, s, b = (_int(tot, k) for k in ("Gold", "Silver", "Bronze"))
        if min(g, s, b) < 0:
            raise OdfError("bad_attribute", f"{where}: negative medal count")
        if tot.get("Total") and _int(tot, "Total") != g + s + b:
            raise OdfError("bad_attribute", f"{where}: Total is not Gold + Silver + Bronze")
        out.append(NocMedals(noc, g, s, b))
    return out


def parse_message(data: bytes) -> OdfMessage:
    """Parse one ODF message; raises OdfError with a stable code and reason."""
    root = safe_parse(data)
    header = _header(root)
    comp = _competition(root)
    if header.document_type == "DT_SCHEDULE":
        return OdfMessage(header, schedule=_schedule(comp))
    if header.document_type == "DT_PARTIC":
        return OdfMessage(header, participants=_participants(comp))
    if header.document_type == "DT_RESULT":
        _rsc(header.document_code, "OdfBody@DocumentCode")
        return OdfMessage(header, lines=_results(comp, header.result_status))
    return OdfMessage(header, medals=_medals(comp))
