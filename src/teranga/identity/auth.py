"""FastAPI dependencies for authentication, authorisation and CSRF (re-exported by api.py).

Deny by default: every route depends on ``require(permission)`` or on ``public``;
tests/web/test_route_authz.py walks the app and fails on a route with neither.

Credentials, in order: ``Authorization: Bearer trg_...`` (API token), then the
``teranga_session`` cookie (web session). A state-changing request authenticated by the
cookie must carry the session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``): browsers attach cookies to cross-site requests, never that token.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from teranga.container import Container
from teranga.identity import domain, service
from teranga.identity.domain import Principal
from teranga.platform.errors import Forbidden, Unauthorized

log = logging.getLogger(__name__)

SESSION_COOKIE = "teranga_session"
# Anonymous forms (login) use a double-submit cookie; signed-in forms the session's token.
CSRF_COOKIE = "teranga_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Dependency callables that make a route's access decision, for the route walker.
AUTHZ_MARKERS: dict[Callable[..., object], str] = {}


class LoginRequired(Unauthorized):
    """Unauthenticated request for a page: the web layer redirects it to /login."""


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def client_ip(request: Request) -> str:
    """The client's address (X-Forwarded-For only from settings.trusted_proxies)."""
    settings = _container(request).settings
    peer = request.client.host if request.client else None
    return domain.client_address(
        peer, request.headers.get("x-forwarded-for"), list(settings.trusted_proxies)
    )


async def authenticate(request: Request) -> Principal | None:
    """Resolve the caller once per request (cached in request.state); None if anonymous."""
    state = request.state
    if getattr(state, "auth_done", False):
        cached: Principal | None = state.principal
        return cached
    container = _container(request)
    principal: Principal | None = None
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            # A busy scanner or app hits the cache: no thread hop for it.
            principal = service.cached_token(container, value.strip()) or (
                await run_in_threadpool(service.authenticate_token, container, value.strip())
            )
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            ctx = service.cached_session(container, cookie) or await run_in_threadpool(
                service.authenticate_session, container, cookie
            )
            if ctx is not None:
                principal = ctx.principal
                state.csrf_token = ctx.csrf_token
    state.principal = principal
    state.auth_done = True
    return principal


def _is_page(request: Request) -> bool:
    return request.method == "GET" and not request.url.path.startswith("/api/")


async def _submitted_csrf(request: Request) -> str:
    token = request.headers.get(CSRF_HEADER.lower(), "")
    if token:
        return token
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        if isinstance(value, str):
            return value
    return ""


async def _check_csrf(request: Request, principal: Principal | None) -> None:
    if request.method in SAFE_METHODS:
        return
    if principal is not None and principal.via == "token":
        return  # bearer tokens are never sent by a browser on its own
    if principal is not None:
        expected = str(getattr(request.state, "csrf_token", ""))
    else:
        expected = request.cookies.get(CSRF_COOKIE, "")
    submitted = await _submitted_csrf(request)
    if not expected or not hmac.compare_digest(submitted.encode(), expected.encode()):
        raise Forbidden("csrf_failed", "missing or invalid CSRF token; reload the page")


def cached_principal(container: Container, request: Request, permission: str) -> Principal | None:
    """What ``require(permission)`` would let through, decided from this process's caches
    alone (no database, no thread): the principal when its token or session was resolved
    moments ago, holds the permission and, for a cookie on an unsafe method, sent the CSRF
    header. None in every other case: the caller then takes the full path, which answers
    401, 403 or ``csrf_failed`` and logs the denial."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        principal = service.cached_token(container, value.strip())
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        ctx = service.cached_session(container, cookie) if cookie else None
        if ctx is None:
            return None
        if request.method not in SAFE_METHODS:
            submitted = request.headers.get(CSRF_HEADER.lower(), "")
            if not hmac.compare_digest(submitted.encode(), ctx.csrf_token.encode()):
                return None
        principal = ctx.principal
    if principal is None or not principal.can(permission):
        return None
    return principal


def require(permission: str) -> Callable[[Request], Awaitable[Principal]]:
    """Dependency: the authenticated principal, allowed ``permission`` in its tenant.

    401 when nobody is signed in (pages redirect to /login), 403 when the principal's
    roles (intersected with the token's scopes) do not grant the permission, 403
    ``csrf_failed`` for a cookie-authenticated unsafe request without the CSRF token.
    """

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if principal is None:
            if _is_page(request):
                raise LoginRequired("unauthorized", "sign in first")
            raise Unauthorized("unauthorized", "authentication required")
        if not principal.can(permission):
            # ASVS 16.3.2: authorisation failures are logged (ids only, no personal data).
            log.warning(
                "access denied",
                extra={
                    "permission": permission,
                    "user_id": str(principal.user_id),
                    "tenant_id": str(principal.tenant_id),
                    "via": principal.via,
                    "path": request.url.path,
                },
            )
            raise Forbidden("forbidden", f"missing permission {permission}")
        await _check_csrf(request, principal)
        return principal

    dependency.__name__ = f"require_{permission.replace('.', '_').replace('*', 'any')}"
    AUTHZ_MARKERS[dependency] = f"require:{permission}"
    return dependency


def public() -> None:
    """Dependency marking a route as intentionally reachable without signing in."""


AUTHZ_MARKERS[public] = "public"


async def optional_principal(request: Request) -> Principal | None:
    """The signed-in principal if any (for public pages that adapt to the visitor)."""
    return await authenticate(request)


async def csrf_protect(request: Request) -> None:
    """Dependency for form POST handlers that are public or use optional_principal.

    Checks the session's token when signed in, else the anonymous double-submit cookie.
    (Routes using ``require`` are already checked.)
    """
    principal = await authenticate(request)
    await _check_csrf(request, principal)


class PendingCsrfToken:
    """An anonymous CSRF token minted for this response, sent as a cookie only if used.

    Pages that render no form then carry no Set-Cookie, so shared caches may keep them.
    """

    def __init__(self, value: str) -> None:
        self.value = value
        self.used = False

    def __str__(self) -> str:
        self.used = True
        return self.value


async def csrf_token(request: Request) -> str:
    """The CSRF token to embed in forms (templates get it as ``csrf_token``).

    The signed-in session's token, else the visitor's ``teranga_csrf`` cookie (minted by
    identity.web's middleware when the page uses it).
    """
    await authenticate(request)
    token = getattr(request.state, "csrf_token", None)
    if token:
        return str(token)
    return request.cookies.get(CSRF_COOKIE, "")


CurrentPrincipal = Annotated[Principal | None, Depends(optional_principal)]
PublicDep = Annotated[None, Depends(public)]
CsrfProtected = Annotated[None, Depends(csrf_protect)]
CsrfToken = Annotated[str, Depends(csrf_token)]
