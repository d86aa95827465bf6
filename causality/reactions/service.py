"""Managing rules and anomaly detectors: the validation and store calls behind the admin API
and the CLI, so both accept and refuse exactly the same input.

Bodies are msgspec structs (types, ranges and unknown fields are checked when decoding);
everything that needs more than a type (the event catalogue, the condition language, detector
parameters, who may touch which app) is checked here and raised as an ``AdminError`` naming
the field. A ``Caller`` says who acts: users limited to some apps see and change only the rules
and detectors of those apps; the CLI acts for the operator, on everything.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import asyncpg
import msgspec

from causality.events.catalogue import CATEGORIES, CATEGORY_OF
from causality.reactions.conditions import InvalidCondition, validate_condition
from causality.reactions.detectors import InvalidDetector, validate_params
from causality.reactions.model import DetectorKind
from causality.store import detectors, rules
from causality.store.apps import APP_ID_PATTERN
from causality.store.detectors import DetectorFields, DetectorInfo
from causality.store.errors import AppNotFound
from causality.store.rules import RuleFields, RuleInfo
from causality.store.webhooks import UnknownWebhooks

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType

MAX_WEBHOOKS_PER_OWNER = 20
MAX_COOLDOWN_S = 7 * 86_400

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=5000)]
AppId = Annotated[str, msgspec.Meta(pattern=APP_ID_PATTERN.pattern)]
ScopeName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Priority = Annotated[int, msgspec.Meta(ge=-1000, le=1000)]
WebhookIds = Annotated[list[uuid.UUID], msgspec.Meta(max_length=MAX_WEBHOOKS_PER_OWNER)]
Cooldown = Annotated[int, msgspec.Meta(ge=0, le=MAX_COOLDOWN_S)]
Params = Annotated[dict[str, Any], msgspec.Meta(max_length=50)]


# -- errors ------------------------------------------------------------------------------------


class AdminError(Exception):
    """A refused admin operation; ``status`` is its HTTP form, ``field`` names the input."""

    status: int = 400
    code: str = "invalid_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.field, self.code))


def _rebuild(cls: type[AdminError], message: str, field: str | None, code: str) -> AdminError:
    return cls(message, field=field, code=code)


class InvalidInput(AdminError):
    """The input cannot be accepted as it is (HTTP 422)."""

    status = 422
    code = "invalid_field"


class NotFound(AdminError):
    """No such rule, detector, webhook, alert or delivery, as far as the caller may see."""

    status = 404
    code = "not_found"


class Forbidden(AdminError):
    """The caller may not act on this app (HTTP 403)."""

    status = 403
    code = "forbidden"


class Conflict(AdminError):
    """The operation contradicts the current state (HTTP 409): a webhook still in use, a
    delivery that is not dead-lettered."""

    status = 409
    code = "conflict"


def invalid(field: str, reason: str, *, code: str = "invalid_field") -> InvalidInput:
    """A 422 whose message starts with the field, like the body decoder's."""
    return InvalidInput(f"{field}: {reason}", field=field, code=code)


# -- who acts ---------------------------------------------------------------------------------


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    """Who performs an operation: ``app_ids`` None means every app (and the operator's CLI)."""

    user_id: str | None = None
    app_ids: frozenset[str] | None = None

    def check_app(self, app_id: str | None, what: str) -> None:
        """Refuse (403 naming ``app_id``) a rule or detector outside the caller's apps."""
        if self.app_ids is None:
            return
        if app_id is None:
            raise Forbidden(
                f"app_id: you may only manage {what}s of your apps; set app_id to one of them",
                field="app_id",
            )
        if app_id not in self.app_ids:
            raise Forbidden(f"app_id: you have no access to app {app_id!r}", field="app_id")


OPERATOR = Caller()


def parse_id(text: str, what: str) -> uuid.UUID:
    """A path id; anything that is not a UUID names nothing (404)."""
    try:
        return uuid.UUID(text)
    except (ValueError, TypeError, AttributeError):
        raise NotFound(f"no such {what}") from None


# -- bodies -----------------------------------------------------------------------------------


class RuleBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A rule as created or replaced."""

    name: Name
    description: Description = ""
    app_id: AppId | None = None
    event_category: ScopeName | None = None
    event_type: ScopeName | None = None
    condition: Any = None
    priority: Priority = 0
    enabled: bool = True
    publish_alert: bool = False
    webhook_ids: WebhookIds = []


class RulePatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Any subset of a rule's fields (enable or disable without resending the rest)."""

    name: Name | Unset = UNSET
    description: Description | Unset = UNSET
    app_id: AppId | Unset | None = UNSET
    event_category: ScopeName | Unset | None = UNSET
    event_type: ScopeName | Unset | None = UNSET
    condition: Any = UNSET
    priority: Priority | Unset = UNSET
    enabled: bool | Unset = UNSET
    publish_alert: bool | Unset = UNSET
    webhook_ids: WebhookIds | Unset = UNSET


class DetectorBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An anomaly detector as created or replaced."""

    name: Name
    description: Description = ""
    kind: DetectorKind
    app_id: AppId | None = None
    event_category: ScopeName | None = None
    event_type: ScopeName | None = None
    condition: Any = None
    params: Params = {}
    cooldown_s: Cooldown = 300
    enabled: bool = True
    publish_alert: bool = False
    webhook_ids: WebhookIds = []


class DetectorPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Any subset of a detector's fields."""

    name: Name | Unset = UNSET
    description: Description | Unset = UNSET
    kind: DetectorKind | Unset = UNSET
    app_id: AppId | Unset | None = UNSET
    event_category: ScopeName | Unset | None = UNSET
    event_type: ScopeName | Unset | None = UNSET
    condition: Any = UNSET
    params: Params | Unset = UNSET
    cooldown_s: Cooldown | Unset = UNSET
    enabled: bool | Unset = UNSET
    publish_alert: bool | Unset = UNSET
    webhook_ids: WebhookIds | Unset = UNSET


def given(body: msgspec.Struct) -> dict[str, Any]:
    """The fields a body sets (a patch leaves the others UNSET)."""
    return {k: v for k, v in msgspec.structs.asdict(body).items() if v is not UNSET}


# -- checks shared by rules and detectors ----------------------------------------------------


def check_scope(event_category: str | None, event_type: str | None) -> None:
    """The scope must name catalogue categories and types that agree with each other."""
    if event_category is not None and event_category not in CATEGORIES:
        raise invalid(
            "event_category",
            f"unknown category {event_category!r}; one of {', '.join(CATEGORIES)}",
        )
    if event_type is not None:
        category = CATEGORY_OF.get(event_type)
        if category is None:
            raise invalid(
                "event_type", f"unknown event type {event_type!r}; a catalogue type or 'custom'"
            )
        if event_category is not None and category != event_category:
            raise invalid(
                "event_type", f"{event_type!r} is in category {category!r}, not {event_category!r}"
            )


def check_condition(condition: Any) -> None:
    """Validate a condition tree (None matches every event in scope)."""
    try:
        validate_condition(condition, where="condition")
    except InvalidCondition as exc:
        raise invalid(exc.field, exc.reason, code="invalid_condition") from None


def webhook_id_texts(ids: Any) -> tuple[str, ...]:
    """Sorted, de-duplicated webhook ids as text."""
    return tuple(sorted({str(i) for i in ids}))


def _store_errors(exc: AppNotFound | UnknownWebhooks) -> AdminError:
    """What a write naming a missing app or webhook means to the caller."""
    if isinstance(exc, AppNotFound):
        return invalid("app_id", str(exc), code="app_not_found")
    return invalid("webhook_ids", str(exc), code="unknown_webhook")


# -- rules ------------------------------------------------------------------------------------


def _rule_fields(values: dict[str, Any], caller: Caller) -> RuleFields:
    check_scope(values.get("event_category"), values.get("event_type"))
    check_condition(values.get("condition"))
    caller.check_app(values.get("app_id"), "rule")
    values["webhook_ids"] = webhook_id_texts(values.get("webhook_ids", ()))
    return RuleFields(**values)


async def list_rules(
    pool: asyncpg.Pool, caller: Caller, *, limit: int, offset: int
) -> tuple[list[RuleInfo], int]:
    """A page of the rules the caller may see."""
    return await rules.list_page(pool, limit=limit, offset=offset, app_ids=caller.app_ids)


async def get_rule(pool: asyncpg.Pool, caller: Caller, rule_id: str) -> RuleInfo:
    """One rule the caller may see, or 404."""
    found = await rules.get(pool, parse_id(rule_id, "rule"), app_ids=caller.app_ids)
    if found is None:
        raise NotFound("no such rule")
    return found


