"""Webhooks' contribution to the tenant-isolation walk (see tests/isolation.py)."""

from __future__ import annotations

import uuid

from teranga.container import Container
from teranga.webhooks import service
from tests.isolation import BODIES, factory

LOOPBACK = service.UrlPolicy(allow_loopback=True)


def _endpoint(container: Container, tenant_id: uuid.UUID) -> uuid.UUID:
    with container.uow(tenant_id) as uow:
        ep, _secret = service.create_endpoint(
            uow,
            url="http://127.0.0.1:9/hook",
            event_types=["*"],
            description="isolation",
            policy=LOOPBACK,
            actor_id=None,
        )
    return ep.id


@factory("endpoint_id")
def endpoint_in(container: Container, tenant_id: uuid.UUID) -> str:
    return str(_endpoint(container, tenant_id))


@factory("delivery_id")
def delivery_in(container: Container, tenant_id: uuid.UUID) -> str:
    endpoint_id = _endpoint(container, tenant_id)
    with container.uow(tenant_id) as uow:
        return str(service.send_ping(uow, endpoint_id=endpoint_id, actor_id=None).id)


# A valid body, so the 404 comes from the lookup and not from validation.
BODIES[("PATCH", "/api/v1/webhooks/endpoints/{endpoint_id}")] = lambda c, t: {
    "description": "other tenant"
}
