"""`causality rules|detectors|webhooks|alerts|deliveries` against the real PostgreSQL and a
real local receiver: the same validation as the API, and a full round trip."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from causality.cli import main
from tests.integration.reactions_support import detector_body, rule_body
from tests.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.integration]

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _env(pg_dsn: str, allow: str) -> dict[str, str]:
    return {
        "CAUSALITY_POSTGRES_DSN": pg_dsn,
        "CAUSALITY_NATS_URL": "nats://unused:4222",
        "CAUSALITY_WEBHOOK_ALLOWED_NETWORKS": allow,
    }


def run_cli(pg_dsn: str, *args: str, allow: str = "127.0.0.0/8") -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=_env(pg_dsn, allow))
    return result.exit_code, result.output


def ok(pg_dsn: str, *args: str) -> str:
    """stdout of a successful run: what --json output is parsed from (stderr may carry a
    library's warning, which must not break the JSON)."""
    result = CliRunner().invoke(main, list(args), env=_env(pg_dsn, "127.0.0.0/8"))
    assert result.exit_code == 0, result.output
    return result.stdout


def created_id(out: str) -> str:
    match = re.search(rf"created \w+ ({_UUID})", out)
    assert match is not None, out
    return match.group(1)


def write(tmp_path: Path, name: str, value: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(value))
    return str(path)


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def test_round_trip(pg_dsn: str, tmp_path: Path, receiver: WebhookReceiver) -> None:
    token = "cli-token-" + uuid.uuid4().hex
    out = ok(
        pg_dsn,
        "webhooks", "create", "--name", "cli hook", "--url", receiver.url,
        "--auth-type", "bearer", "--auth-secret", token, "--header", "X-Team=cli",
    )  # fmt: skip
    hook_id = created_id(out)
    listing = json.loads(ok(pg_dsn, "webhooks", "list", "--json", "--limit", "200"))
    [hook] = [w for w in listing["items"] if w["id"] == hook_id]
    assert hook["has_secret"] is True and hook["headers"] == {"X-Team": "cli"}
    assert token not in json.dumps(listing) and hook_id in ok(pg_dsn, "webhooks", "list")

    before = len(receiver.records())
    result = json.loads(ok(pg_dsn, "webhooks", "test", hook_id))
    assert result["ok"] is True and result["status_code"] == 200
    [got] = receiver.records()[before:]
    assert got.headers["authorization"] == f"Bearer {token}"
    assert got.headers["x-causality-delivery"] == result["delivery_id"]

    rule_file = write(tmp_path, "rule.json", rule_body(name="cli rule", webhook_ids=[hook_id]))
    rule_id = created_id(ok(pg_dsn, "rules", "create", "--file", rule_file))
    shown = json.loads(ok(pg_dsn, "rules", "show", rule_id))
    assert shown["name"] == "cli rule" and shown["webhook_ids"] == [hook_id]
    assert shown["created_by"] is None
    assert rule_id in ok(pg_dsn, "rules", "list", "--limit", "200")
    listed = json.loads(ok(pg_dsn, "rules", "list", "--json", "--limit", "200"))
    assert rule_id in {r["id"] for r in listed["items"]}

    assert "disabled rule" in ok(pg_dsn, "rules", "disable", rule_id)
    assert json.loads(ok(pg_dsn, "rules", "show", rule_id))["enabled"] is False
    assert "enabled rule" in ok(pg_dsn, "rules", "enable", rule_id)
    patch = write(tmp_path, "patch.json", {"priority": 77, "description": "from a file"})
    ok(pg_dsn, "rules", "update", rule_id, "--file", patch)
    shown = json.loads(ok(pg_dsn, "rules", "show", rule_id))
    assert shown["priority"] == 77 and shown["description"] == "from a file"
    assert shown["name"] == "cli rule" and shown["enabled"] is True

    event = {
        "type": "screen_view",
        "device_id": "d1",
        "device_context": {"platform": "ios"},
        "properties": {"screen_name": "checkout"},
    }
    event_file = write(tmp_path, "event.json", event)
    out = ok(pg_dsn, "rules", "test", rule_id, "--event-file", event_file, "--app", "any-app")
    assert out.rstrip().endswith("MATCHED") and '"scope_matched": true' in out
    event["properties"] = {"screen_name": "home"}
    other = write(tmp_path, "other.json", event)
    out = ok(pg_dsn, "rules", "test", rule_id, "--event-file", other, "--app", "any-app")
    assert out.rstrip().endswith("no match")

    code, out = run_cli(pg_dsn, "webhooks", "delete", hook_id)
    assert code != 0 and "cli rule" in out and rule_id in out

    det_file = write(tmp_path, "det.json", detector_body(name="cli det", webhook_ids=[hook_id]))
    det_id = created_id(ok(pg_dsn, "detectors", "create", "--file", det_file))
    assert det_id in ok(pg_dsn, "detectors", "list", "--limit", "200")
    assert "disabled detector" in ok(pg_dsn, "detectors", "disable", det_id)
    assert "enabled detector" in ok(pg_dsn, "detectors", "enable", det_id)
    ok(pg_dsn, "detectors", "delete", det_id)
    ok(pg_dsn, "rules", "delete", rule_id)
    code, out = run_cli(pg_dsn, "rules", "show", rule_id)
    assert code != 0 and "no such rule" in out

    deliveries = json.loads(ok(pg_dsn, "deliveries", "list", "--json", "--status", "delivered"))
    assert result["delivery_id"] in {d["id"] for d in deliveries["items"]}
    assert "deliveries" in ok(pg_dsn, "deliveries", "list", "--status", "delivered")
    assert "alerts" in ok(pg_dsn, "alerts", "list", "--limit", "5")
    ok(pg_dsn, "webhooks", "delete", hook_id)


@pytest.mark.parametrize(
    ("args", "file_body", "message"),
    [
        (["rules", "create"], rule_body(bogus=1), "bogus: unknown field"),
        (["rules", "create"], rule_body(priority=5000), "priority: Expected `int` <= 1000"),
        (
            ["rules", "create"],
            rule_body(condition={"field": "user_id", "op": "like", "value": "x"}),
            "condition.op: unknown operator",
        ),
        (["rules", "create"], rule_body(event_type="purchase"), "event_type: unknown event type"),
        (["rules", "create"], rule_body(app_id="no-such-app-x"), "app_id: app 'no-such-app-x'"),
        (["detectors", "create"], detector_body(params={}), "params.max_count: is required"),
        (["webhooks", "create"], {"name": "x", "url": "http://10.0.0.1/"}, "url: refused"),
    ],
)
def test_bad_files_are_refused_naming_the_field(
    pg_dsn: str, tmp_path: Path, args: list[str], file_body: Any, message: str
) -> None:
    path = write(tmp_path, "body.json", file_body)
    code, out = run_cli(pg_dsn, *args, "--file", path)
    assert code != 0 and message in out, out


def test_webhook_options_are_validated_like_the_api(pg_dsn: str) -> None:
    code, out = run_cli(pg_dsn, "webhooks", "create", "--name", "x", "--url", "http://127.0.0.1/")
    assert code == 0, out  # loopback is allowlisted in these runs
    code, out = run_cli(
        pg_dsn, "webhooks", "create", "--name", "x", "--url", "http://127.0.0.1/", allow=""
    )
    assert code != 0 and "url: refused target 127.0.0.1" in out
    code, out = run_cli(
        pg_dsn, "webhooks", "create", "--name", "x", "--url", "http://127.0.0.1/",
        "--auth-type", "hmac", "--auth-secret", "short",
    )  # fmt: skip
    assert code != 0 and "auth_secret: an HMAC key needs at least 16" in out
    code, out = run_cli(
        pg_dsn, "webhooks", "create", "--name", "x", "--url", "http://127.0.0.1/",
        "--max-attempts", "99",
    )  # fmt: skip
    assert code != 0 and "max_attempts" in out
    code, out = run_cli(pg_dsn, "webhooks", "create", "--url", "http://127.0.0.1/")
    assert code != 0 and "--name" in out
    code, out = run_cli(pg_dsn, "rules", "enable", str(uuid.uuid4()))
    assert code != 0 and "no such rule" in out
