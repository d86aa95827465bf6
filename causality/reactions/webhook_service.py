"""Managing webhooks for the admin API and the CLI: validation, secrets, egress checks, tests.

A webhook's URL is checked when it is saved (shape, then every address its host resolves to)
so an editor learns at once that ``http://169.254.169.254/`` is refused; the dispatcher checks
again before every request, because DNS answers change. Secrets are write-only: a replace or
patch that does not mention ``auth_secret`` keeps the stored one, ``null`` removes it.
Webhooks are team-wide: any editor manages them, whatever apps they are limited to.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

import asyncpg
import msgspec

from causality.config import Settings
from causality.reactions.egress import EgressRefused, resolve_target, validate_url
from causality.reactions.model import AuthType, Webhook
from causality.reactions.outbox import deliver_test
from causality.reactions.sender import WebhookSender
from causality.reactions.service import (
    UNSET,
    Caller,
    Conflict,
    Name,
    NotFound,
    Unset,
    given,
    invalid,
    parse_id,
)
from causality.reactions.signing import RESERVED_HEADERS
from causality.store import webhooks
from causality.store.webhooks import WebhookInfo, WebhookInUse

MAX_HEADERS = 20
MIN_HMAC_SECRET_CHARS = 16

Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
UserName = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
HeaderValue = Annotated[str, msgspec.Meta(max_length=1024)]
Headers = Annotated[dict[str, HeaderValue], msgspec.Meta(max_length=MAX_HEADERS)]
MaxAttempts = Annotated[int, msgspec.Meta(ge=1, le=50)]
TimeoutS = Annotated[float, msgspec.Meta(gt=0, le=60)]

# RFC 9110 token characters: what an HTTP field name may consist of
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class WebhookBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A webhook as created or replaced. ``auth_secret`` left out keeps the stored secret;
    ``max_attempts`` and ``timeout_s`` left out take the deployment's defaults."""

    name: Name
    url: Url
    auth_type: AuthType = "none"
    auth_username: UserName | None = None
    auth_secret: Secret | Unset | None = UNSET
    headers: Headers = {}
    enabled: bool = True
    max_attempts: MaxAttempts | None = None
    timeout_s: TimeoutS | None = None


class WebhookPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Any subset of a webhook's fields."""

    name: Name | Unset = UNSET
    url: Url | Unset = UNSET
    auth_type: AuthType | Unset = UNSET
    auth_username: UserName | Unset | None = UNSET
    auth_secret: Secret | Unset | None = UNSET
    headers: Headers | Unset = UNSET
    enabled: bool | Unset = UNSET
    max_attempts: MaxAttempts | Unset = UNSET
    timeout_s: TimeoutS | Unset = UNSET


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    """Extra request headers: valid names, none of ours (auth, signature, framing), no line
    breaks in values (which would let a value smuggle another header)."""
    seen: set[str] = set()
    for name, value in headers.items():
        field = f"headers.{name[:100]}"
        if not _TOKEN.fullmatch(name):
            raise invalid(field, "a header name is 1-100 HTTP token characters")
        lowered = name.lower()
        if lowered in RESERVED_HEADERS or lowered.startswith("x-causality-"):
            raise invalid(field, "set by Causality itself (use auth_type for credentials)")
        if lowered in seen:
            raise invalid(field, "given twice (header names are case-insensitive)")
        seen.add(lowered)
        if _CONTROL.search(value):
            raise invalid(field, "a header value may not contain control characters")
    return headers


def check_credentials(webhook: Webhook, *, secret_given: bool, username_given: bool) -> Webhook:
    """Each auth type has exactly the credentials it uses; the others are dropped, or refused
    when this request sent them."""
    auth = webhook.auth_type
    username, secret = webhook.auth_username, webhook.auth_secret
    if auth != "basic" and username is not None:
        if username_given:
            raise invalid("auth_username", f"only basic auth has a user name, not {auth}")
        username = None
    if auth == "none":
        if secret is not None and secret_given:
            raise invalid("auth_secret", "auth_type none sends no credentials")
        return msgspec.structs.replace(webhook, auth_username=None, auth_secret=None)
    if secret is None:
        what = {"basic": "the password", "bearer": "the token", "hmac": "the signing key"}[auth]
        raise invalid("auth_secret", f"required for {auth} auth ({what})")
    if _CONTROL.search(secret):
        raise invalid("auth_secret", "may not contain control characters")
    if auth == "hmac" and len(secret) < MIN_HMAC_SECRET_CHARS:
        raise invalid("auth_secret", f"an HMAC key needs at least {MIN_HMAC_SECRET_CHARS} chars")
    if auth == "bearer" and any(ch.isspace() for ch in secret):
        raise invalid("auth_secret", "a bearer token may not contain whitespace")
    if auth == "basic":
        if username is None:
            raise invalid("auth_username", "required for basic auth")
        if ":" in username or _CONTROL.search(username):
            raise invalid("auth_username", "may not contain ':' or control characters")
    return msgspec.structs.replace(webhook, auth_username=username)


