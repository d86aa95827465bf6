"""Validation of incoming event bodies: the gateway's hot path.

A body is parsed once into raw envelope slices (``list[msgspec.Raw]``); each envelope is then
decoded by a prebuilt typed decoder and its ``properties`` checked by the prebuilt decoder of
its type. Nothing is constructed per event except the result, so a core validates a few
hundred thousand simple events per second.

Whole-body problems raise ``MalformedBody`` / ``BatchTooLarge``. A bad event never raises: it
becomes a ``Rejection`` naming its index, one field path and a reason, and the other events of
the batch are still accepted.

msgspec reports where a value failed only in its error text (`` - at `$.a[0].b` ``), so that
text is parsed in exactly one place, ``_locate``.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Annotated, Final

import msgspec
import uuid_utils

from causality.events.catalogue import (
    CATEGORY_OF,
    CUSTOM_TYPE,
    EVENT_NAME_MAX_CHARS,
    PAYLOAD_TYPES,
    CustomValue,
)
from causality.events.errors import BatchTooLarge, MalformedBody
from causality.events.model import EMPTY_PROPERTIES, DeviceContext, Event

if TYPE_CHECKING:
    from causality.config import Settings

DEVICE_ID_MAX_CHARS: Final = 128
IDEMPOTENCY_KEY_MAX_CHARS: Final = 128
IDENTIFIER_MAX_CHARS: Final = 256

DeviceId = Annotated[str, msgspec.Meta(min_length=1, max_length=DEVICE_ID_MAX_CHARS)]
IdempotencyKey = Annotated[str, msgspec.Meta(min_length=1, max_length=IDEMPOTENCY_KEY_MAX_CHARS)]
Identifier = Annotated[str, msgspec.Meta(max_length=IDENTIFIER_MAX_CHARS)]


class Rejection(msgspec.Struct):
    """Why one event of a request was refused: its index, one field path, a human reason."""

    index: int
    field: str
    reason: str


class BatchValidation(msgspec.Struct):
    """The outcome of a request: accepted events (with their request indexes) and rejections."""

    accepted: list[Event]
    accepted_indexes: list[int]
    rejected: list[Rejection]
    total: int


class _Envelope(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """The envelope as SDKs send it; unknown keys are SDK bugs and are rejected by name.

    JSON ``null`` counts as absent for every optional field. ``received_at_ms`` is accepted in
    any form and ignored: the server's clock is the only source of receive times. The raw
    fields default to ``{}`` because msgspec cannot put ``Raw`` in a union with ``None``.
    """

    type: str
    device_id: DeviceId
    idempotency_key: IdempotencyKey | None = None
    id: uuid.UUID | None = None
    app_id: str | None = None
    user_id: Identifier | None = None
    session_id: Identifier | None = None
    timestamp_ms: int | None = None
    received_at_ms: msgspec.Raw = EMPTY_PROPERTIES
    correlation_id: Identifier | None = None
    device_context: DeviceContext | None = None
    properties: msgspec.Raw = EMPTY_PROPERTIES


class _Batch(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A batch body: only ``events``, each envelope kept raw until validated on its own."""

    events: list[msgspec.Raw]


_BATCH_DECODER: Final = msgspec.json.Decoder(_Batch)
_RAW_DECODER: Final = msgspec.json.Decoder(msgspec.Raw)
_ENVELOPE_DECODER: Final = msgspec.json.Decoder(_Envelope)
_PAYLOAD_DECODERS: Final = {name: msgspec.json.Decoder(t) for name, t in PAYLOAD_TYPES.items()}
_CUSTOM_DECODER: Final = msgspec.json.Decoder(dict[str, CustomValue])
_CUSTOM_RAW_DECODER: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])
_CUSTOM_VALUE_DECODER: Final = msgspec.json.Decoder(CustomValue)

_NULL: Final = msgspec.Raw(b"null")
_AT: Final = " - at `$"
_FIELD_MESSAGE: Final = re.compile(r"Object (missing required|contains unknown) field `(.*)`$")
_JSON_KINDS: Final = {dict: "object", list: "array", str: "string", bool: "boolean"}


def _join(prefix: str, path: str) -> str:
    """Append a msgspec path tail (``.a[0]``, ``[1]``) to a field prefix."""
    if not prefix:
        return path[1:] if path.startswith(".") else path
    return prefix + path


def _locate(exc: Exception, prefix: str) -> tuple[str, str]:
    """Turn a msgspec validation error into ``(field path, reason)`` under ``prefix``."""
    message = str(exc)
    path = ""
    cut = message.rfind(_AT)
    if cut != -1 and message.endswith("`"):
        path = message[cut + len(_AT) : -1]
        message = message[:cut]
    match = _FIELD_MESSAGE.match(message)
    if match is not None:
        path = f"{path}.{match.group(2)}"
        message = "required field is missing" if match.group(1)[0] == "m" else "unknown field"
    return _join(prefix, path) or "event", message


