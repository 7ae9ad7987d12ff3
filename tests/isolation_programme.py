"""Programme's contribution to the tenant-isolation walk (see tests/isolation.py)."""

from __future__ import annotations

import uuid

from teranga.container import Container
from teranga.programme import service
from teranga.programme.reference import load_reference
from tests.isolation import factory


@factory("session_id", path="/api/v1/programme/sessions/{session_id}")
def programme_session_in(container: Container, tenant_id: uuid.UUID) -> str:
    ref = load_reference()
    judo = [s for s in ref.sessions if s.sport_code == "judo"][:1]
    with container.uow(tenant_id) as uow:
        service.publish_programme(uow, venues=ref.venues, sports=ref.sports, sessions=judo)
        return str(service.list_sessions(uow, sport="judo")[0].id)
