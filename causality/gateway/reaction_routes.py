"""``/api/v1/admin/rules`` and ``/api/v1/admin/anomaly-detectors``: the reaction engine's
configuration, and trying a rule on a sample event.

Viewers read, editors write; users limited to some apps see and change only the rules and
detectors of those apps. Validation lives in ``causality.reactions.service`` (shared with the
CLI), so a handler is: authorize, decode, call the service, answer.
"""

from __future__ import annotations

from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from causality.auth.principal import Principal
from causality.auth.roles import Role
from causality.gateway.endpoint import endpoint
from causality.gateway.errors import json_response
from causality.gateway.guards import require
from causality.gateway.payload import read_struct
from causality.gateway.query_routes import page_params
from causality.gateway.state import GatewayState
from causality.reactions import service
from causality.reactions.rule_dry_run import RuleTestBody, dry_run
from causality.reactions.service import (
    Caller,
    DetectorBody,
    DetectorPatch,
    RuleBody,
    RulePatch,
)

PREFIX = "/api/v1/admin"
T = TypeVar("T")


def state_of(request: Request) -> GatewayState:
    """The gateway's lifespan state."""
    return request.app.state.gateway  # type: ignore[no-any-return]


def caller_of(principal: Principal) -> Caller:
    """The service's view of who acts: the user and the apps they are limited to."""
    return Caller(user_id=principal.user_id, app_ids=principal.app_ids)


def page(items: list[Any], total: int, limit: int, offset: int) -> Response:
    """One page of a listing, in the shape every admin listing uses."""
    return json_response(200, {"items": items, "total": total, "limit": limit, "offset": offset})


async def _viewer(request: Request) -> Caller:
    return caller_of(await require(request, Role.VIEWER))


async def _editor(request: Request) -> Caller:
    return caller_of(await require(request, Role.EDITOR))


# -- rules ------------------------------------------------------------------------------------


@endpoint
async def list_rules(request: Request) -> Response:
    """Rules the caller may see, highest priority first."""
    caller = await _viewer(request)
    limit, offset = page_params(request)
    items, total = await service.list_rules(
        state_of(request).pool, caller, limit=limit, offset=offset
    )
    return page(items, total, limit, offset)


@endpoint
async def create_rule(request: Request) -> Response:
    """Create a rule (editors); engines pick it up within a second."""
    caller = await _editor(request)
    body = await read_struct(request, RuleBody)
    return json_response(201, await service.create_rule(state_of(request).pool, caller, body))


@endpoint
async def get_rule(request: Request) -> Response:
    """One rule."""
    caller = await _viewer(request)
    rule_id = request.path_params["rule_id"]
    return json_response(200, await service.get_rule(state_of(request).pool, caller, rule_id))


@endpoint
async def replace_rule(request: Request) -> Response:
    """Replace every field of a rule (editors)."""
    caller = await _editor(request)
    body = await read_struct(request, RuleBody)
    rule_id = request.path_params["rule_id"]
    updated = await service.update_rule(state_of(request).pool, caller, rule_id, body)
    return json_response(200, updated)


@endpoint
async def patch_rule(request: Request) -> Response:
    """Change some fields of a rule, e.g. ``{"enabled": false}`` (editors)."""
    caller = await _editor(request)
    body = await read_struct(request, RulePatch)
    rule_id = request.path_params["rule_id"]
    updated = await service.update_rule(state_of(request).pool, caller, rule_id, body)
    return json_response(200, updated)


@endpoint
async def delete_rule(request: Request) -> Response:
    """Delete a rule (editors); its alerts stay in the history."""
    caller = await _editor(request)
    await service.delete_rule(state_of(request).pool, caller, request.path_params["rule_id"])
    return Response(status_code=204)


@endpoint
async def try_rule(request: Request) -> Response:
    """Run a rule on a sample event and show which conditions matched; fires nothing."""
    caller = await _editor(request)
    body = await read_struct(request, RuleTestBody)
    state = state_of(request)
    result = await dry_run(
        state.pool, state.validator, caller, request.path_params["rule_id"], body
    )
    return json_response(200, result)


# -- anomaly detectors ------------------------------------------------------------------------


@endpoint
async def list_detectors(request: Request) -> Response:
    """Detectors the caller may see, most recently changed first."""
    caller = await _viewer(request)
    limit, offset = page_params(request)
    items, total = await service.list_detectors(
        state_of(request).pool, caller, limit=limit, offset=offset
    )
    return page(items, total, limit, offset)


@endpoint
async def create_detector(request: Request) -> Response:
    """Create an anomaly detector (editors)."""
    caller = await _editor(request)
    body = await read_struct(request, DetectorBody)
    created = await service.create_detector(state_of(request).pool, caller, body)
    return json_response(201, created)


@endpoint
async def get_detector(request: Request) -> Response:
    """One anomaly detector."""
    caller = await _viewer(request)
    detector_id = request.path_params["detector_id"]
    found = await service.get_detector(state_of(request).pool, caller, detector_id)
    return json_response(200, found)


@endpoint
async def replace_detector(request: Request) -> Response:
    """Replace every field of a detector (editors)."""
    caller = await _editor(request)
    body = await read_struct(request, DetectorBody)
    detector_id = request.path_params["detector_id"]
    updated = await service.update_detector(state_of(request).pool, caller, detector_id, body)
    return json_response(200, updated)


@endpoint
async def patch_detector(request: Request) -> Response:
    """Change some fields of a detector (editors)."""
    caller = await _editor(request)
    body = await read_struct(request, DetectorPatch)
    detector_id = request.path_params["detector_id"]
    updated = await service.update_detector(state_of(request).pool, caller, detector_id, body)
    return json_response(200, updated)


@endpoint
async def delete_detector(request: Request) -> Response:
    """Delete a detector (editors); its alerts stay in the history."""
    caller = await _editor(request)
    detector_id = request.path_params["detector_id"]
    await service.delete_detector(state_of(request).pool, caller, detector_id)
    return Response(status_code=204)


def routes() -> list[Route]:
    """The rule and detector routes, for ``build_gateway_app``."""
    rules = f"{PREFIX}/rules"
    rule = rules + "/{rule_id}"
    dets = f"{PREFIX}/anomaly-detectors"
    det = dets + "/{detector_id}"
    return [
        Route(rules, list_rules, methods=["GET"]),
        Route(rules, create_rule, methods=["POST"]),
        Route(rule, get_rule, methods=["GET"]),
        Route(rule, replace_rule, methods=["PUT"]),
        Route(rule, patch_rule, methods=["PATCH"]),
        Route(rule, delete_rule, methods=["DELETE"]),
        Route(rule + "/test", try_rule, methods=["POST"]),
        Route(dets, list_detectors, methods=["GET"]),
        Route(dets, create_detector, methods=["POST"]),
        Route(det, get_detector, methods=["GET"]),
        Route(det, replace_detector, methods=["PUT"]),
        Route(det, patch_detector, methods=["PATCH"]),
        Route(det, delete_detector, methods=["DELETE"]),
    ]
