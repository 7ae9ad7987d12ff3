"""Webhooks, pure logic: the event catalogue, payload projection, signatures, URL rules.

Signatures follow the Standard Webhooks specification (standardwebhooks.com, v1.0):

- the secret is ``whsec_`` + base64 of 32 random bytes; the HMAC key is the decoded bytes;
- each request carries ``webhook-id`` (the same on every retry of one event),
  ``webhook-timestamp`` (integer Unix seconds of this attempt) and ``webhook-signature``:
  space-separated ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` entries, one per
  valid secret (two during the grace period after a rotation);
- the body is the exact bytes signed: ``{"type", "timestamp", "data"}`` as JSON.

Payloads leave the platform (an outbound gateway), so they MUST carry no personal data.
Every event type declares the fields it may carry and of what kind (id, code, integer,
boolean, time); anything else in the internal event is dropped, and a value that does not
look like its kind (free text in a "code" field) is dropped too. Names, phones, e-mails and
free-text reasons therefore cannot leave even if a domain adds them to its events later.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import os
import re
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from teranga.platform.errors import ValidationFailed

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's secret prefix, not a secret
SIGNATURE_VERSION = "v1"
WILDCARD = "*"
PING = "ping"
MAX_URL_LENGTH = 2000
RESPONSE_EXCERPT = 512  # bytes of a receiver's answer kept in the delivery log


class EndpointStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


# -- field kinds ------------------------------------------------------------------------
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+-]{0,99}")


def _is_id(v: Any) -> bool:
    if not isinstance(v, str):
        return False
    try:
        uuid.UUID(v)
    except ValueError:
        return False
    return True


def _is_code(v: Any) -> bool:
    return isinstance(v, str) and _CODE.fullmatch(v) is not None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_time(v: Any) -> bool:
    if not isinstance(v, str) or len(v) > 40:
        return False
    try:
        dt.datetime.fromisoformat(v)
    except ValueError:
        return False
    return True


KINDS: dict[str, Callable[[Any], bool]] = {
    "id": _is_id,
    "code": _is_code,
    "int": _is_int,
    "bool": lambda v: isinstance(v, bool),
    "time": _is_time,
}

# A field spec is a kind name, ("list", kind) or ("rows", {field: kind}).
FieldSpec = str | tuple[str, Any]


def _project_value(spec: FieldSpec, value: Any) -> tuple[bool, Any]:
    """(keep, value) for one field; lists keep only their valid items."""
    if isinstance(spec, str):
        return (True, value) if KINDS[spec](value) else (False, None)
    shape, inner = spec
    if not isinstance(value, list):
        return False, None
    if shape == "list":
        return True, [v for v in value if KINDS[inner](v)]
    rows = [project_fields(inner, v) for v in value if isinstance(v, Mapping)]
    return True, rows


def project_fields(fields: Mapping[str, FieldSpec], payload: Mapping[str, Any]) -> dict[str, Any]:
    """The allowed fields of ``payload``, each checked against its kind (None is kept)."""
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in payload:
            continue
        value = payload[name]
        if value is None:
            out[name] = None
            continue
        keep, projected = _project_value(spec, value)
        if keep:
            out[name] = projected
    return out


# -- the catalogue ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    # The internal topic, or a prefix ending with "."; a "*" token stands for any one
    # token (the tenant slug of public topics: events reach only their own tenant's
    # endpoints, as the dispatcher groups outbox rows by tenant).
    source: str
    fields: Mapping[str, FieldSpec]
    description: str
    # Extra condition on the internal payload (derived types such as "transferred").
    when: Callable[[Mapping[str, Any]], bool] | None = None
    # Fields renamed on the way out (internal name -> public name).
    rename: Mapping[str, str] | None = None

    def matches(self, topic: str, payload: Mapping[str, Any]) -> bool:
        return _topic_matches(self.source, topic) and (self.when is None or self.when(payload))

    def public_fields(self) -> list[str]:
        rename = self.rename or {}
        return [rename.get(name, name) for name in self.fields]

    def project(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        data = project_fields(self.fields, payload)
        for old, new in (self.rename or {}).items():
            if old in data:
                data[new] = data.pop(old)
        return data


def _topic_matches(source: str, topic: str) -> bool:
    want, got = source.split("."), topic.split(".")
    if source.endswith("."):  # a prefix: at least one more token
        want.pop()
        if len(got) <= len(want):
            return False
        got = got[: len(want)]
    elif len(got) != len(want):
        return False
    return all(w in ("*", g) for w, g in zip(want, got, strict=True))


_PAYMENT: dict[str, FieldSpec] = {
    "payment_id": "id",
    "order_id": "id",
    "refund_id": "id",
    "provider": "code",
    "amount_xof": "int",
    "status": "code",
    "fulfilment": "code",
    "late": "bool",
    "error": "code",
    "notify_buyer": "bool",
}
_UNIT: dict[str, FieldSpec] = {
    "code": "code",
    "sport": "code",
    "phase": "code",
    "status": "code",
    "result_status": "code",
    "official": "bool",
    "medal": "bool",
    "version": "int",
    "scheduled_at": "time",
}
_MEDAL_ROW: dict[str, FieldSpec] = {
    "rank": "int",
    "noc": "code",
    "gold": "int",
    "silver": "int",
    "bronze": "int",
    "total": "int",
}


def _payment(name: str, what: str) -> EventType:
    return EventType(f"ticketing.payment.{name}", f"ticketing.payment.{name}", _PAYMENT, what)


# What the domains publish today (grep ``uow.publish(``), as public event types. Results
# events come from the public unit topics; their competitor lines (names) are not sent.
CATALOGUE: tuple[EventType, ...] = (
    EventType(
        "ticketing.order.paid",
        "ticketing.order.paid",
        {"order_id": "id", "session_id": "id", "tickets": ("list", "id")},
        "An order was paid; its tickets were issued.",
    ),
    EventType(
        "ticketing.order.refunded",
        "ticketing.order.refunded",
        {"order_id": "id", "session_id": "id", "amount_xof": "int"},
        "Tickets of an order were refunded (amount in XOF).",
    ),
    EventType(
        "ticketing.ticket.revoked",
        "ticketing.ticket.revoked",
        {"ticket_id": "id", "session_id": "id", "replaced_by": "id"},
        "A ticket stopped being valid (replaced_by: the ticket that replaces it, if any).",
    ),
    EventType(
        "ticketing.ticket.transferred",
        "ticketing.ticket.revoked",
        {"ticket_id": "id", "session_id": "id", "replaced_by": "id"},
        "A ticket was transferred: the old ticket is revoked, a new one issued.",
        when=lambda p: bool(p.get("replaced_by")),
        rename={"replaced_by": "new_ticket_id"},
    ),
    _payment("succeeded", "A mobile-money payment was confirmed."),
    _payment("failed", "A payment failed or expired."),
    _payment("needs_review", "A payment needs a human review."),
    _payment("refunded", "A payment was refunded."),
    _payment("refunded_late", "A payment confirmed too late was refunded."),
    _payment("refund_failed", "A refund failed; it will be retried."),
    EventType(
        "results.unit.official",
        "public.*.results.unit.",
        _UNIT,
        "A competition unit's results became official (or an official result changed).",
        when=lambda p: p.get("official") is True,
    ),
    EventType(
        "results.unit.updated",
        "public.*.results.unit.",
        _UNIT,
        "A competition unit changed (schedule, status, live results).",
        when=lambda p: p.get("official") is not True,
    ),
    EventType(
        "results.medals.updated",
        "public.*.medals",
        {"upsert": ("rows", _MEDAL_ROW), "remove": ("list", "code")},
        "The medal table changed (rows by NOC code).",
    ),
    EventType(
        "transport.feed.imported",
        "transport.feed.imported",
        {"feed_id": "code", "content_hash": "code"},
        "A GTFS feed was imported.",
    ),
)
EVENT_TYPES: dict[str, EventType] = {e.name: e for e in CATALOGUE}


def project(topic: str, payload: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The public events (type, data) an internal event becomes; [] when none."""
    return [(e.name, e.project(payload)) for e in CATALOGUE if e.matches(topic, payload)]


