"""The one test double of the LLM feature: a scripted server speaking OpenAI's chat protocol.

It is a real HTTP server (uvicorn in a thread) answering ``POST /v1/chat/completions`` and
``GET /v1/models`` in the exact shapes vLLM and OpenAI use, so the code under test goes through
the real ``openai`` client, its HTTP stack and its error handling. Tests script the answers
(``push``), or answer from the request (``responder``), can make it slow, broken, unable to do
structured outputs, or down (``stop()``) and back (``start()``) on the same port.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from causality.llm.types import ChartSpec
from tests.helpers import free_port

_ERROR_TYPES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
}


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``status`` other than 200 answers an OpenAI-style error whose
    message is ``content``; ``raw_body`` replaces the whole body (a broken proxy, an HTML
    page); token counts default to a rough count of characters."""

    content: str = ""
    status: int = 200
    delay_s: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    raw_body: bytes | None = None
    content_type: str = "application/json"
    finish_reason: str = "stop"


def sql_reply(sql: str, intent: str = "", chart: ChartSpec | dict[str, Any] | None = None) -> Reply:
    """The answer a well-behaved model gives under ``SQL_ANSWER_SCHEMA``."""
    chart_json: dict[str, Any] | None
    if isinstance(chart, ChartSpec):
        chart_json = {"x": None, "series": None, "title": "", **msgspec.to_builtins(chart)}
        chart_json["y"] = list(chart.y)
    else:
        chart_json = chart
    body = {"sql": sql, "intent": intent, "chart": chart_json}
    return Reply(content=msgspec.json.encode(body).decode())


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class ScriptedModel:
    """An OpenAI-compatible server answering from a script (context manager).

    ``model``: when set, requests naming another model get vLLM's 404; when None any model is
    accepted. ``json_schema_supported=False`` answers 400 to ``response_format`` json_schema
    like an older server. ``requests`` holds every request body received, in order.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        model: str | None = None,
        json_schema_supported: bool = True,
        responder: Callable[[dict[str, Any]], Reply] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.model = model
        self.json_schema_supported = json_schema_supported
        self.responder = responder
        self._queue: deque[Reply] = deque()
        self._requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._closing = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """What ``llm_base_url`` is set to: the OpenAI API root, ``/v1`` included."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every chat-completions request body received so far (copies)."""
        with self._lock:
            return list(self._requests)

    def push(self, *replies: Reply) -> None:
        """Queue replies, answered in order by the next requests."""
        with self._lock:
            self._queue.extend(replies)

    def pending(self) -> int:
        """Replies queued and not yet answered."""
        with self._lock:
            return len(self._queue)

    def clear(self) -> None:
        """Forget queued replies and received requests (a server shared by several tests)."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()

    # -- the protocol ------------------------------------------------------------------------

    async def _models(self, request: Request) -> Response:
        model = self.model or "scripted"
        entry = {"id": model, "object": "model", "created": 0, "owned_by": "causality-tests"}
        return JSONResponse({"object": "list", "data": [entry]})

    async def _chat(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            return _error(400, "request body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "request body must be a JSON object")
        with self._lock:
            self._requests.append(body)
        if self.model is not None and body.get("model") != self.model:
            return _error(404, f"The model `{body.get('model')}` does not exist.")
        if body.get("stream"):
            return _error(400, "ScriptedModel answers non-streaming requests only")
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema" and not self.json_schema_supported:
            return _error(
                400, "response_format: type 'json_schema' is not supported by this server"
            )
        try:
            reply = self._next_reply(body)
        except Exception as exc:  # the test's responder failed: say so, loudly
            return _error(500, f"ScriptedModel responder failed: {exc!r}")
        if reply is None:
            return _error(500, "ScriptedModel has no reply queued for this request")
        if reply.delay_s and await self._sleep(reply.delay_s):
            return _error(503, "ScriptedModel is stopping")
        if reply.raw_body is not None:
            return Response(reply.raw_body, status_code=reply.status, media_type=reply.content_type)
        if reply.status != 200:
            return _error(reply.status, reply.content or f"scripted error {reply.status}")
        return JSONResponse(_completion(body, reply))

    def _next_reply(self, body: dict[str, Any]) -> Reply | None:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        responder = self.responder
        return responder(body) if responder is not None else None

    async def _sleep(self, seconds: float) -> bool:
        """Wait, or give up early when the server stops; True when stopping."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._closing.is_set():
                return True
            await asyncio.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        return self._closing.is_set()

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        """Listen on ``port`` (again, after ``stop()``)."""
        with self._run_lock:
            if self._server is not None:
                return
            self._closing.clear()
            app = Starlette(
                routes=[
                    Route("/v1/chat/completions", self._chat, methods=["POST"]),
                    Route("/v1/models", self._models, methods=["GET"]),
                ]
            )
            config = uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
            server = uvicorn.Server(config)
            thread = threading.Thread(target=server.run, name="scripted-model", daemon=True)
            thread.start()
            deadline = time.monotonic() + 30
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"ScriptedModel did not start on port {self.port}")
                time.sleep(0.02)
            self._server, self._thread = server, thread

    def stop(self) -> None:
        """Stop listening: connections are refused until ``start()`` (a model server down)."""
        with self._run_lock:
            if self._server is None or self._thread is None:
                return
            self._closing.set()
            self._server.should_exit = True
            self._thread.join(timeout=30)
            self._server = self._thread = None
            # the port must really refuse now, or a test of an outage would test nothing
            with socket.socket() as probe:
                assert probe.connect_ex(("127.0.0.1", self.port)) != 0

    def __enter__(self) -> ScriptedModel:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _completion(request: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """A chat completion exactly as OpenAI and vLLM shape it."""
    prompt = "".join(
        str(m.get("content", "")) for m in request.get("messages", []) if isinstance(m, dict)
    )
    prompt_tokens = reply.prompt_tokens if reply.prompt_tokens is not None else _tokens(prompt)
    completion_tokens = (
        reply.completion_tokens if reply.completion_tokens is not None else _tokens(reply.content)
    )
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _error(status: int, message: str) -> JSONResponse:
    """An error body as OpenAI and current vLLM answer it."""
    kind = _ERROR_TYPES.get(status, "InternalServerError" if status >= 500 else "APIError")
    error = {"message": message, "type": kind, "param": None, "code": status}
    return JSONResponse({"error": error}, status_code=status)
