"""JOJ Dakar 2026 demo data: loaded by ``teranga demo`` (idempotent).

Each domain with a ``demo`` module contributes through ``load(uow, settings)`` and returns
summary lines; the platform creates the demo tenant first.
"""

from __future__ import annotations

from teranga.config import Settings
from teranga.container import build_container
from teranga.domains import domain_modules
from teranga.platform.errors import NotFound


def ensure_demo_tenant(settings: Settings) -> list[str]:
    from teranga.tenancy import api as tenancy

    container = build_container(settings)
    try:
        with container.uow() as uow:
            try:
                tenancy.get_by_slug(uow, settings.default_tenant)
                return [f"tenant {settings.default_tenant}: present"]
            except NotFound:
                pass
            tenancy.create_tenant(
                uow,
                slug=settings.default_tenant,
                name="Comité d'organisation des JOJ Dakar 2026 (démo)",
                legal_entity="COJOJ Dakar 2026 (démonstration)",
                representative_sn="COJOJ, Dakar",
                dpo_contact="dpo@cojoj.example.sn",
                allowed_jurisdictions=["SN"],
            )
        return [f"tenant {settings.default_tenant}: created"]
    finally:
        container.dispose()


def load(settings: Settings) -> list[str]:
    lines = ensure_demo_tenant(settings)
    for module in domain_modules("demo"):
        lines.extend(module.load(settings))
    return lines
