"""``teranga results import FILE...``: one outcome line per file, exit 1 on a rejection."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from teranga.cli.main import app
from teranga.container import build_container
from teranga.results import service
from tests.conftest import make_settings
from tests.factories import make_tenant

ODF = Path(__file__).resolve().parents[1] / "data" / "odf"


def test_cli_imports_in_order_and_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from teranga import schema

    settings = make_settings(tmp_path)
    schema.upgrade(settings.resolved_admin_url)
    container = build_container(settings)
    tid = make_tenant(container, settings.default_tenant)
    monkeypatch.setenv("TERANGA_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    files = [ODF / n for n in ("schedule_v1.xml", "athm100m_official_v3.xml")]
    ok = runner.invoke(app, ["results", "import", *map(str, files)])
    assert ok.exit_code == 0, ok.output
    assert "schedule_v1.xml: applied DT_SCHEDULE" in ok.output
    again = runner.invoke(
        app,
        ["results", "import", str(ODF / "athm100m_unofficial_v2.xml"), str(ODF / "bad_xxe.xml")],
    )
    assert again.exit_code == 1
    assert "athm100m_unofficial_v2.xml: stale" in again.output
    assert "bad_xxe.xml: rejected" in again.output
    with container.uow(tid) as uow:
        assert service.unit_view(uow, "ATHM100M--------------FNL-000100--")["official"]
    container.dispose()
    missing = runner.invoke(app, ["results", "import", str(tmp_path / "nope.xml")])
    assert missing.exit_code == 1