async def check_target(url: str, settings: Settings) -> None:
    """Refuse (422 naming ``url``) a URL of the wrong shape or one that reaches a private,
    loopback or link-local address not allowed by ``webhook_allowed_networks``."""
    try:
        validate_url(url)
        await resolve_target(url, settings.webhook_allowed_networks)
    except EgressRefused as exc:
        raise invalid("url", exc.reason, code="egress_refused") from None


async def _checked(values: dict[str, Any], sent: dict[str, Any], settings: Settings) -> Webhook:
    """The webhook ``values`` describe, validated; ``sent`` is what this request gave."""
    webhook = Webhook(**values)
    check_headers(webhook.headers)
    webhook = check_credentials(
        webhook,
        secret_given="auth_secret" in sent,
        username_given=sent.get("auth_username") is not None,
    )
    await check_target(webhook.url, settings)
    return webhook


async def list_webhooks(
    pool: asyncpg.Pool, *, limit: int, offset: int
) -> tuple[list[WebhookInfo], int]:
    """A page of webhooks (never their secrets)."""
    return await webhooks.list_page(pool, limit=limit, offset=offset)


async def get_webhook(pool: asyncpg.Pool, webhook_id: str) -> WebhookInfo:
    """One webhook without its secret, or 404."""
    found = await webhooks.get(pool, parse_id(webhook_id, "webhook"))
    if found is None:
        raise NotFound("no such webhook")
    return found


async def create_webhook(
    pool: asyncpg.Pool, caller: Caller, body: WebhookBody, *, settings: Settings
) -> WebhookInfo:
    """Validate (egress included) and store a new webhook."""
    sent = given(body)
    values = {
        **sent,
        "id": str(uuid.uuid4()),
        "max_attempts": body.max_attempts or settings.webhook_max_attempts,
        "timeout_s": body.timeout_s or settings.webhook_timeout_s,
    }
    webhook = await _checked(values, sent, settings)
    return await webhooks.create(pool, webhook, created_by=caller.user_id)


async def update_webhook(
    pool: asyncpg.Pool, webhook_id: str, body: WebhookBody | WebhookPatch, *, settings: Settings
) -> WebhookInfo:
    """Replace a webhook (``WebhookBody``) or change some fields (``WebhookPatch``); the
    stored secret is kept unless the request mentions ``auth_secret``."""
    key = parse_id(webhook_id, "webhook")
    current = await webhooks.get_full(pool, key)
    if current is None:
        raise NotFound("no such webhook")
    sent = given(body)
    if isinstance(body, WebhookPatch):
        values = {**msgspec.structs.asdict(current), **sent}
    else:
        values = {
            **sent,
            "id": current.id,
            "auth_secret": sent.get("auth_secret", current.auth_secret),
            "max_attempts": body.max_attempts or settings.webhook_max_attempts,
            "timeout_s": body.timeout_s or settings.webhook_timeout_s,
        }
    webhook = await _checked(values, sent, settings)
    updated = await webhooks.replace(pool, webhook)
    if updated is None:
        raise NotFound("no such webhook")
    return updated


async def delete_webhook(pool: asyncpg.Pool, webhook_id: str) -> None:
    """Delete a webhook no rule or detector uses (409 naming them otherwise)."""
    try:
        deleted = await webhooks.delete(pool, parse_id(webhook_id, "webhook"))
    except WebhookInUse as exc:
        raise Conflict(str(exc), field="webhook_ids", code=exc.code) from None
    if not deleted:
        raise NotFound("no such webhook")


async def send_test(
    pool: asyncpg.Pool, sender: WebhookSender, webhook_id: str, *, settings: Settings
) -> dict[str, Any]:
    """Send one test delivery now and report how the receiver answered (a failure is a
    result, not an error); a refused target is a 422 naming ``url``."""
    webhook = await webhooks.get_full(pool, parse_id(webhook_id, "webhook"))
    if webhook is None:
        raise NotFound("no such webhook")
    await check_target(webhook.url, settings)
    return await deliver_test(pool, sender, webhook)
