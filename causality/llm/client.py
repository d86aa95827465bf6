"""The model client: chat completions through the official ``openai`` client.

One protocol covers every deployment: the Ray Serve LLM application (vLLM) in this cluster,
``vllm serve``, Ollama, or a hosted API. Structured output is asked for with
``response_format`` json_schema (what current vLLM and OpenAI honour; the old ``guided_json``
extra field is silently ignored by current vLLM, so it is never sent); a server that refuses
it is asked again without, once, and remembered. The client's own retries are off: the
pipeline decides what to retry. Every ``openai`` error is translated here into the
``LLMError`` the API answers with.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
import openai

from causality.config import Settings, SettingsError
from causality.llm.types import (
    BadModelOutput,
    Completion,
    LLMError,
    LLMNotConfigured,
    LLMTimeout,
    LLMUnavailable,
    Message,
    ModelClient,
    Usage,
)

NOT_CONFIGURED = (
    "no language model is configured. To ask questions in plain English, either point "
    "Causality at an OpenAI-compatible server (vLLM, Ollama, a hosted API): "
    "CAUSALITY_LLM_PROVIDER=openai CAUSALITY_LLM_BASE_URL=http://host:8000/v1 "
    "CAUSALITY_LLM_MODEL=<model name> [CAUSALITY_LLM_API_KEY=<key>]; or serve a model on this "
    "cluster's GPU nodes with Ray Serve LLM: pip install 'causality[llm]' and "
    'CAUSALITY_LLM_PROVIDER=vllm (see docs/llm.md, "Serving a model").'
)

# the servers' words for "I do not do json_schema response formats"
_SCHEMA_REJECTION_WORDS = ("response_format", "json_schema", "structured", "guided")
_LOCAL_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "[::1]"}


class Endpoint(msgspec.Struct, frozen=True, kw_only=True):
    """Where the model is and which settings named it (for error messages)."""

    base_url: str
    model: str
    api_key: str | None = None
    model_setting: str = "llm_model"


def resolve_endpoint(settings: Settings) -> Endpoint:
    """The endpoint for ``llm_provider``: ``openai`` needs ``llm_base_url`` and ``llm_model``;
    ``vllm`` defaults to this cluster's Serve route for the model deployed by serve_app.py."""
    provider = settings.llm_provider
    if provider == "none":
        raise LLMNotConfigured(NOT_CONFIGURED)
    if provider == "openai":
        if not settings.llm_base_url.strip():
            raise SettingsError(
                "llm_base_url is required when llm_provider is openai "
                "(CAUSALITY_LLM_BASE_URL, e.g. http://host:8000/v1)"
            )
        if not settings.llm_model.strip():
            raise SettingsError(
                "llm_model is required when llm_provider is openai (CAUSALITY_LLM_MODEL)"
            )
        return Endpoint(
            base_url=settings.llm_base_url.strip(),
            model=settings.llm_model.strip(),
            api_key=settings.llm_api_key,
        )
    base_url = settings.llm_base_url.strip() or serve_route_url(settings)
    return Endpoint(
        base_url=base_url,
        model=settings.llm_vllm_model_id,
        api_key=settings.llm_api_key,
        model_setting="llm_vllm_model_id",
    )


def serve_route_url(settings: Settings) -> str:
    """The in-cluster URL of the Ray Serve LLM application: Serve's HTTP port on this node,
    under ``llm_vllm_route_prefix`` (a wildcard bind address is reached on loopback)."""
    host = _LOCAL_HOSTS.get(settings.http_host, settings.http_host)
    prefix = "/" + settings.llm_vllm_route_prefix.strip("/")
    return f"http://{host}:{settings.http_port}{prefix.rstrip('/')}/v1"


