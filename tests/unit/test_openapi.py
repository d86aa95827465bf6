"""The OpenAPI document at /api/v1/openapi.json: complete (every /api/ route the gateway serves
is in it, nothing stale), structurally valid OpenAPI 3.1, and faithful to the structs the
handlers decode with."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import msgspec
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from causality.config import Settings
from causality.events.validation import _Envelope
from causality.gateway.app import build_gateway_app
from causality.gateway.openapi import (
    OPENAPI_PATH,
    OPERATIONS,
    TAGS,
    EventEnvelope,
    describe_type,
    openapi_document,
)

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

# A structural schema of an OpenAPI 3.1 document, covering what this document uses: enough to
# catch a misplaced key, a response without a description or a bad security requirement.
# (The official meta-schema is not shipped with jsonschema, and fetching it is not an option.)
_REF = {"type": "object", "required": ["$ref"], "properties": {"$ref": {"type": "string"}}}
_MEDIA = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "properties": {"schema": {"type": "object"}},
        "additionalProperties": False,
    },
}
_RESPONSE = {
    "oneOf": [
        _REF,
        {
            "type": "object",
            "required": ["description"],
            "properties": {"description": {"type": "string"}, "content": _MEDIA},
            "additionalProperties": False,
        },
    ]
}
_PARAMETER = {
    "type": "object",
    "required": ["name", "in", "schema"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "in": {"enum": ["query", "header", "path", "cookie"]},
        "required": {"type": "boolean"},
        "description": {"type": "string"},
        "schema": {"type": "object"},
    },
    "additionalProperties": False,
    "if": {"properties": {"in": {"const": "path"}}},
    "then": {"required": ["required"], "properties": {"required": {"const": True}}},
}
_OPERATION = {
    "type": "object",
    "required": ["operationId", "summary", "responses", "tags"],
    "properties": {
        "operationId": {"type": "string", "pattern": "^[a-z0-9_]+$"},
        "summary": {"type": "string", "minLength": 3},
        "description": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "parameters": {"type": "array", "items": _PARAMETER},
        "requestBody": {
            "type": "object",
            "required": ["content"],
            "properties": {"required": {"type": "boolean"}, "content": _MEDIA},
            "additionalProperties": False,
        },
        "responses": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^[1-5][0-9][0-9]$"},
            "additionalProperties": _RESPONSE,
        },
        "security": {
            "type": "array",
            "items": {"type": "object", "additionalProperties": {"type": "array"}},
        },
    },
    "patternProperties": {"^x-": {}},
    "additionalProperties": False,
}
OPENAPI_31_STRUCTURE: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["openapi", "info", "paths"],
    "properties": {
        "openapi": {"type": "string", "pattern": r"^3\.1\.\d+$"},
        "info": {
            "type": "object",
            "required": ["title", "version"],
            "properties": {
                "title": {"type": "string"},
                "version": {"type": "string"},
                "summary": {"type": "string"},
                "description": {"type": "string"},
                "license": {
                    "type": "object",
                    "required": ["name"],
                    "not": {"required": ["identifier", "url"]},
                },
            },
        },
        "servers": {
            "type": "array",
            "items": {"type": "object", "required": ["url"]},
        },
        "tags": {
            "type": "array",
            "items": {"type": "object", "required": ["name"]},
        },
        "paths": {
            "type": "object",
            "propertyNames": {"pattern": "^/"},
            "additionalProperties": {
                "type": "object",
                "propertyNames": {"enum": sorted(HTTP_METHODS)},
                "additionalProperties": _OPERATION,
            },
        },
        "components": {
            "type": "object",
            "properties": {
                "schemas": {"type": "object", "additionalProperties": {"type": "object"}},
                "responses": {"type": "object", "additionalProperties": _RESPONSE},
                "securitySchemes": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "required": ["type"],
                        "properties": {
                            "type": {
                                "enum": ["apiKey", "http", "mutualTLS", "oauth2", "openIdConnect"]
                            }
                        },
                        "if": {"properties": {"type": {"const": "apiKey"}}},
                        "then": {"required": ["name", "in"]},
                        "else": {
                            "if": {"properties": {"type": {"const": "http"}}},
                            "then": {"required": ["scheme"]},
                        },
                    },
                },
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def _served_api_routes() -> set[tuple[str, str]]:
    """(method, path) of every route under /api/ in the real app (no lifespan: nothing runs)."""
    app = build_gateway_app(Settings())
    out = set()
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith("/api/"):
            for method in route.methods or ():
                if method != "HEAD":
                    out.add((method.lower(), route.path))
    return out


def test_every_api_route_is_documented(document: dict[str, Any]) -> None:
    served = _served_api_routes()
    assert len(served) > 60  # the gateway really was inspected
    documented = {
        (method, path)
        for path, methods in document["paths"].items()
        for method in methods
        if path.startswith("/api/")
    }
    missing = served - documented
    assert not missing, f"routes served but not in openapi.OPERATIONS: {sorted(missing)}"
    stale = documented - served
    assert not stale, f"routes in openapi.OPERATIONS that the gateway does not serve: {stale}"


def test_document_is_structurally_valid_openapi_31(document: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(OPENAPI_31_STRUCTURE).validate(document)


def test_every_component_schema_is_valid_json_schema(document: dict[str, Any]) -> None:
    for name, schema in document["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"components.schemas.{name}: {exc.message}")


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = _refs(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        node: Any = document
        for part in ref[2:].split("/"):
            assert isinstance(node, dict) and part in node, f"unresolved {ref}"
            node = node[part]


def test_operation_ids_unique_and_path_parameters_declared(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for methods in document["paths"].values() for op in methods.values()]
    assert len(ids) == len(set(ids))
    for path, methods in document["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for op in methods.values():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (path, declared)


def test_tags_and_security_schemes_are_declared(document: dict[str, Any]) -> None:
    tags = {t["name"] for t in document["tags"]}
    schemes = set(document["components"]["securitySchemes"])
    assert schemes == {"sessionCookie", "csrfToken", "bearerToken", "ingestKey"}
    for methods in document["paths"].values():
        for op in methods.values():
            assert set(op["tags"]) <= tags
            for requirement in op["security"]:
                assert set(requirement) <= schemes


def test_security_matches_how_each_route_authenticates(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert paths["/api/v1/events/batch"]["post"]["security"] == [{"ingestKey": []}]
    assert paths["/api/v1/auth/login"]["post"]["security"] == []
    # a cookie write needs the CSRF header; a read does not; a bearer token never does
    assert paths["/api/v1/admin/rules"]["post"]["security"] == [
        {"sessionCookie": [], "csrfToken": []},
        {"bearerToken": []},
    ]
    assert paths["/api/v1/admin/rules"]["get"]["security"] == [
        {"sessionCookie": []},
        {"bearerToken": []},
    ]
    assert paths["/api/v1/admin/users"]["get"]["x-min-role"] == "admin"
    assert paths["/api/v1/admin/rules"]["post"]["x-min-role"] == "editor"


def test_errors_reference_the_one_error_shape(document: dict[str, Any]) -> None:
    responses = document["components"]["responses"]
    for name, response in responses.items():
        schema = response["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}, name
    error = document["components"]["schemas"]["Error"]
    validator = jsonschema.Draft202012Validator(error)
    validator.validate({"error": {"code": "unsafe_sql", "message": "no", "field": "sql"}})
    validator.validate({"error": {"code": "forbidden", "message": "no"}})
    assert not validator.is_valid({"detail": "no"})
    rule_post = document["paths"]["/api/v1/admin/rules"]["post"]["responses"]
    assert {"201", "400", "401", "403", "422"} <= set(rule_post)


def test_request_bodies_come_from_the_decoding_structs(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    body = document["paths"]["/api/v1/analytics/funnels"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FunnelQuery"
    }
    assert "steps" in schemas["FunnelQuery"]["required"]
    assert schemas["QueryRequest"]["properties"]["page_size"]["maximum"] == 10_000
    # a real funnel request validates against the published schema
    resolver_doc = {"$defs": schemas, **schemas["FunnelQuery"]}
    text = msgspec.json.encode(resolver_doc).decode().replace("#/components/schemas/", "#/$defs/")
    funnel = jsonschema.Draft202012Validator(msgspec.json.decode(text))
    funnel.validate({"steps": [{"event_type": "product_view"}, {"event_type": "add_to_cart"}]})
    assert not funnel.is_valid({"steps": [], "bogus": 1})


def test_event_envelope_mirrors_the_validator() -> None:
    """Ingestion validates by hand with Raw fields that have no schema; the document's
    mirror must keep exactly the validator's fields."""
    mirror = {f.name for f in msgspec.structs.fields(EventEnvelope)}
    real = {f.name for f in msgspec.structs.fields(_Envelope)}
    assert mirror == real
    required = {f.name for f in msgspec.structs.fields(_Envelope) if f.required}
    assert required == {f.name for f in msgspec.structs.fields(EventEnvelope) if f.required}


def test_served_at_its_path_without_credentials() -> None:
    client = TestClient(build_gateway_app(Settings()))
    r = client.get(OPENAPI_PATH)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["openapi"] == "3.1.0"
    assert r.json() == msgspec.json.decode(msgspec.json.encode(openapi_document()))


def test_registry_is_consistent() -> None:
    seen = set()
    for op in OPERATIONS:
        key = (op.method, op.path)
        assert key not in seen, key
        seen.add(key)
        assert op.tag in dict(TAGS), op
    assert describe_type({"anyOf": [{"type": "string"}, {"type": "null"}]}) == "string | null"
    assert describe_type({"type": "array", "items": {"$ref": "#/x/EventSelector"}}) == (
        "array of EventSelector"
    )
