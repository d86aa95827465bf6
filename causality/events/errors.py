"""Errors raised by the event contract.

Only whole-request problems raise: a body that is not JSON, not shaped like a batch, or too
large. A single bad event never raises; it becomes a ``Rejection`` in the batch result. Every
error here is terminal (resending the same body cannot succeed) and exposed (its ``field`` and
``reason`` are safe to show to the client). They pickle by their constructor arguments so they
cross Ray process boundaries intact.
"""

from __future__ import annotations

from typing import Any


class EventContractError(Exception):
    """Base of the event package's errors, so callers can catch the package as a whole."""

    code: str = "event_contract_error"
    retryable: bool = False
    exposed: bool = True


class InvalidRequest(EventContractError):
    """The request body as a whole is unacceptable; ``field`` and ``reason`` say why.

    The gateway maps subclasses to HTTP statuses by class and reports ``code``, ``field`` and
    ``reason`` in its JSON error body. Nobody needs to parse the message.
    """

    code = "invalid_request"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.reason))


class MalformedBody(InvalidRequest):
    """The body is not UTF-8 JSON, or not shaped as the endpoint expects (HTTP 400).

    ``code`` is ``"malformed_json"`` when the bytes are not valid UTF-8 JSON at all and
    ``"malformed_body"`` when the JSON is well-formed but has the wrong shape.
    """

    code = "malformed_body"

    def __init__(self, field: str, reason: str, code: str = "malformed_body") -> None:
        super().__init__(field, reason)
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.reason, self.code))


class BatchTooLarge(InvalidRequest):
    """The batch holds more events than the deployment allows (HTTP 413)."""

    code = "batch_too_large"

    def __init__(self, count: int, limit: int) -> None:
        super().__init__("events", f"batch holds {count} events; the limit is {limit}")
        self.count = count
        self.limit = limit

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.count, self.limit))
