"""HTTP plumbing shared by adapters: explicit timeouts and error classification.

A timeout, a dropped connection or a 5xx leaves the outcome unknown (``ProviderTimeout``);
a 4xx is a definite refusal (``ProviderRejected``, code ``http_<status>``). Bodies and
headers are never logged: they carry secrets and phone numbers.
"""

from __future__ import annotations

from typing import Any

import httpx

from teranga.ticketing.payments.base import ProviderError, ProviderRejected, ProviderTimeout


def make_client(base_url: str, *, timeout: float, connect_timeout: float) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        follow_redirects=False,
    )


def call(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    json: Any = None,
    data: Any = None,
    params: Any = None,
    headers: dict[str, str] | None = None,
    auth: httpx.BasicAuth | None = None,
) -> Any:
    """Send one request and return the decoded JSON body (None when empty)."""
    try:
        response = client.request(
            method, url, json=json, data=data, params=params, headers=headers, auth=auth
        )
    except httpx.TimeoutException as exc:
        raise ProviderTimeout("provider timed out") from exc
    except httpx.TransportError as exc:
        raise ProviderTimeout("provider unreachable", code="provider_unreachable") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise ProviderTimeout(
            f"provider answered {response.status_code}", code=f"http_{response.status_code}"
        )
    if response.status_code >= 400:
        raise ProviderRejected(
            f"provider refused ({response.status_code})", code=f"http_{response.status_code}"
        )
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderError("provider sent invalid JSON", code="bad_response") from exc


def as_int_xof(value: Any) -> int | None:
    """Parse an XOF amount ("1500", 1500, "1500.00"); None when it is not whole francs."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        whole, _, frac = text.partition(".")
        if whole.isdigit() and (not frac or set(frac) == {"0"}):
            return int(whole)
    return None
