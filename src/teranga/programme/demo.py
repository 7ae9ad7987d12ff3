"""Demo programme of the JOJ Dakar 2026 for the demo tenant (idempotent).

Venues and sports are sourced facts; the timetable is invented from each sport's demo days
and sessions at an unsourced venue are flagged illustrative (see data/joj2026/SOURCES.md).
"""

from __future__ import annotations

from teranga.config import Settings
from teranga.container import build_container
from teranga.programme import service
from teranga.programme.reference import load_reference
from teranga.tenancy import api as tenancy


def load(settings: Settings) -> list[str]:
    programme = load_reference()
    container = build_container(settings)
    try:
        with container.uow() as uow:
            tenant_id = tenancy.get_by_slug(uow, settings.default_tenant).id
        with container.uow(tenant_id) as uow:
            created = service.publish_programme(
                uow,
                venues=programme.venues,
                sports=programme.sports,
                sessions=programme.sessions,
            )
    finally:
        container.dispose()
    illustrative = sum(1 for s in programme.sessions if s.illustrative)
    return [
        f"programme: {len(programme.venues)} venues, {len(programme.sports)} sports, "
        f"{len(programme.sessions)} sessions ({illustrative} illustrative); "
        f"created {created['venues']} venues, {created['sports']} sports, "
        f"{created['sessions']} sessions"
    ]
