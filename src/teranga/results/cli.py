"""``teranga results import FILE...``: load ODF XML messages into the default tenant."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from teranga.cli.common import fail, state
from teranga.platform.errors import NotFound

results_app = typer.Typer(help="Live results: ODF import.", no_args_is_help=True)


@results_app.command("import")
def import_files(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="ODF XML messages, applied in order.")],
    tenant: Annotated[str | None, typer.Option(help="Tenant slug (default: the site's).")] = None,
) -> None:
    """Import ODF messages; prints one outcome per file, exit 1 when any was rejected."""
    from teranga.results import service
    from teranga.tenancy import api as tenancy

    container = state(ctx).container()
    slug = tenant or container.settings.default_tenant
    try:
        with container.uow() as uow:
            tid = tenancy.get_by_slug(uow, slug).id
    except NotFound:
        fail(f"no tenant {slug!r}")
    rejected = 0
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            fail(f"{path}: {exc.strerror}")
        with container.uow(tid) as uow:
            report = service.import_odf(uow, data)
        rejected += report.outcome == "rejected"
        typer.echo(
            f"{path.name}: {report.outcome} {report.document_type} {report.document_code} "
            f"v{report.version} - {report.reason}"
        )
    if rejected:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(results_app, name="results")
