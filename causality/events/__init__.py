"""The event contract: envelope, typed payloads, validation and the warehouse's Arrow schema."""

from __future__ import annotations

from causality.events.arrow import COLUMN_DESCRIPTIONS, EVENTS_SCHEMA, events_to_table
from causality.events.catalogue import CATEGORY_OF, CUSTOM_TYPE, PAYLOAD_TYPES
from causality.events.errors import (
    BatchTooLarge,
    EventContractError,
    InvalidRequest,
    MalformedBody,
)
from causality.events.model import (
    DeviceContext,
    Event,
    decode_event,
    decode_events,
    encode_event,
)
from causality.events.validation import BatchValidation, EventValidator, Rejection

__all__ = [
    "CATEGORY_OF",
    "COLUMN_DESCRIPTIONS",
    "CUSTOM_TYPE",
    "EVENTS_SCHEMA",
    "PAYLOAD_TYPES",
    "BatchTooLarge",
    "BatchValidation",
    "DeviceContext",
    "Event",
    "EventContractError",
    "EventValidator",
    "InvalidRequest",
    "MalformedBody",
    "Rejection",
    "decode_event",
    "decode_events",
    "encode_event",
    "events_to_table",
]
