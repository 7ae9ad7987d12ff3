"""Translations: complete French catalogues, language negotiation and switch, API docs page."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from teranga.config import Settings
from teranga.domains import DOMAINS
from teranga.web import i18n
from teranga.web.app import create_app
from teranga.web.pages import safe_next
from teranga.web.templating import STATIC_DIR
from tests.conftest import make_settings

SRC = Path(i18n.__file__).resolve().parent.parent
METHOD_MAP = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
PACKAGES = [("web", SRC / "web"), *((d, SRC / d) for d in DOMAINS)]


def _fr_catalogues() -> list[Path]:
    return sorted(SRC.glob("*/locale/fr/LC_MESSAGES/messages.po"))


def _msgids(path: Path) -> set[tuple[str | None, str]]:
    """(context, msgid) pairs used in a package's templates and Python code."""
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        str(path), METHOD_MAP, options_map=OPTIONS
    ):
        found.add((context, message if isinstance(message, str) else message[0]))
    return found


@pytest.mark.parametrize("po", _fr_catalogues(), ids=lambda p: p.parts[-5])
def test_every_french_msgstr_is_present(po: Path) -> None:
    with po.open("rb") as fh:
        catalogue = read_po(fh, locale="fr")
    missing = []
    for message in catalogue:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(s.strip() for s in strings):
            missing.append(message.id)
    assert missing == [], f"{po}: untranslated or fuzzy: {missing}"


@pytest.mark.parametrize(("name", "path"), PACKAGES, ids=[p[0] for p in PACKAGES])
def test_every_msgid_in_the_code_has_a_french_translation(name: str, path: Path) -> None:
    assert path.is_dir(), f"domain {name} is listed but has no package"
    used = _msgids(path)
    translations = i18n.build_translations("fr", name)
    missing = sorted(
        msgid
        for context, msgid in used
        if (translations.pgettext(context, msgid) if context else translations.gettext(msgid))
        == msgid
        and not _same_in_french(context, msgid)
    )
    assert missing == [], f"{name}: no French translation for {missing}"


def _same_in_french(context: str | None, msgid: str) -> bool:
    """A msgid whose French is identical (``Sport``, ``Transport``) must still be catalogued."""
    for po in _fr_catalogues():
        with po.open("rb") as fh:
            message = read_po(fh, locale="fr").get(msgid, context=context)
        if message is not None and message.string:
            return True
    return False


def test_python_code_translates_through_the_context_variable() -> None:
    i18n.configure(["fr", "en"])
    with i18n.use_language("fr"):
        assert i18n.gettext("Data hosted in Senegal") == "Données hébergées au Sénégal"
        assert str(i18n.lazy_gettext("Results")) == "Résultats"
        assert i18n.ngettext("%(count)s session", "%(count)s sessions", 2) == "%(count)s sessions"
    with i18n.use_language("en"):
        assert i18n.gettext("Data hosted in Senegal") == "Data hosted in Senegal"
        assert str(i18n.lazy_gettext("Results")) == "Results"
    with i18n.use_language("de"):  # unsupported: the default language
        assert i18n.get_language() == "fr"


def test_a_domain_reads_its_own_catalogue_first() -> None:
    i18n.configure(["fr", "en"])
    with i18n.use_language("fr"), i18n.use_domain("programme"):
        assert i18n.gettext("until") == "jusqu'à"
    with i18n.use_language("fr"):
        assert i18n.pgettext("nav", "Sign in") == "Connexion"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-GB,en;q=0.9,fr;q=0.8", "en"),
        ("wo-SN, fr-SN;q=0.9, en;q=0.5", "fr"),
        ("de, en;q=0.1", "en"),
        ("*", "fr"),
        ("", "fr"),
        ("en;q=0, fr;q=0.2", "fr"),
        ("en;q=abc", "fr"),
    ],
)
def test_accept_language_negotiation(header: str, expected: str) -> None:
    got = i18n.negotiate(
        query_lang=None, cookie_lang=None, accept_language=header, supported=["fr", "en"]
    )
    assert got == expected


def test_query_beats_cookie_beats_header() -> None:
    langs = ["fr", "en"]
    assert (
        i18n.negotiate(query_lang="en", cookie_lang="fr", accept_language="fr", supported=langs)
        == "en"
    )
    assert (
        i18n.negotiate(query_lang=None, cookie_lang="en", accept_language="fr", supported=langs)
        == "en"
    )
    assert (
        i18n.negotiate(query_lang="xx", cookie_lang="zz", accept_language="en", supported=langs)
        == "en"
    )


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings: Settings = make_settings(tmp_path)
    from teranga import schema

    schema.upgrade(settings.resolved_admin_url)
    with TestClient(create_app(settings)) as c:
        yield c


def test_pages_are_french_by_default_and_english_after_switching(client: TestClient) -> None:
    fr = client.get("/api/docs")
    assert fr.status_code == 200
    assert '<html lang="fr">' in fr.text
    assert "Données hébergées au Sénégal" in fr.text
    assert "Référence de l&#39;API" in fr.text or "Référence de l'API" in fr.text
    assert fr.headers["content-language"] == "fr"
    assert 'href="/lang/en?next=/api/docs"' in fr.text

    switch = client.get("/lang/en", params={"next": "/api/docs"}, follow_redirects=False)
    assert switch.status_code == 303
    assert switch.headers["location"] == "/api/docs"
    assert "lang=en" in switch.headers["set-cookie"]

    en = client.get("/api/docs")
    assert '<html lang="en">' in en.text
    assert "Data hosted in Senegal" in en.text
    assert en.headers["content-language"] == "en"
    back = client.get("/lang/fr", follow_redirects=True)
    assert '<html lang="fr">' in back.text


