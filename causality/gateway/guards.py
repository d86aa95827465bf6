"""Authorization for every analytics and admin endpoint: who is calling, may they, and did
their browser really mean to.

``await require(request, Role.EDITOR)`` at the top of a handler returns the ``Principal`` or
raises ``ApiError``: 401 ``not_authenticated`` without a live session or valid token, 403
``csrf_failed`` for a cookie-authenticated write without the session's ``X-CSRF-Token``, 403
``forbidden`` when the role is too low. Tokens need no CSRF header: browsers never attach
``Authorization`` on their own, so a cross-site page cannot make one ride along.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from causality.auth.principal import Principal, authenticate_request
from causality.auth.roles import Role, allows
from causality.gateway.errors import ApiError

CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

__all__ = ["CSRF_HEADER", "Principal", "Role", "check_csrf", "require"]


def check_csrf(request: Request, principal: Principal) -> None:
    """Raise 403 ``csrf_failed`` for an unsafe request on a cookie session whose
    ``X-CSRF-Token`` header is missing or differs from the session's token."""
    if principal.via != "session" or request.method not in UNSAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    expected = principal.session_csrf or ""
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise ApiError(
            403,
            "csrf_failed",
            f"send the session's CSRF token (from login or /api/v1/auth/me) in {CSRF_HEADER}",
            field=CSRF_HEADER,
        )


async def require(request: Request, role: Role) -> Principal:
    """The authenticated principal if it holds at least ``role``; see the module docstring."""
    principal = await authenticate_request(request)
    if principal is None:
        raise ApiError(
            401,
            "not_authenticated",
            "log in, or send Authorization: Bearer <token>; the session may have expired",
        )
    check_csrf(request, principal)
    if not allows(principal.role, role):
        raise ApiError(
            403,
            "forbidden",
            f"this needs the {role.value} role; you have {principal.role.value}",
        )
    return principal
