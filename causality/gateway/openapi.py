"""The OpenAPI 3.1 document of the gateway's HTTP API, served at ``/api/v1/openapi.json``.

The document is generated from ``OPERATIONS``, a registry that names each route once (method,
path, summary, tag, the role it needs, the msgspec struct its body is decoded with, its success
and error statuses). Request bodies come from the very structs the handlers decode with
(``msgspec.json.schema_components``), so a field added to a body shows up here by itself; a
unit test fails when a route the gateway serves under ``/api/`` is missing from the registry
(or the registry names one that no longer exists), so the two cannot drift apart. The public
``/docs`` page renders the same document, which is why it carries readable summaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import msgspec

from causality.analytics import funnels, paths, retention, trends
from causality.events.model import DeviceContext
from causality.gateway import admin_routes, auth_routes, insight_routes, llm_routes, query_routes
from causality.reactions.rule_dry_run import RuleTestBody
from causality.reactions.service import DetectorBody, DetectorPatch, RuleBody, RulePatch
from causality.reactions.webhook_service import WebhookBody, WebhookPatch

OPENAPI_PATH = "/api/v1/openapi.json"
API_VERSION = "1"
Auth = Literal["none", "api_key", "user"]
Role = Literal["viewer", "editor", "admin", "any"]

TAGS: tuple[tuple[str, str], ...] = (
    ("Ingestion", "Events in, from SDKs and servers (X-API-Key)."),
    ("Auth", "Log in and out, the caller, personal API tokens."),
    ("Admin", "Users, apps and ingestion keys (admins)."),
    ("Analytics", "SQL, saved queries, history and the live event stream."),
    ("Insights", "Trends, funnels, retention and paths, as chart-ready JSON."),
    ("Dashboards", "Ordered tiles of insights and saved queries."),
    ("Reactions", "Rules, anomaly detectors, webhooks, alerts and deliveries."),
    ("LLM", "Questions in plain English, explanations and conversations."),
    ("Operations", "Health, readiness, metrics and this document."),
)


# -- request bodies without a decodable struct of their own ---------------------------------
#
# Ingestion validates envelopes by hand (``causality.events.validation``) with ``msgspec.Raw``
# fields that have no JSON Schema; these mirror them for the document. A unit test checks
# that ``EventEnvelope`` has exactly the validator's fields.


class EventEnvelope(msgspec.Struct, kw_only=True):
    """One event as an SDK sends it; the server fills ``id`` and ``received_at_ms``."""

    type: str
    device_id: str
    idempotency_key: str | None = None
    id: str | None = None
    app_id: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    timestamp_ms: int | None = None
    received_at_ms: Any = None
    correlation_id: str | None = None
    device_context: DeviceContext | None = None
    properties: dict[str, Any] = {}


class EventBatch(msgspec.Struct, kw_only=True):
    """Up to ``max_batch_events`` envelopes; each is accepted or rejected on its own."""

    events: list[EventEnvelope]


@dataclass(frozen=True)
class Param:
    """A query parameter: name, JSON type and what it does."""

    name: str
    description: str
    type: str = "string"
    repeat: bool = False


PAGE = (
    Param("limit", "items per page (1-200, default 50)", "integer"),
    Param("offset", "items to skip (default 0)", "integer"),
)


@dataclass(frozen=True)
class Operation:
    """One route of the HTTP API, as the document and the docs page describe it."""

    method: str
    path: str
    summary: str
    tag: str
    auth: Auth = "user"
    role: Role = "viewer"
    body: type | None = None
    ok: int = 200
    ok_description: str = "OK"
    ok_media: str = "application/json"
    errors: tuple[int, ...] = ()
    params: tuple[Param, ...] = ()
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def operation_id(self) -> str:
        """A stable, readable id: the method and the path's words (``post_admin_rules_test``)."""
        words = re.sub(r"[{}]", "", self.path.removeprefix("/api/v1/")).replace("-", "_")
        return f"{self.method.lower()}_{re.sub(r'[^a-z0-9_]+', '_', words).strip('_')}"

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    @property
    def is_write(self) -> bool:
        return self.method in {"POST", "PUT", "PATCH", "DELETE"}