class OpenAIModelClient:
    """``ModelClient`` over ``openai.AsyncOpenAI`` for the configured endpoint.

    ``structured`` starts True and turns False, for the life of the client, once the server
    refuses ``response_format`` json_schema; the parser then reads free-form answers.
    """

    def __init__(self, settings: Settings, *, endpoint: Endpoint | None = None) -> None:
        self._endpoint = endpoint or resolve_endpoint(settings)
        self._timeout_s = settings.llm_timeout_s
        self._temperature = settings.llm_temperature
        self._max_tokens = settings.llm_max_tokens
        self.structured = True
        self._client = openai.AsyncOpenAI(
            base_url=self._endpoint.base_url,
            # local servers take any key, and the client insists on one
            api_key=self._endpoint.api_key or "unused",
            timeout=settings.llm_timeout_s,
            max_retries=0,
        )

    @property
    def endpoint(self) -> Endpoint:
        """Where this client sends requests (for status pages and error messages)."""
        return self._endpoint

    async def complete(
        self,
        messages: list[Message],
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        """One chat completion; ``json_schema`` asks for structured output when the server
        can do it. Raises LLMTimeout, LLMUnavailable, BadModelOutput or LLMError."""
        request: dict[str, Any] = {
            "model": self._endpoint.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens or self._max_tokens,
            "temperature": self._temperature,
        }
        structured = json_schema is not None and self.structured
        started = time.perf_counter()
        if structured:
            schema_format = {"name": "answer", "schema": json_schema, "strict": True}
            try:
                response = await self._create(
                    {
                        **request,
                        "response_format": {"type": "json_schema", "json_schema": schema_format},
                    }
                )
            except _SchemaRejected:
                self.structured = structured = False
                response = await self._create(request)
        else:
            response = await self._create(request)
        latency_ms = (time.perf_counter() - started) * 1000.0
        return self._completion(response, structured=structured, latency_ms=latency_ms)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()

    async def _create(self, request: dict[str, Any]) -> Any:
        try:
            return await self._client.chat.completions.create(**request)
        except openai.APIStatusError as exc:
            if "response_format" in request and _rejects_schema(exc):
                raise _SchemaRejected from exc
            raise self._translate(exc) from exc
        except openai.OpenAIError as exc:
            raise self._translate(exc) from exc
        except ValueError as exc:  # the client could not decode a body announced as JSON
            raise LLMUnavailable(
                f"model server at {self._endpoint.base_url} answered a body that is not JSON: "
                f"{_excerpt(exc)}"
            ) from exc

    def _completion(self, response: Any, *, structured: bool, latency_ms: float) -> Completion:
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list):
            # a body that is not JSON comes back as text: show its start (an HTML error page)
            seen = f": {_excerpt(response)}" if isinstance(response, str) else ""
            raise LLMUnavailable(
                f"model server at {self._endpoint.base_url} answered something that is not a "
                f"chat completion{seen}"
            )
        if not choices:
            raise BadModelOutput("the model server answered no choices")
        message = getattr(choices[0], "message", None)
        text = getattr(message, "content", None)
        usage = getattr(response, "usage", None)
        return Completion(
            text=text if isinstance(text, str) else "",
            usage=Usage(
                prompt_tokens=_count(getattr(usage, "prompt_tokens", 0)),
                completion_tokens=_count(getattr(usage, "completion_tokens", 0)),
            ),
            latency_ms=latency_ms,
            structured=structured,
            model=str(getattr(response, "model", "") or self._endpoint.model),
        )

    def _translate(self, exc: openai.OpenAIError) -> LLMError:
        """The pipeline's error for an ``openai`` one, naming the setting to fix if any."""
        url = self._endpoint.base_url
        if isinstance(exc, openai.APITimeoutError):
            return LLMTimeout(
                f"the model at {url} did not answer within {self._timeout_s:g}s (llm_timeout_s)"
            )
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnavailable(f"model server at {url} is not reachable")
        if isinstance(exc, openai.APIResponseValidationError):
            return LLMUnavailable(
                f"model server at {url} answered something that is not a chat completion"
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = _server_message(exc)
            if status in (401, 403):
                return LLMUnavailable(
                    f"model server at {url} refused the API key ({status}): set llm_api_key "
                    f"(CAUSALITY_LLM_API_KEY) to a key it accepts. {detail}".strip()
                )
            if status == 404:
                setting = self._endpoint.model_setting
                return LLMUnavailable(
                    f"model server at {url} does not serve model {self._endpoint.model!r} "
                    f"(404): check {setting} (CAUSALITY_{setting.upper()}) and llm_base_url. "
                    f"{detail}".strip()
                )
            if status == 429:
                return LLMUnavailable(
                    f"model server at {url} is overloaded (429), try again later. {detail}".strip()
                )
            suffix = f": {detail}" if detail else ""
            if status >= 500:
                return LLMUnavailable(f"model server at {url} failed ({status}){suffix}")
            return LLMError(f"model server at {url} refused the request ({status}){suffix}")
        return LLMError(f"model client error: {exc}")


def build_model_client(settings: Settings) -> ModelClient:
    """The client for ``llm_provider``: raises LLMNotConfigured for ``none`` (its message says
    how to configure a model) and SettingsError for an incomplete ``openai`` setting."""
    return OpenAIModelClient(settings)


class _SchemaRejected(Exception):
    """The server refused the json_schema response format (asked again without it)."""


def _rejects_schema(exc: openai.APIStatusError) -> bool:
    """A 422, or a 400 that names the response format: the server cannot do json_schema."""
    if exc.status_code == 422:
        return True
    if exc.status_code != 400:
        return False
    text = f"{exc.message} {exc.body}".lower()
    return any(word in text for word in _SCHEMA_REJECTION_WORDS)


def _server_message(exc: openai.APIStatusError) -> str:
    """The server's own message (OpenAI's ``{"error": {"message"}}`` or vLLM's flat form)."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return _excerpt(inner["message"])
        if isinstance(inner, str):
            return _excerpt(inner)
    return _excerpt(body if body is not None else exc.message)


def _count(value: object) -> int:
    """A token count as the server reported it; anything but a whole number counts 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _excerpt(value: object, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit] + "..."