def test_accept_language_and_query_parameter_choose_the_language(client: TestClient) -> None:
    assert '<html lang="en">' in client.get("/api/docs", headers={"Accept-Language": "en"}).text
    assert '<html lang="en">' in client.get("/api/docs", params={"lang": "en"}).text
    assert '<html lang="fr">' in client.get("/api/docs", headers={"Accept-Language": "wo"}).text


def test_unknown_language_is_a_404(client: TestClient) -> None:
    r = client.get("/lang/de", follow_redirects=False)
    assert r.status_code == 404
    assert r.json()["code"] == "i18n.language_not_found"


class _FakeRequest:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers


@pytest.mark.parametrize(
    ("target", "referer", "expected"),
    [
        ("/sites/dakar-arena?day=2026-11-01", "", "/sites/dakar-arena?day=2026-11-01"),
        ("/?day=2026-11-01&lang=fr", "", "/?day=2026-11-01"),
        ("//evil.example/x", "", "/"),
        ("https://evil.example/", "", "/"),
        ("/\\evil.example", "", "/"),
        ("", "http://testserver/sports/judo", "/sports/judo"),
        ("", "http://evil.example/sports/judo", "/"),
        ("", "", "/"),
        ("/api/docs", "http://testserver/?day=2026-11-02", "/?day=2026-11-02"),
        ("/api/docs", "http://evil.example/x", "/api/docs"),
    ],
)
def test_language_switch_never_redirects_off_site(target: str, referer: str, expected: str) -> None:
    request = _FakeRequest({"referer": referer, "host": "testserver"})
    assert safe_next(request, target) == expected  # type: ignore[arg-type]


def test_api_docs_lists_operations_from_our_openapi(client: TestClient) -> None:
    html = client.get("/api/docs").text
    assert 'href="/api/v1/openapi.json"' in html
    assert "<code>/api/v1/programme/sessions</code>" in html
    assert "List sessions, filtered by day, sport and venue" in html
    assert "SessionOut" in html
    assert "cdn" not in html.lower()


def test_layout_has_landmarks_favicon_and_no_foreign_host(client: TestClient) -> None:
    html = client.get("/api/docs").text
    for needle in (
        '<meta name="viewport"',
        'class="skip" href="#main"',
        '<main id="main"',
        'href="/billetterie"',
        'href="/resultats"',
        'href="/transport"',
        'href="/login"',
        "/static/vendor/htmx.min.js?v=",
        "/static/css/teranga.css?v=",
    ):
        assert needle in html
    assert "http://" not in html.replace("http://testserver", "")
    assert "https://" not in html
    assert client.get("/favicon.ico").headers["content-type"] == "image/svg+xml"


def test_static_assets_are_small_once_compressed() -> None:
    """Layout weight for a first visit on 3G: CSS + htmx + favicon, gzipped, well under 100 kB."""
    total = sum(
        len(gzip.compress((STATIC_DIR / p).read_bytes()))
        for p in ("css/teranga.css", "vendor/htmx.min.js", "favicon.svg")
    )
    assert total < 30_000
    assert (STATIC_DIR / "vendor" / "htmx.LICENSE.txt").is_file()


def test_api_docs_groups_api_operations_and_leaves_pages_out() -> None:
    from teranga.web.pages import operations_by_tag

    spec = {
        "tags": [{"name": "programme", "description": "Open data"}],
        "paths": {
            "/api/v1/things/{thing_id}": {
                "parameters": [{"name": "thing_id", "in": "path", "required": True}],
                "get": {
                    "tags": ["programme"],
                    "summary": "Get a thing",
                    "parameters": [
                        {
                            "name": "day",
                            "in": "query",
                            "schema": {"type": "string", "format": "date"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Thing"},
                                    }
                                }
                            }
                        }
                    },
                },
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/NewThing"}
                            }
                        }
                    },
                    "responses": {},
                },
            },
            "/billetterie": {"get": {"summary": "HTML page", "responses": {}}},
        },
    }
    tags = operations_by_tag(spec)
    assert [t.name for t in tags] == ["programme", "other"]
    get = tags[0].operations[0]
    assert (get.method, get.path, get.summary) == (
        "GET",
        "/api/v1/things/{thing_id}",
        "Get a thing",
    )
    assert [(p.name, p.location, p.required, p.type) for p in get.parameters] == [
        ("thing_id", "path", True, ""),
        ("day", "query", False, "date"),
    ]
    assert get.responses == [("200", "list[Thing]")]
    assert tags[1].operations[0].request_body == "NewThing"
    assert all(op.path.startswith("/api/") for t in tags for op in t.operations)


def test_versioned_static_assets_are_cached_for_a_year(client: TestClient) -> None:
    from teranga.web.templating import static_url

    url = static_url("css/teranga.css")
    assert "?v=" in url
    versioned = client.get(url)
    assert versioned.status_code == 200
    assert "immutable" in versioned.headers["cache-control"]
    plain = client.get("/static/css/teranga.css")
    assert plain.headers["cache-control"] == "public, max-age=3600"
    assert "content-language" not in plain.headers
    with pytest.raises(ValueError, match="no static file"):
        static_url("../templating.py")
