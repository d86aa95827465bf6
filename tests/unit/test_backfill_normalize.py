"""Backfill normalization: CSV typing, deterministic content keys, rejects with field and reason."""

from __future__ import annotations

import time

import msgspec
import pytest

from causality.backfill.normalize import KEY_PREFIX, Normalizer, content_key, infer_cell
from causality.backfill.sources import RowError

NOW_MS = int(time.time() * 1000)
HOUR_MS = 3_600_000


def _normalizer() -> Normalizer:
    return Normalizer(app_id="shop", horizon_days=30, max_future_s=300, now_ms=NOW_MS)


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("false", False), ("42", 42), ("-7", -7), ("1.5", 1.5), ("2.5e3", 2500.0),
     ('{"a": 1}', {"a": 1}), ("[1, 2]", [1, 2]), ("[not json", "[not json"), ("EUR", "EUR"),
     ("0123456789012345678901", "0123456789012345678901")],
)  # fmt: skip
def test_infer_cell(text: str, value: object) -> None:
    assert infer_cell(text) == value


def test_content_key_is_deterministic_and_order_free() -> None:
    a = content_key("shop", {"type": "x", "device_id": "d", "n": 1})
    assert a == content_key("shop", {"n": 1, "device_id": "d", "type": "x"})
    assert a.startswith(KEY_PREFIX) and len(a) == len(KEY_PREFIX) + 40
    assert a != content_key("other", {"type": "x", "device_id": "d", "n": 1})
    assert a != content_key("shop", {"type": "x", "device_id": "d", "n": 2})


def test_csv_rows_are_typed_by_the_catalogue() -> None:
    record = {
        "type": "add_to_cart", "device_id": "d1", "timestamp": str(NOW_MS - HOUR_MS),
        "properties.product_id": "123", "properties.quantity": "2",
        "properties.price_cents": "999", "properties.currency": "EUR", "screen_width": "390",
    }  # fmt: skip
    events, rejects = _normalizer().run("s.csv", "csv", [(1, record)])
    assert rejects == []
    [(row, event)] = events
    assert row == 1 and event.event_type == "add_to_cart" and event.app_id == "shop"
    props = msgspec.json.decode(event.properties)
    # product_id is text in the catalogue even though the cell looks like a number
    assert props["product_id"] == "123" and props["quantity"] == 2
    assert event.device_context is not None and event.device_context.screen_width == 390
    assert event.timestamp_ms == NOW_MS - HOUR_MS


def test_keyless_records_get_the_same_key_on_every_run() -> None:
    record = {"type": "screen_view", "device_id": "d", "timestamp_ms": NOW_MS - HOUR_MS,
              "properties": {"screen_name": "home"}}  # fmt: skip
    first, _ = _normalizer().run("a", "ndjson", [(1, dict(record))])
    again, _ = _normalizer().run("b", "ndjson", [(9, dict(record))])
    assert first[0][1].idempotency_key == again[0][1].idempotency_key
    assert first[0][1].idempotency_key.startswith(KEY_PREFIX)


def test_rejects_name_the_row_field_and_reason() -> None:
    ok = {"type": "screen_view", "device_id": "d", "timestamp_ms": NOW_MS - HOUR_MS,
          "idempotency_key": "k1", "properties": {"screen_name": "home"}}  # fmt: skip
    records = [
        (1, ok),
        (2, RowError("line", "not valid JSON: truncated")),
        (3, {**ok, "type": "not_a_type"}),
        (4, {k: v for k, v in ok.items() if k != "timestamp_ms"}),
        (5, {**ok, "app_id": "elsewhere"}),
        (6, {**ok, "timestamp_ms": NOW_MS - 400 * 24 * HOUR_MS}),
        (7, {"type": "add_to_cart", "device_id": "d", "timestamp_ms": NOW_MS - HOUR_MS,
             "properties": {"product_id": "p", "quantity": "three"}}),
        (8, {k: v for k, v in ok.items() if k != "device_id"}),
    ]  # fmt: skip
    events, rejects = _normalizer().run("src.ndjson", "ndjson", records)
    assert [row for row, _ in events] == [1]
    by_row = {r.row: r for r in rejects}
    assert sorted(by_row) == [2, 3, 4, 5, 6, 7, 8]
    assert all(r.source == "src.ndjson" and r.reason for r in rejects)
    assert by_row[2].field == "line"
    assert by_row[3].field == "type"
    assert by_row[4].field == "timestamp_ms" and "required" in by_row[4].reason
    assert by_row[5].field == "app_id"
    assert by_row[6].field == "timestamp_ms"
    assert by_row[7].field == "properties.quantity"
    assert by_row[8].field == "device_id"


def test_segment_and_posthog_records_map_like_the_compat_endpoints() -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW_MS / 1000 - 3600))
    segment = {"type": "track", "anonymousId": "a1", "messageId": "m1", "event": "Signed Up",
               "timestamp": stamp}  # fmt: skip
    events, rejects = _normalizer().run(
        "s.jsonl", "segment", [(1, segment), (2, {"type": "track"})]
    )
    assert len(events) == 1 and events[0][1].device_id == "a1"
    assert len(rejects) == 1 and rejects[0].row == 2
    posthog = {"event": "$pageview", "distinct_id": "u1", "timestamp": stamp,
               "properties": {"$current_url": "https://x.test/a"}}  # fmt: skip
    events, rejects = _normalizer().run("p.jsonl", "posthog", [(1, posthog)])
    assert rejects == [] and len(events) == 1
