"""Domains talk through each other's ``api.py`` only (STYLE.md, rules of flow 2).

import-linter checks that the platform imports no domain; this walks the import graph for
the rule it cannot express: a module of one domain may import another domain's ``api``
module (or its package), never its models, services or web layer.
"""

from __future__ import annotations

import grimp

from teranga.domains import DOMAINS


def cross_domain_violations() -> list[tuple[str, str]]:
    graph = grimp.build_graph("teranga")
    bad = []
    for importer in sorted(graph.modules):
        src = importer.split(".")
        if len(src) < 2 or src[1] not in DOMAINS:
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            dst = imported.split(".")
            if len(dst) < 2 or dst[1] not in DOMAINS or dst[1] == src[1]:
                continue
            if imported in (f"teranga.{dst[1]}.api", f"teranga.{dst[1]}"):
                continue
            bad.append((importer, imported))
    return bad


def test_domains_import_each_other_through_api_only() -> None:
    assert cross_domain_violations() == []


def test_the_check_sees_domain_imports() -> None:
    # Guard against a check that passes because it sees nothing.
    graph = grimp.build_graph("teranga")
    assert "teranga.identity.api" in graph.find_modules_directly_imported_by("teranga.access.web")
