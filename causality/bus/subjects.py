"""NATS subjects for events: ``events.<app_id>.<category>.<type>``.

Subjects let consumers filter on the server (one app, one category, one custom event) instead
of decoding every message. Custom event names come from users, so they are reduced to
characters that cannot break the subject's token structure (``.``) or act as wildcards
(``*``, ``>``) or be refused by the server (whitespace).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from causality.events.catalogue import CUSTOM_TYPE
from causality.events.model import Event

SUBJECT_PREFIX: Final = "events"
TOKEN_MAX_CHARS: Final = 64

_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_-]")


@lru_cache(maxsize=8192)
def _safe(text: str) -> str:
    """Replace every character outside ``[A-Za-z0-9_-]`` by ``_`` (cached: names repeat)."""
    return _UNSAFE.sub("_", text)


def sanitize_token(text: str) -> str:
    """Reduce free text to one subject token: ``[A-Za-z0-9_-]``, at most 64 chars, never empty."""
    return _safe(text[:TOKEN_MAX_CHARS]) or "_"


def _app_token(app_id: str) -> str:
    """App ids are server-generated and normally already safe; never truncated (no collisions)."""
    return _safe(app_id) or "_"


def subject_for(event: Event) -> str:
    """The subject an event is published on; custom events are filed under their name."""
    if event.event_type == CUSTOM_TYPE:
        last = sanitize_token(event.event_name or "")
    else:
        last = event.event_type
    return f"{SUBJECT_PREFIX}.{_app_token(event.app_id)}.{event.event_category}.{last}"


def subject_filter(*, app_id: str | None = None, category: str | None = None) -> str:
    """A consumer filter for all events, one app's events, or one app's category."""
    if app_id is None:
        if category is not None:
            return f"{SUBJECT_PREFIX}.*.{category}.>"
        return f"{SUBJECT_PREFIX}.>"
    if category is None:
        return f"{SUBJECT_PREFIX}.{_app_token(app_id)}.>"
    return f"{SUBJECT_PREFIX}.{_app_token(app_id)}.{category}.>"
