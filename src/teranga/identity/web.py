"""Identity over HTTP: sign-in pages, the account page and the token/user API.

``setup`` installs the CSRF middleware (anonymous double-submit cookie, session token in
``request.state.csrf_token`` for templates) and turns ``LoginRequired`` on pages into a
redirect to /login.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.requests import Request as StarletteRequest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from teranga.container import Container
from teranga.identity import service
from teranga.identity.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    LoginRequired,
    PendingCsrfToken,
    authenticate,
    client_ip,
    csrf_protect,
    public,
    require,
)
from teranga.identity.domain import Principal
from teranga.identity.schemas import Me, RoleGrant, TokenCreate, TokenCreated, UserCreate, UserOut
from teranga.platform.errors import NotFound, TooManyRequests, ValidationFailed
from teranga.web.deps import ContainerDep, PublicTenantDep
from teranga.web.i18n import gettext as _
from teranga.web.templating import render

router = APIRouter()
api = APIRouter(prefix="/api/v1", tags=["identity"])


# -- setup: CSRF cookie middleware and login redirect ----------------------------------
class CsrfCookieMiddleware:
    """Puts the CSRF token where templates find it, and mints the anonymous cookie.

    For a request carrying a session cookie the session is resolved once here (cached in
    request.state for ``require``), so forms on any page embed the session's token.
    """

    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(("/static/", "/api/")):
            await self.app(scope, receive, send)
            return
        request = StarletteRequest(scope)
        pending: PendingCsrfToken | None = None
        if request.cookies.get(SESSION_COOKIE) and "authorization" not in request.headers:
            await authenticate(request)
        if not getattr(request.state, "csrf_token", None):
            cookie = request.cookies.get(CSRF_COOKIE)
            if cookie:
                request.state.csrf_token = cookie
            else:
                pending = PendingCsrfToken(secrets.token_urlsafe(32))
                request.state.csrf_token = pending

        async def send_with_cookie(message: Message) -> None:
            if pending is not None and pending.used and message["type"] == "http.response.start":
                cookie = f"{CSRF_COOKIE}={pending.value}; Path=/; HttpOnly; SameSite=Lax"
                if self.secure:
                    cookie += "; Secure"
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _safe_next(target: str | None) -> str:
    target = target or ""
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or "\\" in target or parts.netloc:
        return "/compte"
    return target


def setup(app: FastAPI, container: Container) -> None:
    app.add_middleware(CsrfCookieMiddleware, secure=container.settings.secure_cookies)

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


# -- pages --------------------------------------------------------------------------------
def _login_page(
    request: Request, *, email: str = "", next_: str = "/compte", error: str = "", status: int = 200
) -> Response:
    headers = {"Cache-Control": "no-store"}
    return render(
        request,
        "identity/login.html",
        {"email": email, "next": _safe_next(next_), "error": error},
        status_code=status,
        headers=headers,
    )


@router.get("/login", dependencies=[Depends(public)], include_in_schema=False)
def login_form(request: Request, next: str = "/compte") -> Response:
    return _login_page(request, next_=next)


@router.post(
    "/login", dependencies=[Depends(public), Depends(csrf_protect)], include_in_schema=False
)
def login_submit(
    request: Request,
    container: ContainerDep,
    tenant_id: PublicTenantDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=500)] = "/compte",
) -> Response:
    try:
        result = service.login(
            container,
            tenant_id=tenant_id,
            email=email,
            password=password,
            client_ip=client_ip(request),
            previous_secret=request.cookies.get(SESSION_COOKIE),
        )
    except TooManyRequests as exc:
        response = _login_page(
            request,
            email=email,
            next_=next,
            error=_("Too many attempts. Try again in a few minutes."),
            status=429,
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if result is None:
        return _login_page(
            request,
            email=email,
            next_=next,
            error=_("Incorrect e-mail address or password."),
            status=401,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        result.secret,
        max_age=container.settings.session_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=container.settings.secure_cookies,
        path="/",
    )
    return response


@router.post(
    "/logout", dependencies=[Depends(public), Depends(csrf_protect)], include_in_schema=False
)
def logout(request: Request, container: ContainerDep) -> Response:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        service.logout(container, secret)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=container.settings.secure_cookies,
    )
    return response


def _account_page(
    request: Request,
    container: Container,
    p: Principal,
    *,
    new_token: str = "",
    error: str = "",
    status: int = 200,
) -> Response:
    with container.uow(p.tenant_id) as uow:
        me = service.me(uow, p)
        tokens = service.list_tokens(uow, p.user_id)
    return render(
        request,
        "identity/account.html",
        {"me": me, "tokens": tokens, "new_token": new_token, "error": error},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/compte", include_in_schema=False)
def account(
    request: Request,
    container: ContainerDep,
    p: Annotated[Principal, Depends(require("identity.me.read"))],
) -> Response:
    return _account_page(request, container, p)


@router.post("/compte/jetons", include_in_schema=False)
def account_new_token(
    request: Request,
    container: ContainerDep,
    p: Annotated[Principal, Depends(require("identity.token.create"))],
    name: Annotated[str, Form(max_length=100)] = "",
    scopes: Annotated[str, Form(max_length=1000)] = "",
    expires_days: Annotated[int, Form(ge=1, le=3650)] = 90,
) -> Response:
    """Create a token from the account page; its secret is shown on this response only."""
    expires = container.clock.now() + dt.timedelta(days=expires_days)
    try:
        with container.uow(p.tenant_id) as uow:
            secret, _info = service.create_token(
                uow,
                user_id=p.user_id,
                name=name,
                scopes=scopes.replace(",", " ").split(),
                expires_at=expires,
                actor_id=p.user_id,
            )
    except ValidationFailed as exc:
        return _account_page(request, container, p, error=exc.message, status=422)
    return _account_page(request, container, p, new_token=secret)


# -- API ----------------------------------------------------------------------------------
@api.get("/me", response_model=Me, summary="Who am I (user, tenant, roles, scopes)")
def get_me(
    container: ContainerDep, p: Annotated[Principal, Depends(require("identity.me.read"))]
) -> Me:
    with container.uow(p.tenant_id) as uow:
        return Me.model_validate(service.me(uow, p))


@api.post(
    "/auth/tokens",
    response_model=TokenCreated,
    status_code=201,
    summary="Create an API token for yourself (the secret is shown once)",
)
def create_token(
    body: TokenCreate,
    container: ContainerDep,
    p: Annotated[Principal, Depends(require("identity.token.create"))],
) -> TokenCreated:
    expires = (
        container.clock.now() + dt.timedelta(days=body.expires_days) if body.expires_days else None
    )
    # A token minted with a token cannot exceed the scopes of the one used.
    scopes = body.scopes
    if p.scopes is not None:
        scopes = [s for s in scopes if s in p.scopes or "*" in p.scopes]
    with container.uow(p.tenant_id) as uow:
        secret, info = service.create_token(
            uow,
            user_id=p.user_id,
            name=body.name,
            scopes=scopes,
            expires_at=expires,
            actor_id=p.user_id,
        )
    return TokenCreated(
        id=info.id,
        prefix=info.prefix,
        token=secret,
        name=info.name,
        scopes=list(info.scopes),
        expires_at=info.expires_at,
    )


@api.delete("/auth/tokens/{token_id}", status_code=204, summary="Revoke an API token")
def revoke_token(
    token_id: uuid.UUID,
    container: ContainerDep,
    p: Annotated[Principal, Depends(require("identity.token.create"))],
) -> Response:
    with container.uow(p.tenant_id) as uow:
        owner = service.token_owner(uow, token_id)
        if owner != p.user_id and not p.can("identity.user.write"):
            raise NotFound("identity.token.not_found", "no such token")
        service.revoke_token(uow, token_id=token_id, actor_id=p.user_id)
    return Response(status_code=204)


def _user_out(container: Container, tenant_id: uuid.UUID, user_id: uuid.UUID) -> UserOut:
    with container.uow(tenant_id) as uow:
        user = service.get_user(uow, user_id)
        roles = service.roles_of(uow, user_id)
    return UserOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        active=user.active,
        roles=sorted(roles),
    )


@api.post("/users", response_model=UserOut, status_code=201, summary="Create a staff account")
def create_user(
    body: UserCreate,
    container: ContainerDep,
    p: Annotated[Principal, Depends(require("identity.user.write"))],
) -> UserOut:
    service.check_grantable(p.roles, body.role)
    with container.uow(p.tenant_id) as uow:
        user = service.create_user(
            uow,
            email=body.email,
            display_name=body.display_name,
            password=body.password,
            actor_id=p.user_id,
        )
        service.grant_role(uow, user_id=user.id, role=body.role, actor_id=p.user_id)
    return _user_out(container, p.tenant_id, user.id)


@api.get("/users/{user_id}", response_model=UserOut, summary="A staff account of this tenant")
def get_user(
    user_id: uuid.UUID,
    container: ContainerDep,
    p: Annotated[Principal, Depends(require("identity.user.read"))],
) -> UserOut:
    with container.uow(p.tenant_id) as uow:
        service.member_or_404(uow, user_id)
    return _user_out(container, p.tenant_id, user_id)


@api.post("/users/{user_id}/roles", response_model=UserOut, summary="Grant a role")
def grant_role(
    user_id: uuid.UUID,
    body: RoleGrant,
    container: ContainerDep,
    p: Annotated[Principal, Depends(require("identity.user.write"))],
) -> UserOut:
    with container.uow(p.tenant_id) as uow:
        service.member_or_404(uow, user_id)
        service.check_grantable(p.roles, body.role)
        service.grant_role(uow, user_id=user_id, role=body.role, actor_id=p.user_id)
    return _user_out(container, p.tenant_id, user_id)


router.include_router(api)
