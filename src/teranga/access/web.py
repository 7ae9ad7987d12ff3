"""Access control over HTTP: organiser configuration, gate scans (online and offline sync),
accreditation badges, and the gate agent's scanner page (works offline)."""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from pathlib import Path
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from teranga.access import service
from teranga.access.batcher import batcher_of
from teranga.access.domain import AccreditationRole, Decision, Reason
from teranga.access.models import CheckinList, Gate
from teranga.access.schemas import (
    AccreditationIn,
    AccreditationOut,
    ConflictOut,
    GateIn,
    GateOut,
    ListIn,
    ListOut,
    OverrideIn,
    ScanIn,
    ScanOut,
    SyncIn,
    SyncOut,
    SyncOutcomeOut,
)
from teranga.container import Container
from teranga.identity.api import CsrfToken, Principal, require
from teranga.platform.errors import ValidationFailed
from teranga.web import fastpath
from teranga.web.deps import ContainerDep
from teranga.web.i18n import gettext as _
from teranga.web.templating import render

STATIC = Path(__file__).parent / "static"
router = APIRouter()
api = APIRouter(prefix="/api/v1/access", tags=["access"])

ConfigWrite = Annotated[Principal, Depends(require("access.config.write"))]
ConfigRead = Annotated[Principal, Depends(require("access.config.read"))]
ScanWrite = Annotated[Principal, Depends(require("access.scan.write"))]
ScanRead = Annotated[Principal, Depends(require("access.scan.read"))]
ScanOverride = Annotated[Principal, Depends(require("access.scan.override"))]
AccreditationWrite = Annotated[Principal, Depends(require("access.accreditation.write"))]
AccreditationRead = Annotated[Principal, Depends(require("access.accreditation.read"))]


def reason_messages() -> dict[str, str]:
    """Plain-language reasons shown on the gate screen (also sent to the offline scanner)."""
    return {
        Reason.OK: _("Entry allowed"),
        Reason.ALREADY_ENTERED: _("Already entered"),
        Reason.REVOKED: _("Ticket cancelled or transferred"),
        Reason.WRONG_SESSION: _("Wrong session"),
        Reason.WRONG_ZONE: _("Wrong zone or gate"),
        Reason.NOT_YET_VALID: _("Not valid yet"),
        Reason.EXPIRED: _("No longer valid"),
        Reason.UNKNOWN: _("Unknown or forged ticket"),
        Reason.NOT_INSIDE: _("Exit refused: not inside"),
        "override": _("Entry forced by the agent"),
    }


def _message(decision: Decision) -> str:
    msg = reason_messages()[decision.reason]
    if decision.reason is Reason.ALREADY_ENTERED and decision.entered_gate:
        at = decision.entered_at.strftime("%H:%M") if decision.entered_at else "?"
        msg = _("Already entered at gate %(gate)s at %(time)s") % {
            "gate": decision.entered_gate,
            "time": at,
        }
    return msg


def _list_out(row: CheckinList) -> ListOut:
    return ListOut(
        id=row.id,
        name=row.name,
        session_ids=[uuid.UUID(s) for s in row.session_ids],
        zone_nos=row.zone_nos,
        category_nos=row.category_nos,
        badge_zones=row.badge_zones,
        accreditation_roles=row.accreditation_roles,
        opens_at=row.opens_at,
        closes_at=row.closes_at,
        allow_reentry=row.allow_reentry,
        exit_scans=row.exit_scans,
    )


def _gate_out(row: Gate) -> GateOut:
    return GateOut(
        id=row.id,
        name=row.name,
        cluster=row.cluster,
        list_ids=[uuid.UUID(x) for x in row.list_ids],
    )


def _badge_out(v: service.BadgeView) -> AccreditationOut:
    return AccreditationOut(
        id=v.accreditation_id,
        name=v.name,
        organisation=v.organisation,
        role=v.role,
        zones=list(v.zones),
        valid_from=v.valid_from,
        valid_until=v.valid_until,
        revoked=v.revoked,
        qr_text=v.qr_text,
    )


# -- configuration -----------------------------------------------------------------------


@api.post("/lists", status_code=201, summary="Create a check-in list")
def create_list(body: ListIn, p: ConfigWrite, container: ContainerDep) -> ListOut:
    with container.uow(p.tenant_id) as uow:
        row = service.create_list(uow, **body.model_dump())
        return _list_out(row)


