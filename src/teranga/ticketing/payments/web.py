"""Payment endpoints: provider callbacks (public, signature-checked) and the sandbox page.

``POST /api/v1/payments/{provider}/callback`` answers:

- 200 ``{"received": true, "outcome", "duplicate"}`` once the callback is recorded and
  settled (duplicates and callbacks for unknown payments are acknowledged too);
- 401 on a missing/bad signature, a stale timestamp or an unknown static token, with no
  state change;
- 503 when the database or the provider status query fails: nothing was committed (no
  partial fulfilment) and the provider is expected to retry.

Mount with ``teranga.ticketing.payments.include(app)``: the app factory only discovers
``teranga.<domain>.web``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from teranga.container import Container
from teranga.identity.api import CsrfToken, csrf_protect, public
from teranga.platform.errors import NotFound, TerangaError
from teranga.platform.uow import UnitOfWork
from teranga.ticketing.payments import service
from teranga.ticketing.payments.base import ProviderError
from teranga.ticketing.payments.providers.sandbox import SandboxProvider
from teranga.ticketing.payments.wiring import gateway
from teranga.web.deps import ContainerDep, public_tenant_id
from teranga.web.templating import render

log = logging.getLogger(__name__)

router = APIRouter()

MAX_CALLBACK_BYTES = 64 * 1024


class CallbackAck(BaseModel):
    received: bool
    outcome: str
    duplicate: bool


def _unavailable(code: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": "temporarily unavailable, retry later"}, status_code=503
    )


def _tenant_exists(uow: UnitOfWork, tenant_id: uuid.UUID) -> bool:
    from teranga.tenancy import api as tenancy

    try:
        tenancy.get(uow, tenant_id)
    except NotFound:
        return False
    return True


def process_callback(
    container: Container,
    *,
    provider: str,
    headers: dict[str, str],
    body: bytes,
    reference: str | None,
) -> CallbackAck:
    """Authenticate, route to the tenant, settle. Raises TerangaError / ProviderError."""
    gw = gateway(container)
    hint = service.authenticate_callback(gw, provider=provider, headers=headers, body=body)
    tenant_id = service.tenant_of_reference(hint.client_reference) or service.tenant_of_reference(
        reference
    )
    if tenant_id is not None:
        # The existence check shares the settling transaction: one unit of work per callback.
        with container.uow(tenant_id) as uow:
            if _tenant_exists(uow, tenant_id):
                result = service.handle_callback(
                    uow, gw, provider=provider, headers=headers, body=body
                )
                return CallbackAck(
                    received=True, outcome=result.outcome, duplicate=result.duplicate
                )
    with container.uow(public_tenant_id(container)) as uow:
        result = service.handle_callback(uow, gw, provider=provider, headers=headers, body=body)
    return CallbackAck(received=True, outcome=result.outcome, duplicate=result.duplicate)


@router.post(
    "/api/v1/payments/{provider}/callback",
    dependencies=[Depends(public)],
    response_model=CallbackAck,
    responses={401: {"description": "bad signature"}, 503: {"description": "retry later"}},
    tags=["payments"],
    summary="Provider payment callback (a hint: the status is re-queried before any effect)",
)
async def provider_callback(
    provider: str, request: Request, container: ContainerDep
) -> Response | CallbackAck:
    body = await request.body()
    if len(body) > MAX_CALLBACK_BYTES:
        return JSONResponse(
            {"code": "payload_too_large", "message": "callback too large"}, status_code=413
        )
    headers = dict(request.headers)
    reference = request.query_params.get("ref")
    try:
        return await run_in_threadpool(
            process_callback,
            container,
            provider=provider,
            headers=headers,
            body=body,
            reference=reference,
        )
    except TerangaError as exc:
        if exc.status == 401:
            # ASVS 16.3: authentication failures are logged (no body, no secret).
            log.warning("rejected %s payment callback: %s", provider, exc.code)
        raise
    except ProviderError as exc:
        log.warning("%s callback not settled, status query failed: %s", provider, exc.code)
        return _unavailable(exc.code)
    except SQLAlchemyError:
        log.exception("database error while handling a %s callback", provider)
        return _unavailable("database_unavailable")


# -- sandbox page ----------------------------------------------------------------------


def _sandbox(container: Container) -> SandboxProvider:
    prov = gateway(container).providers.get("sandbox")
    if not isinstance(prov, SandboxProvider):
        raise NotFound("not_found", "sandbox payments are disabled")
    return prov


@router.get("/paiement/sandbox/{ref}", dependencies=[Depends(public)], include_in_schema=False)
def sandbox_page(ref: str, request: Request, container: ContainerDep, csrf: CsrfToken) -> Response:
    intent = _sandbox(container).get(ref)
    if intent is None:
        raise NotFound("payment_not_found", "no such sandbox payment")
    ctx: dict[str, Any] = {"intent": intent, "csrf_token": csrf}
    return render(request, "payments/sandbox.html", ctx)


@router.post(
    "/paiement/sandbox/{ref}",
    dependencies=[Depends(public), Depends(csrf_protect)],
    include_in_schema=False,
)
def sandbox_decide(
    ref: str,
    container: ContainerDep,
    decision: Annotated[str, Form(max_length=16)],
) -> Response:
    """The buyer approves or declines; the sandbox then 'sends' its signed callback."""
    sandbox = _sandbox(container)
    intent = sandbox.decide(ref, approve=decision == "approve")
    if intent is None:
        raise NotFound("payment_not_found", "no such sandbox payment")
    headers, body = sandbox.signed_callback(intent)
    try:
        process_callback(container, provider="sandbox", headers=headers, body=body, reference=None)
    except (ProviderError, SQLAlchemyError):
        # Like a real provider's lost callback: the reconciler settles it later.
        log.exception("sandbox callback delivery failed")
    target = intent.return_url if decision == "approve" else intent.cancel_url
    return RedirectResponse(target, status_code=303)
