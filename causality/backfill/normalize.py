"""Historical records to events of the contract, through the gateway's own validator.

Every format ends as envelopes validated by ``EventValidator`` in batches, so a backfilled
event is held to exactly the rules of ``/api/v1/events/batch``; Segment and PostHog records go
through the same mappers as the compat endpoints, with the same fallback to ``custom`` when a
catalogued name carries properties that do not fit. Three rules differ from live ingestion,
because history is replayed, not observed:

- the timestamp is required: stamping a historical event with the backfill's clock would put
  it in the wrong partition, and a re-run on another day would store it again;
- a record without ``idempotency_key`` (or ``id``) gets one from a hash of its content, so a
  re-run finds it already stored;
- the horizon is the backfill's (``--horizon-days``), not necessarily the gateway's.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from causality.backfill.sources import Record, RowError
from causality.events.catalogue import CUSTOM_TYPE, PAYLOAD_TYPES
from causality.events.model import DeviceContext, Event
from causality.events.validation import EventValidator, Rejection
from causality.gateway.compat import posthog_mapping, segment_mapping
from causality.gateway.compat.envelope import Mapped, with_type_error
from causality.gateway.compat.values import MappingError, timestamp_ms

CHUNK: Final = 5000
KEY_PREFIX: Final = "bf-"
_ENVELOPE_FIELDS: Final = frozenset(
    {"type", "device_id", "idempotency_key", "id", "app_id", "user_id", "session_id",
     "timestamp_ms", "correlation_id", "device_context", "properties"}
)  # fmt: skip
_CONTEXT_FIELDS: Final = {f.name: f.type for f in msgspec.structs.fields(DeviceContext)}
# warehouse columns a record may carry that the envelope derives or the server fills
_DERIVED: Final = frozenset({"event_category", "received_at", "received_at_ms", "event_name"})
_INT: Final = re.compile(r"-?\d{1,18}")
_FLOAT: Final = re.compile(r"-?\d+\.\d*(e[-+]?\d+)?", re.IGNORECASE)
_encode_sorted: Final = msgspec.json.Encoder(order="sorted").encode
_encode: Final = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class Reject:
    """One refused record: where it was and why, for the rejects file."""

    source: str
    row: int
    field: str
    reason: str


class _Pending(msgspec.Struct, gc=False):
    row: int
    envelope: dict[str, Any]
    fallback: dict[str, Any] | None


def content_key(app_id: str, record: Any) -> str:
    """A deterministic idempotency key from a record's content (same record, same key)."""
    digest = hashlib.sha256(app_id.encode() + b"\0" + _encode_sorted(record)).hexdigest()
    return KEY_PREFIX + digest[:40]


def infer_cell(text: str) -> Any:
    """A CSV cell as the JSON value it most likely means: bool, number, array/object, text."""
    if text in ("true", "false"):
        return text == "true"
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text[:1] in "[{":
        try:
            return msgspec.json.decode(text)
        except msgspec.DecodeError:
            return text
    return text


@functools.cache
def _payload_fields(event_type: str) -> tuple[tuple[str, Any], ...]:
    """(name, type) of a catalogued payload's fields; cached because ``structs.fields``
    evaluates the string annotations on every call (three quarters of a CSV file's time)."""
    payload = PAYLOAD_TYPES.get(event_type)
    if payload is None:
        return ()
    return tuple((f.encode_name, f.type) for f in msgspec.structs.fields(payload))


def _typed_properties(event_type: Any, raw: dict[str, str]) -> dict[str, Any]:
    """CSV property cells typed by the catalogue where the type has the field, else inferred."""
    values = {key: infer_cell(text) for key, text in raw.items()}
    fields = _payload_fields(event_type) if isinstance(event_type, str) else ()
    for name, field_type in fields:
        if name in raw:
            try:
                values[name] = msgspec.convert(raw[name], field_type, strict=False)
            except msgspec.ValidationError:
                pass  # keep the inferred value; the validator names the field and the reason
    return values


def envelope_of(record: dict[str, Any], *, from_text: bool) -> dict[str, Any]:
    """An envelope from a flat record (CSV row, Parquet row, our own warehouse layout).

    Accepts ``event_type`` for ``type``, ``timestamp`` (ISO or epoch ms) for ``timestamp_ms``,
    device context columns flat or as ``device_context.<name>``, and properties as one JSON
    ``properties`` column or ``properties.<name>`` columns. ``from_text``: CSV cells are text.
    """
    envelope: dict[str, Any] = {}
    context: dict[str, Any] = {}
    loose: dict[str, Any] = {}
    properties: Any = None
    for name, value in record.items():
        if name == "event_type":
            envelope.setdefault("type", value)
        elif name == "timestamp":
            envelope.setdefault("timestamp_ms", value)
        elif name == "properties":
            properties = msgspec.json.decode(value) if isinstance(value, str | bytes) else value
        elif name.startswith("properties."):
            loose[name[len("properties.") :]] = value
        elif name.startswith("device_context."):
            context[name[len("device_context.") :]] = value
        elif name in _CONTEXT_FIELDS:
            context[name] = value
        elif name in _DERIVED:
            if name == "event_name" and record.get("event_type", record.get("type")) == CUSTOM_TYPE:
                loose.setdefault("event_name", value)  # a custom event's name is a property
        else:
            envelope[name] = value
    when = envelope.get("timestamp_ms")
    if isinstance(when, str):
        envelope["timestamp_ms"] = (
            int(when) if _INT.fullmatch(when) else timestamp_ms(when, field="timestamp_ms")
        )
    if from_text:
        context = {k: _typed_context(k, v) for k, v in context.items()}
        loose = _typed_properties(envelope.get("type"), loose)
    if context:
        envelope["device_context"] = context
    if loose or properties is not None:
        merged = dict(properties) if isinstance(properties, dict) else {}
        if properties is not None and not isinstance(properties, dict):
            raise MappingError("properties", "expected a JSON object")
        merged.update(loose)
        envelope["properties"] = merged
    return envelope


