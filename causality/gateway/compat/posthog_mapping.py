"""PostHog capture events as event-contract envelopes; docs/compat.md has the table.

One PostHog event (legacy ``/batch/`` shape or capture v1 shape, which differ only in where
``$set`` and the session id live) becomes one envelope. Pure functions of the JSON.
"""

from __future__ import annotations

import time
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
    UTM_FIELDS,
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

# $lib values of PostHog's SDKs whose platform is fixed; cross-platform ones go by $os
_LIB_PLATFORM: Final = {
    "web": "web",
    "posthog-js-lite": "web",
    "posthog-ios": "ios",
    "posthog-android": "android",
}
_PERSON_EVENTS: Final = frozenset({"$identify", "$set", "$set_once"})
# properties turned into envelope fields or device context, so not stored again
_CONSUMED: Final = frozenset(
    {
        "distinct_id",
        "token",
        "$device_id",
        "$user_id",
        "$anon_distinct_id",
        "$session_id",
        "$set",
        "$set_once",
        "$unset",
        "$time",
        "$lib",
        "$lib_version",
        "$os",
        "$os_version",
        "$app_version",
        "$app_build",
        "$device_model",
        "$device_manufacturer",
        "$screen_width",
        "$screen_height",
        "$locale",
        "$timezone",
        "$network_wifi",
        "$network_carrier",
    }
)


def platform_of(properties: Json) -> str | None:
    """The contract's platform from ``$lib``, else ``$os`` (React Native, Flutter)."""
    lib = str(properties.get("$lib") or "")
    if lib in _LIB_PLATFORM:
        return _LIB_PLATFORM[lib]
    os_name = str(properties.get("$os") or "").lower()
    if os_name in ("ios", "ipados"):
        return "ios"
    if os_name == "android":
        return "android"
    if lib.startswith("posthog-"):
        return "server"  # posthog-python, -node, -go, -ruby, -php, -java, -rs, ...
    return None


def device_context(properties: Json, *, platform: str | None) -> Json:
    """PostHog's ``$os_version``, ``$app_version``, ``$device_model``... where types fit."""
    sdk = as_text(properties.get("$lib"))
    if sdk and as_text(properties.get("$lib_version")):
        sdk = as_text(f"{sdk}/{properties['$lib_version']}")
    return compact(
        {
            "platform": platform or platform_of(properties),
            "os_version": as_text(properties.get("$os_version")),
            "app_version": as_text(properties.get("$app_version")),
            "build_number": as_text(properties.get("$app_build")),
            "device_model": as_text(properties.get("$device_model")),
            "manufacturer": as_text(properties.get("$device_manufacturer")),
            "screen_width": as_size(properties.get("$screen_width")),
            "screen_height": as_size(properties.get("$screen_height")),
            "locale": as_text(properties.get("$locale")),
            "timezone": as_text(properties.get("$timezone")),
            "network_type": "wifi" if properties.get("$network_wifi") is True else None,
            "carrier": as_text(properties.get("$network_carrier")),
            "sdk_version": sdk,
        }
    )


def _person_fields(event: Json, properties: Json) -> set[str]:
    """Names of the person properties an event sets, top level (legacy) or in properties."""
    names: set[str] = set()
    for key in ("$set", "$set_once"):
        for source in (event.get(key), properties.get(key)):
            if isinstance(source, dict):
                names.update(str(name) for name in source)
    return names


def _event_time(event: Json, properties: Json, now_ms: int) -> int | None:
    """``timestamp``; else ``offset`` (ms before sending) or ``$time`` (epoch seconds)."""
    when = timestamp_ms(event.get("timestamp"), field="timestamp")
    if when is not None:
        return when
    offset = event.get("offset")
    if isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0:
        return now_ms - offset
    seconds = properties.get("$time")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return timestamp_ms(seconds * 1000, field="properties.$time")
    return None


