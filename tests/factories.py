"""Test factories other domains use: tenants, users with a role, bearer tokens.

tid = make_tenant(container, "cojoj")
token = make_principal_token(container, tid, "organiser-admin")
client.get("/api/v1/...", headers={"Authorization": f"Bearer {token}"})
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from dataclasses import dataclass

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from teranga.access import service as access
from teranga.container import Container
from teranga.identity import service as identity
from teranga.platform.errors import NotFound
from teranga.platform.uow import UnitOfWork
from teranga.tenancy import api as tenancy

DEFAULT_PASSWORD = "correct-horse-battery-staple"

# Cheap argon2id parameters for the test session: each hash records its own parameters, so
# verification is unchanged; production keeps the library's RFC 9106 defaults.
identity._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@dataclass(frozen=True)
class MadeUser:
    id: uuid.UUID
    email: str
    password: str
    tenant_id: uuid.UUID
    role: str


def make_tenant(container: Container, slug: str | None = None) -> uuid.UUID:
    """A tenant (created, or the existing one with that slug)."""
    slug = slug or f"t-{uuid.uuid4().hex[:10]}"
    with container.uow() as uow:
        with contextlib.suppress(NotFound):
            return tenancy.get_by_slug(uow, slug).id
        return tenancy.create_tenant(
            uow,
            slug=slug,
            name=f"Tenant {slug}",
            legal_entity=f"{slug} SA",
            representative_sn="Dakar",
            dpo_contact=f"dpo@{slug}.example.sn",
        ).id


def make_user(
    container: Container,
    tenant_id: uuid.UUID,
    role: str,
    email: str | None = None,
    password: str | None = None,
    name: str = "Awa Diop",
) -> MadeUser:
    """A user with ``role`` in the tenant (a random e-mail unless given)."""
    email = email or f"user-{uuid.uuid4().hex[:12]}@example.sn"
    password = password or DEFAULT_PASSWORD
    with container.uow(tenant_id) as uow:
        user = identity.create_user(uow, email=email, display_name=name, password=password)
        identity.grant_role(uow, user_id=user.id, role=role)
    return MadeUser(user.id, user.email, password, tenant_id, role)


def make_principal_token(
    container: Container,
    tenant_id: uuid.UUID,
    role: str,
    scopes: list[str] | None = None,
) -> str:
    """A bearer secret for a fresh user holding ``role`` in the tenant."""
    user = make_user(container, tenant_id, role)
    with container.uow(tenant_id) as uow:
        secret, _ = identity.create_token(
            uow, user_id=user.id, name="test", scopes=scopes or ["*"], expires_at=None
        )
    return secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def app_container(client: TestClient) -> Container:
    """The container behind a ``create_app`` test client."""
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    return container


def register_badges(
    uow: UnitOfWork,
    count: int,
    *,
    now: dt.datetime,
    role: str = "volunteer",
    name: str = "Volontaire",
    organisation: str = "JAMBAAR26",
    days: int = 1,
) -> list[str]:
    """``count`` accreditations (no zones) valid from a day before ``now`` to ``days``
    after it; their badges' QR texts."""
    return [
        access.register_accreditation(
            uow,
            name=f"{name} {i}",
            organisation=organisation,
            role=role,
            zones=[],
            valid_from=now - dt.timedelta(days=1),
            valid_until=now + dt.timedelta(days=days),
        ).qr_text
        for i in range(count)
    ]
