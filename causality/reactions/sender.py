"""Sending one delivery: a checked, signed webhook POST, or a JetStream publish.

The result is always an ``Attempt`` (never an exception for a delivery failure) so the outbox
can record it and decide on a retry. A webhook request connects to the address the egress
check approved (``causality.reactions.egress``), follows no redirect (a redirect could point
inside the network), and reads only the first bytes of the answer.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from types import TracebackType
from typing import Any, Self

import httpx
import msgspec
from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError

from causality.config import Settings
from causality.reactions.egress import EgressRefused, Resolver, resolve_target
from causality.reactions.model import Webhook
from causality.reactions.signing import MissingCredentials, request_headers

log = logging.getLogger(__name__)

ERROR_EXCERPT_CHARS = 200
ERROR_MAX_CHARS = 500
ALERT_SUBJECT_PREFIX = "alerts."


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one try: ``status_code`` is None when no HTTP answer came back."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    duration_ms: float = 0.0


class _PerHostTLSTransport(httpx.AsyncBaseTransport):
    """Requests go to IP addresses, and httpcore pools connections by address only; a TLS
    connection verified for one host name must not carry a request for another host that
    shares the address (CDNs, shared hosting), so https requests get a pool per host name.
    Plain http shares one pool: it has no server identity to mix up.
    """

    def __init__(self, *, limits: httpx.Limits, verify: ssl.SSLContext | bool) -> None:
        self._limits = limits
        self._verify = verify
        self._plain = self._new()
        self._tls: dict[str, httpx.AsyncHTTPTransport] = {}

    def _new(self) -> httpx.AsyncHTTPTransport:
        return httpx.AsyncHTTPTransport(
            verify=self._verify, limits=self._limits, trust_env=False, retries=0
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Route to the pool of the request's TLS server name (one per webhook host)."""
        sni = request.extensions.get("sni_hostname")
        if request.url.scheme != "https" or not sni:
            return await self._plain.handle_async_request(request)
        transport = self._tls.get(sni)
        if transport is None:
            transport = self._tls[sni] = self._new()
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        """Close every pool."""
        transports = [self._plain, *self._tls.values()]
        self._tls.clear()
        for transport in transports:
            await transport.aclose()


