"""Backfill historical events into the warehouse as a Ray job, with Ray Data in parallel.

    ray job submit --working-dir . -- python -m jobs.backfill SOURCE [SOURCE ...] --app APP
        [--format auto|ndjson|json|csv|parquet|segment|posthog] [--rejects FILE] [--dry-run]
        [--horizon-days N]
    ray job submit --working-dir . -- python -m jobs.backfill --from-stream --app APP
        --start 2024-05-01T00:00:00Z --end 2024-05-02T00:00:00Z [--dry-run]

Sources are fsspec URIs or globs (local paths, s3:// with the s3_* settings). Settings come
from ``CAUSALITY_*`` variables (``--runtime-env-json`` carries them to a cluster); without a
cluster, ``ray.init()`` starts a local instance. The logic lives in causality/backfill/; this
module only parses the command line and wires it to Ray. Details in docs/backfill.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

import ray

from causality.backfill.report import describe
from causality.backfill.run import BackfillOptions, BackfillSummary, run_backfill
from causality.backfill.sources import FORMATS, expand_sources
from causality.backfill.stream import replay_stream
from causality.bus.connection import open_connection
from causality.config import Settings, SettingsError, load_settings


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m jobs.backfill", description=__doc__)
    parser.add_argument("sources", nargs="*", metavar="SOURCE", help="fsspec URIs or globs")
    parser.add_argument("--app", required=True, help="the app the events belong to")
    parser.add_argument("--format", default="auto", choices=("auto", *FORMATS))
    parser.add_argument("--rejects", default=None, help="write rejected rows here (NDJSON/CSV)")
    parser.add_argument("--dry-run", action="store_true", help="report what it would write")
    parser.add_argument(
        "--horizon-days",
        type=int,
        default=None,
        help="oldest event accepted, in days (default: the backfill_horizon_days setting)",
    )
    parser.add_argument(
        "--local-cpus", type=int, default=None, help="CPUs of a local Ray (no cluster)"
    )
    parser.add_argument(
        "--from-stream",
        action="store_true",
        help="replay the events stream between --start and --end (stream time) instead",
    )
    parser.add_argument("--start", type=_instant, default=None, help="ISO time, inclusive")
    parser.add_argument("--end", type=_instant, default=None, help="ISO time, exclusive")
    args = parser.parse_args(argv)
    if args.from_stream:
        if args.sources or args.start is None or args.end is None:
            parser.error("--from-stream takes --start and --end and no SOURCE")
        if args.end <= args.start:
            parser.error("--end must be after --start")
    elif not args.sources:
        parser.error("name at least one SOURCE, or --from-stream")
    return args


def _instant(text: str) -> datetime:
    """An ISO time; without an offset it is UTC (stream times are)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _replay(args: argparse.Namespace, settings: Settings) -> BackfillSummary:
    """The stream replay runs in this process: one ordered read, then per-partition writes."""
    if not settings.nats_url:
        raise ValueError("--from-stream needs the nats_url setting (CAUSALITY_NATS_URL)")
    nats_url = settings.nats_url

    async def go() -> BackfillSummary:
        async with open_connection(nats_url, name="causality-backfill") as nc:
            return await replay_stream(
                nc,
                settings=settings,
                app_id=args.app,
                start=args.start,
                end=args.end,
                dry_run=args.dry_run,
                echo=lambda line: print(line, flush=True),
            )

    return asyncio.run(go())


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(environ=os.environ)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.from_stream:
        try:
            summary = _replay(args, settings)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(describe(summary, dry_run=args.dry_run), flush=True)
        return 0
    horizon = args.horizon_days or settings.backfill_horizon_days
    if horizon <= 0:
        print("error: --horizon-days must be positive", file=sys.stderr)
        return 2
    try:
        files = expand_sources(args.sources, fmt=args.format, settings=settings)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not ray.is_initialized():
        extra = {"num_cpus": args.local_cpus} if args.local_cpus else {}
        ray.init(address=settings.ray_address, **extra)
    options = BackfillOptions(
        app_id=args.app, horizon_days=horizon, rejects_uri=args.rejects, dry_run=args.dry_run
    )
    summary = run_backfill(
        files, settings=settings, options=options, echo=lambda line: print(line, flush=True)
    )
    print(describe(summary, dry_run=args.dry_run), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
