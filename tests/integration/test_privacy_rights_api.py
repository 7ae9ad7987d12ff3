"""Data-subject rights over HTTP and from the CLI (export, erase, purge)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from teranga.audit import api as audit
from teranga.cli.main import app as cli_app
from teranga.config import Settings
from teranga.container import Container, build_container
from teranga.tenancy import api as tenancy
from tests.factories import app_container, bearer, make_principal_token
from tests.integration.test_privacy_rights import World, seed, traces

EXPORT = "/api/v1/privacy/subjects/export"
ERASE = "/api/v1/privacy/subjects/erase"


def test_export_and_erase_over_http(client: TestClient) -> None:
    container = app_container(client)
    w: World = seed(container)
    admin = bearer(make_principal_token(container, w.tenant, "organiser-admin"))
    box = bearer(make_principal_token(container, w.tenant, "box-office"))
    body = {"kind": "phone", "value": w.a.e164, "reason": "DSAR-2026-100"}

    assert client.post(EXPORT, json=body).status_code == 401
    denied = client.post(EXPORT, json=body, headers=box)
    assert denied.status_code == 403
    assert client.post(ERASE, json=body, headers=box).status_code == 403
    bad = client.post(EXPORT, json={**body, "value": "12"}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["code"]
    assert client.post(EXPORT, json={**body, "extra": 1}, headers=admin).status_code == 422

    got = client.post(EXPORT, json=body, headers=admin)
    assert got.status_code == 200
    assert got.headers["cache-control"] == "no-store"
    doc = got.json()
    assert doc["records"] == {"ticketing": 5, "access": 2}
    assert {t["id"] for t in doc["data"]["ticketing"]["tickets"]} == {str(t) for t in w.a.tickets}
    pdf = client.post(EXPORT, json={**body, "format": "pdf"}, headers=admin)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")

    erased = client.post(ERASE, json=body, headers=admin)
    assert erased.status_code == 200
    assert erased.json() == {
        "found": {"ticketing": 5, "access": 2},
        "erased": {"ticketing": 5, "access": 0},
        "keep_legal": True,
    }
    acc = {"kind": "accreditation", "value": str(w.a.accreditation), "reason": "DSAR-2026-101"}
    assert client.post(ERASE, json=acc, headers=admin).json()["erased"] == {"access": 1}
    assert traces(container, w) == []
    with container.uow(w.tenant) as uow:
        assert audit.verify(uow) is None
        actions = [e.action for e in audit.entries(uow, limit=1000)]
    assert actions.count("privacy.subject.exported") == 2
    assert actions.count("privacy.subject.erased") == 2


@pytest.fixture
def cli_env(db_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Container]:
    monkeypatch.setenv("TERANGA_DATA_DIR", str(db_settings.data_dir))
    monkeypatch.setenv("TERANGA_DATABASE_URL", db_settings.resolved_database_url)
    container = build_container(db_settings)
    try:
        yield container
    finally:
        container.dispose()


def test_cli_export_erase_and_purge(cli_env: Container, tmp_path: Path) -> None:
    runner = CliRunner()
    w = seed(cli_env)
    with cli_env.uow() as uow:
        slug = tenancy.get(uow, w.tenant).slug
    out = tmp_path / "export.json"
    args = ["privacy", "export", "--tenant", slug, "--phone", w.a.phone, "--reason", "DSAR-1"]
    res = runner.invoke(cli_app, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["records"] == {"ticketing": 5, "access": 2}
    assert out.stat().st_mode & 0o077 == 0
    pdf = tmp_path / "export.pdf"
    assert runner.invoke(cli_app, [*args, "--out", str(pdf)]).exit_code == 0
    assert pdf.read_bytes().startswith(b"%PDF-")
    two = runner.invoke(cli_app, [*args, "--email", "a@b.sn"])
    assert two.exit_code != 0

    res = runner.invoke(
        cli_app,
        ["privacy", "erase", "--tenant", slug, "--phone", w.a.phone, "--reason", "DSAR-2", "--yes"],
    )
    assert res.exit_code == 0, res.output
    assert "ticketing: 5 found, 5 erased" in res.stdout
    assert "access: 2 found, 0 erased" in res.stdout

    purge = ["privacy", "purge", "--tenant", slug, "--now", "2029-06-01T00:00:00+00:00"]
    dry = runner.invoke(cli_app, [*purge, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"{slug}: would purge " in dry.stdout
    assert "access.accreditation=1" in dry.stdout
    real = runner.invoke(cli_app, purge)
    assert real.exit_code == 0, real.output
    assert "access.accreditation=1" in real.stdout
    again = runner.invoke(cli_app, purge)
    assert f"{slug}: purged 0 " in again.stdout
    assert traces(cli_env, w) == []
