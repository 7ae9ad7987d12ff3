"""The platform's domain packages, in dependency order.

The app factory, the CLI and Alembic discover each domain's ``models``, ``web`` (a
``router``) and ``cli`` (an ``app`` Typer group) modules from this list, so adding a
domain is one line here.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

DOMAINS: tuple[str, ...] = (
    "tenancy",
    "identity",
    "audit",
    "privacy",
    "programme",
    "ticketing",
    "access",
    "results",
    "transport",
    "webhooks",
)


def domain_modules(kind: str) -> list[ModuleType]:
    """Import ``teranga.<domain>.<kind>`` for every domain that has one."""
    found = []
    for name in DOMAINS:
        qual = f"teranga.{name}.{kind}"
        if importlib.util.find_spec(f"teranga.{name}") is None:
            continue
        if importlib.util.find_spec(qual) is None:
            continue
        found.append(importlib.import_module(qual))
    return found


def load_all_models() -> None:
    """Import every model module so Base.metadata knows all tables."""
    importlib.import_module("teranga.platform.outbox")
    domain_modules("models")