def _op(method: str, path: str, summary: str, tag: str, **kw: Any) -> Operation:
    return Operation(method=method, path=path, summary=summary, tag=tag, **kw)


A = "/api/v1/admin"
Q = "/api/v1/analytics"
L = "/api/v1/llm"

OPERATIONS: tuple[Operation, ...] = (
    # -- ingestion
    _op(
        "POST", "/api/v1/events/ingest", "Send one event", "Ingestion",
        auth="api_key", body=EventEnvelope, ok=202,
        ok_description="accepted: per-event counts and the stored event's id",
        errors=(400, 401, 413, 415, 429, 503),
        description="An invalid event is a 400 naming its field. Gzip is accepted with "
        "Content-Encoding: gzip; browsers using sendBeacon may pass ?api_key=.",
        params=(Param("api_key", "the ingestion key, for clients that cannot set headers"),),
    ),
    _op(
        "POST", "/api/v1/events/batch", "Send a batch of events", "Ingestion",
        auth="api_key", body=EventBatch, ok=202,
        ok_description="accepted, duplicates and rejected counts, with each rejection's "
        "index, field and reason",
        errors=(400, 401, 413, 415, 429, 503),
        description="At most max_batch_events events and max_body_bytes (also after gzip). "
        "202 only after JetStream acknowledged every accepted event.",
        params=(Param("api_key", "the ingestion key, for clients that cannot set headers"),),
    ),
    # -- auth
    _op(
        "POST", "/api/v1/auth/login", "Log in with email and password", "Auth",
        auth="none", body=auth_routes.LoginBody,
        ok_description="the user and the session's CSRF token; sets the HttpOnly session cookie",
        errors=(400, 401, 422, 429),
    ),
    _op("POST", "/api/v1/auth/logout", "End the session", "Auth", role="any", ok=204),
    _op(
        "GET", "/api/v1/auth/me", "The caller, and the session's CSRF token", "Auth", role="any"
    ),
    _op(
        "POST", "/api/v1/auth/tokens", "Create a personal API token (shown once)", "Auth",
        role="any", body=auth_routes.CreateTokenBody, ok=201, errors=(400, 422),
    ),
    _op("GET", "/api/v1/auth/tokens", "List your API tokens", "Auth", role="any"),
    _op(
        "DELETE", "/api/v1/auth/tokens/{token_id}", "Revoke one of your API tokens", "Auth",
        role="any", ok=204, errors=(404,),
    ),
    # -- admin
    _op("GET", f"{A}/users", "List users", "Admin", role="admin"),
    _op(
        "POST", f"{A}/users", "Create a user (a generated password is returned once)", "Admin",
        role="admin", body=admin_routes.CreateUserBody, ok=201, errors=(400, 409, 422),
    ),
    _op(
        "PATCH", f"{A}/users/{{user_id}}", "Change a user's role, apps, password or status",
        "Admin", role="admin", body=admin_routes.UpdateUserBody, errors=(400, 404, 409, 422),
    ),
    _op(
        "DELETE", f"{A}/users/{{user_id}}", "Delete a user", "Admin",
        role="admin", ok=204, errors=(404, 409),
    ),
    _op("GET", f"{A}/apps", "List apps", "Admin", role="admin"),
    _op(
        "POST", f"{A}/apps", "Create an app", "Admin",
        role="admin", body=admin_routes.CreateAppBody, ok=201, errors=(400, 409, 422),
    ),
    _op(
        "GET", f"{A}/apps/{{app_id}}/keys", "List an app's ingestion keys", "Admin",
        role="admin", errors=(404,),
    ),
    _op(
        "POST", f"{A}/apps/{{app_id}}/keys", "Create an ingestion key (shown once)", "Admin",
        role="admin", body=admin_routes.CreateKeyBody, ok=201, errors=(400, 404, 422),
    ),
    _op(
        "DELETE", f"{A}/keys/{{key_id}}", "Revoke an ingestion key", "Admin",
        role="admin", ok=204, errors=(404,),
    ),
    # -- analytics: SQL
    _op("GET", f"{Q}/schema", "Tables, columns and the event types seen", "Analytics"),
    _op(
        "POST", f"{Q}/query", "Run SQL and get one page of rows", "Analytics",
        body=query_routes.QueryRequest, ok_description="columns, types, rows and has_more",
        errors=(400, 413, 422, 503, 504),
    ),
    _op(
        "POST", f"{Q}/query/export", "Run SQL and download every row as CSV or JSON",
        "Analytics", body=query_routes.ExportRequest, ok_media="text/csv",
        errors=(400, 413, 422, 503, 504),
    ),
    _op(
        "GET", f"{Q}/history", "Your query history, newest first", "Analytics",
        params=(Param("limit", "runs per page", "integer"), Param("before", "a run id")),
    ),
    _op("GET", f"{Q}/saved-queries", "List saved queries", "Analytics", params=PAGE),
    _op(
        "POST", f"{Q}/saved-queries", "Save a query", "Analytics",
        role="editor", body=query_routes.SavedQueryBody, ok=201, errors=(400, 422),
    ),
    _op("GET", f"{Q}/saved-queries/{{query_id}}", "One saved query", "Analytics", errors=(404,)),
    _op(
        "PUT", f"{Q}/saved-queries/{{query_id}}", "Replace a saved query", "Analytics",
        role="editor", body=query_routes.SavedQueryBody, errors=(400, 404, 422),
    ),
    _op(
        "DELETE", f"{Q}/saved-queries/{{query_id}}", "Delete a saved query", "Analytics",
        role="editor", ok=204, errors=(404,),
    ),
    _op(
        "GET", f"{Q}/events/stream", "Live tail of incoming events (Server-Sent Events)",
        "Analytics", ok_media="text/event-stream", errors=(400,),
        ok_description="one event message per matching event, heartbeats, and dropped "
        "notes when the client's buffer overflowed",
        params=(
            Param("app_id", "only this app's events"),
            Param("type", "only this event type"),
            Param("event_name", "only custom events of this name"),
            Param("property", "key:value a property must equal (repeatable)", repeat=True),
        ),
    ),
    # -- insights
    _op(
        "POST", f"{Q}/trends", "Trends: counts over time, breakdown and compare", "Insights",
        body=trends.TrendsQuery, errors=(400, 422, 504),
    ),
    _op(
        "POST", f"{Q}/funnels", "Funnels: conversion through ordered steps", "Insights",
        body=funnels.FunnelQuery, errors=(400, 422, 504),
    ),
    _op(
        "POST", f"{Q}/retention", "Retention: cohorts coming back per period", "Insights",
        body=retention.RetentionQuery, errors=(400, 422, 504),
    ),
    _op(
        "POST", f"{Q}/paths", "Paths: what users do before or after a screen", "Insights",
        body=paths.PathsQuery, errors=(400, 422, 504),
    ),
    # -- dashboards
    _op("GET", f"{Q}/dashboards", "List dashboards", "Dashboards", params=PAGE),
    _op(
        "POST", f"{Q}/dashboards", "Create a dashboard", "Dashboards",
        role="editor", body=insight_routes.DashboardBody, ok=201, errors=(400, 422),
    ),
    _op(
        "GET", f"{Q}/dashboards/{{dashboard_id}}", "One dashboard with its tiles", "Dashboards",
        errors=(404,),
    ),
    _op(
        "PUT", f"{Q}/dashboards/{{dashboard_id}}", "Replace a dashboard", "Dashboards",
        role="editor", body=insight_routes.DashboardBody, errors=(400, 404, 422),
    ),
    _op(
        "DELETE", f"{Q}/dashboards/{{dashboard_id}}", "Delete a dashboard", "Dashboards",
        role="editor", ok=204, errors=(404,),
    ),
    # -- reactions: rules
    _op("GET", f"{A}/rules", "List rules", "Reactions", params=PAGE),
    _op(
        "POST", f"{A}/rules", "Create a rule", "Reactions",
        role="editor", body=RuleBody, ok=201, errors=(400, 422),
    ),
    _op("GET", f"{A}/rules/{{rule_id}}", "One rule", "Reactions", errors=(404,)),
    _op(
        "PUT", f"{A}/rules/{{rule_id}}", "Replace a rule", "Reactions",
        role="editor", body=RuleBody, errors=(400, 404, 422),
    ),
    _op(
        "PATCH", f"{A}/rules/{{rule_id}}", "Change some fields of a rule", "Reactions",
        role="editor", body=RulePatch, errors=(400, 404, 422),
    ),
    _op(
        "DELETE", f"{A}/rules/{{rule_id}}", "Delete a rule", "Reactions",
        role="editor", ok=204, errors=(404,),
    ),
    _op(
        "POST", f"{A}/rules/{{rule_id}}/test", "Try a rule on a sample event (fires nothing)",
        "Reactions", body=RuleTestBody, errors=(400, 404, 422),
    ),
    # -- reactions: anomaly detectors
    _op("GET", f"{A}/anomaly-detectors", "List anomaly detectors", "Reactions", params=PAGE),
    _op(
        "POST", f"{A}/anomaly-detectors", "Create an anomaly detector", "Reactions",
        role="editor", body=DetectorBody, ok=201, errors=(400, 422),
    ),
    _op(
        "GET", f"{A}/anomaly-detectors/{{detector_id}}", "One anomaly detector", "Reactions",
        errors=(404,),
    ),
    _op(
        "PUT", f"{A}/anomaly-detectors/{{detector_id}}", "Replace an anomaly detector",
        "Reactions", role="editor", body=DetectorBody, errors=(400, 404, 422),
    ),
    _op(
        "PATCH", f"{A}/anomaly-detectors/{{detector_id}}", "Change some fields of a detector",
        "Reactions", role="editor", body=DetectorPatch, errors=(400, 404, 422),
    ),
    _op(
        "DELETE", f"{A}/anomaly-detectors/{{detector_id}}", "Delete an anomaly detector",
        "Reactions", role="editor", ok=204, errors=(404,),
    ),
    # -- reactions: webhooks, alerts, deliveries
    _op("GET", f"{A}/webhooks", "List webhooks (never their secrets)", "Reactions", params=PAGE),
    _op(
        "POST", f"{A}/webhooks", "Create a webhook", "Reactions",
        role="editor", body=WebhookBody, ok=201, errors=(400, 422),
    ),
    _op("GET", f"{A}/webhooks/{{webhook_id}}", "One webhook", "Reactions", errors=(404,)),
    _op(
        "PUT", f"{A}/webhooks/{{webhook_id}}", "Replace a webhook", "Reactions",
        role="editor", body=WebhookBody, errors=(400, 404, 422),
    ),
    _op(
        "PATCH", f"{A}/webhooks/{{webhook_id}}", "Change some fields of a webhook", "Reactions",
        role="editor", body=WebhookPatch, errors=(400, 404, 422),
    ),
    _op(
        "DELETE", f"{A}/webhooks/{{webhook_id}}", "Delete a webhook", "Reactions",
        role="editor", ok=204, errors=(404, 409),
    ),
    _op(
        "POST", f"{A}/webhooks/{{webhook_id}}/test", "Send a test delivery now", "Reactions",
        role="editor", ok_description="the outcome, also when the receiver failed",
        errors=(404,),
    ),
    _op(
        "GET", f"{A}/alerts", "List alerts, newest first", "Reactions",
        params=(
            *PAGE,
            Param("source", "rule or anomaly"),
            Param("rule_id", "alerts of this rule"),
            Param("detector_id", "alerts of this detector"),
            Param("app_id", "alerts of this app"),
        ),
    ),
    _op("GET", f"{A}/alerts/{{alert_id}}", "One alert with its details", "Reactions",
        errors=(404,)),
    _op(
        "GET", f"{A}/deliveries", "List webhook deliveries, newest first", "Reactions",
        params=(
            *PAGE,
            Param("status", "pending, delivered, failed or dead_letter"),
            Param("webhook_id", "deliveries to this webhook"),
            Param("alert_id", "deliveries of this alert"),
            Param("kind", "alert or test"),
        ),
    ),
    _op(
        "GET", f"{A}/deliveries/{{delivery_id}}", "One delivery with every attempt", "Reactions",
        errors=(404,),
    ),
    _op(
        "POST", f"{A}/deliveries/{{delivery_id}}/retry", "Queue a dead-lettered delivery again",
        "Reactions", role="editor", errors=(404, 409),
    ),
    # -- LLM
    _op(
        "POST", f"{L}/ask", "Ask a question in plain English (steps as Server-Sent Events)",
        "LLM", body=llm_routes.AskRequest, ok_media="text/event-stream",
        ok_description="context, sql, rejection or error, result, explanation, chart and "
        "answer steps, one event each",
        errors=(400, 422, 429, 503, 504),
    ),
    _op(
        "POST", f"{L}/explain", "Run SQL and explain its rows", "LLM",
        body=llm_routes.ExplainRequest, errors=(400, 422, 429, 503, 504),
    ),
    _op("GET", f"{L}/conversations", "List your conversations", "LLM", params=PAGE),
    _op(
        "GET", f"{L}/conversations/{{conversation_id}}", "One conversation with every step",
        "LLM", errors=(404,),
    ),
    _op(
        "PATCH", f"{L}/conversations/{{conversation_id}}", "Rename a conversation", "LLM",
        body=llm_routes.RenameRequest, errors=(400, 404, 422),
    ),
    _op(
        "DELETE", f"{L}/conversations/{{conversation_id}}", "Delete a conversation", "LLM",
        ok=204, errors=(404,),
    ),
    # -- operations
    _op("GET", "/health", "The process is alive", "Operations", auth="none"),
    _op(
        "GET", "/ready", "NATS and PostgreSQL are reachable", "Operations", auth="none",
        errors=(503,),
    ),
    _op(
        "GET", "/metrics", "Prometheus metrics", "Operations", auth="none", ok_media="text/plain"
    ),
    _op(
        "GET", OPENAPI_PATH, "This OpenAPI document", "Operations", auth="none",
    ),
)  # fmt: skip


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "malformed body or parameter (the error names the field)",
    401: "not authenticated",
    403: "the role is too low, or the CSRF header is missing (csrf_failed)",
    404: "not found (or not visible to the caller)",
    409: "conflicts with the current state",
    413: "body or result too large",
    415: "unsupported content type or encoding",
    422: "the body does not validate (the error names the field)",
    429: "rate limited; Retry-After says when to come back",
    503: "a dependency is unavailable; retry after Retry-After",
    504: "the query timed out",
}

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "description": "Every error the gateway answers has this shape.",
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "machine-readable, e.g. unsafe_sql"},
                "message": {"type": "string", "description": "what went wrong, in words"},
                "field": {
                    "type": ["string", "null"],
                    "description": "the body field or parameter at fault, when there is one",
                },
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}