def _identities(name: str, distinct_id: str, properties: Json) -> tuple[str, str | None]:
    """``(device_id, user_id)``: PostHog has one distinct id, the contract two.

    The device is ``$device_id`` (web and mobile SDKs send it), or the anonymous id an
    ``$identify`` merges, or else the distinct id itself. The distinct id is a user id when
    the event says so: person events, ``$user_id``, ``$is_identified``, a distinct id that
    differs from ``$device_id``, or a server SDK's event that processes persons.
    """
    device = as_id(properties.get("$device_id"))
    if name == "$identify":
        device = as_id(properties.get("$anon_distinct_id")) or device
    if name == "$create_alias":
        return device or distinct_id, as_id(properties.get("alias"))
    if properties.get("$process_person_profile") is False and name not in _PERSON_EVENTS:
        return device or distinct_id, None
    identified = (
        name in _PERSON_EVENTS
        or properties.get("$is_identified") is True
        or properties.get("$is_server") is True
        or (device is not None and device != distinct_id)
    )
    user = as_id(properties.get("$user_id")) or (distinct_id if identified else None)
    return device or distinct_id, user


def map_event(event: Any, *, now_ms: int | None = None) -> Mapped:
    """One PostHog event (``event``, ``distinct_id``, ``properties``, ``uuid``...)."""
    if not isinstance(event, dict):
        raise MappingError("event", "expected an object")
    name = event.get("event")
    if not isinstance(name, str) or not name:
        raise MappingError("event", "required: the event name")
    properties = event.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise MappingError("properties", "expected an object")
    distinct_id = (
        as_id(event.get("distinct_id"))
        or as_id(properties.get("distinct_id"))
        or as_id(event.get("$distinct_id"))
    )
    if distinct_id is None:
        raise MappingError("distinct_id", "required: the distinct id of the person or device")
    now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    device_id, user_id = _identities(name, distinct_id, properties)
    base = base_envelope(
        device_id=device_id,
        user_id=user_id,
        idempotency_key=idempotency_key(event.get("uuid")),
        timestamp_ms=_event_time(event, properties, now),
        session_id=as_id(event.get("session_id")) or as_id(properties.get("$session_id")),
        device_context=device_context(properties, platform="web" if name == "$pageview" else None),
    )
    rest = {key: value for key, value in properties.items() if key not in _CONSUMED}
    if name in _PERSON_EVENTS:
        return Mapped(profile_update(user_id, _person_fields(event, properties), base, rest))
    if name == "$pageview":
        return Mapped(_pageview(rest, base))
    if name == "$screen":
        screen = as_id(rest.pop("$screen_name", None))
        return Mapped(
            screen_view(screen_name=screen, screen_class=None, params=flatten(rest), base=base)
        )
    if name == "$create_alias":
        alias = compact({"previous_id": distinct_id, "user_id": user_id})
        return Mapped(custom_event("alias", alias, base))
    if name == "$groupidentify":
        group = {
            "group_type": rest.pop("$group_type", None),
            "group_id": as_id(rest.pop("$group_key", None)),
            "traits": rest.pop("$group_set", None) or {},
            **rest,
        }
        return Mapped(custom_event("group", compact(group), base))
    return named_event(name, rest, base)


def _pageview(rest: Json, base: Json) -> Json:
    """``$pageview`` as a web ``screen_view``: ``$current_url``, ``$pathname``, ``title``."""
    url, path = rest.pop("$current_url", None), rest.pop("$pathname", None)
    referrer = rest.pop("$referrer", None)
    if referrer == "$direct":  # posthog-js's word for "no referrer"
        referrer = None
    title = rest.pop("title", None) or rest.pop("$title", None)
    utm: Json = {key: rest.pop(key) for key in UTM_FIELDS if key in rest}
    params = web_params(url=url, path=path, title=title, referrer=referrer, utm=utm, extra=rest)
    return screen_view(
        screen_name=screen_name_of(path, url), screen_class=None, params=params, base=base
    )
