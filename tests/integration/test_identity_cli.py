"""CLI: ``teranga user create``, ``teranga token create``, ``teranga audit verify``."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from teranga.cli.main import app
from teranga.config import Settings
from teranga.container import build_container
from teranga.identity import service
from tests.factories import make_tenant

runner = CliRunner()


@pytest.fixture
def cli_env(db_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("TERANGA_DATA_DIR", str(db_settings.data_dir))
    monkeypatch.setenv("TERANGA_DATABASE_URL", db_settings.resolved_database_url)
    return db_settings


def _run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_help_texts() -> None:
    for cmd in (["user", "create"], ["token", "create"], ["audit", "verify"]):
        code, out, _ = _run(*cmd, "--help")
        assert code == 0
        assert "--help" in out


def test_user_and_token_create_then_verify(cli_env: Settings) -> None:
    container = build_container(cli_env)
    try:
        slug = f"cli-{id(container) % 100000}"
        tid = make_tenant(container, slug)
        code, out, err = _run(
            "user",
            "create",
            "Admin@COJOJ.sn",
            "--tenant",
            slug,
            "--role",
            "organiser-admin",
            "--name",
            "Admin",
            "--password-stdin",
            stdin="un mot de passe solide\n",
        )
        assert code == 0, err
        assert "admin@cojoj.sn created" in out
        code, _, err = _run(
            "user",
            "create",
            "weak@cojoj.sn",
            "--tenant",
            slug,
            "--role",
            "scorer",
            "--name",
            "W",
            "--password-stdin",
            stdin="123\n",
        )
        assert code == 1
        assert "password" in err
        code, out, err = _run(
            "token",
            "create",
            "--user",
            "admin@cojoj.sn",
            "--tenant",
            slug,
            "--scope",
            "audit.read",
            "--scope",
            "identity.me.read",
            "--expires-days",
            "30",
        )
        assert code == 0, err
        secret = out.strip()
        principal = service.authenticate_token(container, secret)
        assert principal is not None
        assert principal.tenant_id == tid
        assert principal.can("audit.read")
        assert not principal.can("ticketing.order.refund")
        code, out, _ = _run("audit", "verify", "--tenant", slug)
        assert code == 0
        assert f"{slug}: ok" in out
        code, _, err = _run("audit", "verify", "--tenant", "no-such-tenant")
        assert code == 1
        code, out, err = _run("user", "disable", "admin@cojoj.sn", "--tenant", slug)
        assert code == 0, err
        assert service.authenticate_token(container, secret) is None
    finally:
        container.dispose()


def test_audit_verify_names_the_first_bad_entry(cli_env: Settings) -> None:
    container = build_container(cli_env)
    try:
        slug = f"clv-{id(container) % 100000}"
        tid = make_tenant(container, slug)
        for i in range(3):
            with container.uow(tid) as uow:
                from teranga.audit import api as audit

                audit.record(
                    uow, action="test.thing.done", actor_id=None, target_type="t", target_id=str(i)
                )
        code, out, _ = _run("audit", "head", "--tenant", slug)
        assert code == 0
        head = out.strip()
        assert head.startswith("3:")
        assert len(head) == 2 + 64
        assert _run("audit", "verify", "--tenant", slug, "--witness", head)[0] == 0
        assert _run("audit", "verify", "--tenant", slug, "--witness", "3:zz")[0] == 1
        owner = sa.create_engine(cli_env.resolved_admin_url)
        pg = owner.dialect.name == "postgresql"
        with owner.begin() as c:
            if pg:
                c.execute(sa.text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
            c.execute(
                sa.text(
                    "UPDATE audit_entries SET target_id = 'x' WHERE id = (SELECT entry_id "
                    "FROM audit_leaves WHERE tenant_id = :t AND seq = 2)"
                ).bindparams(sa.bindparam("t", type_=sa.Uuid)),
                {"t": tid},
            )
            if pg:
                c.execute(sa.text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))
        owner.dispose()
        code, _, err = _run("audit", "verify", "--tenant", slug)
        assert code == 1
        assert "first bad entry seq 2 (hash_mismatch)" in err
    finally:
        container.dispose()
