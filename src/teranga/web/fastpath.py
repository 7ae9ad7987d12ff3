"""Fast paths: a few hot JSON endpoints served ahead of the middleware stack and router.

FastAPI's fixed cost per request (a dozen middleware layers, then route matching across
every route of the platform) is several times the work of a gate scan. A domain registers
a ``FastRoute`` for one method and path; this outermost middleware serves the common case
itself: a body within bounds, a principal found in the per-process token or session
caches with the route's permission (``identity.api.cached_principal``), and a handler
that answers. Anything else — no cached credential, a malformed body, a handler that
returns None or raises — goes through the full app with the body replayed, so errors,
authentication, CSRF and validation keep their one implementation.

A handler may therefore run and then be run again by the full path: it must be safe to
repeat (a scan is idempotent by its nonce).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from teranga.container import Container
from teranga.identity.api import Principal, cached_principal
from teranga.platform.logging import (
    REQUEST_ID_HEADER,
    new_request_id,
    request_id_var,
    sane_request_id,
)
from teranga.web import i18n

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, str], bytes, Principal], Awaitable[bytes | None]]
EXTRA = "web.fast_routes"


@dataclass(frozen=True)
class FastRoute:
    method: str
    path: re.Pattern[str]  # full match of the request path; named groups are passed on
    permission: str
    handler: Handler  # JSON body of a 200 answer, or None for "take the full path"
    max_body: int = 4096


def register(container: Container, route: FastRoute) -> None:
    container.extras.setdefault(EXTRA, []).append(route)


def _replaying(chunks: list[bytes], more: bool, receive: Receive) -> Receive:
    """``receive`` for the full path: the body chunks already read, as they came, then the
    client's own (the rest of the body when ``more``, else only a disconnect)."""
    pending = list(chunks)

    async def replay() -> Message:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": more or bool(pending)}
        return await receive()

    return replay


class FastPaths:
    def __init__(self, app: ASGIApp, container: Container) -> None:
        self.app = app
        self.container = container

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        routes: list[FastRoute] = self.container.extras.get(EXTRA, [])
        if scope["type"] == "http":
            for route in routes:
                if scope["method"] == route.method:
                    match = route.path.fullmatch(scope["path"])
                    if match is not None:
                        await self._serve(route, match.groupdict(), scope, receive, send)
                        return
        await self.app(scope, receive, send)

    async def _serve(
        self, route: FastRoute, params: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        chunks: list[bytes] = []
        size, more = 0, True
        while more and size <= route.max_body:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = bool(message.get("more_body", False))
        replay = _replaying(chunks, more, receive)
        # Too big for a fast answer, or no cached credential: the full path decides.
        if more or size > route.max_body:
            await self.app(scope, replay, send)
            return
        principal = cached_principal(self.container, Request(scope), route.permission)
        if principal is None:
            await self.app(scope, replay, send)
            return
        body = b"".join(chunks)
        lang = i18n.language_for_scope(scope)
        incoming = next((v for k, v in scope["headers"] if k == REQUEST_ID_HEADER), None)
        rid = sane_request_id(incoming.decode("latin-1") if incoming else None) or new_request_id()
        rid_token = request_id_var.set(rid)
        try:
            with i18n.use_language(lang):
                answer = await route.handler(params, body, principal)
        except Exception:  # the full path runs it again and answers (or logs) properly
            log.debug("fast path fell back", exc_info=True)
            answer = None
        finally:
            request_id_var.reset(rid_token)
        if answer is None:
            await self.app(scope, replay, send)
            return
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(answer)).encode()),
            (REQUEST_ID_HEADER, rid.encode("latin-1")),
            (b"content-language", lang.encode()),
            (b"vary", b"Accept-Language, Cookie"),
        ]
        stats = self.container.extras.setdefault("web.fast_served", {})
        stats[route.path.pattern] = stats.get(route.path.pattern, 0) + 1
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


def install(app: Any, container: Container) -> None:
    """Add the fast-path middleware (create_app, after every other middleware but streams)."""
    app.add_middleware(FastPaths, container=container)
