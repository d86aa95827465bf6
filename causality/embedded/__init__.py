"""Local NATS and PostgreSQL servers for the one-command stack (never used in production)."""

from __future__ import annotations

from causality.embedded.nats import EmbeddedNats
from causality.embedded.postgres import EmbeddedPostgres

__all__ = ["EmbeddedNats", "EmbeddedPostgres"]
