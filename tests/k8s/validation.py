"""Offline schemas for tests/k8s: the vendored KubeRay CRDs made strict, the Prometheus
operator kinds' shape, and Ray Serve's config keys (its schemas ignore unknown ones)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from ray.serve.schema import ServeDeploySchema

SCHEMAS = Path(__file__).parent / "schemas"
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def crd_validator(kind: str) -> jsonschema.protocols.Validator:
    """A validator for the openAPIV3Schema of a vendored KubeRay v1.7.0 CRD (v1), built once
    (jsonschema.validate would check the large schema itself on every call)."""
    crd = yaml.load((SCHEMAS / f"ray.io_{kind.lower()}s.yaml").read_text(), Loader=Loader)
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = strict(version["schema"]["openAPIV3Schema"])
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def strict(schema: Any) -> Any:
    """The schema refusing unknown fields, as `kubectl apply` (strict field validation) does;
    the API server would otherwise drop a misspelt field without a word."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def check_serve_fields(config: dict[str, Any]) -> None:
    """Ray's Serve schemas ignore unknown keys: a misspelt option must fail here instead."""
    from ray.serve.schema import DeploymentSchema, ServeApplicationSchema

    def known(model: Any) -> set[str]:
        return set(getattr(model, "model_fields", None) or model.__fields__)

    assert set(config) <= known(ServeDeploySchema), set(config) - known(ServeDeploySchema)
    for app in config["applications"]:
        assert set(app) <= known(ServeApplicationSchema), set(app)
        for deployment in app.get("deployments", []):
            extra = set(deployment) - known(DeploymentSchema)
            assert not extra, f"unknown deployment options {extra}"


OPERATOR_SCHEMA: dict[str, dict[str, Any]] = {
    "ServiceMonitor": {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["selector", "endpoints"],
                "properties": {
                    "endpoints": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["port", "path"],
                            "additionalProperties": False,
                            "properties": {
                                "port": {"type": "string"},
                                "path": {"type": "string"},
                                "interval": {"type": "string", "pattern": "^[0-9]+[smh]$"},
                            },
                        },
                    }
                },
            }
        },
    },
    "PrometheusRule": {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["groups"],
                "properties": {
                    "groups": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name", "rules"],
                            "properties": {
                                "rules": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {
                                        "type": "object",
                                        "required": ["alert", "expr", "labels", "annotations"],
                                        "additionalProperties": False,
                                        "properties": {
                                            "alert": {"type": "string"},
                                            "expr": {"type": "string"},
                                            "for": {"type": "string"},
                                            "labels": {"type": "object"},
                                            "annotations": {"type": "object"},
                                        },
                                    },
                                }
                            },
                        },
                    }
                },
            }
        },
    },
}
