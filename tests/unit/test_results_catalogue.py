"""Every UI string of the results domain has a French translation (French first)."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

PKG = Path(__file__).resolve().parents[2] / "src" / "teranga" / "results"
MSGID = re.compile(r"""\b_\(\s*(["'])(.+?)\1""")
MARKED = re.compile(r"""\bN_\(\s*(["'])(.+?)\1""")


def _used() -> set[str]:
    found: set[str] = set()
    for path in [*PKG.glob("templates/results/*.html"), PKG / "web.py"]:
        text = path.read_text()
        found |= {m.group(2) for m in MSGID.finditer(text)}
        found |= {m.group(2) for m in MARKED.finditer(text)}
    return found


def test_every_msgid_has_a_french_translation() -> None:
    with (PKG / "locale" / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalogue = read_po(fh, locale="fr")
    translated = {m.id for m in catalogue if m.id and m.string}
    used = _used()
    assert len(used) > 50
    assert sorted(used - translated) == []
