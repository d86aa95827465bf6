"""summarize_result: counts, types, capped rows, statistics over every row, a hard size cap,
and nothing of the rows beyond the cap; column_kind for DuckDB's and Trino's type names."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math

import pytest

from causality.llm.summary import column_kind, summarize_result, summary_json


@pytest.mark.parametrize(
    ("type_name", "kind"),
    [
        ("int64", "number"),
        ("int32", "number"),
        ("uint8", "number"),
        ("double", "number"),
        ("float", "number"),
        ("decimal128(38, 2)", "number"),
        ("bigint", "number"),
        ("integer", "number"),
        ("real", "number"),
        ("decimal(18,3)", "number"),
        ("timestamp[us, tz=UTC]", "time"),
        ("timestamp[ms]", "time"),
        ("date32[day]", "time"),
        ("timestamp(3) with time zone", "time"),
        ("date", "time"),
        ("string", "text"),
        ("large_string", "text"),
        ("varchar", "text"),
        ("varchar(20)", "text"),
        ("bool", "bool"),
        ("boolean", "bool"),
        ("list<item: string>", "other"),
        ("array(varchar)", "other"),
        ("struct<a: int64>", "other"),
    ],
)
def test_column_kinds_cover_both_engines(type_name: str, kind: str) -> None:
    assert column_kind(type_name) == kind


def test_a_summary_has_counts_types_first_rows_and_statistics() -> None:
    rows = [
        [f"2024-01-{d:02d}T00:00:00+00:00", "ios" if d % 2 else "web", d * 10] for d in range(1, 31)
    ]
    summary = summarize_result(
        ["day", "platform", "devices"],
        ["timestamp[us, tz=UTC]", "string", "int64"],
        rows,
        max_rows=5,
    )
    assert summary["row_count"] == 30 and summary["rows_shown"] == 5
    assert summary["rows"] == rows[:5]
    assert [c["kind"] for c in summary["columns"]] == ["time", "text", "number"]
    assert summary["stats"]["devices"] == {
        "min": 10,
        "max": 300,
        "sum": 4650,
        "avg": 155,
        "nulls": 0,
    }
    assert summary["stats"]["day"]["min"].startswith("2024-01-01")
    assert summary["stats"]["day"]["max"].startswith("2024-01-30")
    assert summary["stats"]["platform"] == {"distinct": 2, "nulls": 0}
    assert summary["truncated"] is False


def test_rows_beyond_the_cap_never_appear() -> None:
    rows = [[f"user-{i:04d}-secret", i] for i in range(200)]
    summary = summarize_result(["user", "n"], ["string", "int64"], rows, max_rows=20)
    text = summary_json(summary)
    assert "user-0019-secret" in text
    assert not any(f"user-{i:04d}" in text for i in range(20, 200))
    assert summary["stats"]["n"]["max"] == 199  # statistics still cover every row


def test_the_summary_stays_under_max_chars() -> None:
    columns = [f"column_{i}" for i in range(40)]
    rows = [["x" * 500 for _ in columns] for _ in range(100)]
    for max_chars in (300, 1000, 4000):
        summary = summarize_result(columns, ["string"] * 40, rows, max_rows=20, max_chars=max_chars)
        assert len(summary_json(summary)) <= max_chars
        assert summary["row_count"] == 100
    summary = summarize_result(columns, ["string"] * 40, rows, max_rows=20, max_chars=4000)
    assert summary.get("columns_omitted", 0) > 0 or summary["rows_shown"] < 20


def test_long_values_are_shortened_and_invisible_characters_removed() -> None:
    summary = summarize_result(
        ["name"], ["string"], [["a" * 500], ["evil\u202etxt.exe\u200b"]], max_rows=10
    )
    first, second = summary["rows"][0][0], summary["rows"][1][0]
    assert len(first) <= 80 and first.endswith("…")
    assert "\u202e" not in second and "\u200b" not in second


def test_values_of_any_python_type_become_json() -> None:
    rows = [
        [
            dt.date(2024, 1, 2),
            decimal.Decimal("12.50"),
            math.nan,
            b"\x00\x01",
            [1, 2],
            {"a": 1},
            True,
        ],
        [None, decimal.Decimal("7.5"), 1.5, b"", [], {}, False],
    ]
    types = [
        "date32[day]",
        "decimal128(10, 2)",
        "double",
        "binary",
        "list<item: int64>",
        "struct",
        "bool",
    ]
    summary = summarize_result(list("abcdefg"), types, rows, max_rows=5)
    decoded = json.loads(summary_json(summary))
    assert decoded["rows"][0][0] == "2024-01-02"
    assert decoded["rows"][0][1] == 12.5 and decoded["rows"][0][2] == "nan"
    assert decoded["rows"][0][3] == "<2 bytes>"
    assert decoded["stats"]["b"] == {"min": 7.5, "max": 12.5, "sum": 20, "avg": 10, "nulls": 0}
    assert decoded["stats"]["a"] == {"min": "2024-01-02", "max": "2024-01-02", "nulls": 1}
    assert decoded["stats"]["c"]["max"] == 1.5  # NaN is not a number to aggregate
    assert decoded["stats"]["g"] == {"distinct": 2, "nulls": 0}


def test_empty_and_truncated_results() -> None:
    summary = summarize_result(["n"], ["int64"], [], max_rows=5)
    assert summary["row_count"] == 0 and summary["rows"] == [] and summary["stats"] == {}
    summary = summarize_result(["n"], ["int64"], [[1], [None]], max_rows=5, truncated=True)
    assert summary["truncated"] is True and "note" in summary
    assert summary["stats"]["n"] == {"min": 1, "max": 1, "sum": 1, "avg": 1, "nulls": 1}
