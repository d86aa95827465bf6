"""GET /api/v1/analytics/events/stream: a Server-Sent Events live tail of incoming events.

A core NATS subscription on the events subjects (no consumer state on the server: a live tail
needs none), filtered on the server by app and type and here by property. Each client has a
bounded buffer; when it is full the oldest events are dropped and the client is told how many,
so a slow browser can never hold memory or slow the bus down. The subscription is removed as
soon as the client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator

import msgspec
from nats.aio.msg import Msg
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from causality.auth.principal import Principal
from causality.auth.roles import Role
from causality.bus.subjects import SUBJECT_PREFIX, sanitize_token
from causality.events.catalogue import CATEGORY_OF, CUSTOM_TYPE
from causality.events.model import decode_event
from causality.gateway.endpoint import endpoint
from causality.gateway.errors import ApiError
from causality.gateway.guards import require
from causality.gateway.state import GatewayState

PATH = "/api/v1/analytics/events/stream"
BUFFER_EVENTS = 1000
HEARTBEAT_S = 15.0
_encode = msgspec.json.encode
_props = msgspec.json.Decoder(dict[str, object])


class StreamFilter(msgspec.Struct, frozen=True, kw_only=True):
    """What a client asked to see; subjects do the coarse filtering on the NATS server."""

    app_ids: tuple[str, ...] | None
    event_type: str | None
    event_name: str | None
    properties: tuple[tuple[str, str], ...]

    def subjects(self) -> list[str]:
        """One subject per app (all apps when unrestricted)."""
        if self.event_type is None:
            tail = ">"
        elif self.event_type == CUSTOM_TYPE:
            tail = f"custom.{sanitize_token(self.event_name) if self.event_name else '*'}"
        else:
            tail = f"{CATEGORY_OF[self.event_type]}.{self.event_type}"
        apps = self.app_ids if self.app_ids is not None else ("*",)
        return [f"{SUBJECT_PREFIX}.{app}.{tail}" for app in apps]


def parse_filter(request: Request, principal: Principal) -> StreamFilter:
    """Query parameters ``app_id``, ``type``, ``event_name``, ``property=key:value`` (repeat)."""
    params = request.query_params
    app_id = params.get("app_id")
    if app_id is not None:
        if not app_id or sanitize_token(app_id) != app_id:
            raise ApiError(400, "invalid_parameter", "not an app id", field="app_id")
        if not principal.can_access_app(app_id):
            raise ApiError(403, "forbidden", "you cannot read this app's events", field="app_id")
        app_ids: tuple[str, ...] | None = (app_id,)
    else:
        app_ids = None if principal.app_ids is None else tuple(sorted(principal.app_ids))
        if app_ids == ():
            raise ApiError(403, "forbidden", "you have access to no app", field="app_id")
    event_type = params.get("type")
    if event_type is not None and event_type not in CATEGORY_OF:
        raise ApiError(
            400, "invalid_parameter", f"unknown event type {event_type[:64]!r}", field="type"
        )
    properties = []
    for raw in params.getlist("property"):
        key, sep, value = raw.partition(":")
        if not sep or not key or len(key) > 128:
            raise ApiError(
                400, "invalid_parameter", "property filters are key:value", field="property"
            )
        properties.append((key, value))
    return StreamFilter(
        app_ids=app_ids,
        event_type=event_type,
        event_name=params.get("event_name"),
        properties=tuple(properties),
    )


def _matches(event_properties: bytes, wanted: tuple[tuple[str, str], ...]) -> bool:
    if not wanted:
        return True
    try:
        props = _props.decode(event_properties)
    except msgspec.DecodeError:
        return False
    return all(key in props and _text(props[key]) == value for key, value in wanted)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Tail:
    """One client's subscription and bounded buffer."""

    def __init__(self, *, wanted: StreamFilter, capacity: int) -> None:
        self._wanted = wanted
        self._buffer: deque[bytes] = deque(maxlen=capacity)
        self._ready = asyncio.Event()
        self.dropped = 0

    async def on_msg(self, msg: Msg) -> None:
        """NATS callback: decode, filter, buffer (dropping the oldest when full)."""
        try:
            event = decode_event(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return
        if self._wanted.event_name and event.event_name != self._wanted.event_name:
            return
        if not _matches(bytes(event.properties), self._wanted.properties):
            return
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        self._buffer.append(msg.data)
        self._ready.set()

    async def frames(self, request: Request) -> AsyncIterator[bytes]:
        """SSE frames until the client disconnects: events, drop notices, heartbeats."""
        yield b"retry: 3000\n\n"
        reported = 0
        last_sent = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), 1.0)
            if await request.is_disconnected():
                return
            self._ready.clear()
            if self.dropped != reported:
                yield b"event: dropped\ndata: " + _encode({"dropped": self.dropped}) + b"\n\n"
                reported = self.dropped
            while self._buffer:
                yield b"event: event\ndata: " + self._buffer.popleft() + b"\n\n"
                last_sent = time.monotonic()
            if time.monotonic() - last_sent >= HEARTBEAT_S:
                yield b": heartbeat\n\n"
                last_sent = time.monotonic()


@endpoint
async def stream(request: Request) -> Response:
    """The live tail as ``text/event-stream``."""
    principal = await require(request, Role.VIEWER)
    wanted = parse_filter(request, principal)
    state: GatewayState = request.app.state.gateway
    tail = Tail(wanted=wanted, capacity=BUFFER_EVENTS)

    async def body() -> AsyncIterator[bytes]:
        # subscribe inside the body: a client gone before it starts leaves nothing behind
        subs = []
        try:
            for subject in wanted.subjects():
                subs.append(await state.nc.subscribe(subject, cb=tail.on_msg))
            async for frame in tail.frames(request):
                yield frame
        finally:
            for sub in subs:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def routes() -> list[Route]:
    """The route of this module, mounted by build_gateway_app."""
    return [Route(PATH, stream, methods=["GET"])]
