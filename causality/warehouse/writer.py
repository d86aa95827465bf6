"""Writing one Arrow table of events into the partitioned warehouse, atomically per file."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence

import fsspec
import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from causality.warehouse.commits import SEQS_METADATA_KEY, STREAM_METADATA_KEY, encode_ranges
from causality.warehouse.filesystem import is_local
from causality.warehouse.layout import TEMP_SUFFIX, Partitioning, group_by_partition, new_file_name

log = logging.getLogger(__name__)


class WrittenFile(msgspec.Struct, frozen=True):
    """A file now visible to queries: where, how many rows, which stream sequences."""

    partition: str
    path: str
    rows: int
    seqs: tuple[int, ...]


class PartitionedWriter:
    """Splits a table by partition and writes each part as one zstd Parquet file.

    A reader (or a crash) never sees half a file: locally each file is written and fsynced
    under a temporary name, then renamed into place; on object stores it is encoded in
    memory and uploaded once to its final key, since an upload is published whole or not at
    all (a move there would be a copy plus a delete, and a failed write would still upload).
    """

    def __init__(
        self,
        *,
        fs: fsspec.AbstractFileSystem,
        root: str,
        partitioning: Partitioning,
        stream: str,
        compression_level: int = 3,
    ) -> None:
        self._fs = fs
        self._root = root
        self._partitioning: Partitioning = partitioning
        self._stream = stream.encode()
        self._level = compression_level
        self._local = is_local(fs)

    def plan(self, app_ids: Sequence[str], timestamps_ms: Sequence[int]) -> dict[str, list[int]]:
        """Row indexes per partition, for callers that need partitions before writing."""
        return group_by_partition(app_ids, timestamps_ms, partitioning=self._partitioning)

    def write(
        self, table: pa.Table, *, seqs: Sequence[int], groups: dict[str, list[int]]
    ) -> list[WrittenFile]:
        """Write every partition group; returns the files in place (all or raise)."""
        written: list[WrittenFile] = []
        for partition, rows in groups.items():
            part = table if len(rows) == table.num_rows else table.take(pa.array(rows))
            part_seqs = tuple(seqs[i] for i in rows)
            path = self._write_one(partition, part, part_seqs)
            written.append(WrittenFile(partition, path, part.num_rows, part_seqs))
        return written

    def _write_one(self, partition: str, table: pa.Table, seqs: tuple[int, ...]) -> str:
        final = f"{self._root}/{partition}/{new_file_name()}"
        metadata = dict(table.schema.metadata or {})
        metadata[STREAM_METADATA_KEY] = self._stream
        metadata[SEQS_METADATA_KEY] = encode_ranges(seqs)
        table = table.replace_schema_metadata(metadata)
        publish_parquet(self._fs, final, table, local=self._local, compression_level=self._level)
        return final


def publish_parquet(
    fs: fsspec.AbstractFileSystem,
    path: str,
    table: pa.Table,
    *,
    local: bool,
    compression_level: int = 3,
) -> None:
    """Make ``path`` appear whole or not at all (shared by the sink's writer and compaction).

    Locally: write and fsync a temporary name, rename, fsync the directory. Object stores:
    encode in memory and upload once to the final key.
    """
    if not local:
        buffer = io.BytesIO()
        _encode(table, buffer, compression_level)
        fs.pipe_file(path, buffer.getvalue())
        return
    directory = os.path.dirname(path)
    temp = path + TEMP_SUFFIX
    os.makedirs(directory, exist_ok=True)
    with open(temp, "wb") as fh:
        _encode(table, fh, compression_level)
        fh.flush()
        os.fsync(fh.fileno())  # on disk before the ack, not in the page cache
    os.replace(temp, path)
    fsync_dir(directory)  # the rename itself must survive a power cut too


def _encode(table: pa.Table, sink: object, compression_level: int) -> None:
    """One zstd Parquet file with statistics (for DuckDB's row-group pruning)."""
    pq.write_table(
        table,
        sink,
        compression="zstd",
        compression_level=compression_level,
        use_dictionary=True,
        write_statistics=True,
    )


def fsync_dir(directory: str) -> None:
    """Persist a directory entry (POSIX: a rename is durable once its directory is synced)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
