"""One Jinja2 environment for every page: shared layout plus each domain's templates.

Templates are looked up in ``teranga/web/templates`` first (``base.html``), then in each
domain's ``teranga/<domain>/templates`` (where they live under ``<domain>/``). Autoescape is
on everywhere. The ``jinja2.ext.i18n`` callables read the request's language from the
context variable that ``render`` sets, so ``{{ _("...") }}`` and ``{% trans %}`` follow it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from babel.dates import format_date, format_time
from babel.numbers import format_decimal
from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from teranga.domains import DOMAINS
from teranga.web import i18n

WEB_DIR = Path(__file__).resolve().parent
PACKAGE_DIR = WEB_DIR.parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
STATIC_PREFIX = "/static/"


def template_dirs() -> list[Path]:
    dirs = [TEMPLATES_DIR]
    dirs.extend(
        PACKAGE_DIR / domain / "templates"
        for domain in DOMAINS
        if (PACKAGE_DIR / domain / "templates").is_dir()
    )
    return dirs


@lru_cache(maxsize=512)
def _file_hash(path: str, mtime_ns: int) -> str:
    # mtime is part of the key so an edited file gets a new hash without a restart.
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]


_URLS: dict[str, tuple[float, str]] = {}
_URL_TTL = 2.0  # seconds: an edited file shows within this, without a stat on every render


def static_url(path: str) -> str:
    """``/static/<path>?v=<content hash>``: browsers may cache it for as long as it lasts."""
    now = time.monotonic()
    hit = _URLS.get(path)
    if hit is not None and now - hit[0] < _URL_TTL:
        return hit[1]
    url = _static_url(path)
    _URLS[path] = (now, url)
    return url


def _static_url(path: str) -> str:
    clean = path.lstrip("/")
    target = (STATIC_DIR / clean).resolve()
    if STATIC_DIR not in target.parents or not target.is_file():
        raise ValueError(f"no static file {path!r}")
    return f"{STATIC_PREFIX}{clean}?v={_file_hash(str(target), target.stat().st_mtime_ns)}"


def _fmt_date(value: dt.date | dt.datetime, fmt: str = "medium") -> str:
    return str(format_date(value, format=fmt, locale=i18n.get_language()))


def _fmt_time(value: dt.time | dt.datetime, fmt: str = "short") -> str:
    if isinstance(value, dt.datetime):
        # Africa/Dakar is UTC all year (no daylight saving): UTC wall time is local time.
        value = value.astimezone(dt.UTC)
    return str(format_time(value, format=fmt, locale=i18n.get_language(), tzinfo=dt.UTC))


def _fmt_number(value: int | float) -> str:
    return str(format_decimal(value, locale=i18n.get_language()))


def _url_with(base: str, **params: Any) -> str:
    """``base`` with a query string of the non-empty params (for filter links)."""
    query = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{base}?{urlencode(query)}" if query else base


def build_environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in template_dirs()]),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext,
        i18n.ngettext,
        newstyle=True,
        pgettext=i18n.pgettext,
        npgettext=i18n.npgettext,
    )
    env.globals.update(
        static_url=static_url,
        url_with=_url_with,
    )
    env.filters.update(date=_fmt_date, time=_fmt_time, number=_fmt_number)
    return env


@lru_cache(maxsize=1)
def environment() -> Environment:
    return build_environment()


def request_language(request: Request) -> str:
    lang = getattr(request.state, "lang", None)
    if isinstance(lang, str) and lang in i18n.languages():
        return lang
    return i18n.default_language()


def is_htmx(request: Request) -> bool:
    """True for an htmx request (it swaps a fragment, not the whole page)."""
    return request.headers.get("HX-Request") == "true"


def base_context(request: Request) -> dict[str, Any]:
    env = environment()
    lang = request_language(request)
    path = request.url.path
    current = path + (f"?{request.url.query}" if request.url.query else "")
    return {
        "request": request,
        "lang": lang,
        "languages": i18n.languages(),
        "_": env.globals["gettext"],
        # Unconverted: a pending anonymous token only sets its cookie when a form renders it.
        "csrf_token": getattr(request.state, "csrf_token", "") or "",
        "static_url": static_url,
        "current_path": path,
        "current_url": current,
    }


def render_to_string(request: Request, name: str, context: Mapping[str, Any] | None = None) -> str:
    env = environment()
    values = base_context(request)
    values.update(context or {})
    # A domain's template ("programme/home.html") reads its own catalogue first.
    domain = name.split("/", 1)[0] if "/" in name else None
    with i18n.use_language(values["lang"]), i18n.use_domain(domain):
        return env.get_template(name).render(values)


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render ``name`` in the request's language as an HTML response."""
    body = render_to_string(request, name, context)
    response = HTMLResponse(body, status_code=status_code, headers=dict(headers or {}))
    # The same URL may answer a fragment to htmx and a page to a browser: keep them apart.
    response.headers.append("Vary", "HX-Request")
    return response


class StaticAssets(StaticFiles):
    """Static files with cache headers: a ``?v=<hash>`` URL (``static_url``) never changes,
    so a returning visitor on 3G does not even revalidate it."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
            versioned = bool(query.get("v"))
            response.headers["Cache-Control"] = (
                "public, max-age=31536000, immutable" if versioned else "public, max-age=3600"
            )
        return response
