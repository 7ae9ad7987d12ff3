"""Organiser pages for access control: check-in lists, gates, live entries and the conflicts
offline scanners reported (the same use cases as the JSON API, as plain HTML forms)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from teranga.access import service
from teranga.access.domain import AccreditationRole
from teranga.identity.api import CsrfToken, Principal, require
from teranga.platform.errors import NotFound, ValidationFailed
from teranga.platform.uow import UnitOfWork
from teranga.web.deps import ContainerDep
from teranga.web.i18n import gettext as _
from teranga.web.templating import render

router = APIRouter()

ConfigWrite = Annotated[Principal, Depends(require("access.config.write"))]
ConfigRead = Annotated[Principal, Depends(require("access.config.read"))]
PAGE = "access/admin_config.html"


class FormError(Exception):
    """A form value the organiser must correct; the message is already translated."""


def _session_ids(uow: UnitOfWork) -> list[uuid.UUID]:
    from teranga.ticketing import api as ticketing

    return ticketing.session_ids(uow)


def _session_labels(uow: UnitOfWork) -> dict[str, str]:
    from teranga.ticketing import api as ticketing

    return {str(k): v for k, v in ticketing.session_labels(uow).items()}


def _context(uow: UnitOfWork, csrf: str) -> dict[str, Any]:
    lists = service.list_lists(uow)
    names = {str(row.id): row.name for row in lists}
    gates = [
        {
            "name": g.name,
            "cluster": g.cluster,
            "lists": [names.get(lid, lid) for lid in g.list_ids],
        }
        for g in service.list_gates(uow)
    ]
    return {
        "lists": lists,
        "gates": gates,
        "stats": service.entry_stats(uow),
        "conflicts": service.list_conflicts(uow),
        "list_names": names,
        "sessions": _session_labels(uow),
        "roles": [r.value for r in AccreditationRole],
        "csrf_token": csrf,
        "form": {},
    }


def _page(
    request: Request,
    p: Principal,
    container: ContainerDep,
    csrf: str,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
) -> HTMLResponse:
    with container.uow(p.tenant_id) as uow:
        ctx = _context(uow, csrf)
    if form is not None:
        ctx["form"] = form
    ctx["error"] = error
    return render(request, PAGE, ctx, status_code=422 if error else 200)


def _when(value: str, label: str) -> dt.datetime | None:
    """A datetime-local value; Dakar keeps UTC all year, so the wall clock is UTC."""
    if not value.strip():
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise FormError(_("%(field)s: not a valid date and time.") % {"field": label}) from exc
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def _uuids(values: list[str], allowed: set[str], message: str) -> list[uuid.UUID]:
    out: list[uuid.UUID] = []
    for v in values:
        try:
            parsed = uuid.UUID(v)
        except ValueError as exc:
            raise FormError(message) from exc
        if str(parsed) not in allowed:
            raise FormError(message)
        out.append(parsed)
    return out


def _service_error(exc: ValidationFailed) -> str:
    # Services speak English (field: reason); the sentence around it is translated.
    return _("Please check this value: %(message)s") % {"message": exc.message}


@router.get("/controle/admin", response_class=HTMLResponse, summary="Access control set-up")
def admin_page(
    request: Request, p: ConfigRead, container: ContainerDep, csrf: CsrfToken
) -> HTMLResponse:
    return _page(request, p, container, csrf)


@router.post("/controle/admin/listes", summary="Create a check-in list from the form")
def create_list_form(
    request: Request,
    p: ConfigWrite,
    container: ContainerDep,
    csrf: CsrfToken,
    name: Annotated[str, Form(max_length=200)] = "",
    session_ids: Annotated[list[str] | None, Form(max_length=500)] = None,
    roles: Annotated[list[str] | None, Form(max_length=10)] = None,
    badge_zones: Annotated[str, Form(max_length=400)] = "",
    allow_reentry: Annotated[bool, Form()] = False,
    exit_scans: Annotated[bool, Form()] = False,
    opens_at: Annotated[str, Form(max_length=40)] = "",
    closes_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    form = {
        "name": name,
        "session_ids": session_ids or [],
        "roles": roles or [],
        "badge_zones": badge_zones,
        "allow_reentry": allow_reentry,
        "exit_scans": exit_scans,
        "opens_at": opens_at,
        "closes_at": closes_at,
    }
    try:
        if not name.strip():
            raise FormError(_("Give the list a name."))
        start = _when(opens_at, _("Opens at"))
        end = _when(closes_at, _("Closes at"))
        if start and end and end <= start:
            raise FormError(_("The list must close after it opens."))
        role_values = roles or []
        if any(r not in AccreditationRole.__members__.values() for r in role_values):
            raise FormError(_("Unknown badge role."))
        zones = sorted({z.strip().upper() for z in badge_zones.replace(";", ",").split(",")} - {""})
        with container.uow(p.tenant_id) as uow:
            sessions = _uuids(
                session_ids or [],
                {str(s) for s in _session_ids(uow)},
                _("Choose sessions from the list of ticketed sessions."),
            )
            service.create_list(
                uow,
                name=name,
                session_ids=sessions,
                badge_zones=zones,
                accreditation_roles=role_values,
                opens_at=start,
                closes_at=end,
                allow_reentry=allow_reentry,
                exit_scans=exit_scans,
            )
    except FormError as exc:
        return _page(request, p, container, csrf, error=str(exc), form={"list": form})
    except ValidationFailed as exc:
        return _page(request, p, container, csrf, error=_service_error(exc), form={"list": form})
    return RedirectResponse("/controle/admin", status_code=303)


@router.post("/controle/admin/portes", summary="Create a gate from the form")
def create_gate_form(
    request: Request,
    p: ConfigWrite,
    container: ContainerDep,
    csrf: CsrfToken,
    name: Annotated[str, Form(max_length=100)] = "",
    cluster: Annotated[str, Form(max_length=100)] = "",
    list_ids: Annotated[list[str] | None, Form(max_length=50)] = None,
) -> Response:
    form = {"name": name, "cluster": cluster, "list_ids": list_ids or []}
    try:
        if not name.strip():
            raise FormError(_("Give the gate a name."))
        if not list_ids:
            raise FormError(_("Choose at least one check-in list for the gate."))
        with container.uow(p.tenant_id) as uow:
            lists = _uuids(
                list_ids,
                {str(row.id) for row in service.list_lists(uow)},
                _("Choose check-in lists from the list."),
            )
            if any(g.name == name.strip() for g in service.list_gates(uow)):
                raise FormError(_("A gate with this name already exists."))
            service.create_gate(uow, name=name.strip(), cluster=cluster, list_ids=lists)
    except FormError as exc:
        return _page(request, p, container, csrf, error=str(exc), form={"gate": form})
    except ValidationFailed as exc:
        return _page(request, p, container, csrf, error=_service_error(exc), form={"gate": form})
    except NotFound:
        # A list deleted between the page load and the post.
        message = _("Choose check-in lists from the list.")
        return _page(request, p, container, csrf, error=message, form={"gate": form})
    return RedirectResponse("/controle/admin", status_code=303)
