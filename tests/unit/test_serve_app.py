"""The Serve builder validates settings once and binds both deployments (no cluster needed)."""

from __future__ import annotations

import pytest
from ray.serve import Application

import serve_app
from causality.config import SettingsError


def test_builder_returns_an_application() -> None:
    built = serve_app.app({"nats_url": "nats://127.0.0.1:4222", "gateway_replicas": 2})
    assert isinstance(built, Application)


def test_builder_rejects_unknown_or_bad_arguments() -> None:
    with pytest.raises(SettingsError):
        serve_app.app({"no_such_setting": 1})
    with pytest.raises(SettingsError):
        serve_app.app({"sink_actors": "several"})
