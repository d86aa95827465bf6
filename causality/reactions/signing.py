"""What every webhook request carries: identity, de-duplication, auth and an HMAC signature.

Receivers de-duplicate on ``X-Causality-Delivery`` (retries and a dispatcher crash can send a
delivery more than once). With ``hmac`` auth the body is signed together with a timestamp,
``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``, so a receiver can check both that
we sent it and that it is fresh: a captured request replayed later is rejected.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.metadata
import time

from causality.reactions.model import Webhook

DELIVERY_HEADER = "X-Causality-Delivery"
TIMESTAMP_HEADER = "X-Causality-Timestamp"
SIGNATURE_HEADER = "X-Causality-Signature"
DEFAULT_TOLERANCE_S = 300.0

# set by us (or by HTTP itself); a webhook's own headers never replace them
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        DELIVERY_HEADER,
        TIMESTAMP_HEADER,
        SIGNATURE_HEADER,
        "Authorization",
        "Content-Type",
        "Content-Length",
        "Content-Encoding",
        "Transfer-Encoding",
        "Connection",
        "Host",
        "User-Agent",
    )
)


def _version() -> str:
    try:
        return importlib.metadata.version("causality")
    except importlib.metadata.PackageNotFoundError:
        return "0"


USER_AGENT = f"causality-webhooks/{_version()}"


class SignatureInvalid(ValueError):
    """A signature header that does not prove the body came from us, now."""


class MissingCredentials(ValueError):
    """A webhook whose auth type needs a secret (or user name) it does not have."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Causality-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> int:
    """Check a signature header as a receiver should; return its timestamp.

    Raises ``SignatureInvalid`` when the header is malformed, the timestamp is further than
    ``tolerance_s`` from ``now`` (a replay, or a badly wrong clock), or no ``v1`` signature
    matches (compared in constant time). Several ``v1`` entries are accepted, so a sender can
    sign with an old and a new key while the key is being rotated.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureInvalid(f"malformed signature header element {part.strip()!r}")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureInvalid(f"timestamp {value!r} is not an integer") from None
        elif key == "v1":
            candidates.append(value)
    if timestamp is None:
        raise SignatureInvalid("signature header has no t= timestamp")
    if not candidates:
        raise SignatureInvalid("signature header has no v1= signature")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureInvalid(
            f"timestamp {timestamp} is {abs(current - timestamp):.0f}s away from now "
            f"(tolerance {tolerance_s:.0f}s)"
        )
    expected = _digest(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureInvalid("no signature matches the body")
    return timestamp


def request_headers(
    webhook: Webhook, *, delivery_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """All headers of one delivery request: the webhook's own first, then ours over them.

    Raises ``MissingCredentials`` when the auth type needs a secret the webhook lacks.
    """
    headers = {
        name: value
        for name, value in webhook.headers.items()
        if name.lower() not in RESERVED_HEADERS and not name.lower().startswith("x-causality-")
    }
    headers.update(
        {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            DELIVERY_HEADER: delivery_id,
            TIMESTAMP_HEADER: str(timestamp),
        }
    )
    if webhook.auth_type == "none":
        return headers
    secret = webhook.auth_secret
    if not secret:
        raise MissingCredentials(f"auth_secret: {webhook.auth_type} auth needs a secret")
    if webhook.auth_type == "basic":
        if not webhook.auth_username:
            raise MissingCredentials("auth_username: basic auth needs a user name")
        token = base64.b64encode(f"{webhook.auth_username}:{secret}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    elif webhook.auth_type == "bearer":
        headers["Authorization"] = f"Bearer {secret}"
    else:  # hmac
        headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
    return headers
