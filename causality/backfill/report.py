"""The rejects file and the closing summary of a backfill.

Rejects go to any fsspec URI, one JSON object per line (``source``, ``row``, ``field``,
``reason``), or CSV when the name ends in ``.csv``: a person fixes the source rows and
re-runs the backfill, which then stores only what was missing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import fsspec
import msgspec

if TYPE_CHECKING:
    from causality.backfill.run import BackfillSummary

REJECT_COLUMNS: Final = ("source", "row", "field", "reason")


class RejectsWriter:
    """Streams reject rows to a file as they are found; ``close`` publishes it."""

    def __init__(self, uri: str) -> None:
        self._csv = uri.lower().endswith(".csv")
        self._fh = fsspec.open(uri, "wb").open()
        if self._csv:
            self._fh.write(",".join(REJECT_COLUMNS).encode() + b"\n")

    def write(self, rows: Iterable[Mapping[str, Any]]) -> None:
        if self._csv:
            text = io.StringIO()
            out = csv.writer(text, lineterminator="\n")
            out.writerows([row[c] for c in REJECT_COLUMNS] for row in rows)
            self._fh.write(text.getvalue().encode())
        else:
            encode = msgspec.json.encode
            self._fh.write(
                b"".join(encode({c: row[c] for c in REJECT_COLUMNS}) + b"\n" for row in rows)
            )

    def close(self) -> None:
        self._fh.close()


def describe(summary: BackfillSummary, *, dry_run: bool) -> str:
    """The closing lines: counts per outcome, and in a dry run the partitions to write."""
    lines = [
        ("dry run: nothing written. " if dry_run else "")
        + f"{summary.records} records in {summary.files} files: {summary.valid} valid, "
        f"{summary.rejected} rejected, {summary.already_stored} already stored, "
        f"{summary.duplicates_in_run} repeated in the sources, "
        + (f"{summary.written} to write" if dry_run else f"{summary.written} written")
        + f" in {summary.seconds:.1f} s"
    ]
    if dry_run:
        touched = [p for p in summary.partitions if p.written]
        lines.append(f"partitions it would write ({len(touched)}):")
        lines.extend(f"  {p.partition}: {p.written} rows" for p in touched)
    return "\n".join(lines)
