"""``teranga privacy ...``: residency report and the register of processings."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from teranga.cli.common import fail, state
from teranga.platform.errors import TerangaError
from teranga.privacy.cli_rights import register as register_rights
from teranga.privacy.register import load_register
from teranga.privacy.residency import enforce_residency, residency_report

privacy_app = typer.Typer(help="Personal data: residency and register.", no_args_is_help=True)


@privacy_app.command("residency")
def residency(ctx: typer.Context) -> None:
    """List every declared store with its jurisdiction; fail on a residency violation."""
    settings = state(ctx).settings()
    for status in residency_report(settings):
        mark = "ok " if status.allowed else "BAD"
        s = status.store
        typer.echo(
            f"{mark} {s.name:<10} {s.kind:<9} {s.jurisdiction:<3} {s.operator}: {status.reason}"
        )
    try:
        enforce_residency(settings)
    except TerangaError as exc:
        fail(exc.message)


@privacy_app.command("register")
def register_cmd(ctx: typer.Context) -> None:
    """Validate and print the register of processings as JSON."""
    settings = state(ctx).settings()
    try:
        reg = load_register(env=settings.env)
    except TerangaError as exc:
        fail(exc.message)
    typer.echo(json.dumps(reg.model_dump(mode="json"), ensure_ascii=False, indent=2))


@privacy_app.command("rotate-key")
def rotate_key(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant slug.")],
    kek: Annotated[
        bool, typer.Option(help="Also rotate the tenant KEK and rewrap its data keys.")
    ] = False,
) -> None:
    """Start a new data key version for a tenant (old values stay readable)."""
    from teranga.privacy import service
    from teranga.tenancy import api as tenancy

    container = state(ctx).container()
    try:
        with container.uow() as uow:
            tenant_id = tenancy.get_by_slug(uow, tenant).id
        with container.uow(tenant_id) as uow:
            version = service.rotate_data_key(uow)
            if kek:
                info = service.rotate_tenant_kek(uow)
    except TerangaError as exc:
        fail(exc.message)
    typer.echo(f"tenant {tenant}: data key version {version}")
    if kek:
        typer.echo(f"tenant {tenant}: KEK version {info.latest_version}, data keys rewrapped")


def register(app: typer.Typer) -> None:
    register_rights(privacy_app)  # export / erase / purge (privacy.cli_rights)
    app.add_typer(privacy_app, name="privacy")
