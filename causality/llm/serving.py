"""Serving a model on this cluster's GPUs: the Ray Serve LLM application for ``llm_provider``
``vllm``.

Ray Serve LLM (``ray.serve.llm``) runs vLLM engines as Serve replicas behind an
OpenAI-compatible ingress, so the model client talks to it exactly as to any other server.
Each replica reserves a placement group of one GPU per tensor-parallel rank (with
``accelerator_type`` as a scheduling hint when set), so the engines land on GPU workers while
the gateway and the pipeline stay on CPU nodes. vLLM is an optional extra
(``pip install 'causality[llm]'``): nothing here imports it until an application is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from causality.config import Settings, SettingsError

if TYPE_CHECKING:
    from ray.serve import Application

LLM_APP_NAME = "llm"

# "auto" picks xgrammar and falls back to guidance for schemas xgrammar cannot compile; the
# client asks for it per request with response_format json_schema
STRUCTURED_OUTPUTS: dict[str, Any] = {"backend": "auto"}

INSTALL_HINT = (
    "llm_provider=vllm serves the model with Ray Serve LLM, which needs vLLM on every node: "
    "pip install 'causality[llm]' (GPU nodes with CUDA), or use llm_provider=openai with an "
    "existing OpenAI-compatible server (see docs/llm.md)"
)


def llm_config_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of ``ray.serve.llm.LLMConfig`` for the ``llm_vllm_*`` settings.

    Plain data (no Ray Serve LLM import), so the same dict can be checked without vLLM and
    written into a KubeRay serveConfigV2 by hand. Raises SettingsError naming a bad field.
    """
    _check(settings)
    kwargs: dict[str, Any] = {
        "model_loading_config": {
            "model_id": settings.llm_vllm_model_id,
            "model_source": settings.llm_vllm_model_source,
        },
        "deployment_config": {
            "autoscaling_config": {
                "min_replicas": settings.llm_vllm_min_replicas,
                "max_replicas": settings.llm_vllm_max_replicas,
            },
        },
        "engine_kwargs": {
            "tensor_parallel_size": settings.llm_vllm_tensor_parallel_size,
            "max_model_len": settings.llm_vllm_max_model_len,
            "gpu_memory_utilization": settings.llm_vllm_gpu_memory_utilization,
            "structured_outputs_config": dict(STRUCTURED_OUTPUTS),
        },
    }
    if settings.llm_vllm_accelerator_type:
        kwargs["accelerator_type"] = settings.llm_vllm_accelerator_type
    return kwargs


def build_llm_app(settings: Settings) -> Application:
    """The OpenAI-compatible Serve application serving ``llm_vllm_model_source`` as
    ``llm_vllm_model_id`` (deployed under ``llm_vllm_route_prefix``)."""
    kwargs = llm_config_kwargs(settings)
    try:
        from ray.serve.llm import LLMConfig, build_openai_app
    except ImportError as exc:
        raise SettingsError(f"{INSTALL_HINT} ({exc})") from exc
    try:
        config = LLMConfig(**kwargs)
    except ValueError as exc:  # pydantic's, e.g. an accelerator type Ray does not know
        raise SettingsError(f"Ray Serve LLM refused the llm_vllm_* settings: {exc}") from exc
    return build_openai_app({"llm_configs": [config]})


def _check(settings: Settings) -> None:
    """Field-by-field checks, so a typo fails at start-up with the setting's name."""
    if not settings.llm_vllm_model_source.strip():
        raise SettingsError("llm_vllm_model_source must name a model (a local path or an id)")
    if not settings.llm_vllm_model_id.strip():
        raise SettingsError("llm_vllm_model_id must not be empty (the name clients ask for)")
    if settings.llm_vllm_tensor_parallel_size < 1:
        raise SettingsError("llm_vllm_tensor_parallel_size must be at least 1 (GPUs per replica)")
    if settings.llm_vllm_max_model_len < 256:
        raise SettingsError("llm_vllm_max_model_len must be at least 256 tokens")
    if not 0.0 < settings.llm_vllm_gpu_memory_utilization <= 1.0:
        raise SettingsError("llm_vllm_gpu_memory_utilization must be in (0, 1]")
    if settings.llm_vllm_min_replicas < 0:
        raise SettingsError("llm_vllm_min_replicas must be 0 or more")
    if settings.llm_vllm_max_replicas < max(1, settings.llm_vllm_min_replicas):
        raise SettingsError(
            "llm_vllm_max_replicas must be at least 1 and at least llm_vllm_min_replicas"
        )
    if not settings.llm_vllm_route_prefix.startswith("/") or settings.llm_vllm_route_prefix == "/":
        raise SettingsError(
            "llm_vllm_route_prefix must be a path below / (e.g. /llm): / is the gateway's"
        )
