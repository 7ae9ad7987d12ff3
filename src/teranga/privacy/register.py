"""The register of processings (Loi 2008-12, security reference L1/L2).

A machine-readable YAML register ships in the package (``privacy/data/register.yaml``).
It is loaded and validated when the app starts: a processing without a CDP reference, an
unknown legal basis or a malformed retention makes start-up fail. In production, the
demonstration references (``DEMO-`` prefix) are refused too.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from teranga.platform.errors import ValidationFailed

REGISTER_PATH = Path(__file__).parent / "data" / "register.yaml"
_RETENTION_RE = re.compile(r"^P(?=\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?$")
DEMO_PREFIX = "DEMO-"

LegalBasis = Literal[
    "consent",
    "contract",
    "legal_obligation",
    "vital_interest",
    "public_interest",
    "legitimate_interest",
]


class Processing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    name: str = Field(min_length=1)
    purpose: str = Field(min_length=1)
    legal_basis: LegalBasis
    data_subjects: tuple[str, ...] = Field(min_length=1)
    data_categories: tuple[str, ...] = Field(min_length=1)
    retention: str
    retention_note: str = ""
    recipients: tuple[str, ...] = ()
    processors: tuple[str, ...] = ()
    transfers: tuple[str, ...] = ()
    cdp_ref: str = Field(min_length=1)

    @field_validator("retention")
    @classmethod
    def _iso_duration(cls, v: str) -> str:
        if not _RETENTION_RE.match(v):
            raise ValueError("retention must be an ISO 8601 duration such as P2Y or P6M")
        return v

    @field_validator("cdp_ref")
    @classmethod
    def _ref(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("every processing needs its CDP declaration reference")
        return v.strip()


class Register(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    controller: str = Field(min_length=1)
    processings: tuple[Processing, ...] = Field(min_length=1)

    def get(self, processing_id: str) -> Processing:
        for p in self.processings:
            if p.id == processing_id:
                return p
        raise KeyError(processing_id)


def parse_register(text: str, *, env: str = "dev") -> Register:
    """Parse and validate a register; ValidationFailed names the first bad field."""
    try:
        reg = Register.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ValidationFailed(f"register.{loc}", str(first["msg"])) from None
    ids = [p.id for p in reg.processings]
    if len(ids) != len(set(ids)):
        raise ValidationFailed("register.processings", "duplicate processing id")
    if env == "prod":
        demo = [p.id for p in reg.processings if p.cdp_ref.startswith(DEMO_PREFIX)]
        if demo:
            raise ValidationFailed(
                "register.cdp_ref",
                f"demonstration CDP references in production: {', '.join(demo)}",
            )
    return reg


@functools.cache
def load_register(path: Path = REGISTER_PATH, env: str = "dev") -> Register:
    return parse_register(path.read_text(encoding="utf-8"), env=env)
