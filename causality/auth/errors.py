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


class InvalidCredentials(AuthError):
    """Wrong email or password, or a disabled user (deliberately indistinguishable, so the
    login form is not an oracle for which accounts exist)."""

    code = "invalid_credentials"

    def __init__(self, message: str = "invalid email or password") -> None:
        super().__init__(message)


class LoginRateLimited(AuthError):
    """Too many failed logins for this email or from this address; retry after some time."""

    code = "too_many_attempts"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s

    def __reduce__(self) -> tuple[object, ...]:
        return (LoginRateLimited, (self.retry_after_s,))


class WeakPassword(AuthError):
    """A new password does not meet the policy; the message says which rule."""

    code = "weak_password"
    field = "password"
