"""``teranga privacy export|erase|purge``: data-subject rights and retention from the shell.

teranga privacy export --tenant cojoj --phone +221771234567 --reason "DSAR-2026-014"
teranga privacy erase --tenant cojoj --phone +221771234567 --reason "DSAR-2026-015"
teranga privacy purge --dry-run
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Annotated

import typer

from teranga.cli.common import fail, state
from teranga.container import Container
from teranga.platform.errors import TerangaError

Phone = Annotated[str | None, typer.Option(help="Phone number, e.g. +221771234567.")]
Email = Annotated[str | None, typer.Option(help="E-mail address.")]
IdNumber = Annotated[str | None, typer.Option("--id-number", help="ID card or passport number.")]
Accreditation = Annotated[str | None, typer.Option(help="Accreditation id (UUID).")]
Tenant = Annotated[str, typer.Option(help="Tenant slug.")]
Reason = Annotated[str, typer.Option(help="Request reference or ground (audited).")]


def _identifier(
    phone: str | None, email: str | None, id_number: str | None, accreditation: str | None
) -> tuple[str, str]:
    given = [
        (k, v)
        for k, v in (
            ("phone", phone),
            ("email", email),
            ("id_number", id_number),
            ("accreditation", accreditation),
        )
        if v
    ]
    if len(given) != 1:
        fail("give exactly one of --phone, --email, --id-number, --accreditation")
    return given[0]


def _tenant_id(container: Container, slug: str) -> uuid.UUID:
    from teranga.tenancy import api as tenancy

    with container.uow() as uow:
        return tenancy.get_by_slug(uow, slug).id


def export_cmd(
    ctx: typer.Context,
    tenant: Tenant,
    reason: Reason,
    phone: Phone = None,
    email: Email = None,
    id_number: IdNumber = None,
    accreditation: Accreditation = None,
    out: Annotated[
        Path | None, typer.Option(help="Write here (.json or .pdf) instead of stdout.")
    ] = None,
) -> None:
    """Export every record of a person across services (right of access). Audited."""
    from teranga.privacy import rights

    kind, value = _identifier(phone, email, id_number, accreditation)
    container = state(ctx).container()
    try:
        tid = _tenant_id(container, tenant)
        with container.uow(tid) as uow:
            doc = rights.export_subject(
                uow, value, kind, actor_id=None, reason=reason, now=container.clock.now()
            )
    except TerangaError as exc:
        fail(exc.message)
    if out is not None and out.suffix.lower() == ".pdf":
        out.write_bytes(rights.render_pdf(doc))
    else:
        text = json.dumps(doc, ensure_ascii=False, indent=2)
        if out is None:
            typer.echo(text)
        else:
            out.write_text(text + "\n", encoding="utf-8")
    if out is not None:
        out.chmod(0o600)  # personal data: readable by its owner only
        total = sum(doc["records"].values())
        typer.echo(f"{total} records written to {out}", err=True)


def erase_cmd(
    ctx: typer.Context,
    tenant: Tenant,
    reason: Reason,
    phone: Phone = None,
    email: Email = None,
    id_number: IdNumber = None,
    accreditation: Accreditation = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a person's data across services (legal holds kept pseudonymised). Audited.

    Irreversible: accounting and gate entry records stay, without name or phone.
    """
    from teranga.privacy import rights

    kind, value = _identifier(phone, email, id_number, accreditation)
    if not yes:
        typer.confirm(f"Erase every record of this {kind} in tenant {tenant}?", abort=True)
    container = state(ctx).container()
    try:
        tid = _tenant_id(container, tenant)
        with container.uow(tid) as uow:
            report = rights.erase_subject(uow, value, kind, actor_id=None, reason=reason)
    except TerangaError as exc:
        fail(exc.message)
    for domain, n in sorted(report.found.items()):
        typer.echo(f"{domain}: {n} found, {report.erased.get(domain, 0)} erased")
    if not report.found:
        typer.echo("no record found")


def purge_cmd(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (default: all).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count only; change nothing.")] = False,
    now: Annotated[
        str | None, typer.Option(help="Pretend it is this ISO 8601 instant (UTC if no zone).")
    ] = None,
) -> None:
    """Erase or anonymise personal data past its retention (register), per tenant."""
    from teranga.privacy import retention
    from teranga.tenancy import api as tenancy

    container = state(ctx).container()
    moment = container.clock.now()
    if now is not None:
        try:
            moment = dt.datetime.fromisoformat(now)
        except ValueError:
            fail("--now must be an ISO 8601 date or instant")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
    try:
        with container.uow() as uow:
            tenants = (
                [tenancy.get_by_slug(uow, tenant)] if tenant else list(tenancy.list_tenants(uow))
            )
        for t in tenants:
            with container.uow(t.id) as uow:
                report = retention.purge(uow, moment, dry_run=dry_run)
            verb = "would purge" if dry_run else "purged"
            detail = ", ".join(f"{k}={v}" for k, v in sorted(report.counts.items()))
            typer.echo(f"{t.slug}: {verb} {report.total} ({detail})")
        missing = retention.processings_without_purge()
        if missing:
            typer.echo(f"warning: no retention purge yet for: {', '.join(missing)}", err=True)
    except (TerangaError, ValueError) as exc:
        fail(getattr(exc, "message", str(exc)))


def register(app: typer.Typer) -> None:
    """Add the rights and retention commands to the ``privacy`` command group (once)."""
    present = {c.name for c in app.registered_commands}
    for name, fn in (("export", export_cmd), ("erase", erase_cmd), ("purge", purge_cmd)):
        if name not in present:
            app.command(name)(fn)
