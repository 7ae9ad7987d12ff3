"""Structured logs without personal data, correlated by request id.

``configure_logging(settings)`` installs one handler on the root logger that writes one
JSON object per line (``time``, ``level``, ``logger``, ``message``, ``request_id`` and the
record's extras) or, with ``log_json = false``, a readable line. Every record first goes
through ``RedactionFilter``: phone numbers (Senegalese and E.164) and e-mail addresses are
masked in the message, in extras and in tracebacks, and extras whose key names personal
data or a secret (``DENY_KEYS``) are masked whatever their value. Logs are shipped to other
systems, often with weaker access control than the database: they must never carry PII.

``RequestIdMiddleware`` (pure ASGI) gives each request an id: a sane incoming
``X-Request-ID`` is kept (so a proxy's id follows the request), otherwise one is made; it
is set in ``request_id_var`` for the log formatter and echoed in the response header.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from teranga.config import Settings

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "teranga_request_id", default=None
)

MASK = "[redacted]"
# Key tokens (split on _ - .) that mark an extra as personal data or a secret.
DENY_KEYS = frozenset(
    {
        "password",
        "passwd",
        "phone",
        "msisdn",
        "email",
        "mail",
        "name",
        "id_number",
        "token",
        "secret",
        "authorization",
        "cookie",
        "otp",
        "pin",
        "iban",
        "address",
    }
)
_DENY_COMPOUND = ("id_number", "set-cookie", "api_key", "apikey", "private_key")

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# International numbers: + or 00, country code, 7-14 more digits, common separators.
_INTL_PHONE_RE = re.compile(r"(?<![\w+])(?:\+|00)[1-9](?:[ .\-]?\d){7,14}(?![\w])")
# Senegalese numbers written nationally: 9 digits starting 3 or 7, optionally 221-prefixed,
# grouped 2-3-2-2 or run together.
_SN_PHONE_RE = re.compile(
    r"(?<![\w+])(?:221[ .\-]?)?[37]\d[ .\-]?\d{3}[ .\-]?\d{2}[ .\-]?\d{2}(?![\w])"
)

# LogRecord attributes that are not extras.
_RESERVED = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
    | {"message", "asctime", "taskName", "request_id", "_teranga_redacted"}
)


def redact_text(text: str) -> str:
    """Mask e-mail addresses and phone numbers in free text."""
    text = _EMAIL_RE.sub(MASK, text)
    text = _INTL_PHONE_RE.sub(MASK, text)
    return _SN_PHONE_RE.sub(MASK, text)


def is_denied_key(key: str) -> bool:
    k = key.lower()
    if any(c in k for c in _DENY_COMPOUND):
        return True
    return any(token in DENY_KEYS for token in re.split(r"[_\-.\s]+", k))


def redact_value(value: Any, *, depth: int = 0) -> Any:
    """Redact strings, and dict/list contents recursively (deny-listed keys masked)."""
    if depth > 6:
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            k: (MASK if is_denied_key(str(k)) else redact_value(v, depth=depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v, depth=depth + 1) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


def record_extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")}


class RedactionFilter(logging.Filter):
    """Masks personal data in a record, in place, before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_teranga_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the log line
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact_text(message)
        record.args = None
        for key, value in record_extras(record).items():
            setattr(record, key, MASK if is_denied_key(key) else redact_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        record.exc_info = None  # formatted (and redacted) above; stop re-formatting
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        record._teranga_redacted = True
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key, value in record_extras(record).items():
            data.setdefault(key, value)
        if record.exc_text:
            data["exc"] = record.exc_text
        if record.stack_info:
            data["stack"] = record.stack_info
        return orjson.dumps(data, default=str).decode()


class TextFormatter(logging.Formatter):
    """A readable line for development, with the request id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created, dt.UTC).strftime("%H:%M:%S")
        rid = request_id_var.get()
        extras = record_extras(record)
        line = f"{when} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if rid:
            line += f" [rid={rid}]"
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the *current* sys.stderr, so redirection after set-up still works."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(settings: Settings) -> logging.Handler:
    """Install (or replace) the platform's root handler; idempotent."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_teranga", False):
            root.removeHandler(h)
    handler = _StderrHandler()
    handler._teranga = True  # type: ignore[attr-defined]
    handler.addFilter(RedactionFilter())
    handler.setFormatter(JsonFormatter() if settings.log_json else TextFormatter())
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    return handler


# -- request ids -------------------------------------------------------------------------
_SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{7,127}$")
REQUEST_ID_HEADER = b"x-request-id"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(value: str | None) -> str | None:
    """The incoming id if it is short, printable and safe to log and echo; else None."""
    if value and _SANE_ID.match(value):
        return value
    return None


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", []):
            if name == REQUEST_ID_HEADER:
                incoming = value.decode("latin-1")
                break
        rid = sane_request_id(incoming) or new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != REQUEST_ID_HEADER]
                headers.append((REQUEST_ID_HEADER, rid.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
