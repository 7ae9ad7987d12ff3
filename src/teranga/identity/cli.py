"""``teranga user create`` and ``teranga token create``."""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from typing import Annotated

import typer

from teranga.cli.common import fail, state
from teranga.identity import permissions, service
from teranga.platform.errors import TerangaError

user_app = typer.Typer(help="Staff accounts and their roles.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (bearer secrets).", no_args_is_help=True)


def _tenant_id(ctx: typer.Context, slug: str) -> uuid.UUID:
    from teranga.tenancy import api as tenancy

    container = state(ctx).container()
    with container.uow() as uow:
        return tenancy.get_by_slug(uow, slug).id


@user_app.command("create")
def user_create(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="E-mail address (the login).")],
    tenant: Annotated[str, typer.Option(help="Tenant slug the role applies to.")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(permissions.ROLES)}.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an account with a role in a tenant (or add the role if the account exists)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    container = state(ctx).container()
    try:
        tenant_id = _tenant_id(ctx, tenant)
        with container.uow(tenant_id) as uow:
            try:
                user = service.find_user(uow, email)
                created = False
            except TerangaError:
                user = service.create_user(uow, email=email, display_name=name, password=password)
                created = True
            service.grant_role(uow, user_id=user.id, role=role)
    except TerangaError as exc:
        fail(exc.message)
    typer.echo(f"user {user.email} {'created' if created else 'updated'}: {user.id} ({role})")


@user_app.command("disable")
def user_disable(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="E-mail address.")],
    tenant: Annotated[str, typer.Option(help="Tenant slug the action is audited in.")],
) -> None:
    """Disable an account and end all its sessions."""
    container = state(ctx).container()
    try:
        tenant_id = _tenant_id(ctx, tenant)
        with container.uow(tenant_id) as uow:
            user = service.find_user(uow, email)
            service.set_active(uow, user_id=user.id, active=False)
    except TerangaError as exc:
        fail(exc.message)
    typer.echo(f"user {user.email} disabled")


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    user: Annotated[str, typer.Option(help="E-mail address of the token's owner.")],
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    scope: Annotated[
        list[str], typer.Option(help="Permission pattern, e.g. access.scan.* (repeatable).")
    ],
    expires_days: Annotated[int, typer.Option(help="Days until expiry; 0 = never.")] = 90,
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
) -> None:
    """Create an API token and print its secret once (it is stored hashed)."""
    container = state(ctx).container()
    expires = container.clock.now() + dt.timedelta(days=expires_days) if expires_days > 0 else None
    try:
        tenant_id = _tenant_id(ctx, tenant)
        with container.uow(tenant_id) as uow:
            owner = service.find_user(uow, user)
            secret, info = service.create_token(
                uow, user_id=owner.id, name=name, scopes=scope, expires_at=expires
            )
    except TerangaError as exc:
        fail(exc.message)
    typer.echo(f"token {info.prefix} created (shown once, store it now):", err=True)
    typer.echo(secret)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
