"""Backfills of historical events into the warehouse (`python -m jobs.backfill`)."""
