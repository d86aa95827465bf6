"""The normalized event: what the gateway publishes on NATS and the sink writes to Parquet.

``Event`` is the wire type between the gateway, the bus and the warehouse. Its ``properties``
stay the raw JSON text the SDK sent (``msgspec.Raw``): unknown payload fields survive, and
neither the publisher nor the sink ever re-encodes the payload. Encoder and decoder are built
once here because every published and consumed message goes through them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Final

import msgspec

from causality.events.catalogue import NetworkType, Platform

INT32_MAX: Final = 2**31 - 1
DEVICE_TEXT_MAX_CHARS: Final = 256

# Device strings are short identifiers (versions, models, locales); the cap keeps a buggy
# SDK from filling warehouse columns with kilobytes of text.
DeviceText = Annotated[str, msgspec.Meta(max_length=DEVICE_TEXT_MAX_CHARS)]
# Screen sizes land in int32 warehouse columns.
ScreenSize = Annotated[int, msgspec.Meta(ge=0, le=INT32_MAX)]


class DeviceContext(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True, gc=False):
    """What the SDK knows about the device, flattened into warehouse columns.

    Unknown keys are rejected (naming ``device_context.<key>``) rather than dropped: every key
    here becomes a column, so a misspelt key is an SDK bug that would otherwise lose data
    silently. Extra device facts belong in ``properties``.
    """

    platform: Platform | None = None
    os_version: DeviceText | None = None
    app_version: DeviceText | None = None
    build_number: DeviceText | None = None
    device_model: DeviceText | None = None
    manufacturer: DeviceText | None = None
    screen_width: ScreenSize | None = None
    screen_height: ScreenSize | None = None
    locale: DeviceText | None = None
    timezone: DeviceText | None = None
    network_type: NetworkType | None = None
    carrier: DeviceText | None = None
    is_jailbroken: bool | None = None
    is_emulator: bool | None = None
    sdk_version: DeviceText | None = None


EMPTY_PROPERTIES: Final = msgspec.Raw(b"{}")


class Event(msgspec.Struct, omit_defaults=True, gc=False):
    """One validated event, as stored: server-filled ids and times, derived category.

    ``gc=False`` because events hold no reference cycles and a sink batch holds tens of
    thousands of them; the cyclic collector would only waste time scanning them.
    """

    id: str
    idempotency_key: str
    app_id: str
    device_id: str
    event_category: str
    event_type: str
    timestamp_ms: int
    received_at_ms: int
    event_name: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    correlation_id: str | None = None
    device_context: DeviceContext | None = None
    properties: msgspec.Raw = EMPTY_PROPERTIES


_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder(Event)


def encode_event(event: Event) -> bytes:
    """Serialize an event for a NATS message body (compact JSON, properties copied verbatim)."""
    return _ENCODER.encode(event)


def decode_event(payload: bytes) -> Event:
    """Parse one NATS message body back into an Event; raises ``msgspec`` errors if corrupt."""
    return _DECODER.decode(payload)


def decode_events(payloads: Sequence[bytes]) -> list[Event]:
    """Parse a fetched batch of NATS message bodies, in order.

    Any corrupt message raises; a sink that must isolate poison messages decodes them one by
    one with ``decode_event``.
    """
    decode = _DECODER.decode
    return [decode(payload) for payload in payloads]