def _json_kind(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    return _JSON_KINDS.get(type(value), "number")


def _require_utf8(body: bytes) -> None:
    """Reject bodies that are not UTF-8; msgspec does not check inside skipped or raw values."""
    try:
        str(body, "utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody(
            "body", f"not valid UTF-8 (byte {exc.start})", code="malformed_json"
        ) from None


def _diagnose_batch(body: bytes) -> MalformedBody:
    """Explain why a body did not decode as a batch; only runs on the error path."""
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        return MalformedBody("body", f"not valid JSON: {exc}", code="malformed_json")
    except RecursionError:
        return MalformedBody("body", "JSON nested too deeply", code="malformed_json")
    if not isinstance(value, dict):
        kind = _json_kind(value)
        return MalformedBody("body", f'expected an object {{"events": [...]}}, got {kind}')
    for key in value:
        if key != "events":
            return MalformedBody(key[:64], 'unknown field; a batch body holds only "events"')
    if "events" not in value:
        return MalformedBody("events", "required field is missing")
    return MalformedBody("events", f"expected an array, got {_json_kind(value['events'])}")


class EventValidator:
    """Validates request bodies against the event contract with one set of limits.

    Built once per gateway replica; ``validate_batch`` and ``validate_single`` are pure
    functions of the body, the key's app id and the clock, so they are safe to call
    concurrently and easy to test with a fixed ``now_ms``.
    """

    def __init__(
        self, *, backfill_horizon_ms: int, max_future_ms: int, max_batch_events: int
    ) -> None:
        if backfill_horizon_ms <= 0 or max_future_ms < 0 or max_batch_events <= 0:
            raise ValueError(
                "backfill_horizon_ms and max_batch_events must be positive, "
                "max_future_ms must not be negative"
            )
        self.backfill_horizon_ms = backfill_horizon_ms
        self.max_future_ms = max_future_ms
        self.max_batch_events = max_batch_events

    @classmethod
    def from_settings(cls, settings: Settings) -> EventValidator:
        """The validator a deployment's settings describe."""
        return cls(
            backfill_horizon_ms=settings.backfill_horizon_days * 86_400_000,
            max_future_ms=settings.max_future_skew_s * 1000,
            max_batch_events=settings.max_batch_events,
        )

    def validate_batch(self, body: bytes, *, app_id: str, now_ms: int) -> BatchValidation:
        """Validate a ``{"events": [...]}`` body for the API key's ``app_id``."""
        _require_utf8(body)
        try:
            raws = _BATCH_DECODER.decode(body).events
        except msgspec.ValidationError:  # a subclass of DecodeError: test it first
            raise _diagnose_batch(body) from None
        except msgspec.DecodeError as exc:
            raise MalformedBody("body", f"not valid JSON: {exc}", code="malformed_json") from None
        except RecursionError:
            raise MalformedBody("body", "JSON nested too deeply", code="malformed_json") from None
        if not raws:
            raise MalformedBody("events", "the batch holds no events")
        if len(raws) > self.max_batch_events:
            raise BatchTooLarge(len(raws), self.max_batch_events)
        return self._validate_all(raws, app_id=app_id, now_ms=now_ms)

    def validate_single(self, body: bytes, *, app_id: str, now_ms: int) -> BatchValidation:
        """Validate a body holding one envelope object; the result has ``total == 1``."""
        _require_utf8(body)
        try:
            raw = _RAW_DECODER.decode(body)
        except msgspec.DecodeError as exc:
            raise MalformedBody("body", f"not valid JSON: {exc}", code="malformed_json") from None
        except RecursionError:
            raise MalformedBody("body", "JSON nested too deeply", code="malformed_json") from None
        if body.lstrip()[:1] != b"{":
            kind = _json_kind(msgspec.json.decode(body))
            raise MalformedBody("body", f"expected an event object, got {kind}")
        return self._validate_all([raw], app_id=app_id, now_ms=now_ms)

    def _validate_all(
        self, raws: list[msgspec.Raw], *, app_id: str, now_ms: int
    ) -> BatchValidation:
        """Validate each envelope on its own so that one bad event cannot fail the others."""
        accepted: list[Event] = []
        indexes: list[int] = []
        rejected: list[Rejection] = []
        oldest = now_ms - self.backfill_horizon_ms
        newest = now_ms + self.max_future_ms
        for index, raw in enumerate(raws):
            try:
                outcome = self._validate_one(
                    raw, index=index, app_id=app_id, now_ms=now_ms, oldest=oldest, newest=newest
                )
            except (msgspec.MsgspecError, RecursionError, ValueError) as exc:
                # Defensive: every expected failure is turned into a Rejection below, but a
                # surprise in one event must still not fail the whole request.
                outcome = Rejection(index=index, field="event", reason=f"invalid event: {exc}")
            if isinstance(outcome, Event):
                accepted.append(outcome)
                indexes.append(index)
            else:
                rejected.append(outcome)
        return BatchValidation(
            accepted=accepted, accepted_indexes=indexes, rejected=rejected, total=len(raws)
        )

    def _validate_one(
        self,
        raw: msgspec.Raw,
        *,
        index: int,
        app_id: str,
        now_ms: int,
        oldest: int,
        newest: int,
    ) -> Event | Rejection:
        """Apply the envelope rules of EVENTS.md to one event, in a fixed order."""
        try:
            envelope = _ENVELOPE_DECODER.decode(raw)
        except msgspec.ValidationError as exc:
            field, reason = _locate(exc, "")
            return Rejection(index=index, field=field, reason=reason)

        event_type = envelope.type
        category = CATEGORY_OF.get(event_type)
        if category is None:
            return Rejection(
                index=index,
                field="type",
                reason=f"unknown event type {event_type[:64]!r}; use a catalogued type or 'custom'",
            )
        if envelope.app_id is not None and envelope.app_id != app_id:
            return Rejection(
                index=index, field="app_id", reason="differs from the app of the API key"
            )

        timestamp_ms = envelope.timestamp_ms
        if timestamp_ms is None:
            timestamp_ms = now_ms
        elif timestamp_ms > newest:
            return Rejection(
                index=index,
                field="timestamp_ms",
                reason=f"more than {self.max_future_ms} ms in the future",
            )
        elif timestamp_ms < oldest:
            return Rejection(
                index=index,
                field="timestamp_ms",
                reason=f"older than the backfill horizon of {self.backfill_horizon_ms} ms",
            )

        properties = envelope.properties
        if properties == _NULL:
            properties = EMPTY_PROPERTIES
        event_name: str | None = None
        if event_type == CUSTOM_TYPE:
            checked = _check_custom(properties, index=index)
            if isinstance(checked, Rejection):
                return checked
            event_name = checked
        else:
            try:
                _PAYLOAD_DECODERS[event_type].decode(properties)
            except msgspec.ValidationError as exc:
                field, reason = _locate(exc, "properties")
                return Rejection(index=index, field=field, reason=reason)

        event_id = str(envelope.id) if envelope.id is not None else str(uuid_utils.uuid7())
        return Event(
            id=event_id,
            idempotency_key=envelope.idempotency_key or event_id,
            app_id=app_id,
            device_id=envelope.device_id,
            event_category=category,
            event_type=event_type,
            timestamp_ms=timestamp_ms,
            received_at_ms=now_ms,
            event_name=event_name,
            user_id=envelope.user_id,
            session_id=envelope.session_id,
            correlation_id=envelope.correlation_id,
            device_context=envelope.device_context,
            properties=properties,
        )


def _check_custom(properties: msgspec.Raw, *, index: int) -> str | Rejection:
    """Check a custom payload; return its ``event_name`` or the rejection."""
    try:
        values = _CUSTOM_DECODER.decode(properties)
    except msgspec.ValidationError as exc:
        return _custom_rejection(properties, exc, index=index)
    name = values.get("event_name")
    if name is None:
        return Rejection(
            index=index, field="properties.event_name", reason="required for custom events"
        )
    if type(name) is not str or not 0 < len(name) <= EVENT_NAME_MAX_CHARS:
        return Rejection(
            index=index,
            field="properties.event_name",
            reason=f"must be a non-empty string of at most {EVENT_NAME_MAX_CHARS} characters",
        )
    return name


def _custom_rejection(
    properties: msgspec.Raw, exc: msgspec.ValidationError, *, index: int
) -> Rejection:
    """Name the offending custom property; msgspec reports dict values only as ``[...]``."""
    field, reason = _locate(exc, "properties")
    if not field.startswith("properties[...]"):
        return Rejection(index=index, field=field, reason=reason)
    for key, value in _CUSTOM_RAW_DECODER.decode(properties).items():
        try:
            _CUSTOM_VALUE_DECODER.decode(value)
        except msgspec.ValidationError as value_exc:
            field, reason = _locate(value_exc, f"properties.{key}")
            if reason.startswith("Expected"):
                reason += " (custom properties hold strings, numbers, booleans, null or flat lists)"
            return Rejection(index=index, field=field, reason=reason)
    return Rejection(index=index, field="properties", reason=reason)
