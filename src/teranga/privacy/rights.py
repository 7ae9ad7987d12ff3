"""Data-subject rights across services (Loi 2008-12): access/export and erasure.

``export_subject`` gathers every record of a person in the unit's tenant from every
domain provider (``privacy.subjects``) into one JSON document (and a PDF rendering of
it); ``erase_subject`` erases or pseudonymises them. Both are audited in the same
transaction with the actor, the reason and counts; the person is designated in the audit
log by the blind index of the identifier (a keyed hash), never by the identifier itself.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from teranga.audit import api as audit
from teranga.platform.clock import utcnow
from teranga.platform.errors import ValidationFailed
from teranga.platform.uow import UnitOfWork
from teranga.privacy.register import load_register
from teranga.privacy.service import blind_index
from teranga.privacy.subjects import Identifier, SubjectRecord, providers

FORMAT = "teranga.subject-export/1"
#: Guard against a runaway chain of derived identifiers (a person has far fewer).
MAX_IDENTIFIERS = 5000


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not 3 <= len(reason) <= 200:
        raise ValidationFailed("reason", "3 to 200 characters (e.g. the request reference)")
    return reason


def collect(uow: UnitOfWork, identifier: Identifier) -> dict[str, list[SubjectRecord]]:
    """Every provider's records of the person, following derived identifiers to a fixpoint."""
    provs = providers()
    found: dict[str, dict[tuple[str, str], SubjectRecord]] = {p.domain: {} for p in provs}
    queue, seen = [identifier], {identifier}
    while queue:
        current = queue.pop(0)
        for p in provs:
            for record in p.find(uow, current):
                key = (record.kind, record.id)
                if key in found[p.domain]:
                    continue
                found[p.domain][key] = record
                for d in record.derived:
                    if d not in seen:
                        if len(seen) >= MAX_IDENTIFIERS:
                            raise ValidationFailed("value", "too many linked records")
                        seen.add(d)
                        queue.append(d)
    return {domain: list(recs.values()) for domain, recs in found.items()}


def _target(uow: UnitOfWork, identifier: Identifier) -> str:
    return blind_index(uow, identifier.value, kind=identifier.index_kind)


def _processings(domains: list[str]) -> list[dict[str, Any]]:
    """What the register says about the processings that hold the person's data."""
    reg = load_register()
    wanted = {c.processing for p in providers() if p.domain in domains for c in p.retention}
    return [
        {
            "id": p.id,
            "name": p.name,
            "purpose": p.purpose,
            "legal_basis": p.legal_basis,
            "retention": p.retention,
            "retention_note": p.retention_note,
            "recipients": list(p.recipients),
            "processors": list(p.processors),
            "transfers": list(p.transfers),
        }
        for p in reg.processings
        if p.id in wanted
    ]


