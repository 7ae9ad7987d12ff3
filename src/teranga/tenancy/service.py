from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from teranga.platform.errors import Conflict, NotFound, ValidationFailed
from teranga.platform.uow import UnitOfWork
from teranga.tenancy.models import Tenant

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class TenantInfo:
    id: uuid.UUID
    slug: str
    name: str
    allowed_jurisdictions: tuple[str, ...]


def _info(t: Tenant) -> TenantInfo:
    return TenantInfo(t.id, t.slug, t.name, tuple(t.allowed_jurisdictions or ["SN"]))


def create_tenant(
    uow: UnitOfWork,
    *,
    slug: str,
    name: str,
    legal_entity: str,
    representative_sn: str,
    dpo_contact: str,
    allowed_jurisdictions: list[str] | None = None,
) -> TenantInfo:
    if not SLUG_RE.match(slug):
        raise ValidationFailed("slug", "lowercase letters, digits and dashes, 1-63 characters")
    for field, value in (
        ("name", name),
        ("legal_entity", legal_entity),
        ("representative_sn", representative_sn),
        ("dpo_contact", dpo_contact),
    ):
        if not value.strip():
            raise ValidationFailed(field, "required")
    if uow.session.scalar(sa.select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise Conflict("tenant.exists", f"tenant '{slug}' already exists")
    tenant = Tenant(
        slug=slug,
        name=name,
        legal_entity=legal_entity,
        representative_sn=representative_sn,
        dpo_contact=dpo_contact,
        allowed_jurisdictions=[j.upper() for j in (allowed_jurisdictions or ["SN"])],
    )
    uow.session.add(tenant)
    uow.session.flush()
    return _info(tenant)


def get_by_slug(uow: UnitOfWork, slug: str) -> TenantInfo:
    t = uow.session.scalar(sa.select(Tenant).where(Tenant.slug == slug))
    if t is None:
        raise NotFound("tenant.not_found", f"no tenant '{slug}'")
    return _info(t)


def get(uow: UnitOfWork, tenant_id: uuid.UUID) -> TenantInfo:
    t = uow.session.get(Tenant, tenant_id)
    if t is None:
        raise NotFound("tenant.not_found", "no such tenant")
    return _info(t)


def list_tenants(uow: UnitOfWork) -> list[TenantInfo]:
    return [_info(t) for t in uow.session.scalars(sa.select(Tenant).order_by(Tenant.slug))]