@api.get("/lists", summary="Check-in lists")
def get_lists(p: ConfigRead, container: ContainerDep) -> list[ListOut]:
    with container.uow(p.tenant_id) as uow:
        return [_list_out(r) for r in service.list_lists(uow)]


@api.post("/gates", status_code=201, summary="Create a gate serving check-in lists")
def create_gate(body: GateIn, p: ConfigWrite, container: ContainerDep) -> GateOut:
    with container.uow(p.tenant_id) as uow:
        return _gate_out(service.create_gate(uow, **body.model_dump()))


@api.get("/gates", summary="Gates")
def get_gates(p: ScanRead, container: ContainerDep) -> list[GateOut]:
    with container.uow(p.tenant_id) as uow:
        return [_gate_out(g) for g in service.list_gates(uow)]


@api.get("/gates/{gate_id}", summary="One gate")
def get_gate(gate_id: uuid.UUID, p: ScanRead, container: ContainerDep) -> GateOut:
    with container.uow(p.tenant_id) as uow:
        return _gate_out(service.get_gate(uow, gate_id))


@api.post(
    "/gates/{gate_id}/code-salt/rotate",
    summary="New salt for the gate's short-code digests (after a scanner phone is lost)",
)
def rotate_gate_code_salt(gate_id: uuid.UUID, p: ConfigWrite, container: ContainerDep) -> GateOut:
    """The codes in a lost phone's offline bundle stop matching: the gate's scanners get the
    new salt with their next bundle and download every code's digest again."""
    with container.uow(p.tenant_id) as uow:
        return _gate_out(service.rotate_code_salt(uow, gate_id, actor_id=p.user_id))


@api.get("/conflicts", summary="Credentials admitted twice by offline scanners")
def get_conflicts(p: ConfigRead, container: ContainerDep) -> list[ConflictOut]:
    with container.uow(p.tenant_id) as uow:
        return [
            ConflictOut(
                id=c.id,
                credential_id=c.credential_id,
                list_id=c.list_id,
                first_gate=c.first_gate,
                first_at=c.first_at,
                second_gate=c.second_gate,
                second_at=c.second_at,
                detected_at=c.detected_at,
            )
            for c in service.list_conflicts(uow)
        ]


# -- scanning ----------------------------------------------------------------------------


@api.post("/gates/{gate_id}/scans", summary="Scan a ticket or badge at a gate (online)")
async def scan(gate_id: uuid.UUID, body: ScanIn, p: ScanWrite, container: ContainerDep) -> ScanOut:
    return await _scan(container, gate_id, body, p)


async def _scan(container: Container, gate_id: uuid.UUID, body: ScanIn, p: Principal) -> ScanOut:
    res = await batcher_of(container).scan(
        tenant_id=p.tenant_id,
        gate_id=gate_id,
        text=body.text,
        scanner_id=body.scanner_id,
        nonce=body.nonce,
        now=container.clock.now(),
        direction=body.direction,
        agent_id=p.user_id,
    )
    return _scan_out(res)


def _scan_out(res: service.ScanResult) -> ScanOut:
    cred = res.credential
    return ScanOut(
        accepted=res.decision.accepted,
        reason=res.decision.reason.value,
        message=_message(res.decision),
        entered_gate=res.decision.entered_gate,
        entered_at=res.decision.entered_at,
        credential_kind="badge" if cred and cred.kind == "badge" else ("ticket" if cred else None),
        credential_id=cred.credential_id if cred else None,
        replayed=res.replayed,
    )


async def _fast_scan(
    container: Container, params: dict[str, str], body: bytes, p: Principal
) -> bytes | None:
    """The scan route's answer on the fast path (``teranga.web.fastpath``); None leaves
    the request to the route above (malformed body: its 422)."""
    try:
        data = ScanIn.model_validate_json(body)
    except ValidationError:
        return None
    out = await _scan(container, uuid.UUID(params["gate_id"]), data, p)
    return out.model_dump_json().encode()


def setup(app: object, container: Container) -> None:
    fastpath.register(
        container,
        fastpath.FastRoute(
            "POST",
            re.compile(r"/api/v1/access/gates/(?P<gate_id>[0-9a-fA-F-]{36})/scans"),
            "access.scan.write",
            functools.partial(_fast_scan, container),
        ),
    )


