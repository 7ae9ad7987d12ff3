"""Deny by default, checked in one place: every route declares require(...) or public."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI

from teranga.identity.api import public, require
from teranga.web.app import create_app
from tests.conftest import make_settings
from tests.routes import authz_markers, is_excluded, iter_routes


def unguarded_routes(app: FastAPI) -> list[str]:
    bad = []
    for route in iter_routes(app):
        if is_excluded(route.path):
            continue
        if route.dependant is None or not authz_markers(route.dependant):
            bad.append(f"{','.join(sorted(route.methods))} {route.path}")
    return bad


def test_every_route_is_guarded_or_explicitly_public(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    routes = list(iter_routes(app))
    assert len(routes) > 10  # the walk sees the domains' routes, not an empty list
    assert unguarded_routes(app) == []


def test_the_walk_catches_a_forgotten_guard(tmp_path: Path) -> None:
    """Negative control: a route with no guard, nested in an included router, is caught."""
    app = create_app(make_settings(tmp_path))
    inner = APIRouter()

    @inner.get("/api/v1/forgotten/{thing_id}")
    def forgotten(thing_id: str) -> dict[str, str]:
        return {}

    @inner.get("/api/v1/guarded", dependencies=[Depends(require("x.y.read"))])
    def guarded() -> dict[str, str]:
        return {}

    @inner.get("/open", dependencies=[Depends(public)])
    def open_page() -> dict[str, str]:
        return {}

    outer = APIRouter()
    outer.include_router(inner)
    app.include_router(outer)
    assert unguarded_routes(app) == ["GET /api/v1/forgotten/{thing_id}"]