def check_event_types(types: Sequence[str]) -> list[str]:
    """Deduplicated, validated subscription list; raises ValidationFailed."""
    if not types:
        raise ValidationFailed("event_types", "subscribe to at least one event type (or '*')")
    out: list[str] = []
    for t in types:
        if t != WILDCARD and t not in EVENT_TYPES:
            raise ValidationFailed("event_types", f"unknown event type {t[:100]!r}")
        if t not in out:
            out.append(t)
    return out


def subscribed(types: Iterable[str], event_type: str) -> bool:
    return event_type == PING or any(t in (WILDCARD, event_type) for t in types)


def envelope(event_type: str, at: dt.datetime, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": event_type, "timestamp": at.astimezone(dt.UTC).isoformat(), "data": dict(data)}


def event_id(source_key: str, event_type: str) -> str:
    """Stable ``webhook-id`` of one public event: the same on every retry and redelivery."""
    return "msg_" + uuid.uuid5(uuid.NAMESPACE_URL, f"teranga:{source_key}:{event_type}").hex


# -- signatures ---------------------------------------------------------------------------
def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode("ascii")


def _key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("not a whsec_ secret")
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``{msg_id}.{timestamp}.{body}``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets)


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: dt.datetime,
    tolerance: dt.timedelta = dt.timedelta(minutes=5),
) -> bool:
    """Receiver side: True when one ``v1`` signature matches and the timestamp is fresh."""
    msg_id = headers.get("webhook-id", "")
    raw_ts = headers.get("webhook-timestamp", "")
    if not msg_id or not raw_ts.isdigit():
        return False
    timestamp = int(raw_ts)
    if abs(now.timestamp() - timestamp) > tolerance.total_seconds():
        return False
    expected = sign(secret, msg_id, timestamp, body)
    return any(
        hmac.compare_digest(expected, candidate)
        for candidate in headers.get("webhook-signature", "").split(" ")
    )


