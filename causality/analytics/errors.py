"""Analytics errors, mapped to HTTP by the gateway (400 with ``field`` and ``reason``).

``field`` is a path into the request (``series[0].filters[1].property``) so the UI can point
at the control that is wrong; ``code`` is stable for clients to match on.
"""

from __future__ import annotations


class AnalyticsError(Exception):
    """Base of analytics errors."""

    code: str = "analytics_error"
    exposed: bool = True
    transient: bool = False


class InvalidInsight(AnalyticsError):
    """An insight request (trends, funnel, retention, paths) is malformed or out of bounds."""

    code = "invalid_insight"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # Ray pickles exceptions across processes; keep both parts.
        return (type(self), (self.field, self.reason))
