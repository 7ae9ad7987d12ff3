"""Builds the payment gateway (providers, fulfilment, clock) once per container."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from teranga.config import Settings
from teranga.container import Container
from teranga.platform.db import make_engine
from teranga.ticketing import fulfilment
from teranga.ticketing.payments.base import PaymentProvider
from teranga.ticketing.payments.providers.http import make_client
from teranga.ticketing.payments.providers.orange_money import OrangeMoneyProvider
from teranga.ticketing.payments.providers.sandbox import SandboxProvider
from teranga.ticketing.payments.providers.wave import WaveProvider
from teranga.ticketing.payments.service import PaymentGateway

EXTRAS_KEY = "payments.gateway"


def sandbox_enabled(settings: Settings) -> bool:
    flag = settings.payments.sandbox_enabled
    enabled = settings.env != "prod" if flag is None else flag
    if enabled and settings.env == "prod":
        # A sandbox in production hands out free tickets.
        raise RuntimeError("the sandbox payment provider cannot be enabled in prod")
    return enabled


def sandbox_secret(settings: Settings) -> str:
    if settings.payments.sandbox_secret:
        return settings.payments.sandbox_secret
    if not settings.secret_key:
        raise RuntimeError("secret_key (or payments.sandbox_secret) is required for the sandbox")
    return hmac.new(
        settings.secret_key.encode(), b"teranga.payments.sandbox", hashlib.sha256
    ).hexdigest()


def build_providers(container: Container) -> dict[str, PaymentProvider]:
    settings = container.settings
    ps = settings.payments
    providers: dict[str, PaymentProvider] = {}
    if sandbox_enabled(settings):
        url = ps.sandbox_store_url or (
            f"sqlite:///{(settings.data_dir / 'sandbox-psp.sqlite').as_posix()}"
        )
        # A small pool on a server database: the simulated provider must not take the
        # connection slots the platform's own pools need.
        pool = {} if url.startswith("sqlite") else {"pool_size": 4, "max_overflow": 8}
        providers["sandbox"] = SandboxProvider(
            make_engine(url, **pool),
            secret=sandbox_secret(settings),
            page_base_url=settings.base_url,
            clock=container.clock,
            tolerance_seconds=ps.callback_tolerance_seconds,
        )
    if ps.wave.enabled:
        providers["wave"] = WaveProvider(
            make_client(
                ps.wave.base_url,
                timeout=ps.timeout_seconds,
                connect_timeout=ps.connect_timeout_seconds,
            ),
            api_key=ps.wave.api_key,
            webhook_secrets=[ps.wave.webhook_secret, ps.wave.webhook_secret_previous],
            tolerance_seconds=ps.callback_tolerance_seconds,
            webhook_strategy=ps.wave.webhook_strategy,
        )
    if ps.orange_money.enabled:
        om = ps.orange_money
        providers["orange_money"] = OrangeMoneyProvider(
            make_client(
                om.base_url, timeout=ps.timeout_seconds, connect_timeout=ps.connect_timeout_seconds
            ),
            client_id=om.client_id,
            client_secret=om.client_secret,
            merchant_key=om.merchant_key,
            country=om.country,
            currency=om.currency,
            lang=om.lang,
        )
    return providers


def gateway(container: Container) -> PaymentGateway:
    """The container's payment gateway, built on first use (nothing connects at import)."""
    found = container.extras.get(EXTRAS_KEY)
    if isinstance(found, PaymentGateway):
        return found
    settings = container.settings
    built = PaymentGateway(
        providers=build_providers(container),
        fulfilment=fulfilment,
        clock=container.clock,
        callback_base_url=settings.payments.callback_base_url or settings.base_url,
        payment_ttl=dt.timedelta(seconds=settings.payments.payment_ttl_seconds),
    )
    container.extras[EXTRAS_KEY] = built
    return built
