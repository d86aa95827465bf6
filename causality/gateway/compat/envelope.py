"""Building event-contract envelopes (EVENTS.md) from what the vendor mappers extracted.

Both mappers end here so that the two vendors follow one rule for naming: an event whose name
is a catalogued type becomes that type, anything else a ``custom`` event carrying the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from causality.events.catalogue import PAYLOAD_TYPES
from causality.gateway.compat.values import Json, compact, flatten

# set on a custom event that was sent under a catalogued name with properties that do not
# fit that type, so the data is kept and the reason can be found with SQL
TYPE_ERROR_PROPERTY: Final = "$causality_type_error"


@dataclass(frozen=True, slots=True)
class Mapped:
    """One foreign event as an envelope, plus the custom envelope to store instead when the
    client used a catalogued name with properties that do not validate as that type."""

    envelope: Json
    fallback: Json | None = None


def base_envelope(
    *,
    device_id: str | None,
    user_id: str | None,
    idempotency_key: str | None,
    timestamp_ms: int | None,
    session_id: str | None = None,
    device_context: Json | None = None,
) -> Json:
    """The envelope fields every mapped event shares; absent values are left out."""
    return compact(
        {
            "device_id": device_id,
            "user_id": user_id,
            "session_id": session_id,
            "idempotency_key": idempotency_key,
            "timestamp_ms": timestamp_ms,
            "device_context": device_context or None,
        }
    )


def custom_event(name: str, properties: Json, base: Json) -> Json:
    """A ``custom`` envelope: the name in ``event_name`` over the flattened properties."""
    payload = flatten(properties)
    payload["event_name"] = name
    return {**base, "type": "custom", "properties": payload}


def typed_event(event_type: str, properties: Json, base: Json) -> Json:
    """An envelope of a catalogued type; the payload is checked by the validator."""
    return {**base, "type": event_type, "properties": properties}


def named_event(name: str, properties: Json, base: Json) -> Mapped:
    """A client-named event: the catalogued type of that name (falling back to custom if
    the properties do not fit it), else a custom event."""
    if name in PAYLOAD_TYPES:
        return Mapped(
            envelope=typed_event(name, properties, base),
            fallback=custom_event(name, properties, base),
        )
    return Mapped(envelope=custom_event(name, properties, base))


def with_type_error(fallback: Json, field: str, reason: str) -> Json:
    """The fallback custom envelope, recording why the catalogued type was refused."""
    properties = dict(fallback.get("properties") or {})
    properties[TYPE_ERROR_PROPERTY] = f"{field}: {reason}"[:500]
    return {**fallback, "properties": properties}


def profile_update(user_id: str | None, field_names: Any, base: Json, extra: Json) -> Json:
    """``profile_update`` for identify calls: the names of the traits, never their values
    (the catalogue keeps personal data out of the warehouse)."""
    names = sorted({str(name) for name in field_names})
    payload = flatten(extra)
    payload.update(compact({"user_id": user_id}))
    payload["fields_updated"] = names
    return typed_event("profile_update", payload, base)


def screen_view(
    *, screen_name: str | None, screen_class: str | None, params: Json, base: Json
) -> Json:
    """``screen_view`` for page and screen calls."""
    payload = compact({"screen_name": screen_name, "screen_class": screen_class})
    if params:
        payload["params"] = params
    return typed_event("screen_view", payload, base)
