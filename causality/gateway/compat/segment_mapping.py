"""Segment (and RudderStack) messages as event-contract envelopes; docs/compat.md has the table.

One message of the Tracking API (``track``, ``identify``, ``page``, ``screen``, ``alias``,
``group``) becomes one envelope. Pure functions of the JSON, so the mapping is unit-tested
without a gateway.
"""

from __future__ import annotations

from typing import Any, Final

from causality.gateway.compat.envelope import (
    Mapped,
    base_envelope,
    custom_event,
    named_event,
    profile_update,
    screen_view,
)
from causality.gateway.compat.values import (
    Json,
    MappingError,
    as_id,
    as_size,
    as_text,
    compact,
    flatten,
    idempotency_key,
    screen_name_of,
    timestamp_ms,
    web_params,
)

CALLS: Final = ("track", "identify", "page", "screen", "alias", "group")
_CAMPAIGN_TO_UTM: Final = {
    "source": "utm_source",
    "medium": "utm_medium",
    "name": "utm_campaign",
    "term": "utm_term",
    "content": "utm_content",
}


def _object(value: Any, field: str) -> Json:
    """An optional JSON object (null means empty); anything else is the client's mistake."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MappingError(field, "expected an object")
    return value


def _sub(context: Json, name: str) -> Json:
    """A context section; a malformed one is ignored rather than failing the event."""
    value = context.get(name)
    return value if isinstance(value, dict) else {}


def platform_of(context: Json) -> str | None:
    """The contract's platform from ``context.os.name``, else from the library's name."""
    os_name = str(_sub(context, "os").get("name") or "").lower()
    if os_name in ("ios", "ipados", "iphone os", "tvos", "watchos"):
        return "ios"
    if os_name == "android":
        return "android"
    library = str(_sub(context, "library").get("name") or "").lower()
    if not library:
        return None
    if "ios" in library or "swift" in library:
        return "ios"
    if "android" in library or "kotlin" in library:
        return "android"
    if library.endswith((".js", "-next", "-web")) or "javascript" in library:
        return "web"
    return "server"  # analytics-python, -node, -go, -ruby, -java, and friends


def device_context(context: Json, *, platform: str | None) -> Json:
    """``context.device/os/app/screen/network/library`` and locale/timezone, where types fit."""
    device, os_, app = _sub(context, "device"), _sub(context, "os"), _sub(context, "app")
    screen, network = _sub(context, "screen"), _sub(context, "network")
    library = _sub(context, "library")
    sdk = as_text(library.get("name"))
    if sdk and as_text(library.get("version")):
        sdk = as_text(f"{sdk}/{library['version']}")
    return compact(
        {
            "platform": platform or platform_of(context),
            "os_version": as_text(os_.get("version")),
            "app_version": as_text(app.get("version")),
            "build_number": as_text(app.get("build")),
            "device_model": as_text(device.get("model")),
            "manufacturer": as_text(device.get("manufacturer")),
            "screen_width": as_size(screen.get("width")),
            "screen_height": as_size(screen.get("height")),
            "locale": as_text(context.get("locale")),
            "timezone": as_text(context.get("timezone")),
            # Segment says whether the radio is cellular, not which generation: only wifi maps
            "network_type": "wifi" if network.get("wifi") is True else None,
            "carrier": as_text(network.get("carrier")),
            "sdk_version": sdk,
        }
    )


def map_message(message: Any, *, call: str | None = None, batch_context: Any = None) -> Mapped:
    """One Segment message; ``call`` is the endpoint's call type (``None`` for ``/v1/batch``,
    where each message names its own), ``batch_context`` the batch's shared context."""
    if not isinstance(message, dict):
        raise MappingError("message", "expected an object")
    kind = call or message.get("type")
    if kind not in CALLS:
        raise MappingError("type", f"expected one of {', '.join(CALLS)}")
    # the batch's context applies to every message; a message's own keys win
    context = {
        **(batch_context if isinstance(batch_context, dict) else {}),
        **_object(message.get("context"), "context"),
    }
    user_id = as_id(message.get("userId"))
    device_id = (
        as_id(message.get("anonymousId"))
        or as_id(_sub(context, "device").get("id"))
        or (as_id(message.get("previousId")) if kind == "alias" else None)
        or user_id
    )
    if device_id is None:
        raise MappingError("anonymousId", "either userId or anonymousId is required")
    when = message.get("timestamp") or message.get("originalTimestamp")
    base = base_envelope(
        device_id=device_id,
        user_id=user_id,
        idempotency_key=idempotency_key(message.get("messageId")),
        timestamp_ms=timestamp_ms(when, field="timestamp"),
        session_id=as_id(context.get("sessionId")),
        device_context=device_context(context, platform="web" if kind == "page" else None),
    )
    properties = _object(message.get("properties"), "properties")
    if kind == "track":
        event = message.get("event")
        if not isinstance(event, str) or not event:
            raise MappingError("event", "track calls need a non-empty event name")
        return named_event(event, properties, base)
    if kind == "identify":
        traits = _object(message.get("traits"), "traits") or _sub(context, "traits")
        return Mapped(profile_update(user_id, traits, base, {}))
    if kind == "page":
        return Mapped(_page(message, properties, context, base))
    if kind == "screen":
        name = as_id(message.get("name")) or as_id(properties.get("name"))
        params = flatten(properties)
        category = as_id(message.get("category"))
        return Mapped(
            screen_view(screen_name=name, screen_class=category, params=params, base=base)
        )
    if kind == "alias":
        previous = as_id(message.get("previousId"))
        if previous is None:
            raise MappingError("previousId", "alias calls need the previous id")
        return Mapped(
            custom_event("alias", compact({"previous_id": previous, "user_id": user_id}), base)
        )
    group_id = as_id(message.get("groupId"))
    if group_id is None:
        raise MappingError("groupId", "group calls need a groupId")
    traits = _object(message.get("traits"), "traits")
    return Mapped(custom_event("group", {"group_id": group_id, "traits": traits}, base))


def _page(message: Json, properties: Json, context: Json, base: Json) -> Json:
    """``page`` as a web ``screen_view``; URL parts from the properties, else ``context.page``."""
    page = _sub(context, "page")

    def pick(name: str) -> Any:
        value = properties.get(name)
        return value if value not in (None, "") else page.get(name)

    campaign = _sub(context, "campaign")
    utm = {utm: campaign.get(key) for key, utm in _CAMPAIGN_TO_UTM.items()}
    utm = {key: properties.get(key) or value for key, value in utm.items()}
    url, path = pick("url"), pick("path")
    params = web_params(
        url=url,
        path=path,
        title=pick("title"),
        referrer=pick("referrer"),
        utm=utm,
        extra=properties,
    )
    name = as_id(message.get("name")) or as_id(properties.get("name"))
    return screen_view(
        screen_name=name or screen_name_of(path, url),
        screen_class=as_id(message.get("category")),
        params=params,
        base=base,
    )
