"""Tenant-isolation factories for the access-control routes."""

from __future__ import annotations

import datetime as dt
import uuid

from teranga.access import service
from teranga.container import Container
from tests.isolation import BODIES, factory

NOW = dt.datetime.now(dt.UTC)


@factory("gate_id")
def gate_in(container: Container, tenant_id: uuid.UUID) -> str:
    with container.uow(tenant_id) as uow:
        lst = service.create_list(uow, name="Liste B", accreditation_roles=["staff"])
        gate = service.create_gate(
            uow, name=f"Porte {uuid.uuid4().hex[:6]}", cluster="B", list_ids=[lst.id]
        )
        return str(gate.id)


@factory("accreditation_id")
def accreditation_in(container: Container, tenant_id: uuid.UUID) -> str:
    with container.uow(tenant_id) as uow:
        badge = service.register_accreditation(
            uow,
            name="Personne B",
            organisation="B",
            role="staff",
            zones=[],
            valid_from=NOW,
            valid_until=NOW + dt.timedelta(days=1),
        )
        return str(badge.accreditation_id)


BODIES[("POST", "/api/v1/access/gates/{gate_id}/scans")] = lambda c, t: {
    "text": "TB1AAAA",
    "scanner_id": "iso",
    "nonce": uuid.uuid4().hex,
}
BODIES[("POST", "/api/v1/access/gates/{gate_id}/override")] = lambda c, t: {
    "text": "TB1AAAA",
    "reason": "isolation probe",
    "scanner_id": "iso",
    "nonce": uuid.uuid4().hex,
}
BODIES[("POST", "/api/v1/access/gates/{gate_id}/sync")] = lambda c, t: {
    "scanner_id": "iso",
    "scans": [],
}
