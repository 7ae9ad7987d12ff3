"""Pure rules of the privacy domain: normalising identifiers before they are indexed.

A blind index is only useful if the same person always produces the same input: the
phone typed "77 123 45 67" at the box office and "+221771234567" online must match.
"""

from __future__ import annotations

import re
import unicodedata

from teranga.platform.errors import ValidationFailed

SN_COUNTRY_CODE = "221"
# Senegal's national significant numbers are 9 digits: mobile 7x (70 Expresso, 75/76 Free/
# Promobile, 77/78 Orange...), fixed 3x (33 Sonatel, 30 other operators). ARTP keeps adding
# ranges, so every 7x / 3x prefix is accepted rather than a list that goes stale.
_SN_NATIONAL = re.compile(r"^[37]\d{8}$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_SEPARATORS = re.compile(r"[\s.\-()/]")

PHONE_MESSAGE = (
    "numéro de téléphone invalide : utilisez 7X XXX XX XX ou +221 7X XXX XX XX, "
    "ou le format international +<indicatif><numéro> / invalid phone number: use "
    "7X XXX XX XX or +221 7X XXX XX XX, or international format +<country code><number>"
)

INDEX_KINDS = frozenset({"phone", "email", "id_number", "name", "text"})


def normalise_phone(raw: str, *, field: str = "phone") -> str:
    """E.164 form of a phone number; bare 9-digit numbers are Senegalese.

    Accepts spaces, dots, dashes, parentheses, a ``00`` international prefix and ``221``
    without ``+``. Raises ValidationFailed with a bilingual message otherwise.
    """
    value = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw or ""))
    if value.startswith("00"):
        value = "+" + value[2:]
    if not value.startswith("+"):
        if value.startswith(SN_COUNTRY_CODE) and len(value) == 12:
            value = "+" + value
        elif _SN_NATIONAL.match(value):
            value = f"+{SN_COUNTRY_CODE}{value}"
    if value.startswith("+" + SN_COUNTRY_CODE):
        if not _SN_NATIONAL.match(value[4:]):
            raise ValidationFailed(field, PHONE_MESSAGE)
        return value
    if not _E164.match(value):
        raise ValidationFailed(field, PHONE_MESSAGE)
    return value


def normalise_text(value: str) -> str:
    """Unicode-normalised, casefolded, whitespace-collapsed text."""
    return " ".join(unicodedata.normalize("NFKC", value).split()).casefold()


def normalise(kind: str, value: str) -> str:
    """The canonical form of ``value`` for a blind index of ``kind``."""
    if kind not in INDEX_KINDS:
        raise ValueError(f"unknown blind index kind {kind!r}")
    if kind == "phone":
        return normalise_phone(value)
    if kind == "id_number":
        # ID card and passport numbers are printed with spaces or dashes at random.
        return _SEPARATORS.sub("", normalise_text(value))
    normalised = normalise_text(value)
    if not normalised:
        raise ValidationFailed(kind, "valeur vide / empty value")
    return normalised