async def create_rule(pool: asyncpg.Pool, caller: Caller, body: RuleBody) -> RuleInfo:
    """Validate and store a new rule."""
    fields = _rule_fields(given(body), caller)
    try:
        return await rules.create(pool, fields, created_by=caller.user_id)
    except (AppNotFound, UnknownWebhooks) as exc:
        raise _store_errors(exc) from None


async def update_rule(
    pool: asyncpg.Pool, caller: Caller, rule_id: str, body: RuleBody | RulePatch
) -> RuleInfo:
    """Replace a rule (``RuleBody``) or change some of its fields (``RulePatch``)."""
    key = parse_id(rule_id, "rule")
    if isinstance(body, RulePatch):
        current = await get_rule(pool, caller, rule_id)
        values = {**msgspec.structs.asdict(current.fields()), **given(body)}
    else:
        values = given(body)
    fields = _rule_fields(values, caller)
    try:
        updated = await rules.replace(pool, key, fields, app_ids=caller.app_ids)
    except (AppNotFound, UnknownWebhooks) as exc:
        raise _store_errors(exc) from None
    if updated is None:
        raise NotFound("no such rule")
    return updated


async def delete_rule(pool: asyncpg.Pool, caller: Caller, rule_id: str) -> None:
    """Delete a rule the caller may change; its alerts stay in the history."""
    if not await rules.delete(pool, parse_id(rule_id, "rule"), app_ids=caller.app_ids):
        raise NotFound("no such rule")


# -- detectors --------------------------------------------------------------------------------


def _detector_fields(values: dict[str, Any], caller: Caller) -> DetectorFields:
    check_scope(values.get("event_category"), values.get("event_type"))
    check_condition(values.get("condition"))
    try:
        values["params"] = validate_params(values["kind"], values.get("params", {}))
    except InvalidDetector as exc:
        raise invalid(exc.field, exc.reason, code="invalid_detector") from None
    caller.check_app(values.get("app_id"), "detector")
    values["webhook_ids"] = webhook_id_texts(values.get("webhook_ids", ()))
    return DetectorFields(**values)


async def list_detectors(
    pool: asyncpg.Pool, caller: Caller, *, limit: int, offset: int
) -> tuple[list[DetectorInfo], int]:
    """A page of the detectors the caller may see."""
    return await detectors.list_page(pool, limit=limit, offset=offset, app_ids=caller.app_ids)


async def get_detector(pool: asyncpg.Pool, caller: Caller, detector_id: str) -> DetectorInfo:
    """One detector the caller may see, or 404."""
    key = parse_id(detector_id, "anomaly detector")
    found = await detectors.get(pool, key, app_ids=caller.app_ids)
    if found is None:
        raise NotFound("no such anomaly detector")
    return found


async def create_detector(pool: asyncpg.Pool, caller: Caller, body: DetectorBody) -> DetectorInfo:
    """Validate and store a new detector."""
    fields = _detector_fields(given(body), caller)
    try:
        return await detectors.create(pool, fields, created_by=caller.user_id)
    except (AppNotFound, UnknownWebhooks) as exc:
        raise _store_errors(exc) from None


async def update_detector(
    pool: asyncpg.Pool, caller: Caller, detector_id: str, body: DetectorBody | DetectorPatch
) -> DetectorInfo:
    """Replace a detector (``DetectorBody``) or change some of its fields (``DetectorPatch``)."""
    key = parse_id(detector_id, "anomaly detector")
    if isinstance(body, DetectorPatch):
        current = await get_detector(pool, caller, detector_id)
        values = {**msgspec.structs.asdict(current.fields()), **given(body)}
    else:
        values = given(body)
    fields = _detector_fields(values, caller)
    try:
        updated = await detectors.replace(pool, key, fields, app_ids=caller.app_ids)
    except (AppNotFound, UnknownWebhooks) as exc:
        raise _store_errors(exc) from None
    if updated is None:
        raise NotFound("no such anomaly detector")
    return updated


async def delete_detector(pool: asyncpg.Pool, caller: Caller, detector_id: str) -> None:
    """Delete a detector the caller may change; its alerts stay in the history."""
    key = parse_id(detector_id, "anomaly detector")
    if not await detectors.delete(pool, key, app_ids=caller.app_ids):
        raise NotFound("no such anomaly detector")
