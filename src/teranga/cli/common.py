from __future__ import annotations

from typing import Any, NoReturn

import typer

from teranga.config import Settings, load_settings
from teranga.container import Container, build_container
from teranga.platform.errors import TerangaError


class CliState:
    def __init__(self, overrides: dict[str, Any]) -> None:
        self.overrides = overrides
        self._settings: Settings | None = None
        self._container: Container | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(**self.overrides)
        return self._settings

    def container(self) -> Container:
        if self._container is None:
            try:
                self._container = build_container(self.settings())
            except TerangaError as exc:  # e.g. a residency violation: fail closed, clearly
                fail(exc.message)
        return self._container


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        obj = CliState({})
        ctx.find_root().obj = obj
    return obj


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
