"""FastAPI dependencies shared by every domain's web layer.

Authentication and authorisation dependencies (``require``) live in teranga.identity.api.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from teranga.config import Settings
from teranga.container import Container


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ContainerDep = Annotated[Container, Depends(get_container)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def public_tenant_id(container: ContainerDep) -> uuid.UUID:
    """The tenant whose public pages this site shows (settings.default_tenant)."""
    cached = container.extras.get("public_tenant_id")
    if isinstance(cached, uuid.UUID):
        return cached
    from teranga.tenancy import api as tenancy

    with container.uow() as uow:
        tid = tenancy.get_by_slug(uow, container.settings.default_tenant).id
    container.extras["public_tenant_id"] = tid
    return tid


PublicTenantDep = Annotated[uuid.UUID, Depends(public_tenant_id)]
