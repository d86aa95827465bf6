"""The warehouse Arrow schema and the column-wise conversion of events into tables."""

from __future__ import annotations

import datetime as dt

import msgspec
import pyarrow as pa

from causality.events import COLUMN_DESCRIPTIONS, EVENTS_SCHEMA, DeviceContext, Event
from causality.events.arrow import events_to_table

# The warehouse columns of EVENTS.md, in order.
WAREHOUSE_COLUMNS = [
    "id", "idempotency_key", "app_id", "device_id", "user_id", "session_id", "event_category",
    "event_type", "event_name", "timestamp", "received_at", "correlation_id", "platform",
    "os_version", "app_version", "build_number", "device_model", "manufacturer",
    "screen_width", "screen_height", "locale", "timezone", "network_type", "carrier",
    "is_jailbroken", "is_emulator", "sdk_version", "properties",
]  # fmt: skip
NON_NULLABLE = {
    "id", "app_id", "device_id", "event_category", "event_type", "timestamp", "received_at",
    "idempotency_key",
}  # fmt: skip
UTC_MS = pa.timestamp("ms", tz="UTC")

CONTEXT = DeviceContext(
    platform="web",
    os_version="macOS 14.4",
    app_version="2.0.1",
    build_number="201",
    device_model="MacBookPro18,3",
    manufacturer="Apple",
    screen_width=1512,
    screen_height=982,
    locale="fr-FR",
    timezone="Europe/Paris",
    network_type="ethernet",
    carrier="Orange",
    is_jailbroken=False,
    is_emulator=True,
    sdk_version="causality-web/1.0.0",
)


def make_event(index: int, *, context: DeviceContext | None = CONTEXT) -> Event:
    return Event(
        id=f"id-{index}",
        idempotency_key=f"key-{index}",
        app_id="app_main",
        device_id=f"dev-{index % 7}",
        event_category="custom" if index % 2 else "screen",
        event_type="custom" if index % 2 else "screen_view",
        timestamp_ms=1_750_000_000_000 + index,
        received_at_ms=1_750_000_001_000 + index,
        event_name="Clicked ✓" if index % 2 else None,
        user_id=None if index % 3 else f"user-{index}",
        session_id="s-1",
        correlation_id=None,
        device_context=context,
        properties=msgspec.Raw(b'{"screen_name": "Caf\xc3\xa9", "i": %d}' % index),
    )


def test_schema_has_exactly_the_warehouse_columns() -> None:
    assert EVENTS_SCHEMA.names == WAREHOUSE_COLUMNS
    assert list(COLUMN_DESCRIPTIONS) == WAREHOUSE_COLUMNS


def test_schema_types_and_nullability() -> None:
    expected = {
        "timestamp": UTC_MS,
        "received_at": UTC_MS,
        "screen_width": pa.int32(),
        "screen_height": pa.int32(),
        "is_jailbroken": pa.bool_(),
        "is_emulator": pa.bool_(),
    }
    for field in EVENTS_SCHEMA:
        assert field.type == expected.get(field.name, pa.string()), field.name
        assert field.nullable == (field.name not in NON_NULLABLE), field.name


def test_every_column_carries_a_one_line_description() -> None:
    for field in EVENTS_SCHEMA:
        description = field.metadata[b"description"].decode()
        assert description == COLUMN_DESCRIPTIONS[field.name]
        assert description and "\n" not in description


def test_table_matches_the_schema_including_metadata() -> None:
    table = events_to_table([make_event(i) for i in range(10)])
    assert table.schema.equals(EVENTS_SCHEMA, check_metadata=True)
    assert table.num_rows == 10


def test_empty_batch_gives_an_empty_table() -> None:
    table = events_to_table([])
    assert table.num_rows == 0
    assert table.schema.equals(EVENTS_SCHEMA, check_metadata=True)


def test_values_land_in_their_columns() -> None:
    events = [make_event(0), make_event(1, context=None)]
    rows = events_to_table(events).to_pylist()
    first, second = rows
    assert first["id"] == "id-0"
    assert first["idempotency_key"] == "key-0"
    assert first["event_type"] == "screen_view"
    assert first["event_name"] is None
    assert second["event_name"] == "Clicked ✓"
    assert first["user_id"] == "user-0"
    assert second["user_id"] is None
    assert first["timestamp"] == dt.datetime(2025, 6, 15, 15, 6, 40, tzinfo=dt.UTC)
    assert first["received_at"] - first["timestamp"] == dt.timedelta(seconds=1)
    assert second["timestamp"] == first["timestamp"] + dt.timedelta(milliseconds=1)
    assert first["properties"] == '{"screen_name": "Café", "i": 0}'
    for name, value in msgspec.structs.asdict(CONTEXT).items():
        assert first[name] == value, name
        assert second[name] is None, name


def test_large_batch_converts_column_by_column() -> None:
    events = [make_event(i, context=None if i % 5 == 0 else CONTEXT) for i in range(20_000)]
    table = events_to_table(events)
    assert table.num_rows == 20_000
    assert table.column("platform").null_count == 4_000
    assert table.column("device_id").to_pylist()[:8] == [f"dev-{i % 7}" for i in range(8)]
    assert table.column("properties")[19_999].as_py().endswith('"i": 19999}')
