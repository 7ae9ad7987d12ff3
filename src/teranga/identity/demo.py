"""Demo staff accounts for the demo tenant, one per role (idempotent).

The shared demo password is printed by ``teranga demo``; never run this in production
(it refuses when settings.env is "prod").
"""

from __future__ import annotations

from teranga.config import Settings
from teranga.container import build_container
from teranga.identity import service
from teranga.platform.errors import NotFound
from teranga.tenancy import api as tenancy

DEMO_PASSWORD = "teranga-demo-2026"  # noqa: S105 - published demo credential, not a secret
DEMO_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("admin@demo.teranga.sn", "Aminata Ndiaye", "organiser-admin"),
    ("guichet@demo.teranga.sn", "Ousmane Fall", "box-office"),
    ("porte@demo.teranga.sn", "Fatou Sow", "gate-agent"),
    ("resultats@demo.teranga.sn", "Ibrahima Diallo", "scorer"),
    ("transport@demo.teranga.sn", "Mariama Ba", "transport-operator"),
    ("dev@demo.teranga.sn", "Cheikh Mbaye", "developer"),
)


def load(settings: Settings) -> list[str]:
    if settings.env == "prod":
        return ["identity: demo accounts skipped (env=prod)"]
    container = build_container(settings)
    created = 0
    try:
        with container.uow() as uow:
            tenant_id = tenancy.get_by_slug(uow, settings.default_tenant).id
        for email, name, role in DEMO_ACCOUNTS:
            with container.uow(tenant_id) as uow:
                try:
                    user = service.find_user(uow, email)
                except NotFound:
                    user = service.create_user(
                        uow, email=email, display_name=name, password=DEMO_PASSWORD
                    )
                    created += 1
                service.grant_role(uow, user_id=user.id, role=role)
    finally:
        container.dispose()
    return [
        f"identity: {len(DEMO_ACCOUNTS)} demo accounts ({created} created), "
        f"e.g. {DEMO_ACCOUNTS[0][0]} / {DEMO_PASSWORD} at /login"
    ]
