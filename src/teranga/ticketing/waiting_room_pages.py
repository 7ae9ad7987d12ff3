"""The waiting room as pages: join, see your place update, then buy when your turn comes.

The entry token (keeps your place) and, once admitted, the admission token live in
HttpOnly cookies scoped to the session's pages; the purchase form sends the admission token
to ``sales.create_hold`` like an API client would with ``X-Admission-Token``.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from teranga.identity.api import CsrfToken, csrf_protect, public
from teranga.platform.errors import NotFound
from teranga.ticketing import service as catalogue
from teranga.ticketing import waiting_room
from teranga.web.deps import ContainerDep, PublicTenantDep
from teranga.web.templating import render

router = APIRouter(include_in_schema=False)
Public = [Depends(public)]
PublicForm = [Depends(public), Depends(csrf_protect)]


def entry_cookie(session_id: uuid.UUID) -> str:
    return f"trg_file_{session_id.hex[:16]}"


def admission_cookie(session_id: uuid.UUID) -> str:
    return f"trg_admis_{session_id.hex[:16]}"


def room_enabled(container: ContainerDep, tenant: uuid.UUID, session_id: uuid.UUID) -> bool:
    with container.uow(tenant) as uow:
        try:
            return waiting_room.get_room(uow, session_id).enabled
        except NotFound:
            return False


def _cookie(response: Response, name: str, value: str, secure: bool, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/billetterie",
    )


@router.post("/billetterie/seance/{session_id}/file", dependencies=PublicForm)
def join_form(
    session_id: uuid.UUID, request: Request, container: ContainerDep, tenant: PublicTenantDep
) -> Response:
    """Take a number (or keep yours) and go to the waiting page."""
    with container.uow(tenant) as uow:
        joined = waiting_room.join(
            uow,
            session_id=session_id,
            entry_token=request.cookies.get(entry_cookie(session_id)),
            now=container.clock.now(),
        )
    response = RedirectResponse(f"/billetterie/seance/{session_id}/file", status_code=303)
    _cookie(
        response,
        entry_cookie(session_id),
        joined.entry_token,
        container.settings.secure_cookies,
        24 * 3600,
    )
    return response


@router.get("/billetterie/seance/{session_id}/file", dependencies=Public)
def waiting_page(
    session_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    tenant: PublicTenantDep,
    csrf: CsrfToken,
) -> Response:
    """Your place in the queue, refreshed every few seconds; your turn leads to the sale."""
    entry = request.cookies.get(entry_cookie(session_id))
    with container.uow(tenant) as uow:
        session = catalogue.get_session(uow, session_id)
        room = waiting_room.get_room(uow, session_id, container.clock.now())
        if not room.enabled:
            return RedirectResponse(f"/billetterie/seance/{session_id}", status_code=303)
        st = (
            waiting_room.status(
                uow, session_id=session_id, entry_token=entry, now=container.clock.now()
            )
            if entry
            else None
        )
    if st is not None and st.admission_token and st.admission_expires_at:
        response = RedirectResponse(f"/billetterie/seance/{session_id}", status_code=303)
        seconds = int((st.admission_expires_at - container.clock.now()).total_seconds())
        _cookie(
            response,
            admission_cookie(session_id),
            st.admission_token,
            container.settings.secure_cookies,
            max(1, seconds),
        )
        return response
    return render(
        request,
        "ticketing/waiting_room.html",
        {"session": session, "status": st, "room": room, "csrf_token": csrf},
        headers={"Cache-Control": "no-store"},
    )
