"""Backfill sources: format detection and every format's reader, compressed files included."""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from causality.backfill.sources import (
    RowError,
    SourceFile,
    detect_format,
    expand_sources,
    read_records,
)
from causality.config import Settings

SEGMENT_LINE = b'{"type": "track", "anonymousId": "a", "event": "X", "messageId": "m"}\n'
POSTHOG_LINE = b'{"event": "$pageview", "distinct_id": "u", "properties": {}}\n'


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("a.parquet", b"PAR1", "parquet"),
        ("a.pq", b"PAR1", "parquet"),
        ("a.csv", b"type,device_id\n", "csv"),
        ("a.CSV.gz", b"type\n", "csv"),
        ("a.json", b'  [{"type": "x"}]', "json"),
        ("a.json", b'{"events": [\n{"type": "x"}]}', "json"),
        ("a.json", b'{"events": [{"type": "x"}]}', "json"),
        ("a.json", b'{"type": "x"}\n{"type": "y"}\n', "ndjson"),
        ("a.ndjson", b'{"type": "screen_view"}\n', "ndjson"),
        ("a.jsonl", SEGMENT_LINE, "segment"),
        ("a.jsonl.zst", POSTHOG_LINE, "posthog"),
        ("a.jsonl", b'\n\n{"type": "track"}\n', "ndjson"),  # no ids: not Segment
        ("a.jsonl", b'{"type": "scr', "ndjson"),  # bad first line: the reader reports it
        ("a.jsonl", b"", "ndjson"),
    ],
)
def test_detect_format(name: str, head: bytes, expected: str) -> None:
    assert detect_format(f"file:///x/{name}", head) == expected


def _read(path: Path, fmt: str) -> list[tuple[int, object]]:
    file = SourceFile(uri=f"file://{path}", format=fmt, size=path.stat().st_size)
    return list(read_records(file, options={}))


def test_json_lines_keep_line_numbers_and_report_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "e.ndjson"
    path.write_bytes(b'{"type": "a"}\n\n{"type": \n[1, 2]\n{"type": "b"}')
    records = _read(path, "ndjson")
    assert [row for row, _ in records] == [1, 3, 4, 5]
    assert records[0][1] == {"type": "a"} and records[3][1] == {"type": "b"}
    bad_json, not_object = records[1][1], records[2][1]
    assert isinstance(bad_json, RowError) and "not valid JSON" in bad_json.reason
    assert isinstance(not_object, RowError) and "object" in not_object.reason


@pytest.mark.parametrize("document", [[{"n": 1}, 5, {"n": 3}], {"events": [{"n": 1}, 5, {"n": 3}]}])
def test_json_document_array_or_events_key(tmp_path: Path, document: object) -> None:
    path = tmp_path / "e.json"
    path.write_text(json.dumps(document))
    records = _read(path, "json")
    assert [row for row, _ in records] == [1, 2, 3]
    assert records[0][1] == {"n": 1} and records[2][1] == {"n": 3}
    assert isinstance(records[1][1], RowError)


def test_json_document_segment_batch_and_bad_documents(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"batch": [{"type": "track"}]}))
    assert _read(path, "json") == [(1, {"type": "track"})]
    path.write_text('{"other": 1}')
    [(row, error)] = _read(path, "json")
    assert row == 1 and isinstance(error, RowError) and error.field == "file"
    path.write_text("[{")
    [(_, broken)] = _read(path, "json")
    assert isinstance(broken, RowError) and "not valid JSON" in broken.reason


def test_csv_rows_drop_empty_cells_and_flag_extra_cells(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(b"\xef\xbb\xbftype,device_id,user_id\nscreen_view,d1,\nx,d2,u,extra\n")
    records = _read(path, "csv")
    assert records[0] == (1, {"type": "screen_view", "device_id": "d1"})
    assert isinstance(records[1][1], RowError) and records[1][0] == 2


def test_csv_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(b"type\n\xff\xfe\n")
    [(_, error)] = _read(path, "csv")
    assert isinstance(error, RowError) and "UTF-8" in error.reason


def test_parquet_rows_drop_nulls_and_turn_timestamps_into_millis(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    table = pa.table(
        {
            "type": ["a", "b"],
            "user_id": ["u", None],
            "timestamp": pa.array([1_700_000_000_123, 1_700_000_000_456], pa.timestamp("ms")),
        }
    )
    pq.write_table(table, path)
    assert _read(path, "parquet") == [
        (1, {"type": "a", "user_id": "u", "timestamp": 1_700_000_000_123}),
        (2, {"type": "b", "timestamp": 1_700_000_000_456}),
    ]


@pytest.mark.parametrize(("suffix", "compress"), [(".gz", gzip.compress), (".bz2", bz2.compress)])
def test_compressed_files_are_detected_and_read(tmp_path: Path, suffix: str, compress) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"posthog.jsonl{suffix}"
    path.write_bytes(compress(POSTHOG_LINE * 3))
    [file] = expand_sources([str(path)], fmt="auto", settings=Settings())
    assert file.format == "posthog"
    records = list(read_records(file, options={}))
    assert [row for row, _ in records] == [1, 2, 3]
    assert records[0][1] == json.loads(POSTHOG_LINE)


def test_expand_sources_globs_folders_and_missing(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.csv").write_text("type\n")
    (tmp_path / "sub" / ".hidden.csv").write_text("type\n")
    (tmp_path / "a.ndjson").write_bytes(SEGMENT_LINE)
    files = expand_sources([str(tmp_path)], fmt="auto", settings=Settings())
    assert [(Path(f.uri).name, f.format) for f in files] == [
        ("a.ndjson", "segment"),
        ("b.csv", "csv"),
    ]
    globbed = expand_sources([str(tmp_path / "*.ndjson")], fmt="ndjson", settings=Settings())
    assert [f.format for f in globbed] == ["ndjson"]
    with pytest.raises(FileNotFoundError, match="nope"):
        expand_sources([str(tmp_path / "nope*")], fmt="auto", settings=Settings())


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "e.txt"
    path.write_text("x")
    with pytest.raises(ValueError, match="unknown format"):
        _read(path, "xml")
