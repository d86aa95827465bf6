"""``/api/v1/admin/webhooks``, ``/alerts`` and ``/deliveries``: delivery targets, what fired
and what was sent.

Webhooks are team-wide: viewers list them (never their secrets), editors manage and test them.
Alert and delivery history is read by viewers, limited to the caller's apps; retrying a dead
letter is an editor's write.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from causality.auth.roles import Role
from causality.gateway.endpoint import endpoint
from causality.gateway.errors import ApiError, json_response
from causality.gateway.guards import require
from causality.gateway.payload import read_struct
from causality.gateway.query_routes import page_params
from causality.gateway.reaction_routes import PREFIX, caller_of, page, state_of
from causality.reactions import history_service, webhook_service
from causality.reactions.webhook_service import WebhookBody, WebhookPatch
from causality.store.alerts import AlertFilter
from causality.store.deliveries import DeliveryFilter

# -- webhooks ---------------------------------------------------------------------------------


@endpoint
async def list_webhooks(request: Request) -> Response:
    """Webhooks, most recently changed first (``has_secret``, never the secret)."""
    await require(request, Role.VIEWER)
    limit, offset = page_params(request)
    items, total = await webhook_service.list_webhooks(
        state_of(request).pool, limit=limit, offset=offset
    )
    return page(items, total, limit, offset)


@endpoint
async def create_webhook(request: Request) -> Response:
    """Create a webhook (editors); a private or loopback target is refused (422 ``url``)."""
    caller = caller_of(await require(request, Role.EDITOR))
    body = await read_struct(request, WebhookBody)
    state = state_of(request)
    created = await webhook_service.create_webhook(
        state.pool, caller, body, settings=state.settings
    )
    return json_response(201, created)


@endpoint
async def get_webhook(request: Request) -> Response:
    """One webhook."""
    await require(request, Role.VIEWER)
    webhook_id = request.path_params["webhook_id"]
    return json_response(200, await webhook_service.get_webhook(state_of(request).pool, webhook_id))


async def _update(request: Request, body_type: type[WebhookBody] | type[WebhookPatch]) -> Response:
    await require(request, Role.EDITOR)
    body = await read_struct(request, body_type)
    state = state_of(request)
    updated = await webhook_service.update_webhook(
        state.pool, request.path_params["webhook_id"], body, settings=state.settings
    )
    return json_response(200, updated)


@endpoint
async def replace_webhook(request: Request) -> Response:
    """Replace a webhook (editors); without ``auth_secret`` the stored secret is kept."""
    return await _update(request, WebhookBody)


@endpoint
async def patch_webhook(request: Request) -> Response:
    """Change some fields of a webhook (editors)."""
    return await _update(request, WebhookPatch)


@endpoint
async def delete_webhook(request: Request) -> Response:
    """Delete a webhook (editors); 409 naming the rules and detectors still using it."""
    await require(request, Role.EDITOR)
    await webhook_service.delete_webhook(state_of(request).pool, request.path_params["webhook_id"])
    return Response(status_code=204)


@endpoint
async def send_test(request: Request) -> Response:
    """Send a test delivery now; 200 with the outcome, also when the receiver failed."""
    await require(request, Role.EDITOR)
    state = state_of(request)
    result = await webhook_service.send_test(
        state.pool, state.sender, request.path_params["webhook_id"], settings=state.settings
    )
    return json_response(200, result)


# -- history ----------------------------------------------------------------------------------


def _choice(request: Request, name: str, allowed: Sequence[str]) -> Any:
    """A query parameter that must be one of ``allowed`` (a Literal of the filter), or None."""
    value = request.query_params.get(name)
    if value is not None and value not in allowed:
        raise ApiError(
            400, "invalid_parameter", f"{name} must be one of {', '.join(allowed)}", field=name
        )
    return value


def _uuid_param(request: Request, name: str) -> uuid.UUID | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name} must be a UUID", field=name) from None


@endpoint
async def list_alerts(request: Request) -> Response:
    """Alerts newest first; filters ``source``, ``rule_id``, ``detector_id``, ``app_id``."""
    caller = caller_of(await require(request, Role.VIEWER))
    limit, offset = page_params(request)
    flt = AlertFilter(
        source=_choice(request, "source", ("rule", "anomaly")),
        rule_id=_uuid_param(request, "rule_id"),
        detector_id=_uuid_param(request, "detector_id"),
        app_id=request.query_params.get("app_id"),
    )
    items, total = await history_service.list_alerts(
        state_of(request).pool, caller, limit=limit, offset=offset, flt=flt
    )
    return page(items, total, limit, offset)


@endpoint
async def get_alert(request: Request) -> Response:
    """One alert with its details (the event, or what was observed against what expected)."""
    caller = caller_of(await require(request, Role.VIEWER))
    alert_id = request.path_params["alert_id"]
    found = await history_service.get_alert(state_of(request).pool, caller, alert_id)
    return json_response(200, found)


@endpoint
async def list_deliveries(request: Request) -> Response:
    """Deliveries newest first; filters ``status``, ``webhook_id``, ``alert_id``, ``kind``."""
    caller = caller_of(await require(request, Role.VIEWER))
    limit, offset = page_params(request)
    flt = DeliveryFilter(
        status=_choice(request, "status", ("pending", "delivered", "dead_letter")),
        webhook_id=_uuid_param(request, "webhook_id"),
        alert_id=_uuid_param(request, "alert_id"),
        kind=_choice(request, "kind", ("alert", "test")),
    )
    items, total = await history_service.list_deliveries(
        state_of(request).pool, caller, limit=limit, offset=offset, flt=flt
    )
    return page(items, total, limit, offset)


@endpoint
async def get_delivery(request: Request) -> Response:
    """One delivery with its payload and every attempt."""
    caller = caller_of(await require(request, Role.VIEWER))
    delivery_id = request.path_params["delivery_id"]
    found = await history_service.get_delivery(state_of(request).pool, caller, delivery_id)
    return json_response(200, found)


@endpoint
async def retry_delivery(request: Request) -> Response:
    """Queue a dead-lettered delivery again (editors); 409 when it is not dead-lettered."""
    caller = caller_of(await require(request, Role.EDITOR))
    delivery_id = request.path_params["delivery_id"]
    found = await history_service.retry_delivery(state_of(request).pool, caller, delivery_id)
    return json_response(200, found)


def routes() -> list[Route]:
    """The webhook and history routes, for ``build_gateway_app``."""
    hooks = f"{PREFIX}/webhooks"
    hook = hooks + "/{webhook_id}"
    return [
        Route(hooks, list_webhooks, methods=["GET"]),
        Route(hooks, create_webhook, methods=["POST"]),
        Route(hook, get_webhook, methods=["GET"]),
        Route(hook, replace_webhook, methods=["PUT"]),
        Route(hook, patch_webhook, methods=["PATCH"]),
        Route(hook, delete_webhook, methods=["DELETE"]),
        Route(hook + "/test", send_test, methods=["POST"]),
        Route(f"{PREFIX}/alerts", list_alerts, methods=["GET"]),
        Route(f"{PREFIX}/alerts/{{alert_id}}", get_alert, methods=["GET"]),
        Route(f"{PREFIX}/deliveries", list_deliveries, methods=["GET"]),
        Route(f"{PREFIX}/deliveries/{{delivery_id}}", get_delivery, methods=["GET"]),
        Route(f"{PREFIX}/deliveries/{{delivery_id}}/retry", retry_delivery, methods=["POST"]),
    ]
