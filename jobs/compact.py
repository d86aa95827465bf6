"""Compaction as a Ray job: plan in the driver, merge each bin as a Ray task.

    ray job submit --working-dir . -- python -m jobs.compact [--app APP] [--dry-run]

Settings come from ``CAUSALITY_*`` variables (``--runtime-env-json`` carries them to a
cluster). Without a cluster, ``ray.init()`` starts a local instance and the job runs the same.
The logic lives in causality/warehouse/compaction.py; this module only wires it to Ray.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence

import ray

from causality.config import Settings, SettingsError, load_settings
from causality.warehouse.compaction import CompactionResult, CompactionTask, compact
from causality.warehouse.compactor import Executor, describe_summary, run_compaction
from causality.warehouse.filesystem import open_warehouse


@ray.remote(num_cpus=1, max_retries=2)
def _compact_task(settings: Settings, task: CompactionTask) -> CompactionResult:
    # retrying is safe: a bin whose merged file is already in place only deletes its sources
    fs, _ = open_warehouse(settings)
    return compact(task, fs=fs)


def ray_executor(settings: Settings, *, max_in_flight: int) -> Executor:
    """Submit tasks as Ray tasks, at most ``max_in_flight`` at once; yield as they finish."""

    def run(tasks: Sequence[CompactionTask]) -> Iterator[CompactionResult]:
        waiting = list(reversed(tasks))
        running: list[ray.ObjectRef[CompactionResult]] = []
        while waiting or running:
            while waiting and len(running) < max_in_flight:
                running.append(_compact_task.remote(settings, waiting.pop()))
            done, running = ray.wait(running, num_returns=1)
            yield from ray.get(done)

    return run


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m jobs.compact", description=__doc__)
    parser.add_argument("--app", default=None, help="only this app's partitions")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--target-mb", type=int, default=None, help="merged file size")
    parser.add_argument("--min-files", type=int, default=None, help="small files to act on")
    parser.add_argument("--max-in-flight", type=int, default=4, help="Ray tasks at once")
    parser.add_argument(
        "--local-cpus", type=int, default=None, help="CPUs of a local Ray (no cluster)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(environ=os.environ)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    executor: Executor | None = None
    if not args.dry_run:
        if not ray.is_initialized():
            extra = {"num_cpus": args.local_cpus} if args.local_cpus else {}
            ray.init(address=settings.ray_address, **extra)
        executor = ray_executor(settings, max_in_flight=max(1, args.max_in_flight))
    summary = run_compaction(
        settings,
        app_id=args.app,
        dry_run=args.dry_run,
        target_file_mb=args.target_mb,
        min_files=args.min_files,
        executor=executor,
        echo=lambda line: print(line, flush=True),
    )
    print(describe_summary(summary, dry_run=args.dry_run), flush=True)
    return 1 if summary.skipped else 0


if __name__ == "__main__":
    sys.exit(main())
