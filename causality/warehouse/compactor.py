"""Running a compaction: plan, hand the tasks to an executor, add up what they did.

Shared by ``causality compact`` (tasks run one after another in the process) and the Ray job
``jobs/compact.py`` (each task a Ray task); the mechanism is in compaction.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

import fsspec
import msgspec

from causality.config import Settings
from causality.warehouse.compaction import (
    CompactionResult,
    CompactionTask,
    compact,
    plan_compaction,
)
from causality.warehouse.filesystem import open_warehouse

MIB = 1024 * 1024

Executor = Callable[[Sequence[CompactionTask]], Iterable[CompactionResult]]
"""Runs tasks (in this process, or as Ray tasks) and yields their results as they finish."""


class CompactionSummary(msgspec.Struct):
    """Totals of a run (or, for a dry run, of its plan: ``files_after`` predicted)."""

    tasks: int = 0
    partitions: int = 0
    files_before: int = 0
    files_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    rows: int = 0
    skipped: int = 0


def in_process(fs: fsspec.AbstractFileSystem) -> Executor:
    """Run tasks one after another in this process (the CLI, tests)."""
    return lambda tasks: (compact(task, fs=fs) for task in tasks)


def run_compaction(
    settings: Settings,
    *,
    app_id: str | None = None,
    dry_run: bool = False,
    target_file_mb: int | None = None,
    min_files: int | None = None,
    now: datetime | None = None,
    executor: Executor | None = None,
    echo: Callable[[str], None] = lambda line: None,
) -> CompactionSummary:
    """Plan, then run every task through ``executor``; shared by the CLI and the Ray job."""
    fs, root = open_warehouse(settings)
    target_mb = target_file_mb or settings.compaction_target_file_mb
    tasks = plan_compaction(
        fs,
        root,
        partitioning=settings.partitioning,
        now=now or datetime.now(UTC),
        target_file_bytes=target_mb * MIB,
        min_files=settings.compaction_min_files if min_files is None else min_files,
        closed_grace_s=settings.compaction_closed_grace_s,
        app_id=app_id,
    )
    summary = CompactionSummary(tasks=len(tasks), partitions=len({t.partition for t in tasks}))
    for task in tasks:
        echo(describe_task(task, root))
    if dry_run:
        for task in tasks:
            summary.files_before += len(task.sources) + len(task.leftovers)
            summary.files_after += 1 if task.sources else 0
            summary.bytes_before += sum(s.size for s in task.sources)
            summary.rows += sum(s.rows for s in task.sources)
        return summary
    for result in (executor or in_process(fs))(tasks):
        if result.skipped:
            summary.skipped += 1
            echo(f"skipped {_relative(result.partition, root)}: {result.skipped}")
            continue
        summary.files_before += result.files_removed
        summary.files_after += 1 if result.merged else 0
        summary.bytes_before += result.bytes_before
        summary.bytes_after += result.bytes_after
        summary.rows += result.rows
        echo(f"done {_relative(result.merged or result.partition, root)}")
    return summary


def describe_task(task: CompactionTask, root: str) -> str:
    """One line of a plan, for humans."""
    where = _relative(task.partition, root)
    if not task.sources:
        return f"delete {len(task.leftovers)} leftover sources of a finished merge in {where}"
    size = sum(s.size for s in task.sources) / MIB
    rows = sum(s.rows for s in task.sources)
    return f"merge {len(task.sources)} files ({size:.1f} MiB, {rows} rows) into 1 in {where}"


def describe_summary(summary: CompactionSummary, *, dry_run: bool) -> str:
    """The closing line of a run."""
    verb = "would merge" if dry_run else "merged"
    return (
        f"{verb} {summary.files_before} files into {summary.files_after} in "
        f"{summary.partitions} partitions ({summary.rows} rows, "
        f"{summary.bytes_before / MIB:.1f} MiB -> {summary.bytes_after / MIB:.1f} MiB"
        f"{', skipped ' + str(summary.skipped) if summary.skipped else ''})"
    )


def _relative(path: str, root: str) -> str:
    return path[len(root) + 1 :] if path.startswith(root + "/") else path
