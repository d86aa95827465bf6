"""Finding backfill sources and reading their records, one file at a time.

A source is any fsspec URI or glob (a folder means every file under it). Each file is read
whole by one Ray task (``plan.py``), so files are the unit of parallelism and every record
keeps the file and the 1-based row it came from, for the rejects report. Readers yield
plain dicts in the shape their format names (an envelope, a Segment message, a PostHog
event); turning them into events is ``normalize.py``'s job. A record that cannot even be
parsed is yielded as a ``RowError``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import fsspec
import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.core import url_to_fs

from causality.config import Settings

FORMATS: Final = ("ndjson", "json", "csv", "parquet", "segment", "posthog")
_COMPRESSIONS: Final = (".gz", ".bz2", ".zst", ".xz")
_LINE_SUFFIXES: Final = (".ndjson", ".jsonl", ".json-lines", ".ldjson")
_SEGMENT_CALLS: Final = frozenset({"track", "identify", "page", "screen", "alias", "group"})
_decode: Final = msgspec.json.decode


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file to read: its full URI (with protocol), its format and size in bytes."""

    uri: str
    format: str
    size: int


@dataclass(frozen=True, slots=True)
class RowError:
    """A record that could not be parsed at all (bad JSON line, bad CSV cell)."""

    field: str
    reason: str


Record = dict[str, Any] | RowError


def source_options(settings: Settings, uri: str) -> dict[str, Any]:
    """fsspec options for a source URI: the s3_* settings apply to s3:// sources too."""
    if not uri.startswith(("s3://", "s3a://")):
        return {}
    options: dict[str, Any] = {}
    if settings.s3_access_key_id:
        options["key"] = settings.s3_access_key_id
        options["secret"] = settings.s3_secret_access_key
    client: dict[str, Any] = {}
    if settings.s3_endpoint_url:
        client["endpoint_url"] = settings.s3_endpoint_url
    if settings.s3_region:
        client["region_name"] = settings.s3_region
    if client:
        options["client_kwargs"] = client
    return options


def _plain_name(uri: str) -> str:
    """The file name without a compression suffix, lower-cased, for format detection."""
    name = uri.rsplit("/", 1)[-1].lower()
    for suffix in _COMPRESSIONS:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _sniff_lines(head: bytes) -> str:
    """ndjson, segment or posthog, from the first parseable JSON line."""
    for line in head.splitlines():
        if not line.strip():
            continue
        try:
            first = json.loads(line)
        except ValueError:
            return "ndjson"  # a truncated or bad first line: the reader reports it
        if isinstance(first, dict):
            if first.get("type") in _SEGMENT_CALLS and (
                "anonymousId" in first or "userId" in first or "messageId" in first
            ):
                return "segment"
            if "event" in first and ("distinct_id" in first or "properties" in first):
                return "posthog"
        return "ndjson"
    return "ndjson"


def _first_line_whole(head: bytes) -> bool:
    """Whether the first non-empty line is a whole JSON value (JSON lines), not a fragment."""
    line = head.lstrip().split(b"\n", 1)[0]
    try:
        _decode(line)
    except msgspec.DecodeError:
        return False
    return True


def detect_format(uri: str, head: bytes) -> str:
    """The format of a file from its name, and for JSON lines from its first record."""
    name = _plain_name(uri)
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".json") and head.lstrip()[:1] == b"[":
        return "json"
    if (
        name.endswith(".json")
        and head.lstrip()[:1] == b"{"
        and (b"\n{" not in head.strip() or not _first_line_whole(head))
    ):
        return "json"  # one (pretty-printed) document, not one object per line
    return _sniff_lines(head)


