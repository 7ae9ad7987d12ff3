"""``teranga audit verify``: recompute tenant chains and name the first bad entry."""

from __future__ import annotations

from typing import Annotated

import typer

from teranga.audit import service
from teranga.cli.common import fail, state
from teranga.platform.errors import TerangaError

audit_app = typer.Typer(help="Tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    tenant: Annotated[
        str | None, typer.Option(help="Tenant slug; default: every tenant.", show_default=False)
    ] = None,
    witness: Annotated[
        str | None,
        typer.Option(
            help="SEQ:HASH printed earlier by 'audit head' (needs --tenant).", show_default=False
        ),
    ] = None,
) -> None:
    """Verify the hash chain; exit 1 and name the first bad entry when it was tampered with."""
    witnessed: tuple[int, str] | None = None
    if witness is not None:
        seq, _, digest = witness.partition(":")
        if not tenant or not seq.isdigit() or len(digest) != 64:
            fail("--witness is SEQ:HASH (64 hex digits) and needs --tenant")
        witnessed = (int(seq), digest.lower())
    from teranga.tenancy import api as tenancy

    container = state(ctx).container()
    try:
        with container.uow() as uow:
            tenants = [tenancy.get_by_slug(uow, tenant)] if tenant else tenancy.list_tenants(uow)
    except TerangaError as exc:
        fail(exc.message)
    bad_found = False
    for t in tenants:
        with container.uow(t.id) as uow:
            bad = service.verify(uow, t.id, witness=witnessed)
        if bad is None:
            typer.echo(f"{t.slug}: ok")
        else:
            bad_found = True
            typer.echo(f"{t.slug}: first bad entry seq {bad.seq} ({bad.reason})", err=True)
    if bad_found:
        raise typer.Exit(1)


@audit_app.command("head")
def head(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
) -> None:
    """Print the tenant's chain head as SEQ:HASH, to copy to an independent witness."""
    from teranga.tenancy import api as tenancy

    container = state(ctx).container()
    try:
        with container.uow() as uow:
            tid = tenancy.get_by_slug(uow, tenant).id
    except TerangaError as exc:
        fail(exc.message)
    with container.uow(tid) as uow:
        seq, digest = service.head(uow, tid)
    typer.echo(f"{seq}:{digest}")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