SECURITY_SCHEMES: dict[str, Any] = {
    "sessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "causality_session",
        "description": "set by POST /api/v1/auth/login (HttpOnly, SameSite=Strict)",
    },
    "csrfToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "the session's csrf_token; required with the cookie on writes",
    },
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "a personal API token (ct_...) from POST /api/v1/auth/tokens",
    },
    "ingestKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "an app's ingestion key (ck_...)",
    },
}


def _security(op: Operation) -> list[dict[str, list[str]]]:
    """Which credentials an operation accepts: none, an ingestion key, or a user."""
    if op.auth == "none":
        return []
    if op.auth == "api_key":
        return [{"ingestKey": []}]
    cookie = {"sessionCookie": [], "csrfToken": []} if op.is_write else {"sessionCookie": []}
    return [cookie, {"bearerToken": []}]


def _errors(op: Operation) -> list[int]:
    statuses = set(op.errors)
    if op.auth == "user":
        statuses |= {401, 403}
    if op.body is not None and op.auth != "none":
        statuses |= {400, 415}
    return sorted(statuses)


def _role_note(op: Operation) -> str:
    if op.auth == "none":
        return "No authentication."
    if op.auth == "api_key":
        return "Needs an app's ingestion key (X-API-Key)."
    if op.role == "any":
        return "Needs a login (any role)."
    return f"Needs the {op.role} role or higher."


