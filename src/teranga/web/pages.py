"""Site-wide public pages: the API reference, the language switch and the favicon.

The API reference is rendered on the server from our own OpenAPI document: no CDN, no
JavaScript bundle, a few kilobytes that read well on a phone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from teranga.identity.api import public
from teranga.platform.errors import NotFound
from teranga.web import i18n
from teranga.web.templating import STATIC_DIR, render

# Every route here is intentionally reachable without signing in.
router = APIRouter(include_in_schema=False, dependencies=[Depends(public)])

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


# -- language switch ----------------------------------------------------------------------
def safe_next(request: Request, target: str | None) -> str:
    """A same-site path to go back to: the Referer if ours, else ``next`` if local, else ``/``.

    The Referer comes first because htmx may have changed the page's URL since the link
    (and its ``next``) was rendered; ``next`` serves browsers that send no Referer.
    Only paths are accepted (never ``//host`` or a scheme), so the switch is no open redirect.
    A ``lang`` query parameter is dropped: it would override the new choice.
    """
    candidate = target or ""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc == request.headers.get("host", ""):
        candidate = referer.path + (f"?{referer.query}" if referer.query else "")
    parts = urlsplit(candidate)
    if (
        not candidate.startswith("/")
        or candidate.startswith("//")
        or "\\" in candidate
        or parts.scheme
        or parts.netloc
    ):
        return "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "lang"]
    return parts.path + (f"?{urlencode(query)}" if query else "")


@router.get("/lang/{code}")
def switch_language(
    request: Request, code: str, next_: Annotated[str | None, Query(alias="next")] = None
) -> RedirectResponse:
    if code not in i18n.languages():
        raise NotFound("i18n.language_not_found", f"unsupported language '{code}'")
    response = RedirectResponse(safe_next(request, next_), status_code=303)
    settings = request.app.state.settings
    response.set_cookie(
        i18n.COOKIE_NAME,
        code,
        max_age=i18n.COOKIE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=bool(settings.secure_cookies),
    )
    return response


# -- favicon --------------------------------------------------------------------------------
@router.get("/favicon.ico")
def favicon() -> Response:
    return FileResponse(
        STATIC_DIR / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


# -- API reference --------------------------------------------------------------------------
@dataclass
class Parameter:
    name: str
    location: str
    required: bool
    type: str
    description: str


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    description: str
    parameters: list[Parameter]
    request_body: str
    responses: list[tuple[str, str]]
    op_id: str


@dataclass
class Tag:
    name: str
    description: str
    operations: list[Operation] = field(default_factory=list)


def schema_label(schema: dict[str, Any] | None) -> str:
    """A short type name for a JSON schema: ``TicketOut``, ``list[Venue]``, ``string``."""
    if not schema:
        return ""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list):
            labels = [schema_label(o) for o in options if isinstance(o, dict)]
            return " | ".join(label for label in labels if label)
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        return f"list[{schema_label(items if isinstance(items, dict) else None)}]"
    if isinstance(kind, str):
        fmt = schema.get("format")
        return fmt if isinstance(fmt, str) else kind
    return "object"


def _body_label(body: dict[str, Any] | None) -> str:
    if not body:
        return ""
    content = body.get("content") or {}
    labels = []
    for media, spec in content.items():
        label = schema_label(spec.get("schema") if isinstance(spec, dict) else None)
        labels.append(f"{label} ({media})" if media != "application/json" else label)
    return ", ".join(label for label in labels if label)


def operations_by_tag(spec: dict[str, Any], prefix: str = "/api/") -> list[Tag]:
    """Group the API operations by their first tag, in the document's tag order.

    Only paths under ``prefix``: HTML pages that slipped into the schema are not API.
    """
    described = {
        str(t.get("name")): str(t.get("description", ""))
        for t in spec.get("tags", [])
        if isinstance(t, dict)
    }
    tags: dict[str, Tag] = {name: Tag(name, desc) for name, desc in described.items()}
    for path, item in sorted(spec.get("paths", {}).items()):
        if not isinstance(item, dict) or not path.startswith(prefix):
            continue
        shared = item.get("parameters", [])
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            params = [
                Parameter(
                    name=str(p.get("name", "")),
                    location=str(p.get("in", "")),
                    required=bool(p.get("required", False)),
                    type=schema_label(p.get("schema")),
                    description=str(p.get("description", "")),
                )
                for p in [*shared, *op.get("parameters", [])]
                if isinstance(p, dict)
            ]
            responses = [
                (str(code), _body_label(r) if isinstance(r, dict) else "")
                for code, r in sorted(op.get("responses", {}).items())
            ]
            tag_name = str((op.get("tags") or ["other"])[0])
            tag = tags.setdefault(tag_name, Tag(tag_name, ""))
            tag.operations.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    summary=str(op.get("summary", "")),
                    description=str(op.get("description", "")),
                    parameters=params,
                    request_body=_body_label(op.get("requestBody")),
                    responses=responses,
                    op_id=str(op.get("operationId", f"{method}-{path}")),
                )
            )
    return [t for t in tags.values() if t.operations]


def schema_fields(spec: dict[str, Any]) -> list[tuple[str, list[tuple[str, str, bool]]]]:
    """Component schemas with (field, type, required) rows."""
    out = []
    schemas = spec.get("components", {}).get("schemas", {})
    for name in sorted(schemas):
        schema = schemas[name]
        required = set(schema.get("required", []))
        props = schema.get("properties", {}) or {}
        rows = [(p, schema_label(s), p in required) for p, s in props.items()]
        if not rows and "enum" in schema:
            rows = [("enum", " | ".join(str(v) for v in schema["enum"]), True)]
        out.append((name, rows))
    return out


@router.get("/api/docs")
def api_docs(request: Request) -> Response:
    spec: dict[str, Any] = request.app.openapi()
    return render(
        request,
        "api_docs.html",
        {
            "info": spec.get("info", {}),
            "tags": operations_by_tag(spec),
            "schemas": schema_fields(spec),
            "openapi_url": request.app.openapi_url,
        },
    )
