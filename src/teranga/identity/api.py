"""What other domains may use from identity: the principal and the access dependencies.

    from teranga.identity.api import Principal, require, public

    @router.post("/api/v1/events")
    def create(p: Annotated[Principal, Depends(require("programme.event.write"))]) -> ...:
        with container.uow(p.tenant_id) as uow: ...

    @router.get("/", dependencies=[Depends(public)])        # intentionally public

Forms posted with a session cookie are CSRF-checked by ``require``; public form handlers
add ``Depends(csrf_protect)``. Put ``csrf_token`` (``await csrf_token(request)`` or the
``CsrfToken`` dependency) in the template context as a hidden ``csrf_token`` field.
"""

from teranga.identity.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    CsrfProtected,
    CsrfToken,
    CurrentPrincipal,
    PublicDep,
    cached_principal,
    client_ip,
    csrf_protect,
    csrf_token,
    optional_principal,
    public,
    require,
)
from teranga.identity.domain import Principal
from teranga.identity.permissions import ROLES, allowed

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "ROLES",
    "SESSION_COOKIE",
    "CsrfProtected",
    "CsrfToken",
    "CurrentPrincipal",
    "Principal",
    "PublicDep",
    "allowed",
    "cached_principal",
    "client_ip",
    "csrf_protect",
    "csrf_token",
    "optional_principal",
    "public",
    "require",
]
