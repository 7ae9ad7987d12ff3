"""The ``teranga`` command. Domains add their commands with ``register(app)`` in ``cli.py``."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from teranga.cli.common import CliState, fail, state
from teranga.config import Settings, load_settings
from teranga.domains import domain_modules
from teranga.platform.errors import TerangaError

app = typer.Typer(
    name="teranga",
    help="Teranga — plateforme numérique souveraine (JOJ Dakar 2026 et après).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema: migrations and drift check.", no_args_is_help=True)
tenant_app = typer.Typer(help="Tenants (data controllers).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")


@app.callback()
def _root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None, typer.Option(help="Override TERANGA_DATABASE_URL.", show_default=False)
    ] = None,
) -> None:
    overrides = {}
    if database_url:
        overrides["database_url"] = database_url
    ctx.obj = CliState(overrides)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply all migrations (every domain branch) and grant the application role."""
    from teranga import schema

    settings = state(ctx).settings()
    schema.upgrade(
        settings.resolved_admin_url, settings.app_db_role if settings.is_postgres else None
    )
    typer.echo("database at head: " + ", ".join(sorted(schema.heads())))


@db_app.command("check")
def db_check(ctx: typer.Context) -> None:
    """Fail when the database is behind or when models and migrations disagree."""
    from teranga import schema

    settings = state(ctx).settings()
    try:
        schema.check(settings.resolved_admin_url)
    except schema.SchemaDrift as exc:
        fail(f"schema drift: {exc}")
    typer.echo("models and migrations agree")


@tenant_app.command("create")
def tenant_create(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Short identifier, e.g. cojoj-dakar-2026.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    legal_entity: Annotated[str, typer.Option(help="Controller's legal entity.")],
    representative_sn: Annotated[str, typer.Option(help="Representative in Senegal.")],
    dpo_contact: Annotated[str, typer.Option(help="Data protection officer contact.")],
    jurisdiction: Annotated[
        list[str] | None, typer.Option(help="Allowed jurisdiction (repeatable); default SN.")
    ] = None,
) -> None:
    """Create a tenant: a data controller whose records are isolated from every other."""
    from teranga.tenancy import api as tenancy

    container = state(ctx).container()
    try:
        with container.uow() as uow:
            info = tenancy.create_tenant(
                uow,
                slug=slug,
                name=name,
                legal_entity=legal_entity,
                representative_sn=representative_sn,
                dpo_contact=dpo_contact,
                allowed_jurisdictions=jurisdiction,
            )
    except TerangaError as exc:
        fail(exc.message)
    typer.echo(f"tenant {info.slug} created: {info.id}")


def _fail_closed(settings: Settings) -> None:
    """Refuse to start when a store of personal data breaks residency (Loi 2008-12 art. 49)."""
    from teranga.privacy.api import enforce_residency

    try:
        enforce_residency(settings)
    except TerangaError as exc:
        fail(exc.message)


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    upgrade: Annotated[bool, typer.Option(help="Apply migrations first.")] = True,
) -> None:
    """Run the web server (uvicorn)."""
    import uvicorn

    from teranga.web.server import HTTP_PROTOCOL

    settings = load_settings()
    _fail_closed(settings)
    if upgrade:
        from teranga import schema

        schema.upgrade(
            settings.resolved_admin_url, settings.app_db_role if settings.is_postgres else None
        )
    uvicorn.run(
        "teranga.web.app:app_from_env",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        http=HTTP_PROTOCOL,  # httptools, handing stream sockets to the hub
        log_config=None,
        proxy_headers=False,  # client addresses come from our own trusted-proxy logic
        access_log=False,
        # Live streams (SSE/WebSocket) never end on their own: bound the wait at shutdown.
        timeout_graceful_shutdown=10,
    )


@app.command("demo")
def demo(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    load_only: Annotated[bool, typer.Option(help="Load the demo data and exit.")] = False,
) -> None:
    """Load the JOJ Dakar 2026 demo data (idempotent) and serve it."""
    from teranga import demo as demo_mod
    from teranga import schema

    settings = load_settings()
    _fail_closed(settings)
    schema.upgrade(
        settings.resolved_admin_url, settings.app_db_role if settings.is_postgres else None
    )
    summary = demo_mod.load(settings)
    for line in summary:
        typer.echo(line)
    if load_only:
        return
    url = f"http://{host or settings.host}:{port or settings.port}/"
    typer.echo(f"Teranga is running at {url}  (Ctrl+C to stop)")
    serve(host=host, port=port, workers=1, upgrade=False)


for _module in domain_modules("cli"):
    _module.register(app)


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
