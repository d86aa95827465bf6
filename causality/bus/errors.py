"""Errors of the bus package, classified so callers know whether a retry can help."""

from __future__ import annotations


class BusError(Exception):
    """Base of bus errors; ``transient`` tells the caller whether retrying later can succeed."""

    transient: bool = True


class BusUnavailable(BusError):
    """NATS is unreachable or JetStream did not acknowledge in time: answer 503, retry later."""

    transient = True


class StreamConfigError(BusError):
    """The stream exists with settings we cannot change in place (e.g. storage type)."""

    transient = False
