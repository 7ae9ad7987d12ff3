"""``teranga transport``: import GTFS feeds, plan journeys, export the merged network."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Annotated

import typer

from teranga.cli.common import CliState, fail, state
from teranga.platform.errors import TerangaError

transport_app = typer.Typer(
    help="Transport: GTFS feeds and journey planning.", no_args_is_help=True
)

DbUrl = Annotated[str | None, typer.Option("--database-url", help="Override TERANGA_DATABASE_URL.")]


def _state(ctx: typer.Context, database_url: str | None) -> CliState:
    st = state(ctx)
    if database_url:
        st.overrides["database_url"] = database_url
    return st


def _tenant(st: CliState) -> uuid.UUID:
    """The default tenant (created when missing); migrations applied when tables are missing."""
    import sqlalchemy as sa

    from teranga import schema
    from teranga.platform.errors import NotFound
    from teranga.tenancy import api as tenancy

    settings = st.settings()
    container = st.container()
    if not sa.inspect(container.engine).has_table("transport_feeds"):
        schema.upgrade(
            settings.resolved_admin_url, settings.app_db_role if settings.is_postgres else None
        )
    with container.uow() as uow:
        try:
            return tenancy.get_by_slug(uow, settings.default_tenant).id
        except NotFound:
            info = tenancy.create_tenant(
                uow,
                slug=settings.default_tenant,
                name=settings.default_tenant,
                legal_entity=settings.default_tenant,
                representative_sn="(à compléter)",
                dpo_contact="(à compléter)",
            )
            return info.id


@transport_app.command("import")
def import_cmd(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="GTFS zip files or folders.")],
    database_url: DbUrl = None,
    feed_id: Annotated[
        str | None, typer.Option(help="Feed id (one path only); default: file name.")
    ] = None,
    ignore_pickup_drop_off: Annotated[
        bool, typer.Option(help="Override: treat every pickup/drop-off flag as regular.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Every notice.")] = False,
) -> None:
    """Validate and import feeds; exits non-zero only when a feed cannot be used at all."""
    from teranga.transport import service
    from teranga.transport.gtfs import FeedOverrides

    if feed_id and len(paths) > 1:
        fail("--feed-id needs exactly one path")
    st = _state(ctx, database_url)
    tenant = _tenant(st)
    container = st.container()
    overrides = FeedOverrides(ignore_pickup_drop_off=ignore_pickup_drop_off)
    unusable = 0
    for i, path in enumerate(paths, 1):
        typer.echo(f"[{i}/{len(paths)}] {path} …", err=True)
        try:
            with container.uow(tenant) as uow:
                res = service.import_feed(
                    uow,
                    source=path,
                    feed_id=feed_id,
                    overrides=overrides,
                    data_dir=container.settings.data_dir,
                )
        except TerangaError as exc:
            fail(exc.message)
        for line in res.report.summary_lines():
            typer.echo(line)
        if verbose:
            for n in res.report.notices:
                typer.echo(f"    {json.dumps(n.as_dict(), ensure_ascii=False)}")
        typer.echo(f"  -> {res.status}")
        unusable += res.status == "rejected"
    if unusable:
        raise typer.Exit(1)


def _when(value: str, option: str) -> dt.datetime:
    from teranga.transport.service import TZ

    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: expected YYYY-MM-DDTHH:MM")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=TZ)


@transport_app.command("plan")
def plan_cmd(
    ctx: typer.Context,
    origin: Annotated[str, typer.Option("--from", help="STOP_ID, FEEDID:STOP_ID or LAT,LON.")],
    destination: Annotated[str, typer.Option("--to", help="STOP_ID, FEEDID:STOP_ID, LAT,LON.")],
    depart: Annotated[str | None, typer.Option(help="YYYY-MM-DDTHH:MM (Dakar time).")] = None,
    arrive_by: Annotated[str | None, typer.Option(help="YYYY-MM-DDTHH:MM: arrive by.")] = None,
    window: Annotated[int, typer.Option(help="Departure window in minutes.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database_url: DbUrl = None,
) -> None:
    """Fastest journeys with fewest transfers; the first is the earliest arrival."""
    from teranga.transport import service

    if (depart is None) == (arrive_by is None):
        fail("give --depart or --arrive-by")
    st = _state(ctx, database_url)
    tenant = _tenant(st)
    container = st.container()
    try:
        with container.uow(tenant) as uow:
            result = service.plan(
                uow,
                data_dir=container.settings.data_dir,
                origin=origin,
                destination=destination,
                depart=_when(depart, "--depart") if depart else None,
                arrive_by=_when(arrive_by, "--arrive-by") if arrive_by else None,
                window_min=window,
            )
    except TerangaError as exc:
        fail(exc.message)
    if as_json:
        typer.echo(json.dumps({"journeys": result["journeys"]}, ensure_ascii=False))
        return
    if not result["journeys"]:
        typer.echo(f"Aucun trajet trouvé de {result['from']} à {result['to']}.")
        return
    for j in result["journeys"]:
        typer.echo(
            f"{j['departure'][11:16]} → {j['arrival'][11:16]}  ({j['duration_min']} min, "
            f"{j['transfers']} correspondance(s))"
        )
        fare = j.get("total_fare")
        typer.echo(
            f"    Tarif : {fare['price']} {fare['currency']}" if fare else "    Tarif : inconnu"
        )
        for leg in j["legs"]:
            what = "à pied" if leg["mode"] == "walk" else f"{leg['route']['name']}"
            typer.echo(
                f"    {leg['departure'][11:16]} {leg['from']['name']} → "
                f"{leg['arrival'][11:16]} {leg['to']['name']}  [{what}]"
            )


@transport_app.command("export")
def export_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="Zip file to write.")],
    database_url: DbUrl = None,
) -> None:
    """Export the merged network (every imported feed) as one GTFS zip."""
    from teranga.transport import service

    st = _state(ctx, database_url)
    tenant = _tenant(st)
    with st.container().uow(tenant) as uow:
        service.export_network(uow, path=out)
    typer.echo(f"written {out}")


@transport_app.command("realtime")
def realtime_cmd(
    ctx: typer.Context,
    feed_id: Annotated[str, typer.Argument(help="Imported feed the message is about.")],
    message: Annotated[Path, typer.Argument(help="GTFS-Realtime FeedMessage (.pb).")],
    database_url: DbUrl = None,
) -> None:
    """Push a GTFS-Realtime message (full dataset for that feed); delays reach the planner."""
    from teranga.transport import service

    st = _state(ctx, database_url)
    tenant = _tenant(st)
    try:
        with st.container().uow(tenant) as uow:
            counts = service.ingest_realtime(uow, feed_id=feed_id, data=message.read_bytes())
    except (TerangaError, OSError) as exc:
        fail(getattr(exc, "message", str(exc)))
    typer.echo(", ".join(f"{k}={v}" for k, v in counts.items()))


@transport_app.command("gtfs-rt")
def gtfs_rt_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="File to write our GTFS-Realtime feed to.")],
    database_url: DbUrl = None,
) -> None:
    """Write Teranga's own GTFS-Realtime feed (every operator's latest state)."""
    from teranga.transport import service
    from teranga.transport.realtime import build_feed

    st = _state(ctx, database_url)
    tenant = _tenant(st)
    with st.container().uow(tenant) as uow:
        snap = service.realtime_snapshot(uow)
    out.write_bytes(build_feed(snap))
    typer.echo(
        f"written {out}: {len(snap.delays)} delays, {len(snap.vehicles)} vehicles, "
        f"{len(snap.alerts)} alerts"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(transport_app, name="transport")