@api.post("/gates/{gate_id}/override", summary="Let someone in despite a refusal (audited)")
def override(
    gate_id: uuid.UUID, body: OverrideIn, p: ScanOverride, container: ContainerDep
) -> ScanOut:
    with container.uow(p.tenant_id) as uow:
        res = service.override(
            uow,
            gate_id=gate_id,
            credential_text=body.text,
            reason=body.reason,
            agent_id=p.user_id,
            scanner_id=body.scanner_id,
            nonce=body.nonce,
            now=container.clock.now(),
        )
    return ScanOut(
        accepted=True,
        reason="override",
        message=reason_messages()["override"],
        credential_id=res.credential.credential_id if res.credential else None,
    )


@api.get("/gates/{gate_id}/bundle", summary="Offline bundle for a scanner (deltas with since)")
def bundle(
    gate_id: uuid.UUID,
    p: ScanRead,
    container: ContainerDep,
    since: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, object]:
    with container.uow(p.tenant_id) as uow:
        data = service.bundle(uow, gate_id=gate_id, since=since, now=container.clock.now())
    data["messages"] = reason_messages()
    return data


@api.post("/gates/{gate_id}/sync", summary="Upload scans made offline")
def sync(gate_id: uuid.UUID, body: SyncIn, p: ScanWrite, container: ContainerDep) -> SyncOut:
    with container.uow(p.tenant_id) as uow:
        outcomes = service.sync(
            uow,
            gate_id=gate_id,
            scanner_id=body.scanner_id,
            now=container.clock.now(),
            scans=[
                service.OfflineScan(
                    nonce=s.nonce,
                    list_id=s.list_id,
                    credential_id=s.credential_id,
                    at=s.at,
                    direction=s.direction,
                    accepted=s.accepted,
                    reason=s.reason,
                )
                for s in body.scans
            ],
        )
    return SyncOut(
        outcomes=[SyncOutcomeOut(nonce=o.nonce, status=o.status) for o in outcomes],
        conflicts=sum(1 for o in outcomes if o.status == "conflict"),
    )


# -- accreditation -----------------------------------------------------------------------


@api.post("/accreditations", status_code=201, summary="Register an accredited person")
def create_accreditation(
    body: AccreditationIn, p: AccreditationWrite, container: ContainerDep
) -> AccreditationOut:
    with container.uow(p.tenant_id) as uow:
        return _badge_out(
            service.register_accreditation(uow, actor_id=p.user_id, **body.model_dump())
        )


@api.get("/accreditations", summary="Accredited people")
def list_accreditations(p: AccreditationRead, container: ContainerDep) -> list[AccreditationOut]:
    with container.uow(p.tenant_id) as uow:
        return [_badge_out(v) for v in service.list_accreditations(uow)]


@api.get("/accreditations/{accreditation_id}", summary="One accreditation with its badge QR")
def get_accreditation(
    accreditation_id: uuid.UUID, p: AccreditationRead, container: ContainerDep
) -> AccreditationOut:
    with container.uow(p.tenant_id) as uow:
        return _badge_out(service.get_accreditation(uow, accreditation_id))


@api.post("/accreditations/{accreditation_id}/revoke", summary="Revoke a badge")
def revoke_accreditation(
    accreditation_id: uuid.UUID, p: AccreditationWrite, container: ContainerDep
) -> AccreditationOut:
    with container.uow(p.tenant_id) as uow:
        service.revoke_accreditation(
            uow, accreditation_id, now=container.clock.now(), actor_id=p.user_id
        )
        return _badge_out(service.get_accreditation(uow, accreditation_id))


@api.get("/accreditations/{accreditation_id}/photo", summary="Badge photo")
def accreditation_photo(
    accreditation_id: uuid.UUID, p: AccreditationRead, container: ContainerDep
) -> Response:
    with container.uow(p.tenant_id) as uow:
        data, media = service.accreditation_photo(uow, accreditation_id)
    return Response(data, media_type=media, headers={"Cache-Control": "private, max-age=300"})


def _qr_svg(text: str) -> str:
    return segno.make(text, error="m", micro=False).svg_inline(scale=4, border=2)


# -- pages -------------------------------------------------------------------------------


