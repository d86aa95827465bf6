"""Addressing event fields by path, for rule and detector conditions.

A path names one value of an ``Event``: an envelope field (``user_id``, ``timestamp_ms``), a
device fact (``device_context.platform``) or a value inside the JSON payload
(``properties.cart.items.0.sku``; a segment of digits indexes a list). Paths are parsed and
checked once, when a condition is saved or compiled, into a ``FieldPath`` that carries the
field's static type (for type checks at save time) and a precomputed getter, so reading a
field while thousands of events per second flow through hundreds of rules costs one closure
call and no parsing.

Absent values are one thing: ``MISSING``. An envelope or device field that is None, a device
context that was not sent, a properties key that is not there, a list index out of range and
a JSON ``null`` all read as ``MISSING``, so ``exists`` means "has a value" everywhere.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Final, Literal, get_args

import msgspec

from causality.events.catalogue import NetworkType, Platform
from causality.events.model import Event

FieldType = Literal["string", "int", "bool", "any"]

MAX_PROPERTY_SEGMENTS: Final = 8
MAX_SEGMENT_CHARS: Final = 128


class InvalidCondition(ValueError):
    """A condition (or one of its paths) cannot be accepted; ``field`` says where, ``reason`` why.

    ``field`` is a JSON-ish path relative to the request body (``condition.all[1].op``), so the
    admin API can answer 422 naming the exact node. It pickles by its constructor arguments so
    it crosses Ray process boundaries intact.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.reason))


class _Missing:
    """The type of ``MISSING``; a singleton so identity checks are the fast path."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""What ``EventView.get`` returns for an absent, None or null value."""

_ENVELOPE_TYPES: Final[dict[str, FieldType]] = {
    "id": "string",
    "idempotency_key": "string",
    "app_id": "string",
    "device_id": "string",
    "event_category": "string",
    "event_type": "string",
    "event_name": "string",
    "user_id": "string",
    "session_id": "string",
    "correlation_id": "string",
    "timestamp_ms": "int",
    "received_at_ms": "int",
}

_DEVICE_TYPES: Final[dict[str, FieldType]] = {
    "platform": "string",
    "os_version": "string",
    "app_version": "string",
    "build_number": "string",
    "device_model": "string",
    "manufacturer": "string",
    "screen_width": "int",
    "screen_height": "int",
    "locale": "string",
    "timezone": "string",
    "network_type": "string",
    "carrier": "string",
    "is_jailbroken": "bool",
    "is_emulator": "bool",
    "sdk_version": "string",
}

_DEVICE_CHOICES: Final[dict[str, frozenset[str]]] = {
    "platform": frozenset(get_args(Platform)),
    "network_type": frozenset(get_args(NetworkType)),
}

_UNDECODED: Final = object()

Getter = Callable[["EventView"], Any]


class EventView:
    """One event as conditions read it: properties decoded lazily, at most once.

    Built once per event and shared by every rule and detector that looks at it, so the JSON
    payload is decoded only if some condition in scope reads a property, and then only once.
    """

    __slots__ = ("_props", "event")

    def __init__(self, event: Event) -> None:
        self.event = event
        self._props: Any = _UNDECODED

    def properties(self) -> Any:
        """The decoded payload; ``MISSING`` when it is not valid JSON (never raises)."""
        props = self._props
        if props is _UNDECODED:
            try:
                props = msgspec.json.decode(self.event.properties)
            except msgspec.DecodeError:
                props = MISSING
            self._props = props
        return props

    def get(self, path: FieldPath) -> Any:
        """The value at ``path``, or ``MISSING``."""
        return path.getter(self)


