"""NATS subjects for events, and the reduction of custom event names to subject tokens."""

from __future__ import annotations

import pytest

from causality.bus.subjects import sanitize_token, subject_filter, subject_for
from causality.events import Event


def event(event_type: str, category: str, name: str | None = None, app: str = "app_1") -> Event:
    return Event(
        id="i",
        idempotency_key="k",
        app_id=app,
        device_id="d",
        event_category=category,
        event_type=event_type,
        timestamp_ms=1,
        received_at_ms=1,
        event_name=name,
    )


def test_catalogued_subject() -> None:
    assert subject_for(event("purchase_complete", "commerce")) == (
        "events.app_1.commerce.purchase_complete"
    )


def test_custom_subject_uses_the_event_name() -> None:
    subject = subject_for(event("custom", "custom", "Video Played"))
    assert subject == "events.app_1.custom.Video_Played"


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("signup_done", "signup_done"),
        ("a-b_C9", "a-b_C9"),
        ("order.placed", "order_placed"),
        ("orders.*", "orders__"),
        ("a > b", "a___b"),
        ("café ☕", "caf___"),
        ("tab\tnew\nline", "tab_new_line"),
        ("", "_"),
        ("x" * 100, "x" * 64),
        ("é" * 100, "_" * 64),
    ],
)
def test_sanitize_token(text: str, token: str) -> None:
    assert sanitize_token(text) == token


def test_custom_subject_is_always_four_safe_tokens() -> None:
    for name in ["", ".", "a.b.c", "*", ">", " ", None, "n" * 500]:
        subject = subject_for(event("custom", "custom", name))
        tokens = subject.split(".")
        assert len(tokens) == 4
        assert all(tokens) and "*" not in subject and ">" not in subject and " " not in subject
        assert len(tokens[3]) <= 64


def test_unsafe_app_id_cannot_break_the_subject() -> None:
    subject = subject_for(event("login", "user", app="we.ird *app"))
    assert subject == "events.we_ird__app.user.login"


def test_subject_filters() -> None:
    assert subject_filter() == "events.>"
    assert subject_filter(app_id="app_1") == "events.app_1.>"
    assert subject_filter(app_id="app_1", category="commerce") == "events.app_1.commerce.>"
    assert subject_filter(category="custom") == "events.*.custom.>"