def export_subject(
    uow: UnitOfWork,
    identifier: str,
    kind: str,
    *,
    actor_id: uuid.UUID | None,
    reason: str,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The person's data across services, decrypted, as a JSON-ready document. Audited."""
    reason = _reason(reason)
    ident = Identifier.parse(kind, identifier)
    if ident.kind == "credential":
        raise ValidationFailed("kind", "phone, email, id_number or accreditation")
    records = collect(uow, ident)
    by_domain = {p.domain: p for p in providers()}
    data = {d: by_domain[d].export(uow, recs) for d, recs in records.items() if recs}
    counts = {d: len(recs) for d, recs in records.items() if recs}
    audit.record(
        uow,
        action="privacy.subject.exported",
        actor_id=actor_id,
        target_type="data_subject",
        target_id=_target(uow, ident),
        details={"kind": ident.kind, "reason": reason, "records": counts},
    )
    return {
        "format": FORMAT,
        "generated_at": (now or utcnow()).isoformat(),
        "tenant_id": str(uow.require_tenant()),
        "controller": load_register().controller,
        "subject": {"kind": ident.kind, "value": ident.value},
        "records": counts,
        "processings": _processings(list(data)),
        "data": data,
    }


@dataclass(frozen=True)
class ErasureReport:
    found: dict[str, int]
    erased: dict[str, int]
    keep_legal: bool

    @property
    def total_found(self) -> int:
        return sum(self.found.values())


def erase_subject(
    uow: UnitOfWork,
    identifier: str,
    kind: str,
    *,
    actor_id: uuid.UUID | None,
    reason: str,
    keep_legal: bool = True,
) -> ErasureReport:
    """Erase or pseudonymise the person's data in every service. Audited.

    With ``keep_legal`` (the default) records under a legal hold stay, pseudonymised:
    amounts of paid orders, tickets that still admit their bearer, gate entry records.
    """
    reason = _reason(reason)
    ident = Identifier.parse(kind, identifier)
    if ident.kind == "credential":
        raise ValidationFailed("kind", "phone, email, id_number or accreditation")
    target = _target(uow, ident)
    records = collect(uow, ident)
    by_domain = {p.domain: p for p in providers()}
    erased: dict[str, int] = {}
    for domain, recs in records.items():
        if recs:
            erased[domain] = by_domain[domain].erase(uow, recs, keep_legal=keep_legal)
    found = {d: len(recs) for d, recs in records.items() if recs}
    audit.record(
        uow,
        action="privacy.subject.erased",
        actor_id=actor_id,
        target_type="data_subject",
        target_id=target,
        details={
            "kind": ident.kind,
            "reason": reason,
            "records": found,
            "erased": erased,
            "keep_legal": keep_legal,
        },
    )
    return ErasureReport(found, erased, keep_legal)


# -- PDF rendering ---------------------------------------------------------------------------


def _latin1(text: str) -> str:
    # The PDF core fonts are Latin-1: French accents pass, anything else is replaced.
    return text.encode("latin-1", "replace").decode("latin-1")


def _lines(value: Any, indent: int = 0) -> list[tuple[int, str]]:
    pad = indent
    out: list[tuple[int, str]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "photo" and isinstance(v, dict):
                out.append((pad, f"{k}: {v.get('type')} (voir le JSON / see the JSON)"))
            elif isinstance(v, dict | list) and v:
                out.append((pad, f"{k}:"))
                out.extend(_lines(v, indent + 1))
            else:
                out.append((pad, f"{k}: {_scalar(v)}"))
    elif isinstance(value, list):
        for i, item in enumerate(value, 1):
            if isinstance(item, dict | list):
                out.append((pad, f"#{i}"))
                out.extend(_lines(item, indent + 1))
            else:
                out.append((pad, f"- {_scalar(item)}"))
    else:
        out.append((pad, _scalar(value)))
    return out


def _scalar(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "oui / yes" if v else "non / no"
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def render_pdf(document: dict[str, Any]) -> bytes:
    """A readable PDF of an export document (the JSON stays the complete reference)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.multi_cell(
        0,
        8,
        _latin1("Vos données personnelles / Your personal data"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font("Helvetica", size=9)
    header = {
        "Responsable du traitement / Controller": document.get("controller"),
        "Personne / Subject": document.get("subject"),
        "Généré le / Generated at": document.get("generated_at"),
        "Enregistrements / Records": document.get("records"),
    }
    for k, v in header.items():
        pdf.multi_cell(0, 5, _latin1(f"{k}: {_scalar(v)}"), new_x="LMARGIN", new_y="NEXT")
    sections = [("Traitements / Processings", document.get("processings", []))]
    sections += [(f"{d}", section) for d, section in document.get("data", {}).items()]
    for title, body in sections:
        pdf.ln(3)
        pdf.set_font("Helvetica", style="B", size=11)
        pdf.multi_cell(0, 6, _latin1(title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=8)
        for indent, text in _lines(body):
            pdf.set_x(pdf.l_margin + 4 * indent)
            pdf.multi_cell(0, 4, _latin1(text), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