class FieldPath(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed, checked path with its static type and its precomputed getter.

    ``type`` is "any" for properties (JSON can hold anything); ``choices`` lists the allowed
    values of enum fields (``device_context.platform``, ``device_context.network_type``).
    """

    text: str
    root: Literal["envelope", "device_context", "properties"]
    type: FieldType
    segments: tuple[str, ...] = ()
    choices: frozenset[str] | None = None
    getter: Getter


def _envelope_getter(name: str) -> Getter:
    get = operator.attrgetter(name)

    def getter(view: EventView) -> Any:
        value = get(view.event)
        return MISSING if value is None else value

    return getter


def _device_getter(name: str) -> Getter:
    get = operator.attrgetter(name)

    def getter(view: EventView) -> Any:
        context = view.event.device_context
        if context is None:
            return MISSING
        value = get(context)
        return MISSING if value is None else value

    return getter


def _step(value: Any, segment: str, index: int | None) -> Any:
    """One path step into decoded JSON: object key, else list index, else ``MISSING``."""
    if type(value) is dict:
        return value.get(segment, MISSING)
    if index is not None and type(value) is list and index < len(value):
        return value[index]
    return MISSING


def _properties_getter(segments: tuple[str, ...]) -> Getter:
    steps = tuple((s, int(s) if s.isascii() and s.isdigit() else None) for s in segments)
    if len(steps) == 1:
        ((key, index),) = steps

        def getter_one(view: EventView) -> Any:
            props = view.properties()
            if type(props) is dict:
                value = props.get(key, MISSING)
            else:
                value = _step(props, key, index)
            return MISSING if value is None else value

        return getter_one

    def getter(view: EventView) -> Any:
        value = view.properties()
        for key, index in steps:
            value = _step(value, key, index)
            if value is MISSING:
                return MISSING
        return MISSING if value is None else value

    return getter


def parse_path(text: Any, *, where: str = "field") -> FieldPath:
    """Parse and check a field path; raise ``InvalidCondition`` at ``where`` naming the problem."""
    if not isinstance(text, str):
        raise InvalidCondition(where, "must be a string path such as 'properties.amount'")
    if not text:
        raise InvalidCondition(where, "must not be empty")
    root, dot, rest = text.partition(".")
    if root == "properties":
        if not dot:
            raise InvalidCondition(where, "name a key inside properties, e.g. 'properties.amount'")
        segments = tuple(rest.split("."))
        if len(segments) > MAX_PROPERTY_SEGMENTS:
            raise InvalidCondition(
                where,
                f"path {text[:200]!r} is too deep: at most {MAX_PROPERTY_SEGMENTS} segments "
                "after 'properties'",
            )
        for position, segment in enumerate(segments, start=1):
            if not segment:
                raise InvalidCondition(where, f"path {text!r} has an empty segment")
            if len(segment) > MAX_SEGMENT_CHARS:
                raise InvalidCondition(
                    where,
                    f"segment {position} of the path is longer than {MAX_SEGMENT_CHARS} chars",
                )
        return FieldPath(
            text=text,
            root="properties",
            type="any",
            segments=segments,
            getter=_properties_getter(segments),
        )
    if root == "device_context":
        if not dot:
            raise InvalidCondition(
                where, "name a device_context field, e.g. 'device_context.platform'"
            )
        if "." in rest:
            raise InvalidCondition(
                where, f"path {text[:200]!r} is too deep: device_context fields have no subfields"
            )
        if not rest:
            raise InvalidCondition(where, f"path {text!r} has an empty segment")
        field_type = _DEVICE_TYPES.get(rest)
        if field_type is None:
            raise InvalidCondition(
                where,
                f"unknown device_context field {rest[:200]!r}; expected one of "
                + ", ".join(_DEVICE_TYPES),
            )
        return FieldPath(
            text=text,
            root="device_context",
            type=field_type,
            segments=(rest,),
            choices=_DEVICE_CHOICES.get(rest),
            getter=_device_getter(rest),
        )
    if not root:
        raise InvalidCondition(where, f"path {text[:200]!r} has an empty segment")
    field_type = _ENVELOPE_TYPES.get(root)
    if field_type is None:
        raise InvalidCondition(
            where,
            f"unknown field {root[:200]!r}; expected one of "
            + ", ".join(_ENVELOPE_TYPES)
            + ", device_context.<field> or properties.<key>",
        )
    if dot:
        raise InvalidCondition(
            where, f"path {text[:200]!r} is too deep: {root} is a plain value with no subfields"
        )
    return FieldPath(text=text, root="envelope", type=field_type, getter=_envelope_getter(root))
