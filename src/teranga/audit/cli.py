"""``teranga audit verify``/``head``: integrate pending entries, then recompute each tenant's
Merkle tree and name the first bad entry, or print the signed tree head for a witness."""

from __future__ import annotations

from typing import Annotated

import typer

from teranga.audit import integrator, service
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
            help="SIZE:ROOT printed earlier by 'audit head' (needs --tenant).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Verify the Merkle tree; exit 1 and name the first bad entry when it was tampered with."""
    witnessed: tuple[int, str] | None = None
    if witness is not None:
        seq, _, digest = witness.partition(":")
        if not tenant or not seq.isdigit() or len(digest) != 64:
            fail("--witness is SIZE:ROOT (64 hex digits) and needs --tenant")
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
        try:
            integrator.integrate_tenant(container, t.id)
        except Exception as exc:  # still verify what is already signed
            typer.echo(f"{t.slug}: pending entries not integrated ({exc})", err=True)
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
    """Print the tenant's signed tree head as SIZE:ROOT (after integrating what is pending),
    to copy to an independent witness; the signature and key go to stderr."""
    from teranga.tenancy import api as tenancy

    container = state(ctx).container()
    try:
        with container.uow() as uow:
            tid = tenancy.get_by_slug(uow, tenant).id
    except TerangaError as exc:
        fail(exc.message)
    integrator.integrate_tenant(container, tid)
    with container.uow(tid) as uow:
        sth = service.head(uow, tid)
        key = service.public_key(uow, tid)
    typer.echo(f"{sth.tree_size}:{sth.root_hash}")
    typer.echo(
        f"timestamp_ms={sth.timestamp_ms} signature={sth.signature} "
        f"public_key={key.hex() if key else ''}",
        err=True,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
