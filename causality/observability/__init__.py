"""Metrics, tracing and structured logs."""