def expand_sources(sources: Sequence[str], *, fmt: str, settings: Settings) -> list[SourceFile]:
    """Every file the sources name (globs and folders expanded), sorted, with its format.

    Raises ``FileNotFoundError`` naming a source that matches nothing: a typo in a backfill
    should fail loudly, not succeed with zero rows.
    """
    files: dict[str, SourceFile] = {}
    for source in sources:
        fs, path = url_to_fs(source, **source_options(settings, source))
        if any(ch in path for ch in "*?["):
            paths = [p for p in fs.glob(path) if fs.isfile(p)]
        elif fs.isdir(path):
            paths = [p for p in fs.find(path) if not p.rsplit("/", 1)[-1].startswith((".", "_"))]
        elif fs.isfile(path):
            paths = [path]
        else:
            paths = []
        if not paths:
            raise FileNotFoundError(f"no files match {source}")
        for p in sorted(paths):
            uri = fs.unstrip_protocol(p)
            file_format = fmt
            if fmt == "auto":
                with fsspec.open(
                    uri, "rb", compression="infer", **source_options(settings, uri)
                ) as fh:
                    file_format = detect_format(uri, fh.read(65536))
            files[uri] = SourceFile(uri=uri, format=file_format, size=int(fs.size(p) or 0))
    return sorted(files.values(), key=lambda f: f.uri)


def read_records(file: SourceFile, *, options: dict[str, Any]) -> Iterator[tuple[int, Record]]:
    """``(row, record)`` pairs of one file, rows 1-based (JSON lines: the line number)."""
    with fsspec.open(file.uri, "rb", compression="infer", **options) as fh:
        data = fh.read()
    if file.format in ("ndjson", "segment", "posthog"):
        yield from _json_lines(data)
    elif file.format == "json":
        yield from _json_document(data)
    elif file.format == "csv":
        yield from _csv_rows(data)
    elif file.format == "parquet":
        yield from _parquet_rows(pq.read_table(io.BytesIO(data)))
    else:
        raise ValueError(f"unknown format {file.format!r}; expected one of {', '.join(FORMATS)}")


def _json_lines(data: bytes) -> Iterator[tuple[int, Record]]:
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            value = _decode(line)
        except msgspec.DecodeError as exc:
            yield number, RowError("line", f"not valid JSON: {exc}")
            continue
        if isinstance(value, dict):
            yield number, value
        else:
            yield number, RowError("line", "expected a JSON object")


def _json_document(data: bytes) -> Iterator[tuple[int, Record]]:
    """A JSON array of events, or ``{"events": [...]}`` (also Segment's ``{"batch": [...]}``)."""
    try:
        value = _decode(data)
    except msgspec.DecodeError as exc:
        yield 1, RowError("file", f"not valid JSON: {exc}")
        return
    if isinstance(value, dict):
        value = value.get("events", value.get("batch"))
    if not isinstance(value, list):
        yield 1, RowError("file", 'expected a JSON array or {"events": [...]}')
        return
    for number, item in enumerate(value, start=1):
        yield number, item if isinstance(item, dict) else RowError("event", "expected an object")


def _csv_rows(data: bytes) -> Iterator[tuple[int, Record]]:
    """CSV rows as dicts of the non-empty cells (text); ``normalize`` types them."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield 1, RowError("file", f"not valid UTF-8 (byte {exc.start})")
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    for number, row in enumerate(reader, start=1):
        if None in row:
            yield number, RowError("row", "more cells than header columns")
            continue
        yield number, {k: v for k, v in row.items() if k and v not in (None, "")}


def _parquet_rows(table: pa.Table) -> Iterator[tuple[int, Record]]:
    """Parquet rows as dicts (nulls dropped); timestamps become epoch milliseconds."""
    for name, column_type in zip(table.column_names, table.schema.types, strict=True):
        if pa.types.is_timestamp(column_type):
            index = table.column_names.index(name)
            millis = table.column(name).cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())
            table = table.set_column(index, name, millis)
    number = 0
    for batch in table.to_batches(max_chunksize=10_000):
        for row in batch.to_pylist():
            number += 1
            yield number, {k: v for k, v in row.items() if v is not None}
