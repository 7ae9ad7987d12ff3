"""Walk an app's routes (FastAPI nests included routers; this flattens them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from teranga.identity.auth import AUTHZ_MARKERS

EXCLUDED_PREFIXES = ("/static",)
EXCLUDED_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/api/v1/openapi.json", "/docs", "/redoc"}
)


@dataclass(frozen=True)
class RouteInfo:
    path: str
    methods: frozenset[str]
    dependant: Any  # fastapi.dependencies.models.Dependant, or None for mounts
    endpoint: Callable[..., Any] | None


def iter_routes(app: FastAPI) -> Iterator[RouteInfo]:
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI flattens included routers itself
        contexts: Any = app.routes
    else:
        contexts = iter_route_contexts(app.routes)
    for ctx in contexts:
        path = getattr(ctx, "path_format", None) or getattr(ctx, "path", "") or ""
        yield RouteInfo(
            path=path,
            methods=frozenset(getattr(ctx, "methods", None) or ()),
            dependant=getattr(ctx, "dependant", None),
            endpoint=getattr(ctx, "endpoint", None),
        )


def is_excluded(path: str) -> bool:
    return path in EXCLUDED_PATHS or path.startswith(EXCLUDED_PREFIXES)


def authz_markers(dependant: Any) -> set[str]:
    """Every require(...)/public marker in a route's dependency tree."""
    found: set[str] = set()
    stack = [dependant]
    while stack:
        dep = stack.pop()
        marker = AUTHZ_MARKERS.get(getattr(dep, "call", None))  # type: ignore[arg-type]
        if marker:
            found.add(marker)
        stack.extend(getattr(dep, "dependencies", ()))
    return found
