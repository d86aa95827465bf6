"""Authentication errors, mapped to HTTP by the gateway (401 for the exposed ones, 503 else).

``code`` and ``field`` are stable for clients to match on; messages may change. Unknown and
revoked keys share ``InvalidApiKey`` on purpose, so a caller cannot probe which keys existed.
"""

from __future__ import annotations

API_KEY_FIELD = "X-API-Key"


class AuthError(Exception):
    """Base of auth errors."""

    code: str = "auth_error"
    field: str | None = None
    exposed: bool = True
    transient: bool = False


class MissingApiKey(AuthError):
    """The request carried no API key."""

    code = "missing_api_key"
    field = API_KEY_FIELD

    def __init__(self, message: str = f"the {API_KEY_FIELD} header is required") -> None:
        super().__init__(message)


class InvalidApiKey(AuthError):
    """The API key is unknown, malformed or revoked (deliberately indistinguishable)."""

    code = "invalid_api_key"
    field = API_KEY_FIELD

    def __init__(self, message: str = "the API key is not valid") -> None:
        super().__init__(message)


class AuthUnavailable(AuthError):
    """Keys could not be checked because PostgreSQL is unreachable: retry later (HTTP 503)."""

    code = "auth_unavailable"
    exposed = False
    transient = True
