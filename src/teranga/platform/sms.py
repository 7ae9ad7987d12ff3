"""Outbound SMS: a small port (``SmsSender``) and two adapters chosen by ``settings.sms``.

* ``log`` (dev, demo, tests): nothing leaves the process. The last messages are kept in
  memory (``LogSmsSender.sent``) and each send is logged with the phone masked and without
  the text, which carries bearer links.
* ``http``: a generic in-country gateway (the processor named in the privacy register):
  ``POST <url>`` with JSON ``{"to": "+221...", "text": "..."}`` and a bearer token. Any
  2xx is a success; anything else, a timeout or a connection error raises ``SmsError`` so
  that the caller retries later.

Senders are synchronous and may block for the timeout: call them outside any transaction
(workers run them in a thread).
"""

from __future__ import annotations

import collections
import logging
import threading
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import httpx

if TYPE_CHECKING:
    from teranga.config import Settings

log = logging.getLogger(__name__)
SN_PREFIX = "+221"
USER_AGENT = "Teranga-SMS/1"


class SmsError(Exception):
    """The message was not accepted; it may be retried."""


@dataclass(frozen=True)
class SmsMessage:
    to: str
    text: str


class SmsSender(Protocol):
    def send(self, to: str, text: str) -> None:
        """Hand one message to the gateway; raise ``SmsError`` if it was not accepted."""


def mask_phone(phone: str, *, compact: bool = False) -> str:
    """``+221 ••• •• 12`` (or ``+221•••12``): the country and the last two digits only."""
    digits = phone.strip()
    prefix = SN_PREFIX if digits.startswith(SN_PREFIX) else digits[:3]
    tail = digits[-2:] if len(digits) > len(prefix) + 2 else ""
    return f"{prefix}•••{tail}" if compact else f"{prefix} ••• •• {tail}"


# GSM 03.38 basic character set: a text made only of these is sent as GSM-7 (160 characters
# per message). One character outside it (a bullet, a "ç", a curly quote) switches the whole
# message to UCS-2: 70 characters per segment, so two or three billed segments.
GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_SUBSTITUTES = {"•": "*", "…": "...", "’": "'", "‘": "'", "«": '"', "»": '"', "–": "-", "—": "-"}


def gsm7(text: str) -> str:
    """``text`` in the GSM-7 basic set: known look-alikes substituted, accents dropped
    where GSM-7 lacks the letter ("ç" -> "c", "ê" -> "e"), anything else as "?"."""
    out = []
    for ch in text:
        if ch in GSM7:
            out.append(ch)
        elif ch in _SUBSTITUTES:
            out.append(_SUBSTITUTES[ch])
        else:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
            )
            out.append(base if base and all(c in GSM7 for c in base) else "?")
    return "".join(out)


class LogSmsSender:
    """Keeps the last ``keep`` messages of this process and logs that they were sent."""

    def __init__(self, keep: int = 200) -> None:
        self._lock = threading.Lock()
        self._sent: collections.deque[SmsMessage] = collections.deque(maxlen=keep)

    def send(self, to: str, text: str) -> None:
        with self._lock:
            self._sent.append(SmsMessage(to, text))
        log.info("sms (log adapter) to %s, %d characters", mask_phone(to), len(text))

    @property
    def sent(self) -> list[SmsMessage]:
        with self._lock:
            return list(self._sent)


class HttpSmsSender:
    """POSTs ``{"to", "text"}`` to the gateway with ``Authorization: Bearer <token>``."""

    def __init__(
        self, url: str, token: str, *, timeout: float = 10.0, connect_timeout: float = 3.0
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("the SMS gateway URL must be http(s)")
        self.url = url
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: the gateway is in-country
            headers={"authorization": f"Bearer {token}", "user-agent": USER_AGENT},
        )

    def send(self, to: str, text: str) -> None:
        try:
            resp = self._client.post(self.url, json={"to": to, "text": text})
        except httpx.TimeoutException as exc:
            raise SmsError("sms gateway timeout") from exc
        except httpx.HTTPError as exc:
            raise SmsError(f"sms gateway unreachable: {type(exc).__name__}") from exc
        if not 200 <= resp.status_code < 300:
            raise SmsError(f"sms gateway answered HTTP {resp.status_code}")
        log.info("sms sent to %s through the gateway", mask_phone(to))

    def close(self) -> None:
        self._client.close()


def make_sender(settings: Settings) -> SmsSender:
    cfg = settings.sms
    if cfg.backend == "http":
        if not cfg.url:
            raise ValueError("TERANGA_SMS__URL is required with the http SMS backend")
        return HttpSmsSender(
            cfg.url,
            cfg.token,
            timeout=cfg.timeout_seconds,
            connect_timeout=cfg.connect_timeout_seconds,
        )
    return LogSmsSender()