def _typed_context(name: str, value: str) -> Any:
    field_type = _CONTEXT_FIELDS.get(name)
    if field_type is None:
        return value
    try:
        return msgspec.convert(value, field_type, strict=False)
    except msgspec.ValidationError:
        return value


class Normalizer:
    """Turns the records of one file into events and rejects; one per Ray task."""

    def __init__(self, *, app_id: str, horizon_days: int, max_future_s: int, now_ms: int) -> None:
        self.app_id = app_id
        self.now_ms = now_ms
        self._validator = EventValidator(
            backfill_horizon_ms=horizon_days * 86_400_000,
            max_future_ms=max_future_s * 1000,
            max_batch_events=CHUNK,
        )

    def run(
        self, source: str, fmt: str, records: Iterable[tuple[int, Record]]
    ) -> tuple[list[tuple[int, Event]], list[Reject]]:
        """Validate every record; events keep their row so reports can point at them."""
        events: list[tuple[int, Event]] = []
        rejects: list[Reject] = []
        pending: list[_Pending] = []
        for row, record in records:
            outcome = self._prepare(fmt, record)
            if isinstance(outcome, Rejection):
                rejects.append(Reject(source, row, outcome.field, outcome.reason))
            else:
                outcome.row = row
                pending.append(outcome)
            if len(pending) >= CHUNK:
                self._validate(source, pending, events, rejects)
                pending = []
        if pending:
            self._validate(source, pending, events, rejects)
        return events, rejects

    def _prepare(self, fmt: str, record: Record) -> _Pending | Rejection:
        """The envelope (and custom fallback) of one record, or why there is none."""
        if isinstance(record, RowError):
            return Rejection(index=0, field=record.field, reason=record.reason)
        try:
            if fmt == "segment":
                mapped = segment_mapping.map_message(record)
            elif fmt == "posthog":
                mapped = posthog_mapping.map_event(record, now_ms=self.now_ms)
            else:
                mapped = Mapped(envelope_of(record, from_text=fmt == "csv"))
        except MappingError as exc:
            return Rejection(index=0, field=exc.field, reason=exc.reason)
        except (msgspec.DecodeError, ValueError) as exc:
            return Rejection(index=0, field="properties", reason=f"not valid JSON: {exc}")
        envelope, fallback = mapped.envelope, mapped.fallback
        if envelope.get("timestamp_ms") is None:
            return Rejection(
                index=0,
                field="timestamp_ms",
                reason="required in a backfill (the backfill's clock would misplace the event)",
            )
        if envelope.get("app_id") not in (None, self.app_id):
            return Rejection(index=0, field="app_id", reason=f"differs from --app {self.app_id}")
        envelope.pop("app_id", None)
        if not envelope.get("idempotency_key") and not envelope.get("id"):
            key = content_key(self.app_id, record)
            envelope["idempotency_key"] = key
            if fallback is not None:
                fallback["idempotency_key"] = key
        return _Pending(row=0, envelope=envelope, fallback=fallback)

    def _validate(
        self,
        source: str,
        pending: list[_Pending],
        events: list[tuple[int, Event]],
        rejects: list[Reject],
    ) -> None:
        results = self._check([p.envelope for p in pending])
        retry: list[int] = []
        for i, result in enumerate(results):
            fallback = pending[i].fallback
            if isinstance(result, Rejection) and fallback and result.field.startswith("properties"):
                pending[i].envelope = with_type_error(fallback, result.field, result.reason)
                retry.append(i)
        for i, result in zip(retry, self._check([pending[i].envelope for i in retry]), strict=True):
            results[i] = result
        for item, result in zip(pending, results, strict=True):
            if isinstance(result, Rejection):
                rejects.append(Reject(source, item.row, result.field, result.reason))
            else:
                events.append((item.row, result))

    def _check(self, envelopes: list[dict[str, Any]]) -> list[Event | Rejection]:
        """Validate envelopes as one batch body, one result per envelope in order."""
        results: list[Event | Rejection | None] = [None] * len(envelopes)
        parts: list[bytes] = []
        positions: list[int] = []
        for i, envelope in enumerate(envelopes):
            try:
                parts.append(_encode(envelope))
                positions.append(i)
            except (TypeError, ValueError, OverflowError) as exc:
                results[i] = Rejection(index=i, field="event", reason=f"not encodable: {exc}")
        if parts:
            body = b'{"events":[' + b",".join(parts) + b"]}"
            outcome = self._validator.validate_batch(body, app_id=self.app_id, now_ms=self.now_ms)
            for event, index in zip(outcome.accepted, outcome.accepted_indexes, strict=True):
                results[positions[index]] = event
            for rejection in outcome.rejected:
                results[positions[rejection.index]] = rejection
        return [r for r in results if r is not None]
