"""Ray job entrypoints for ``ray job submit`` (backfill, compaction); the logic is in causality/."""
