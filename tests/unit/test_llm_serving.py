"""The vLLM deployment config for ``llm_provider`` vllm, checked on Ray Serve LLM's own config
object (no GPU, no vLLM), and what the stack deploys for each provider."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from ray.serve import Application
from ray.serve.schema import ServeDeploySchema

import serve_app
from causality.config import Settings, SettingsError, from_mapping
from causality.llm.client import OpenAIModelClient, resolve_endpoint, serve_route_url
from causality.llm.serving import LLM_APP_NAME, llm_config_kwargs
from causality.stack import APP_NAME, serve_applications

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def _import_llm_config() -> Any:
    """Ray Serve LLM's config class, without the root logging handler its import installs
    (bound to pytest's captured stderr, it would fail on writes after the session closed it)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        from ray.llm._internal.serve.core.configs.llm_config import LLMConfig
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    return LLMConfig


LLMConfig = _import_llm_config()
needs_no_vllm = pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")


def test_default_vllm_settings_make_a_valid_llm_config() -> None:
    kwargs = llm_config_kwargs(Settings(llm_provider="vllm"))
    assert kwargs == {
        "model_loading_config": {
            "model_id": "causality-sql",
            "model_source": "Qwen/Qwen2.5-Coder-7B-Instruct",
        },
        "deployment_config": {"autoscaling_config": {"min_replicas": 1, "max_replicas": 1}},
        "engine_kwargs": {
            "tensor_parallel_size": 1,
            "max_model_len": 8192,
            "gpu_memory_utilization": 0.9,
            "structured_outputs_config": {"backend": "auto"},
        },
    }
    config = LLMConfig(**kwargs)
    assert config.model_id == "causality-sql"
    assert config.model_loading_config.model_source == "Qwen/Qwen2.5-Coder-7B-Instruct"
    assert config.accelerator_type is None
    # no accelerator named: Ray Serve LLM still places the engine on a GPU
    assert config.accelerator_config is not None and config.accelerator_config.kind == "gpu"
    assert config.max_request_context_length == 8192


def test_every_vllm_setting_reaches_the_config() -> None:
    settings = Settings(
        llm_provider="vllm",
        llm_vllm_model_source="/models/Qwen2.5-Coder-14B-Instruct",
        llm_vllm_model_id="sql-14b",
        llm_vllm_accelerator_type="H100",
        llm_vllm_tensor_parallel_size=2,
        llm_vllm_max_model_len=16384,
        llm_vllm_gpu_memory_utilization=0.85,
        llm_vllm_min_replicas=0,
        llm_vllm_max_replicas=3,
    )
    config = LLMConfig(**llm_config_kwargs(settings))
    assert config.model_id == "sql-14b"
    assert config.model_loading_config.model_source == "/models/Qwen2.5-Coder-14B-Instruct"
    assert config.accelerator_type == "H100"
    assert config.accelerator_config is not None and config.accelerator_config.kind == "gpu"
    assert config.deployment_config["autoscaling_config"] == {
        "min_replicas": 0,
        "max_replicas": 3,
    }
    assert config.engine_kwargs["tensor_parallel_size"] == 2
    assert config.engine_kwargs["max_model_len"] == 16384
    assert config.engine_kwargs["gpu_memory_utilization"] == 0.85
    assert config.engine_kwargs["structured_outputs_config"] == {"backend": "auto"}
    # the guided_* fields are gone from current vLLM: nothing of them in the engine config
    assert not any("guided" in key for key in config.engine_kwargs)


def test_ray_serve_llm_rejects_an_unknown_accelerator() -> None:
    kwargs = llm_config_kwargs(Settings(llm_vllm_accelerator_type="GTX-480"))
    with pytest.raises(ValueError, match="accelerator"):
        LLMConfig(**kwargs)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"llm_vllm_model_source": " "}, "llm_vllm_model_source"),
        ({"llm_vllm_model_id": ""}, "llm_vllm_model_id"),
        ({"llm_vllm_tensor_parallel_size": 0}, "llm_vllm_tensor_parallel_size"),
        ({"llm_vllm_max_model_len": 0}, "llm_vllm_max_model_len"),
        ({"llm_vllm_gpu_memory_utilization": 1.5}, "llm_vllm_gpu_memory_utilization"),
        ({"llm_vllm_gpu_memory_utilization": 0.0}, "llm_vllm_gpu_memory_utilization"),
        ({"llm_vllm_min_replicas": -1}, "llm_vllm_min_replicas"),
        ({"llm_vllm_min_replicas": 2, "llm_vllm_max_replicas": 1}, "llm_vllm_max_replicas"),
        ({"llm_vllm_max_replicas": 0}, "llm_vllm_max_replicas"),
        ({"llm_vllm_route_prefix": "/"}, "llm_vllm_route_prefix"),
        ({"llm_vllm_route_prefix": "llm"}, "llm_vllm_route_prefix"),
    ],
)
def test_bad_vllm_settings_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(SettingsError, match=field):
        llm_config_kwargs(Settings(llm_provider="vllm").replace(**changes))


def test_default_provider_deploys_no_llm_application() -> None:
    for provider in ("none", "openai"):
        apps = serve_applications(Settings(llm_provider=provider))  # type: ignore[arg-type]
        assert [(a.name, a.route_prefix, a.wait) for a in apps] == [(APP_NAME, "/", True)]
        assert isinstance(apps[0].build(), Application)