@router.get("/controle", response_class=HTMLResponse, summary="Scanner: choose a gate")
def scanner_home(request: Request, p: ScanRead, container: ContainerDep) -> HTMLResponse:
    with container.uow(p.tenant_id) as uow:
        gates = service.list_gates(uow)
    return render(request, "access/gates.html", {"gates": gates})


@router.get("/controle/portes/{gate_id}", response_class=HTMLResponse, summary="Scanner page")
def scanner_page(
    gate_id: uuid.UUID, request: Request, p: ScanRead, container: ContainerDep, csrf: CsrfToken
) -> HTMLResponse:
    with container.uow(p.tenant_id) as uow:
        gate = service.get_gate(uow, gate_id)
    return render(
        request,
        "access/scanner.html",
        {
            "gate": gate,
            "messages": reason_messages(),
            "csrf_token": csrf,
            "labels": {
                "online": _("Online"),
                "offline": _("Offline"),
                # Filled in by the script with the gate and time of the first entry.
                "entered_at": _("Already entered at gate %(gate)s at %(time)s"),
                "no_camera": _("No camera scanning on this phone: type the code."),
            },
        },
    )


@router.get("/controle/scanner.js", summary="Scanner script", response_class=FileResponse)
def scanner_js(p: ScanRead) -> FileResponse:
    return FileResponse(
        STATIC / "scanner.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )


@router.get("/controle/sw.js", summary="Scanner service worker", response_class=FileResponse)
def scanner_sw(p: ScanRead) -> FileResponse:
    return FileResponse(
        STATIC / "sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/controle/"},
    )


@router.get("/accreditation", response_class=HTMLResponse, summary="Accreditation office")
def accreditation_page(
    request: Request, p: AccreditationRead, container: ContainerDep, csrf: CsrfToken
) -> HTMLResponse:
    with container.uow(p.tenant_id) as uow:
        people = service.list_accreditations(uow)
    return render(
        request,
        "access/accreditations.html",
        {"people": people, "roles": [r.value for r in AccreditationRole], "csrf_token": csrf},
    )


@router.post("/accreditation", summary="Register from the office form")
async def accreditation_form(
    request: Request,
    p: AccreditationWrite,
    container: ContainerDep,
    name: Annotated[str, Form(max_length=200)],
    organisation: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=20)],
    valid_from: Annotated[dt.date, Form()],
    valid_until: Annotated[dt.date, Form()],
    zones: Annotated[str, Form(max_length=200)] = "",
    photo: Annotated[UploadFile | None, File()] = None,
) -> Response:
    data = await photo.read(service.MAX_PHOTO_BYTES + 1) if photo and photo.filename else None
    start = dt.datetime.combine(valid_from, dt.time(0, 0), dt.UTC)
    end = dt.datetime.combine(valid_until, dt.time(23, 59), dt.UTC)
    try:
        with container.uow(p.tenant_id) as uow:
            view = service.register_accreditation(
                uow,
                name=name,
                organisation=organisation,
                role=role,
                zones=zones.replace(";", ",").split(","),
                valid_from=start,
                valid_until=end,
                photo=data or None,
                photo_type=photo.content_type if data and photo else None,
                actor_id=p.user_id,
            )
    except ValidationFailed as exc:
        with container.uow(p.tenant_id) as uow:
            people = service.list_accreditations(uow)
        return render(
            request,
            "access/accreditations.html",
            {
                "people": people,
                "roles": [r.value for r in AccreditationRole],
                "error": exc.message,
                "csrf_token": request.state.__dict__.get("csrf_token", ""),
            },
            status_code=422,
        )
    return RedirectResponse(f"/accreditation/{view.accreditation_id}", status_code=303)


@router.get(
    "/accreditation/{accreditation_id}", response_class=HTMLResponse, summary="Printable badge"
)
def badge_page(
    accreditation_id: uuid.UUID, request: Request, p: AccreditationRead, container: ContainerDep
) -> HTMLResponse:
    with container.uow(p.tenant_id) as uow:
        view = service.get_accreditation(uow, accreditation_id)
    return render(request, "access/badge.html", {"b": view, "qr_svg": _qr_svg(view.qr_text)})


router.include_router(api)

from teranga.access import admin_pages  # noqa: E402 - organiser pages join the same router

router.include_router(admin_pages.router)
