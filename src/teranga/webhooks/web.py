"""Webhooks API (``/api/v1/webhooks``), the public developer page, and the worker's wiring."""

from __future__ import annotations

import uuid
from enum import Enum
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse

from teranga.container import Container
from teranga.identity.api import Principal, public, require
from teranga.web.deps import ContainerDep, SettingsDep
from teranga.web.templating import render
from teranga.webhooks import domain, service
from teranga.webhooks.schemas import (
    DeliveryOut,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EndpointWithSecret,
    EventTypeOut,
)
from teranga.webhooks.service import UrlPolicy
from teranga.webhooks.worker import WebhookWorker

router = APIRouter()
API = "/api/v1/webhooks"
TAGS: list[str | Enum] = ["webhooks"]
Reader = Annotated[Principal, Depends(require("webhooks.endpoint.read"))]
Writer = Annotated[Principal, Depends(require("webhooks.endpoint.write"))]
WORKER_KEY = "webhooks.worker"


def setup(app: FastAPI, container: Container) -> None:
    """Start the worker with the app; wake it after commits that queue events."""
    if isinstance(container.extras.get(WORKER_KEY), WebhookWorker):
        return
    worker = WebhookWorker(container)
    container.extras[WORKER_KEY] = worker
    container.uow_factory.after_publish_hooks.append(worker.wake)
    container.extras.setdefault("startup", []).append(worker.start)
    container.extras.setdefault("shutdown", []).append(worker.stop)


def _wake(container: Container) -> None:
    worker = container.extras.get(WORKER_KEY)
    if isinstance(worker, WebhookWorker):
        worker.wake()


def _policy(container: Container) -> UrlPolicy:
    return UrlPolicy.for_env(container.settings.env)


def _with_secret(ep: object, secret: str) -> EndpointWithSecret:
    out = EndpointOut.model_validate(ep)
    return EndpointWithSecret(**out.model_dump(), secret=secret)


@router.get(
    f"{API}/event-types",
    response_model=list[EventTypeOut],
    dependencies=[Depends(public)],
    tags=TAGS,
)
def event_types() -> list[EventTypeOut]:
    """The event types an endpoint can subscribe to (plus ``*`` for all of them)."""
    return [
        EventTypeOut(name=e.name, description=e.description, fields=list(e.public_fields()))
        for e in domain.CATALOGUE
    ]


@router.post(f"{API}/endpoints", status_code=201, tags=TAGS)
def create_endpoint(body: EndpointIn, container: ContainerDep, p: Writer) -> EndpointWithSecret:
    """Register an HTTPS endpoint. The signing secret is in this answer only."""
    with container.uow(p.tenant_id) as uow:
        ep, secret = service.create_endpoint(
            uow,
            url=body.url,
            event_types=body.event_types,
            description=body.description,
            policy=_policy(container),
            actor_id=p.user_id,
        )
    return _with_secret(ep, secret)


@router.get(f"{API}/endpoints", tags=TAGS)
def list_endpoints(container: ContainerDep, p: Reader) -> list[EndpointOut]:
    with container.uow(p.tenant_id) as uow:
        return [EndpointOut.model_validate(e) for e in service.list_endpoints(uow)]


@router.get(f"{API}/endpoints/{{endpoint_id}}", tags=TAGS)
def get_endpoint(endpoint_id: uuid.UUID, container: ContainerDep, p: Reader) -> EndpointOut:
    with container.uow(p.tenant_id) as uow:
        return EndpointOut.model_validate(service.get_endpoint(uow, endpoint_id))


@router.patch(f"{API}/endpoints/{{endpoint_id}}", tags=TAGS)
def update_endpoint(
    endpoint_id: uuid.UUID, body: EndpointPatch, container: ContainerDep, p: Writer
) -> EndpointOut:
    """Change the URL, the event types or the description; pause or resume."""
    with container.uow(p.tenant_id) as uow:
        ep = service.update_endpoint(
            uow,
            endpoint_id=endpoint_id,
            changes=body.model_dump(exclude_unset=True),
            policy=_policy(container),
            actor_id=p.user_id,
        )
        uow.on_commit(lambda: _wake(container))  # resumed: queued deliveries go now
    return EndpointOut.model_validate(ep)


@router.delete(
    f"{API}/endpoints/{{endpoint_id}}",
    status_code=204,
    response_class=Response,
    tags=TAGS,
)
def delete_endpoint(endpoint_id: uuid.UUID, container: ContainerDep, p: Writer) -> Response:
    """Delete the endpoint and its delivery log."""
    with container.uow(p.tenant_id) as uow:
        service.delete_endpoint(uow, endpoint_id=endpoint_id, actor_id=p.user_id)
    return Response(status_code=204)


@router.post(f"{API}/endpoints/{{endpoint_id}}/rotate-secret", tags=TAGS)
def rotate_secret(endpoint_id: uuid.UUID, container: ContainerDep, p: Writer) -> EndpointWithSecret:
    """New signing secret (in this answer only); the old one also signs for 24 hours."""
    with container.uow(p.tenant_id) as uow:
        ep, secret = service.rotate_secret(uow, endpoint_id=endpoint_id, actor_id=p.user_id)
    return _with_secret(ep, secret)


@router.get(f"{API}/endpoints/{{endpoint_id}}/deliveries", tags=TAGS)
def list_deliveries(
    endpoint_id: uuid.UUID,
    container: ContainerDep,
    p: Reader,
    status: Literal["pending", "succeeded", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[DeliveryOut]:
    """The endpoint's deliveries, newest first."""
    with container.uow(p.tenant_id) as uow:
        rows = service.list_deliveries(uow, endpoint_id=endpoint_id, status=status, limit=limit)
        return [DeliveryOut.model_validate(d) for d in rows]


@router.post(
    f"{API}/endpoints/{{endpoint_id}}/test",
    status_code=202,
    tags=TAGS,
)
def test_endpoint(endpoint_id: uuid.UUID, container: ContainerDep, p: Writer) -> DeliveryOut:
    """Queue a signed ``ping`` event to the endpoint."""
    with container.uow(p.tenant_id) as uow:
        d = service.send_ping(uow, endpoint_id=endpoint_id, actor_id=p.user_id)
        uow.on_commit(lambda: _wake(container))
    return DeliveryOut.model_validate(d)


@router.post(
    f"{API}/deliveries/{{delivery_id}}/redeliver",
    status_code=202,
    tags=TAGS,
)
def redeliver(delivery_id: uuid.UUID, container: ContainerDep, p: Writer) -> DeliveryOut:
    """Send a delivery again (same ``webhook-id``), with a fresh attempt budget."""
    with container.uow(p.tenant_id) as uow:
        d = service.redeliver(uow, delivery_id=delivery_id, actor_id=p.user_id)
        uow.on_commit(lambda: _wake(container))
    return DeliveryOut.model_validate(d)


# -- page ---------------------------------------------------------------------------------
@router.get(
    "/developpeurs",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[Depends(public)],
)
def developers(request: Request, settings: SettingsDep) -> HTMLResponse:
    """The open platform, for start-ups: API, tokens, webhooks, signature check."""
    return render(
        request,
        "webhooks/developers.html",
        # The configured public URL, not the request's Host header (which a client sets).
        {"event_types": domain.CATALOGUE, "api_base": settings.base_url.rstrip("/")},
    )