# -- retries ------------------------------------------------------------------------------
def retry_delay(attempt: int, *, base: float, cap: float, jitter: float) -> float:
    """Seconds before retry ``attempt + 1``: exponential, capped, with jitter in [0, 1)
    spreading retries over the upper half so failing receivers are not hit in lockstep."""
    delay = min(cap, base * 2.0 ** max(0, attempt - 1))
    return delay * (0.5 + 0.5 * jitter)


# -- endpoint URLs (SSRF) -----------------------------------------------------------------
def _address_allowed(raw: str, *, allow_loopback: bool) -> bool:
    ip = ipaddress.ip_address(raw.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return allow_loopback
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def check_url(url: str, *, allow_loopback: bool, resolve: Callable[[str, int], list[str]]) -> str:
    """Validate an endpoint URL; returns it normalised or raises ValidationFailed.

    HTTPS only, except plain HTTP to a loopback address where loopback is allowed (dev and
    test settings). Every address the host resolves to must be public: private, loopback
    (unless allowed), link-local (cloud metadata at 169.254.169.254), CGNAT, multicast and
    reserved ranges are refused, so the platform cannot be aimed at its own network.
    """
    if len(url) > MAX_URL_LENGTH:
        raise ValidationFailed("url", "URL too long")
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValidationFailed("url", "not a valid URL") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationFailed("url", "use an https:// URL")
    if parts.username or parts.password:
        raise ValidationFailed("url", "credentials in the URL are not allowed")
    if parts.fragment:
        raise ValidationFailed("url", "fragments are not allowed")
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(host, port)
    except OSError as exc:
        raise ValidationFailed("url", "host does not resolve") from exc
    if not addresses:
        raise ValidationFailed("url", "host does not resolve")
    for addr in addresses:
        if not _address_allowed(addr, allow_loopback=allow_loopback):
            raise ValidationFailed("url", "the address is not public")
    if parts.scheme == "http":
        loopback = all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses)
        if not (allow_loopback and loopback):
            raise ValidationFailed("url", "use an https:// URL")
    return urllib.parse.urlunsplit(parts)
