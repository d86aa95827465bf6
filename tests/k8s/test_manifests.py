"""The Kubernetes deliverables checked offline: the Helm chart (lint, render with several value
sets), ray-cluster.yaml and the Dockerfile. Built-in kinds are validated against the bundled
Kubernetes schemas (kubernetes-validate, strict: unknown fields fail), RayService against the
KubeRay v1.7.0 CRD, serveConfigV2 with Ray's own ServeDeploySchema, and every CAUSALITY_*
variable against Settings, so a typo in a setting name cannot ship."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import msgspec
import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

import serve_app
from causality.config import ENV_PREFIX, Settings, from_mapping, load_settings
from tests.k8s.validation import OPERATOR_SCHEMA, check_serve_fields, crd_validator

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "causality"
SCHEMAS = Path(__file__).parent / "schemas"
KUBE_VERSION = "1.33.0"
SETTINGS_FIELDS = {f.name for f in msgspec.structs.fields(Settings)}
# kinds of the Prometheus operator: no schema ships offline, checked structurally below
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _helm() -> str:
    found = os.environ.get("HELM") or shutil.which("helm") or str(ROOT / ".tools/bin/helm")
    if not Path(found).is_file():
        pytest.skip(f"helm not found at {found}: `make helm` (part of `make test`) builds it")
    return found


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_helm(), *args], capture_output=True, text=True, timeout=60, check=False)


def render(*sets: str, release: str = "t") -> list[dict[str, Any]]:
    """``helm template`` with ``--set`` pairs; the documents, empty ones dropped."""
    args = ["template", release, str(CHART), "--kube-version", KUBE_VERSION]
    for pair in sets:
        args += ["--set", pair]
    out = helm(*args)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.load_all(out.stdout, Loader=Loader) if d]


EXTERNAL = (
    "nats.enabled=false",
    "postgresql.enabled=false",
    "minio.enabled=false",
    "causality.secret.natsUrl=nats://nats.messaging:4222",
    "causality.secret.postgresDsn=postgresql://causality:pw@db:5432/causality",
    "causality.secret.s3AccessKeyId=AKIA",
    "causality.secret.s3SecretAccessKey=secret",
)
EVERYTHING = (
    "ray.gpuWorkers.enabled=true",
    "trino.enabled=true",
    "ingress.enabled=true",
    "ingress.className=nginx",
    "ingress.tls[0].secretName=causality-tls",
    "ingress.tls[0].hosts[0]=causality.example.internal",
    "metrics.serviceMonitor.enabled=true",
    "metrics.prometheusRule.enabled=true",
    "metrics.grafanaDashboard.enabled=true",
    "causality.secret.trinoPassword=pw",
)
VALUE_SETS: dict[str, tuple[str, ...]] = {
    "defaults": (),
    "everything-on": EVERYTHING,
    "external-services": EXTERNAL,
    "external-everything-on": EXTERNAL + EVERYTHING,
    "existing-secret-fixed-replicas": (
        "causality.existingSecret=my-credentials",
        "serve.gateway.autoscaling=false",
        "serve.gateway.replicas=3",
        "nats.replicas=1",
    ),
}


def validate_manifest(doc: dict[str, Any]) -> None:
    """One manifest against its schema: KubeRay CRD, operator shape, or Kubernetes (strict)."""
    kind = doc["kind"]
    if doc["apiVersion"] == "ray.io/v1":
        crd_validator(kind).validate(doc)
        if kind == "RayService":
            check_rayservice(doc)
    elif kind in OPERATOR_KINDS:
        assert doc["apiVersion"] == "monitoring.coreos.com/v1"
        jsonschema.validate(doc, OPERATOR_SCHEMA[kind])
    else:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


# -- what the RayService must say ---------------------------------------------------------------


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every container of a manifest: Ray groups, workloads, CronJobs."""
    spec = doc.get("spec", {})
    templates: list[dict[str, Any]] = []
    if doc["kind"] == "RayService":
        cluster = spec["rayClusterConfig"]
        templates = [cluster["headGroupSpec"]["template"]]
        templates += [g["template"] for g in cluster.get("workerGroupSpecs", [])]
    elif doc["kind"] in {"StatefulSet", "Deployment", "Job"}:
        templates = [spec["template"]]
    elif doc["kind"] == "CronJob":
        templates = [spec["jobTemplate"]["spec"]["template"]]
    return [c for t in templates for c in t["spec"]["containers"]]