def test_vllm_provider_deploys_the_model_beside_the_main_application() -> None:
    settings = Settings(llm_provider="vllm", llm_vllm_route_prefix="/models")
    apps = serve_applications(settings)
    assert [(a.name, a.route_prefix, a.wait) for a in apps] == [
        (APP_NAME, "/", True),
        (LLM_APP_NAME, "/models", False),
    ]


@needs_no_vllm
def test_without_vllm_building_the_model_app_says_what_to_install() -> None:
    [_, llm] = serve_applications(Settings(llm_provider="vllm"))
    with pytest.raises(SettingsError, match=r"pip install 'causality\[llm\]'"):
        llm.build()
    with pytest.raises(SettingsError, match=r"causality\[llm\]"):
        serve_app.llm_app({"llm_vllm_model_source": "/models/qwen"})


def test_llm_app_builder_validates_its_arguments_first() -> None:
    with pytest.raises(SettingsError, match="no_such_setting"):
        serve_app.llm_app({"no_such_setting": 1})
    with pytest.raises(SettingsError, match="llm_vllm_tensor_parallel_size"):
        serve_app.llm_app({"llm_vllm_tensor_parallel_size": 0})


@pytest.mark.parametrize(
    ("settings", "url"),
    [
        (Settings(), "http://127.0.0.1:8000/llm/v1"),
        (Settings(http_host="0.0.0.0", http_port=9000), "http://127.0.0.1:9000/llm/v1"),
        (Settings(llm_vllm_route_prefix="/models/"), "http://127.0.0.1:8000/models/v1"),
        (Settings(http_host="10.0.0.5"), "http://10.0.0.5:8000/llm/v1"),
    ],
)
def test_vllm_provider_talks_to_the_serve_route(settings: Settings, url: str) -> None:
    assert serve_route_url(settings) == url
    endpoint = resolve_endpoint(settings.replace(llm_provider="vllm"))
    assert (endpoint.base_url, endpoint.model) == (url, "causality-sql")


async def test_vllm_provider_honours_an_explicit_base_url() -> None:
    settings = Settings(
        llm_provider="vllm", llm_base_url="http://gpu-node:8000/llm/v1", llm_vllm_model_id="m"
    )
    client = OpenAIModelClient(settings)
    try:
        assert (client.endpoint.base_url, client.endpoint.model) == (
            "http://gpu-node:8000/llm/v1",
            "m",
        )
        assert client.endpoint.model_setting == "llm_vllm_model_id"
    finally:
        await client.aclose()


# -- the KubeRay manifest in docs/llm.md --------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
# the KubeRay v1.7.0 CRD, vendored with the chart checks so a clean clone validates too
RAYSERVICE_CRD = ROOT / "tests" / "k8s" / "schemas" / "ray.io_rayservices.yaml"


def _doc_rayservice() -> dict[str, Any]:
    """The RayService manifest of docs/llm.md ("Serving a model")."""
    text = (ROOT / "docs" / "llm.md").read_text()
    blocks = [b.partition("\n")[2] for b in text.split("```")[1::2] if b.startswith("yaml")]
    [manifest] = [b for b in blocks if "kind: RayService" in b]
    loaded = yaml.safe_load(manifest)
    assert isinstance(loaded, dict)
    return loaded


def test_docs_serve_config_deploys_both_applications() -> None:
    serve_config = yaml.safe_load(_doc_rayservice()["spec"]["serveConfigV2"])
    schema = ServeDeploySchema.parse_obj(serve_config)
    apps = {app.name: app for app in schema.applications}
    assert sorted(apps) == [APP_NAME, LLM_APP_NAME]

    main = apps[APP_NAME]
    assert (main.import_path, main.route_prefix) == ("serve_app:app", "/")
    gateway_settings = from_mapping(main.args)
    assert gateway_settings.llm_provider == "vllm"

    llm = apps[LLM_APP_NAME]
    llm_settings = from_mapping(llm.args)
    assert llm.import_path == "serve_app:llm_app"
    assert llm.route_prefix == llm_settings.llm_vllm_route_prefix
    # the gateway's default URL for the model is the route the model app is deployed at
    assert serve_route_url(gateway_settings).endswith(f"{llm.route_prefix}/v1")
    assert gateway_settings.llm_vllm_model_id == llm_settings.llm_vllm_model_id

    config = LLMConfig(**llm_config_kwargs(llm_settings))
    assert config.model_loading_config.model_source == "/models/Qwen2.5-Coder-7B-Instruct"
    assert config.accelerator_type == "L4"
    assert config.deployment_config["autoscaling_config"] == {
        "min_replicas": 1,
        "max_replicas": 2,
    }


def test_docs_rayservice_matches_the_kuberay_crd() -> None:
    if not RAYSERVICE_CRD.exists():
        pytest.skip(f"KubeRay CRDs not checked out at {RAYSERVICE_CRD}")
    crd = yaml.safe_load(RAYSERVICE_CRD.read_text())
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    manifest = _doc_rayservice()
    assert manifest["apiVersion"] == "ray.io/v1"
    jsonschema.validate(manifest, version["schema"]["openAPIV3Schema"])
