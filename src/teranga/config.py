"""Typed settings, built once by create_app or the CLI and passed down.

Sources, highest priority first: keyword arguments, ``TERANGA_*`` environment variables,
an optional TOML file (``TERANGA_CONFIG_FILE`` or ``./teranga.toml``), then defaults.
Defaults are the embedded mode: SQLite under ./var/ and the in-process broker.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class StoreDeclaration(BaseModel):
    """A place where data lives or flows, with the jurisdiction that governs it."""

    name: str
    kind: Literal["database", "broker", "files", "backup", "log_sink", "gateway", "kms"]
    jurisdiction: str = "SN"
    operator: str = "self-hosted"
    holds_personal_data: bool = True


class TransferAuthorisation(BaseModel):
    """A CDP authorisation (Loi 2008-12 art. 49-51) for personal data in one foreign store.

    It allows the named store in that jurisdiction, for that scope, until ``expires_at``.
    """

    cdp_ref: str = Field(min_length=1)
    store: str
    jurisdiction: str
    scope: str = Field(min_length=1)
    expires_at: dt.datetime

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None:
            raise ValueError("expires_at needs a timezone (e.g. 2027-01-31T23:59:59Z)")
        return v


class WaveSettings(BaseModel):
    """Wave checkout API (docs.wave.com): one API key per wallet, signed webhooks."""

    enabled: bool = False
    base_url: str = "https://api.wave.com"
    api_key: str = ""
    # Webhook secret; the previous one stays valid during a rotation. "signing_secret":
    # Wave-Signature HMAC with timestamp (preferred); "shared_secret": the secret comes as
    # a bearer token (static, so only ever a hint; the status query decides anyway).
    webhook_strategy: Literal["signing_secret", "shared_secret"] = "signing_secret"
    webhook_secret: str = ""
    webhook_secret_previous: str = ""


class OrangeMoneySettings(BaseModel):
    """Orange Money Web Payment (OAuth2 client credentials, notif_token callbacks)."""

    enabled: bool = False
    base_url: str = "https://api.orange.com"
    client_id: str = ""
    client_secret: str = ""
    merchant_key: str = ""
    # "dev" in the Orange sandbox (currency OUV), the country code in production.
    country: str = "dev"
    currency: str = "OUV"
    lang: str = "fr"


class PaymentSettings(BaseModel):
    """Mobile-money providers (payments package). Secrets belong in the vault/env."""

    # The built-in sandbox provider; None means "on except in prod".
    sandbox_enabled: bool | None = None
    sandbox_secret: str = ""  # HMAC key of sandbox callbacks; derived from secret_key if empty
    sandbox_store_url: str = ""  # the simulated provider's own store; default under data_dir
    callback_base_url: str = ""  # public base URL for provider callbacks; default base_url
    timeout_seconds: float = 10.0
    connect_timeout_seconds: float = 3.0
    callback_tolerance_seconds: int = 300
    payment_ttl_seconds: int = 900
    # Background reconciler started by payments.include(app); 0 turns it off.
    reconcile_interval_seconds: int = 60
    wave: WaveSettings = Field(default_factory=WaveSettings)
    orange_money: OrangeMoneySettings = Field(default_factory=OrangeMoneySettings)


class SmsSettings(BaseModel):
    """Outbound SMS (teranga.platform.sms): "log" keeps them in memory and logs them
    masked (dev, demo, tests); "http" posts them to an in-country gateway."""

    backend: Literal["log", "http"] = "log"
    url: str = ""  # the gateway's endpoint, POST {"to", "text"} JSON
    token: str = ""  # bearer token; belongs in the vault/env
    timeout_seconds: float = 10.0
    connect_timeout_seconds: float = 3.0


def _config_file() -> Path:
    return Path(os.environ.get("TERANGA_CONFIG_FILE", "teranga.toml"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TERANGA_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    env: Literal["dev", "test", "prod"] = "dev"
    data_dir: Path = Path("var")
    database_url: str = ""
    # Owner connection used only by migrations (PostgreSQL). The app itself connects with
    # database_url as a role that owns nothing and cannot bypass row-level security.
    database_admin_url: str = ""
    app_db_role: str = "teranga_app"
    broker_url: str = "memory://"
    broker_retention_seconds: int = 3600
    broker_retention_messages: int = 100_000
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    secure_cookies: bool = False
    # Client addresses are taken from X-Forwarded-For only when the direct peer is one of these.
    trusted_proxies: list[str] = Field(default_factory=list)
    default_tenant: str = "joj-dakar-2026"
    allowed_jurisdictions: list[str] = Field(default_factory=lambda: ["SN"])
    stores: list[StoreDeclaration] = Field(default_factory=list)
    transfer_authorisations: list[TransferAuthorisation] = Field(default_factory=list)
    kms_backend: Literal["local"] = "local"
    kms_path: Path | None = None
    login_rate_per_account: int = 5
    login_rate_per_ip: int = 20
    login_rate_window_seconds: int = 300
    session_ttl_seconds: int = 8 * 3600
    log_level: str = "INFO"
    log_json: bool = True
    languages: list[str] = Field(default_factory=lambda: ["fr", "en"])
    payments: PaymentSettings = Field(default_factory=PaymentSettings)
    sms: SmsSettings = Field(default_factory=SmsSettings)

    @field_validator("allowed_jurisdictions")
    @classmethod
    def _upper(cls, v: list[str]) -> list[str]:
        return [j.strip().upper() for j in v]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    # -- derived values ------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'teranga.db').as_posix()}"

    @property
    def resolved_admin_url(self) -> str:
        return self.database_admin_url or self.resolved_database_url

    @property
    def is_postgres(self) -> bool:
        return self.resolved_database_url.startswith("postgresql")

    @property
    def resolved_kms_path(self) -> Path:
        return self.kms_path or (self.data_dir / "kms")

    def declared_stores(self) -> list[StoreDeclaration]:
        """Stores declared in configuration, plus the database and broker in use.

        The database and broker are declared SN/self-hosted unless configuration says
        otherwise under the same name.
        """
        names = {s.name for s in self.stores}
        implicit = []
        if "database" not in names:
            implicit.append(StoreDeclaration(name="database", kind="database"))
        if "broker" not in names:
            implicit.append(StoreDeclaration(name="broker", kind="broker"))
        if "kms" not in names:
            implicit.append(StoreDeclaration(name="kms", kind="kms"))
        if self.sms.backend == "http" and "sms-gateway" not in names:
            # Phone numbers and ticket links go there: declare it under this name with its
            # real jurisdiction and operator (a foreign one then needs a CDP authorisation).
            implicit.append(StoreDeclaration(name="sms-gateway", kind="gateway"))
        return [*implicit, *self.stores]


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
