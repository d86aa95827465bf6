"""The public pages: ``/`` (what Causality is), ``/docs`` (guides, the event catalogue and the
HTTP API reference), ``/api/v1/openapi.json`` and the pages' static files.

They are rendered on the server with Jinja2 so that they work without JavaScript, are cheap
to serve from the gateway itself, and cannot disagree with the running version: the API
reference is built at request time from ``openapi_document()`` and the event catalogue from
``causality.events.catalogue``, the same objects the gateway validates with. htmx (vendored in
``static/``, no CDN) filters the API reference in place; the same filter works as a plain GET
form without it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from causality.events.catalogue import CATEGORIES, CATEGORY_OF, CUSTOM_TYPE, PAYLOAD_TYPES
from causality.gateway.errors import json_response
from causality.gateway.openapi import (
    OPENAPI_PATH,
    TAGS,
    body_fields,
    describe_type,
    openapi_document,
)

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
SCREENSHOT = STATIC_DIR / "screenshot.png"
MAX_FILTER_CHARS = 100
# the reference is public documentation; a short cache keeps reloads cheap without hiding
# a gateway upgrade for long
CACHE = {"Cache-Control": "public, max-age=300"}


async def openapi_json(request: Request) -> Response:
    """The OpenAPI 3.1 document of the whole HTTP API."""
    return json_response(200, openapi_document(), CACHE)


async def index(request: Request) -> Response:
    """What Causality is, a look at the web UI (or the architecture), the quick start."""
    return TEMPLATES.TemplateResponse(
        request,
        "index.html",
        {"has_screenshot": SCREENSHOT.is_file(), "page": "home"},
        headers=CACHE,
    )


async def docs(request: Request) -> Response:
    """Every docs section on one page (anchors in a sidebar), the reference filtered by ``q``."""
    query = _filter_text(request)
    return TEMPLATES.TemplateResponse(
        request,
        "docs.html",
        {
            "page": "docs",
            "q": query,
            "groups": api_reference(query),
            "catalogue": event_catalogue(),
            "openapi_path": OPENAPI_PATH,
            "base_url": str(request.base_url).rstrip("/"),
        },
        headers=CACHE,
    )


async def api_fragment(request: Request) -> Response:
    """The API reference alone, filtered by ``q``: what htmx swaps in as the reader types."""
    query = _filter_text(request)
    return TEMPLATES.TemplateResponse(
        request, "_api_ops.html", {"q": query, "groups": api_reference(query)}, headers=CACHE
    )


def _filter_text(request: Request) -> str:
    return request.query_params.get("q", "").strip()[:MAX_FILTER_CHARS]


def api_reference(query: str = "") -> list[dict[str, Any]]:
    """The document's operations grouped by tag (in ``TAGS`` order), each with what the docs
    page shows: method, path, summary, role, parameters, body fields and statuses. ``query``
    keeps operations whose method, path, summary or tag contains it (case-insensitive)."""
    doc = openapi_document()
    needle = query.lower()
    groups: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in TAGS}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            tag = op["tags"][0]
            text = f"{method} {path} {op['summary']} {tag}".lower()
            if needle and needle not in text:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            groups.setdefault(tag, []).append(
                {
                    "id": op["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "summary": op["summary"],
                    "description": op.get("description", ""),
                    "role": op.get("x-min-role"),
                    "params": [
                        {
                            "name": p["name"],
                            "in": p["in"],
                            "type": describe_type(p["schema"]),
                            "description": p.get("description", ""),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "body_name": body.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1],
                    "fields": [
                        {**f, "default": _show_default(f)} for f in body_fields(body.get("schema"))
                    ],
                    "responses": [
                        {"status": status, "description": _response_text(doc, r)}
                        for status, r in op["responses"].items()
                    ],
                }
            )
    descriptions = dict(TAGS)
    return [
        {"tag": tag, "description": descriptions.get(tag, ""), "operations": ops}
        for tag, ops in groups.items()
        if ops
    ]


def _response_text(doc: dict[str, Any], response: dict[str, Any]) -> str:
    if "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[1]
        return str(doc["components"]["responses"][name]["description"])
    return str(response.get("description", ""))


def _show_default(field: dict[str, Any]) -> str:
    if not field["has_default"]:
        return ""
    return msgspec.json.encode(field["default"]).decode()


@cache
def event_catalogue() -> list[dict[str, Any]]:
    """Categories in catalogue order, each with its types, their description and payload
    fields (name, type, required): the executable catalogue, rendered for people."""
    types = list(PAYLOAD_TYPES.values())
    refs, components = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    schemas = {
        name: components[ref["$ref"].rsplit("/", 1)[1]]
        for name, ref in zip(PAYLOAD_TYPES, refs, strict=True)
    }
    out = []
    for category in CATEGORIES:
        entries = []
        for event_type, cat in CATEGORY_OF.items():
            if cat != category:
                continue
            if event_type == CUSTOM_TYPE:
                entries.append(
                    {
                        "type": CUSTOM_TYPE,
                        "description": "Your own event: event_name names it, properties are "
                        "free-form scalars or flat lists of them.",
                        "fields": [],
                    }
                )
                continue
            schema = schemas[event_type]
            required = set(schema.get("required", []))
            entries.append(
                {
                    "type": event_type,
                    "description": schema.get("description", ""),
                    "fields": [
                        {"name": n, "type": describe_type(p), "required": n in required}
                        for n, p in schema.get("properties", {}).items()
                    ],
                }
            )
        out.append({"category": category, "types": entries})
    return out


def routes() -> list[BaseRoute]:
    """The public pages, the OpenAPI document and ``/static``, for ``build_gateway_app``."""
    return [
        Route("/", index, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route("/docs/api", api_fragment, methods=["GET"]),
        Route(OPENAPI_PATH, openapi_json, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
