"""The register of processings (Loi 2008-12 L1) is validated before the app starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from teranga.cli.main import app as cli
from teranga.platform.errors import ValidationFailed
from teranga.privacy import api as privacy
from teranga.privacy.register import REGISTER_PATH, parse_register
from teranga.web.app import create_app
from tests.conftest import make_settings


def _shipped() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(REGISTER_PATH.read_text(encoding="utf-8"))
    return data


def test_shipped_register_is_valid_and_complete() -> None:
    reg = privacy.register()
    ids = {p.id for p in reg.processings}
    assert {"ticketing", "access", "transport", "results", "identity"} <= ids
    ticketing = reg.get("ticketing")
    assert "phone" in ticketing.data_categories
    assert ticketing.legal_basis == "contract"
    assert ticketing.retention == "P2Y"
    assert all(p.cdp_ref for p in reg.processings)


@pytest.mark.parametrize("cdp_ref", [None, "", "   "])
def test_a_processing_without_cdp_ref_fails(cdp_ref: str | None) -> None:
    data = _shipped()
    entry = data["processings"][0]
    if cdp_ref is None:
        del entry["cdp_ref"]
    else:
        entry["cdp_ref"] = cdp_ref
    with pytest.raises(ValidationFailed) as err:
        parse_register(yaml.safe_dump(data))
    assert "cdp_ref" in err.value.field


@pytest.mark.parametrize(
    ("field", "value"),
    [("legal_basis", "because"), ("retention", "two years"), ("data_categories", [])],
)
def test_other_invalid_entries_fail(field: str, value: object) -> None:
    data = _shipped()
    data["processings"][0][field] = value
    with pytest.raises(ValidationFailed) as err:
        parse_register(yaml.safe_dump(data))
    assert field in err.value.field


def test_duplicate_ids_and_demo_refs_in_production_fail() -> None:
    data = _shipped()
    procs = data["processings"]
    with pytest.raises(ValidationFailed, match="duplicate"):
        parse_register(yaml.safe_dump({**data, "processings": [procs[0], procs[0]]}))
    with pytest.raises(ValidationFailed, match="demonstration"):
        parse_register(REGISTER_PATH.read_text(encoding="utf-8"), env="prod")
    for p in procs:
        p["cdp_ref"] = "CDP-2026-" + p["id"]
    assert parse_register(yaml.safe_dump(data), env="prod").get("access").cdp_ref == (
        "CDP-2026-access"
    )


def test_app_start_validates_the_register(tmp_path: Path) -> None:
    # env=prod with the demonstration references: the app refuses to start.
    with pytest.raises(ValidationFailed, match="demonstration"):
        create_app(make_settings(tmp_path, env="prod"))


def test_cli_prints_the_register(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TERANGA_DATA_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(cli, ["privacy", "register"])
    assert result.exit_code == 0, result.output
    exported = json.loads(result.output)
    assert [p["id"] for p in exported["processings"]] == [
        p.id for p in privacy.register().processings
    ]
