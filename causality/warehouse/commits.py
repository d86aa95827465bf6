"""Which stream messages a Parquet file already holds, recorded in the file itself.

A sink that dies after its file is in place but before the ack gets those messages again.
Each file's footer lists the JetStream sequences of its rows, so a redelivered message can be
recognised as already stored, without a second system that could disagree with the files.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import fsspec
import pyarrow.parquet as pq

from causality.warehouse.layout import PARQUET_SUFFIX

log = logging.getLogger(__name__)

SEQS_METADATA_KEY = b"causality.stream_seqs"
STREAM_METADATA_KEY = b"causality.stream"
_REFRESH_PASSES = 5


def encode_ranges(seqs: Iterable[int]) -> bytes:
    """Compact "a-b,c,d-e" text of a set of sequences (batches are mostly contiguous)."""
    ordered = sorted(set(seqs))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        start = end = ordered[i]
        while i + 1 < len(ordered) and ordered[i + 1] == end + 1:
            i += 1
            end = ordered[i]
        parts.append(str(start) if start == end else f"{start}-{end}")
        i += 1
    return ",".join(parts).encode()


def decode_ranges(text: bytes) -> list[tuple[int, int]]:
    """Inverse of encode_ranges, as inclusive (start, end) pairs."""
    ranges: list[tuple[int, int]] = []
    for part in text.decode().split(","):
        if not part:
            continue
        start, _, end = part.partition("-")
        ranges.append((int(start), int(end or start)))
    return ranges


def union_ranges(encoded: Iterable[bytes]) -> bytes:
    """The encode_ranges text of the union of several, without expanding to single sequences.

    Compaction merges the footers of up to hundreds of files of ~10k rows each.
    """
    pairs = sorted(pair for text in encoded for pair in decode_ranges(text))
    merged: list[list[int]] = []
    for start, end in pairs:
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in merged).encode()


class CommittedIndex:
    """Sequences already written per partition, read lazily from file footers and cached.

    Files are immutable, so a footer is read once per path. Only redelivered messages are
    looked up, so the cost is paid after a crash, not on the hot path.
    """

    def __init__(self, *, fs: fsspec.AbstractFileSystem, root: str, stream: str) -> None:
        self._fs = fs
        self._root = root
        self._stream = stream.encode()
        self._seen_files: set[str] = set()
        self._ranges: dict[str, list[tuple[int, int]]] = {}

    def remember(self, partition: str, seqs: Iterable[int], path: str) -> None:
        """Record a file this process just wrote, so it never needs to read it back."""
        self._seen_files.add(path)
        self._ranges.setdefault(partition, []).extend(decode_ranges(encode_ranges(seqs)))

    def _refresh(self, partition: str) -> None:
        # a file can vanish between the listing and its read when compaction replaced it;
        # its sequences are then in a compacted file published before the deletion, which
        # the next listing shows (see compaction.py): skip it, then list once more
        for _ in range(_REFRESH_PASSES):
            if not self._read_new_footers(partition):
                return
        raise FileNotFoundError(f"files in {partition} kept vanishing while being read")

    def _read_new_footers(self, partition: str) -> bool:
        """Read the footers of files not seen yet; True when one vanished before its read."""
        directory = f"{self._root}/{partition}"
        try:
            paths = self._fs.ls(directory, detail=False, refresh=True)
        except FileNotFoundError:
            return False
        vanished = False
        for path in paths:
            if not path.endswith(PARQUET_SUFFIX) or path in self._seen_files:
                continue
            try:
                with self._fs.open(path, "rb") as fh:
                    meta = pq.read_metadata(fh).metadata or {}
            except FileNotFoundError:
                vanished = True
                continue
            self._seen_files.add(path)
            if meta.get(STREAM_METADATA_KEY) != self._stream:
                continue  # written by a backfill or another stream: not ours to dedup against
            encoded = meta.get(SEQS_METADATA_KEY)
            if encoded:
                self._ranges.setdefault(partition, []).extend(decode_ranges(encoded))
        return vanished

    def stored(self, partition: str, seqs: Iterable[int]) -> set[int]:
        """The subset of ``seqs`` some file in ``partition`` already holds."""
        self._refresh(partition)
        ranges = self._ranges.get(partition, [])
        return {s for s in seqs if any(a <= s <= b for a, b in ranges)}