class WebhookSender:
    """Sends webhook requests through one pooled HTTP client; use it as an async context
    manager (the owner opens and closes it)."""

    def __init__(
        self,
        settings: Settings,
        *,
        verify: ssl.SSLContext | bool = True,
        resolver: Resolver | None = None,
    ) -> None:
        self._settings = settings
        self._verify = verify
        self._resolver = resolver
        self._client: httpx.AsyncClient | None = None

    @property
    def settings(self) -> Settings:
        """The settings this sender applies (timeouts, allowlist, response limit)."""
        return self._settings

    async def __aenter__(self) -> Self:
        concurrency = max(self._settings.dispatcher_concurrency, 1)
        limits = httpx.Limits(
            max_connections=concurrency * 2,
            max_keepalive_connections=concurrency,
            keepalive_expiry=30.0,
        )
        self._client = httpx.AsyncClient(
            transport=_PerHostTLSTransport(limits=limits, verify=self._verify),
            follow_redirects=False,
            trust_env=False,  # an environment proxy would bypass the egress check
            headers={"Accept-Encoding": "identity"},
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(self, webhook: Webhook, *, delivery_id: str, payload: bytes) -> Attempt:
        """POST ``payload`` to the webhook once; 2xx is success, anything else a failure."""
        if self._client is None:
            raise RuntimeError("WebhookSender is not open (use it with 'async with')")
        timeout_s = min(webhook.timeout_s, self._settings.webhook_timeout_s)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                status, excerpt = await self._post(
                    webhook, delivery_id=delivery_id, payload=payload, timeout_s=timeout_s
                )
        except Exception as exc:  # cancellation (a BaseException) still propagates
            return Attempt(
                ok=False, error=_describe(exc, timeout_s), duration_ms=_ms_since(started)
            )
        duration_ms = _ms_since(started)
        if 200 <= status < 300:
            return Attempt(ok=True, status_code=status, duration_ms=duration_ms)
        if 300 <= status < 400:
            error = f"HTTP {status}: redirects are not followed"
        else:
            error = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
        return Attempt(ok=False, status_code=status, error=error, duration_ms=duration_ms)

    async def _post(
        self, webhook: Webhook, *, delivery_id: str, payload: bytes, timeout_s: float
    ) -> tuple[int, str]:
        assert self._client is not None
        target = await resolve_target(
            webhook.url, self._settings.webhook_allowed_networks, resolver=self._resolver
        )
        headers = request_headers(
            webhook, delivery_id=delivery_id, timestamp=int(time.time()), body=payload
        )
        headers["Host"] = target.host_header
        extensions: dict[str, Any] = {}
        if target.sni_hostname is not None:
            extensions["sni_hostname"] = target.sni_hostname
        request = self._client.build_request(
            "POST",
            target.connect_url,
            content=payload,
            headers=headers,
            timeout=httpx.Timeout(timeout_s),
            extensions=extensions,
        )
        response = await self._client.send(request, stream=True)
        try:
            body = await _read_limited(response, self._settings.webhook_max_response_bytes)
        finally:
            await response.aclose()
        return response.status_code, body[:ERROR_EXCERPT_CHARS].decode("utf-8", "replace")


async def _read_limited(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the body; the rest is never read (the connection closes)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk[: limit - size])
        size += len(chunks[-1])
        if size >= limit:
            break
    return b"".join(chunks)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _describe(exc: Exception, timeout_s: float) -> str:
    """A short, stable text for the history: what went wrong, not a traceback."""
    chain = _causes(exc)
    if isinstance(exc, EgressRefused):
        text = exc.reason
    elif isinstance(exc, MissingCredentials):
        text = f"webhook misconfigured: {exc}"
    elif any(isinstance(e, TimeoutError | httpx.TimeoutException) for e in chain):
        text = f"timeout after {timeout_s:g}s"
    elif any(isinstance(e, ConnectionRefusedError) for e in chain) or (
        isinstance(exc, httpx.ConnectError) and "refused" in str(exc).lower()
    ):
        text = "connection refused"
    elif any(isinstance(e, ssl.SSLError) for e in chain):
        text = f"tls error: {exc}"
    elif isinstance(exc, httpx.ConnectError):
        text = f"connection failed: {exc}"
    elif isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        text = f"connection broken: {exc or type(exc).__name__}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:ERROR_MAX_CHARS]


async def publish_alert(
    js: JetStreamContext, subject: str, *, delivery_id: str, payload: bytes, timeout_s: float
) -> Attempt:
    """Publish a NATS-target delivery on JetStream; delivered once the PubAck arrives.

    ``Nats-Msg-Id`` is the delivery id, so a retry after a lost ack is dropped by the stream's
    duplicate window instead of appearing twice. Only ``alerts.`` subjects are published: a
    delivery can never inject into the events stream.
    """
    started = time.perf_counter()
    if not subject.startswith(ALERT_SUBJECT_PREFIX) or any(c in subject for c in " \t\r\n*>"):
        return Attempt(
            ok=False,
            error=f"subject {subject[:100]!r} is not a concrete alerts.* subject",
            duration_ms=_ms_since(started),
        )
    try:
        await js.publish(subject, payload, timeout=timeout_s, headers={"Nats-Msg-Id": delivery_id})
    except NoStreamResponseError:
        error = f"no stream accepts subject {subject}"
    except Exception as exc:
        error = _describe(exc, timeout_s)
    else:
        return Attempt(ok=True, duration_ms=_ms_since(started))
    return Attempt(ok=False, error=error, duration_ms=_ms_since(started))
