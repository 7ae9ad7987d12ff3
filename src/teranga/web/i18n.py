"""Translations: French first, English second, msgids in English.

Every domain owns a catalogue at ``src/teranga/<domain>/locale/<lang>/LC_MESSAGES/messages.po``
and the web layer has its own under ``src/teranga/web/locale``. They are read with Babel at
start-up, compiled in memory (no ``.mo`` files in the repository) and merged into one
translation object per language; on a duplicate msgid the web layer's wins, then the later
domain's.

One msgid has one translation per domain, not globally: "until" may be "jusqu'à" in the
programme and "au" on an accreditation badge. While a domain's template renders (or inside
``use_domain``), that domain's catalogue is consulted first, then the merged one.

The language of the current request lives in a context variable set by ``I18nMiddleware``,
so ``gettext`` works from any Python code (services, schemas, templates) without passing the
request around. FastAPI runs plain ``def`` endpoints in a thread pool that copies the
context, so the language follows the request there too.

Language choice, first match wins: ``?lang=``, the ``lang`` cookie (set by ``/lang/{code}``),
``Accept-Language``, then the first configured language (``fr``).
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, Translations
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from teranga.domains import DOMAINS

PACKAGE_DIR = Path(__file__).resolve().parent.parent
WEB_LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DEFAULT_LANGUAGES: tuple[str, ...] = ("fr", "en")
COOKIE_NAME = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

_state: dict[str, tuple[str, ...]] = {"languages": DEFAULT_LANGUAGES}
_current: ContextVar[str] = ContextVar("teranga_lang", default=DEFAULT_LANGUAGES[0])
_domain: ContextVar[str | None] = ContextVar("teranga_i18n_domain", default=None)
_cache: dict[tuple[str, str | None], Translations] = {}
_signature: dict[str, object] = {}
_lock = threading.Lock()


# -- catalogues ------------------------------------------------------------------------
def catalogue_dirs() -> list[Path]:
    """Locale directories, later ones winning on a duplicate msgid: each domain's, then the
    web layer's (the shared layout reads the same on every page)."""
    dirs = [PACKAGE_DIR / domain / "locale" for domain in DOMAINS]
    dirs.append(WEB_LOCALE_DIR)
    return dirs


def catalogue_files(lang: str) -> list[Path]:
    files = []
    for base in catalogue_dirs():
        po = base / lang / "LC_MESSAGES" / "messages.po"
        if po.is_file():
            files.append(po)
    return files


def read_catalogue(path: Path, lang: str) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=lang)


def _compile(catalog: Catalog) -> Translations:
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(fp=buf)


def build_translations(lang: str, domain: str | None = None) -> Translations:
    """Merge every catalogue for ``lang``; an untranslated msgid falls back to itself.

    With ``domain``, that domain's catalogue is merged last so its translations win.
    """
    merged = Translations()
    files = catalogue_files(lang)
    own = PACKAGE_DIR / domain / "locale" / lang / "LC_MESSAGES" / "messages.po" if domain else None
    for path in files:
        if path != own:
            merged.merge(_compile(read_catalogue(path, lang)))
    if own is not None and own.is_file():
        merged.merge(_compile(read_catalogue(own, lang)))
    return merged


def configure(languages: Sequence[str] | None = None) -> None:
    """Set the supported languages (first is the default) and (re)load every catalogue."""
    langs = tuple(languages or DEFAULT_LANGUAGES)
    if not langs:
        raise ValueError("at least one language is required")
    # Each create_app calls this: skip the rebuild when nothing changed (tests build many apps).
    signature = (langs, _catalogue_signature(langs))
    if _signature.get("last") == signature:
        return
    built = {
        (lang, domain): build_translations(lang, domain)
        for lang in langs
        for domain in (None, *DOMAINS)
    }
    with _lock:
        _state["languages"] = langs
        _cache.clear()
        _cache.update(built)
        _signature["last"] = signature


def _catalogue_signature(langs: Sequence[str]) -> tuple[tuple[str, int], ...]:
    return tuple(
        (str(path), path.stat().st_mtime_ns) for lang in langs for path in catalogue_files(lang)
    )