def _operation(op: Operation, body_refs: dict[type, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": " ".join(s for s in (op.description, _role_note(op)) if s),
        "tags": [op.tag],
        "security": _security(op),
        "x-min-role": None if op.auth != "user" else op.role,
    }
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in op.path_params
    ]
    for p in op.params:
        schema: dict[str, Any] = {"type": p.type}
        if p.repeat:
            schema = {"type": "array", "items": schema}
        parameters.append(
            {"name": p.name, "in": "query", "description": p.description, "schema": schema}
        )
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body_refs[op.body]}},
        }
    responses: dict[str, Any] = {}
    if op.ok == 204:
        responses["204"] = {"description": "done, no content"}
    else:
        schema = {"type": "object"} if op.ok_media == "application/json" else {"type": "string"}
        responses[str(op.ok)] = {
            "description": op.ok_description,
            "content": {op.ok_media: {"schema": schema}},
        }
    for status in _errors(op):
        responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    out["responses"] = responses
    return out


@cache
def openapi_document() -> dict[str, Any]:
    """The whole document (built once per process; the registry is static)."""
    bodies = list(dict.fromkeys(op.body for op in OPERATIONS if op.body is not None))
    refs, components = msgspec.json.schema_components(
        bodies, ref_template="#/components/schemas/{name}"
    )
    body_refs = dict(zip(bodies, refs, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, body_refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Causality HTTP API",
            "version": API_VERSION,
            "summary": "Self-hosted behavioral analytics: ingestion, analytics, reactions, LLM.",
            "description": (
                'Every error is JSON: {"error": {"code", "message", "field"}}. '
                "Browsers authenticate with the session cookie from /api/v1/auth/login and "
                "echo its csrf_token in X-CSRF-Token on writes; scripts send a personal token "
                "as Authorization: Bearer; SDKs send an app's key as X-API-Key."
            ),
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": name, "description": text} for name, text in TAGS],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA, **components},
            "responses": {
                f"E{status}": {
                    "description": text,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
                for status, text in ERROR_DESCRIPTIONS.items()
            },
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def body_fields(schema_ref: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A request body's top-level fields for the docs page: name, type, required, default,
    description. Nested structs are shown by name (they have their own schema entries)."""
    if not schema_ref or "$ref" not in schema_ref:
        return []
    schemas = openapi_document()["components"]["schemas"]
    schema = schemas[schema_ref["$ref"].rsplit("/", 1)[1]]
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": describe_type(prop),
            "required": name in required,
            "default": prop.get("default"),
            "has_default": "default" in prop,
            "description": prop.get("description", ""),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def describe_type(schema: dict[str, Any]) -> str:
    """A short human reading of a JSON Schema (``string | null``, ``array of EventSelector``)."""
    if "$ref" in schema:
        return str(schema["$ref"].rsplit("/", 1)[1])
    if "anyOf" in schema:
        return " | ".join(describe_type(s) for s in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(repr(v) if isinstance(v, str) else str(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    kind = schema.get("type")
    if kind == "array":
        return f"array of {describe_type(schema.get('items', {}))}"
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    if kind == "object" and "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        return "object" if not isinstance(extra, dict) else f"map of {describe_type(extra)}"
    return str(kind) if kind else "any"