def check_env(docs: list[dict[str, Any]]) -> list[str]:
    """Problems with CAUSALITY_* variables: unknown names, or plain values Settings refuses."""
    problems: list[str] = []
    for doc in docs:
        for container in containers(doc):
            plain: dict[str, str] = {}
            for var in container.get("env", []):
                name = var["name"]
                if not name.startswith(ENV_PREFIX):
                    continue
                if name[len(ENV_PREFIX) :].lower() not in SETTINGS_FIELDS:
                    problems.append(f"{doc['kind']}/{container['name']}: unknown setting {name}")
                elif "value" in var:
                    plain[name] = var["value"]
            try:
                load_settings(environ=plain)
            except ValueError as exc:
                problems.append(f"{doc['kind']}/{container['name']}: {exc}")
    return problems


def check_rayservice(doc: dict[str, Any]) -> None:
    """serveConfigV2 by Ray's schema and against serve_app; groups, GPUs, probes, grace."""
    raw = yaml.safe_load(doc["spec"]["serveConfigV2"])
    check_serve_fields(raw)
    config = ServeDeploySchema.parse_obj(raw)
    apps = {app.name: app for app in config.applications}
    main = apps["causality"]
    assert (main.import_path, main.route_prefix) == ("serve_app:app", "/")
    deployments = {d.name: d for d in main.deployments}
    assert set(deployments) == {serve_app.Gateway.name, serve_app.Pipeline.name}
    assert deployments["Pipeline"].num_replicas == 1  # it owns the actor pools
    from_mapping(main.args or {})

    cluster = doc["spec"]["rayClusterConfig"]
    # the spec of a RayService's cluster is a RayCluster's spec
    crd_validator("RayCluster").validate(
        {"apiVersion": "ray.io/v1", "kind": "RayCluster", "spec": cluster}
    )
    groups = {g["groupName"]: g for g in cluster["workerGroupSpecs"]}
    assert "cpu" in groups
    if "llm" in apps:
        llm = apps["llm"]
        settings = from_mapping(llm.args)
        assert llm.import_path == "serve_app:llm_app"
        assert llm.route_prefix == settings.llm_vllm_route_prefix
        gpu = groups["gpu"]["template"]["spec"]
        [worker] = gpu["containers"]
        assert int(worker["resources"]["limits"]["nvidia.com/gpu"]) >= 1
        assert any(t["key"] == "nvidia.com/gpu" for t in gpu["tolerations"])
    else:
        assert "gpu" not in groups

    pipeline_grace = deployments["Pipeline"].graceful_shutdown_timeout_s or 0
    for template in [cluster["headGroupSpec"]["template"]] + [
        g["template"] for g in cluster["workerGroupSpecs"]
    ]:
        spec = template["spec"]
        env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
        drain = float(env.get("CAUSALITY_SINK_DRAIN_TIMEOUT_S") or Settings().sink_drain_timeout_s)
        assert spec["terminationGracePeriodSeconds"] > max(drain, pipeline_grace)
        # the same settings everywhere: Serve may build an application on any node
        assert {"CAUSALITY_POSTGRES_DSN", "CAUSALITY_NATS_URL"} <= set(env)
    head = cluster["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert head["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert head["livenessProbe"]["httpGet"]["path"] == "/health"
    assert head["resources"]["requests"] and head["resources"]["limits"]


# -- the chart ----------------------------------------------------------------------------------


def test_helm_lint_passes_with_every_value_set() -> None:
    for name, sets in VALUE_SETS.items():
        args = ["lint", str(CHART), "--strict", "--kube-version", KUBE_VERSION]
        for pair in sets:
            args += ["--set", pair]
        out = helm(*args)
        assert out.returncode == 0, f"{name}: {out.stdout}{out.stderr}"


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_rendered_manifests_validate_offline(value_set: str) -> None:
    docs = render(*VALUE_SETS[value_set])
    for doc in docs:
        try:
            validate_manifest(doc)
        except (jsonschema.ValidationError, AssertionError) as exc:
            raise AssertionError(f"{doc['kind']} {doc['metadata']['name']}: {exc}") from exc
    assert check_env(docs) == []
    kinds = [d["kind"] for d in docs]
    assert kinds.count("RayService") == 1
    if value_set.startswith("existing-secret"):
        assert "Secret" not in kinds
    else:
        assert kinds.count("Secret") == 1


def test_toggles_render_what_they_name() -> None:
    def kinds(docs: list[dict[str, Any]]) -> set[tuple[str, str]]:
        return {(d["kind"], d["metadata"]["name"]) for d in docs}

    on = kinds(render(*EVERYTHING))
    off = kinds(render(*EXTERNAL))
    for item in [
        ("StatefulSet", "t-causality-nats"),
        ("StatefulSet", "t-causality-postgresql"),
        ("StatefulSet", "t-causality-minio"),
        ("Deployment", "t-causality-trino"),
        ("CronJob", "t-causality-trino-sync"),
        ("Ingress", "t-causality"),
        ("ServiceMonitor", "t-causality"),
        ("PrometheusRule", "t-causality"),
        ("ConfigMap", "t-causality-dashboards"),
    ]:
        assert item in on, item
        assert item not in off, item
    [nats] = [d for d in render() if d["kind"] == "StatefulSet" and "nats" in d["metadata"]["name"]]
    assert nats["spec"]["replicas"] == 3


def test_settings_map_to_env_and_external_services_to_the_secret() -> None:
    docs = render(*EXTERNAL, "causality.settings.sink_batch_size=5000")
    [service] = [d for d in docs if d["kind"] == "RayService"]
    env = {e["name"]: e for e in containers(service)[0]["env"]}
    assert env["CAUSALITY_SINK_BATCH_SIZE"]["value"] == "5000"
    assert env["CAUSALITY_NATS_URL"]["valueFrom"]["secretKeyRef"]["key"] == "nats-url"
    [secret] = [d for d in docs if d["kind"] == "Secret"]
    assert secret["stringData"]["nats-url"] == "nats://nats.messaging:4222"
    assert "postgres-password" not in secret["stringData"]


def test_a_misspelt_setting_is_caught() -> None:
    docs = render("causality.settings.sink_actorz=3")
    assert any("CAUSALITY_SINK_ACTORZ" in p for p in check_env(docs))
    docs = render("causality.settings.sink_actors=three")
    assert any("CAUSALITY_SINK_ACTORS" in p for p in check_env(docs))


def test_credentials_are_refused_as_plain_settings_and_required_when_external() -> None:
    out = helm("template", "t", str(CHART), "--kube-version", KUBE_VERSION,
               "--set", "causality.settings.postgres_dsn=postgresql://x")  # fmt: skip
    assert out.returncode != 0 and "credential" in out.stderr
    out = helm("template", "t", str(CHART), "--kube-version", KUBE_VERSION,
               "--set", "nats.enabled=false")  # fmt: skip
    assert out.returncode != 0 and "natsUrl" in out.stderr


def test_alert_rules_and_dashboard_use_the_gateway_metrics() -> None:
    docs = render(*EVERYTHING)
    [rule] = [d for d in docs if d["kind"] == "PrometheusRule"]
    alerts = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == {
        "CausalityConsumerLag",
        "CausalityDeadLetters",
        "CausalityWebhookDeadLetters",
        "CausalityIngestionErrors",
    }
    from causality.observability import metrics

    gateway = {m.name for m in metrics.GatewayMetrics().registry.collect()}
    # actors' counters reach Prometheus through Ray's metrics port, as ray_<name>_total
    actors = {
        f"ray_{spec.metric}"
        for counters in (
            metrics.SINK_COUNTERS,
            metrics.ENGINE_COUNTERS,
            metrics.DISPATCHER_COUNTERS,
        )
        for spec in counters.values()
    }
    assert "causality_ingest_requests" in gateway
    assert "causality_ingest_requests_total" in alerts["CausalityIngestionErrors"]
    assert "ray_causality_webhook_dead_letters_total" in alerts["CausalityWebhookDeadLetters"]
    [board] = [
        d for d in docs if d["kind"] == "ConfigMap" and "dashboards" in d["metadata"]["name"]
    ]
    dashboard = yaml.safe_load(board["data"]["pipeline.json"])
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    exprs += " ".join(alerts.values())
    used = set(re.findall(r"\b((?:ray_)?causality_[a-z_]+?)(?:_total|_bucket)?\b", exprs))
    assert used and used <= gateway | actors, used - gateway - actors


# -- ray-cluster.yaml ---------------------------------------------------------------------------


def test_ray_cluster_yaml_validates_and_matches_the_chart() -> None:
    docs = [d for d in yaml.load_all((ROOT / "ray-cluster.yaml").read_text(), Loader=Loader) if d]
    [service] = docs
    assert service["kind"] == "RayService"
    validate_manifest(service)
    assert check_env(docs) == []
    [chart] = [d for d in render("ray.gpuWorkers.enabled=true") if d["kind"] == "RayService"]

    def shape(doc: dict[str, Any]) -> tuple[Any, ...]:
        config = yaml.safe_load(doc["spec"]["serveConfigV2"])
        cluster = doc["spec"]["rayClusterConfig"]
        return (
            [(a["name"], a["import_path"], [d["name"] for d in a.get("deployments", [])])
             for a in config["applications"]],
            [g["groupName"] for g in cluster["workerGroupSpecs"]],
            cluster["rayVersion"],
        )  # fmt: skip

    assert shape(service) == shape(chart)


# -- the Dockerfile -----------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_stages_and_copies_are_consistent() -> None:
    ignored = [
        p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]  # fmt: skip
    stages: list[str] = []
    users: list[str] = []
    for word, args in dockerfile_instructions():
        if word == "FROM":
            assert " AS " in args, f"unnamed stage: {args}"
            stages.append(args.split(" AS ")[1].strip())
        elif word == "COPY":
            parts = args.split()
            flags = [p for p in parts if p.startswith("--")]
            *sources, _dest = [p for p in parts if not p.startswith("--")]
            source_stage = [f.split("=", 1)[1] for f in flags if f.startswith("--from=")]
            if source_stage:
                assert source_stage[0] in stages[:-1], f"COPY from an unknown stage: {args}"
                continue
            for source in sources:
                path = ROOT / source
                assert path.exists(), f"COPY source missing: {source}"
                top = source.rstrip("/").split("/")[0]
                assert top not in ignored and source.rstrip("/") not in ignored, source
        elif word == "USER":
            users.append(args)
    assert stages == ["web", "runtime"]
    assert users and users[-1] not in {"root", "0"}
    text = (ROOT / "Dockerfile").read_text()
    # what the gateway serves, where it looks for it (causality/gateway/*_routes.py)
    for dist in ("webui/dist", "sdk/web/dist"):
        assert re.search(rf"COPY --from=web \S*{dist}/? {dist}/?", text), dist
    assert "npm run --silent build" in text
    # the packages pyproject installs, and the LLM extra behind the build argument
    for package in ("causality/", "actors/", "jobs/", "serve_app.py"):
        assert re.search(rf"^COPY {package}", text, re.M), package
    assert "ARG LLM" in text and "[llm]" in text and ".[dev]" not in text
