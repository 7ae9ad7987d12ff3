"""Residency: a store of personal data outside the allowed jurisdictions stops start-up."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from teranga.cli.main import app as cli
from teranga.config import Settings
from teranga.container import build_container
from teranga.platform.clock import FrozenClock
from teranga.platform.errors import ResidencyViolation
from teranga.privacy import api as privacy
from teranga.web.app import create_app
from tests.conftest import make_settings

NOW = dt.datetime(2026, 10, 31, 12, 0, tzinfo=dt.UTC)
FR_BACKUP = {"name": "backup", "kind": "backup", "jurisdiction": "FR", "operator": "EuroCloud"}


def _auth(expires: dt.datetime, **kw: str) -> dict[str, object]:
    return {
        "cdp_ref": "CDP-AT-2026-042",
        "store": "backup",
        "jurisdiction": "FR",
        "scope": "encrypted off-site backups",
        "expires_at": expires,
        **kw,
    }


def test_declared_stores_include_database_broker_and_kms(tmp_path: Path) -> None:
    s = make_settings(tmp_path)
    assert {(x.name, x.jurisdiction) for x in s.declared_stores()} == {
        ("database", "SN"),
        ("broker", "SN"),
        ("kms", "SN"),
    }
    assert all(st.allowed for st in privacy.residency_report(s))


def test_build_container_fails_closed_on_a_foreign_backup(tmp_path: Path) -> None:
    s = make_settings(tmp_path, stores=[FR_BACKUP])
    with pytest.raises(ResidencyViolation) as err:
        build_container(s)
    msg = err.value.message
    assert "'backup'" in msg
    assert "FR" in msg
    assert "SN" in msg
    assert "EuroCloud" in msg
    assert err.value.details["stores"] == ["backup"]
    assert err.value.status == 451
    assert not (tmp_path / "teranga.db").exists()  # nothing connected or created
    with pytest.raises(ResidencyViolation):
        create_app(s)


def test_in_country_or_non_personal_stores_start(tmp_path: Path) -> None:
    s = make_settings(
        tmp_path,
        stores=[
            {**FR_BACKUP, "jurisdiction": "SN", "operator": "Sénégal Numérique"},
            {"name": "cdn", "kind": "files", "jurisdiction": "US", "holds_personal_data": False},
        ],
    )
    build_container(s).dispose()


def test_a_foreign_database_or_log_sink_is_refused(tmp_path: Path) -> None:
    s = make_settings(
        tmp_path,
        stores=[
            {"name": "database", "kind": "database", "jurisdiction": "de"},
            {"name": "logs", "kind": "log_sink", "jurisdiction": "US", "operator": "SaaS"},
        ],
    )
    with pytest.raises(ResidencyViolation) as err:
        privacy.enforce_residency(s, now=NOW)
    assert err.value.details["stores"] == ["database", "logs"]
    assert "DE" in err.value.message


def test_allowed_jurisdictions_can_widen(tmp_path: Path) -> None:
    s = make_settings(tmp_path, stores=[FR_BACKUP], allowed_jurisdictions=["sn", "fr"])
    privacy.enforce_residency(s, now=NOW)


def test_transfer_authorisation_allows_until_expiry(tmp_path: Path) -> None:
    s = make_settings(
        tmp_path,
        stores=[FR_BACKUP],
        transfer_authorisations=[_auth(NOW + dt.timedelta(days=30))],
    )
    clock = FrozenClock(NOW)
    build_container(s, clock=clock).dispose()
    status = privacy.require_store(s, "backup", now=NOW)
    assert status.authorisation is not None
    assert "CDP-AT-2026-042" in status.reason

    clock.advance(days=31)
    with pytest.raises(ResidencyViolation, match="CDP-AT-2026-042 expired"):
        build_container(s, clock=clock)
    with pytest.raises(ResidencyViolation):
        privacy.require_store(s, "backup", now=clock.now())


def test_authorisation_for_another_store_or_country_does_not_count(tmp_path: Path) -> None:
    later = NOW + dt.timedelta(days=30)
    s = make_settings(
        tmp_path,
        stores=[FR_BACKUP],
        transfer_authorisations=[_auth(later, store="files"), _auth(later, jurisdiction="BE")],
    )
    with pytest.raises(ResidencyViolation):
        privacy.enforce_residency(s, now=NOW)


def test_authorisation_needs_a_cdp_ref_and_an_aware_expiry(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cdp_ref"):
        make_settings(tmp_path, transfer_authorisations=[_auth(NOW, cdp_ref="")])
    with pytest.raises(ValueError, match="timezone"):
        make_settings(tmp_path, transfer_authorisations=[_auth(NOW.replace(tzinfo=None))])


def test_runtime_write_to_undeclared_store_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ResidencyViolation, match="not declared"):
        privacy.require_store(make_settings(tmp_path), "s3-export", now=NOW)
    assert privacy.require_store(make_settings(tmp_path), "database", now=NOW).allowed


@pytest.fixture
def env_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray teranga.toml
    monkeypatch.setenv("TERANGA_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("TERANGA_STORES", json.dumps([FR_BACKUP]))
    return tmp_path


def test_env_declared_store_is_read(env_stores: Path) -> None:
    assert [s.jurisdiction for s in Settings().stores] == ["FR"]


@pytest.mark.parametrize(
    "argv",
    [
        ["serve"],
        ["demo", "--load-only"],
        ["privacy", "residency"],
        [
            *("tenant", "create", "x", "--name", "X", "--legal-entity", "X"),
            *("--representative-sn", "Dakar", "--dpo-contact", "dpo@x.sn"),
        ],
    ],
)
def test_cli_exits_with_a_clear_error(env_stores: Path, argv: list[str]) -> None:
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "data residency violation" in result.output
    assert "'backup'" in result.output
    assert "FR" in result.output
    assert not (env_stores / "var" / "teranga.db").exists()


def test_cli_residency_report_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TERANGA_DATA_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(cli, ["privacy", "residency"])
    assert result.exit_code == 0, result.output
    assert "database" in result.output
    assert "BAD" not in result.output


def test_an_sms_gateway_is_a_declared_store(tmp_path: Path) -> None:
    """Phone numbers and ticket links flow to the SMS gateway: it is in the residency
    report when used, and a foreign one stops start-up like any other store."""
    sms = {"backend": "http", "url": "https://sms.example.sn/send", "token": "t"}
    s = make_settings(tmp_path, sms=sms)
    assert ("sms-gateway", "SN") in {(x.name, x.jurisdiction) for x in s.declared_stores()}
    foreign = make_settings(
        tmp_path,
        sms=sms,
        stores=[{"name": "sms-gateway", "kind": "gateway", "jurisdiction": "IE"}],
    )
    with pytest.raises(ResidencyViolation) as err:
        privacy.enforce_residency(foreign, now=NOW)
    assert err.value.details["stores"] == ["sms-gateway"]
    assert "sms-gateway" not in {x.name for x in make_settings(tmp_path).declared_stores()}