def languages() -> tuple[str, ...]:
    return _state["languages"]


def default_language() -> str:
    return languages()[0]


def translations(lang: str, domain: str | None = None) -> Translations:
    key = (lang, domain if domain in DOMAINS else None)
    found = _cache.get(key)
    if found is None:
        found = build_translations(*key)
        with _lock:
            _cache[key] = found
    return found


def _active() -> Translations:
    return translations(_current.get(), _domain.get())


# -- current language --------------------------------------------------------------------
def get_language() -> str:
    return _current.get()


@contextlib.contextmanager
def use_language(lang: str) -> Iterator[None]:
    token = _current.set(lang if lang in languages() else default_language())
    try:
        yield
    finally:
        _current.reset(token)


@contextlib.contextmanager
def use_domain(domain: str | None) -> Iterator[None]:
    """Look msgids up in ``domain``'s catalogue first (render() does this per template)."""
    token = _domain.set(domain if domain in DOMAINS else None)
    try:
        yield
    finally:
        _domain.reset(token)


def gettext(message: str) -> str:
    return str(_active().gettext(message))


def ngettext(singular: str, plural: str, n: int) -> str:
    return str(_active().ngettext(singular, plural, n))


def pgettext(context: str, message: str) -> str:
    return str(_active().pgettext(context, message))


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return str(_active().npgettext(context, singular, plural, n))


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a msgid for extraction without translating it now (translated where shown)."""
    return message


def lazy_gettext(message: str) -> LazyProxy:
    """A string translated when used (module-level constants, form labels)."""
    return LazyProxy(gettext, message, enable_cache=False)


# -- negotiation ---------------------------------------------------------------------------
def _normalise(code: str) -> str:
    return code.strip().lower().replace("_", "-").split("-", 1)[0]


def parse_accept_language(header: str) -> list[str]:
    """Primary language tags by decreasing quality (``fr-SN;q=0.8`` -> ``fr``)."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if quality <= 0 or tag.strip() == "*":
            continue
        weighted.append((-quality, index, _normalise(tag)))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(
    *,
    query_lang: str | None,
    cookie_lang: str | None,
    accept_language: str | None,
    supported: Sequence[str] | None = None,
) -> str:
    langs = tuple(supported or languages())
    for candidate in (query_lang, cookie_lang):
        if candidate and _normalise(candidate) in langs:
            return _normalise(candidate)
    for tag in parse_accept_language(accept_language or ""):
        if tag in langs:
            return tag
    return langs[0]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def language_for_scope(scope: Scope) -> str:
    query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
    cookie_lang = None
    raw_cookie = _header(scope, b"cookie")
    if raw_cookie:
        jar: SimpleCookie = SimpleCookie()
        with contextlib.suppress(Exception):  # a malformed cookie header is ignored, not fatal
            jar.load(raw_cookie)
        if COOKIE_NAME in jar:
            cookie_lang = jar[COOKIE_NAME].value
    return negotiate(
        query_lang=next(iter(query.get("lang", [])), None),
        cookie_lang=cookie_lang,
        accept_language=_header(scope, b"accept-language"),
    )


class I18nMiddleware:
    """Pure ASGI middleware: picks the language, exposes it and tags the response.

    Sets ``request.state.lang`` and the context variable for the whole request, and adds
    ``Content-Language`` and ``Vary`` so caches keep French and English apart.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path", "").startswith(
            "/static/"
        ):
            # Static files are the same in every language: keep them cacheable as such.
            await self.app(scope, receive, send)
            return
        lang = language_for_scope(scope)
        scope.setdefault("state", {})["lang"] = lang

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                if not any(k.lower() == b"content-language" for k, _ in headers):
                    headers.append((b"content-language", lang.encode()))
                headers.append((b"vary", b"Accept-Language, Cookie"))
                message = {**message, "headers": headers}
            await send(message)

        token = _current.set(lang)
        try:
            await self.app(scope, receive, send_with_language)
        finally:
            _current.reset(token)


def install(app: Any, languages: Sequence[str] | None = None) -> None:
    """Load the catalogues and add the middleware (called once by create_app)."""
    configure(languages)
    app.add_middleware(I18nMiddleware)
