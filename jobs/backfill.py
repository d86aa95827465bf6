"""Backfill historical events into the warehouse as a Ray job, with Ray Data in parallel.

    ray job submit --working-dir . -- python -m jobs.backfill SOURCE [SOURCE ...] --app APP
        [--format auto|ndjson|json|csv|parquet|segment|posthog] [--rejects FILE] [--dry-run]
        [--horizon-days N]

Sources are fsspec URIs or globs (local paths, s3:// with the s3_* settings). Settings come
from ``CAUSALITY_*`` variables (``--runtime-env-json`` carries them to a cluster); without a
cluster, ``ray.init()`` starts a local instance. The logic lives in causality/backfill/; this
module only parses the command line and wires it to Ray. Details in docs/backfill.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import ray

from causality.backfill.report import describe
from causality.backfill.run import BackfillOptions, run_backfill
from causality.backfill.sources import FORMATS, expand_sources
from causality.config import SettingsError, load_settings


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m jobs.backfill", description=__doc__)
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="fsspec URIs or globs")
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
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(environ=os.environ)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
