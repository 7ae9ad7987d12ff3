"""The embedded mode makes and keeps its secret key; production refuses to start without one."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from teranga.config import Settings
from teranga.container import build_container
from teranga.platform.errors import ConfigurationError


def test_dev_generates_a_private_key_once(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path, secret_key="")
    build_container(first).dispose()
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.secret_key) >= 32
    again = Settings(data_dir=tmp_path, secret_key="")
    build_container(again).dispose()
    assert again.secret_key == first.secret_key


def test_prod_requires_an_explicit_long_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="TERANGA_SECRET_KEY is required"):
        build_container(Settings(data_dir=tmp_path, env="prod", secret_key=""))
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        build_container(Settings(data_dir=tmp_path, secret_key="short"))
