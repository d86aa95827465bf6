"""Turning other vendors' JSON values into values the event contract accepts.

Segment and PostHog payloads are loosely typed: nested objects, ISO or epoch timestamps, ids
that may be numbers, device facts of any type. The contract is strict (EVENTS.md), so every
value that crosses over goes through one of these small converters, which either return a
value the validator will accept or ``None`` (left out) — never a value that would make an
otherwise good event fail on a detail the client cannot see or fix.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import msgspec

from causality.events.model import DEVICE_TEXT_MAX_CHARS, INT32_MAX
from causality.events.validation import IDEMPOTENCY_KEY_MAX_CHARS

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
# nested objects are flattened this deep ("a.b.c"); anything deeper is kept as JSON text
FLATTEN_DEPTH: Final = 3
UTM_FIELDS: Final = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")

Json = dict[str, Any]
_encode = msgspec.json.Encoder().encode


class MappingError(Exception):
    """One foreign event that cannot become an envelope; ``field`` uses the client's names."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.reason))


def as_id(value: Any) -> str | None:
    """An identifier as text: SDKs send user ids as numbers too; empty means absent."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def as_text(value: Any) -> str | None:
    """A short device string (version, model, locale), capped like the warehouse column."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if isinstance(value, str) and value:
        return value[:DEVICE_TEXT_MAX_CHARS]
    return None


def as_size(value: Any) -> int | None:
    """A screen dimension that fits the int32 column; fractional CSS pixels are rounded."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    size = round(value)
    return size if 0 <= size <= INT32_MAX else None


def idempotency_key(value: Any) -> str | None:
    """messageId/uuid as the idempotency key; an over-long one is hashed to stay unique."""
    key = as_id(value)
    if key is None or len(key) <= IDEMPOTENCY_KEY_MAX_CHARS:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def timestamp_ms(value: Any, *, field: str) -> int | None:
    """ISO-8601 text (naive means UTC) or epoch milliseconds; ``None`` when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise MappingError(field, "expected an ISO-8601 timestamp")
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > INT64_MAX:
            raise MappingError(field, "expected an ISO-8601 timestamp or epoch milliseconds")
        return int(value)
    if not isinstance(value, str):
        raise MappingError(field, "expected an ISO-8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise MappingError(field, f"not an ISO-8601 timestamp: {value[:64]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _scalar(value: Any) -> Any:
    """A JSON scalar the contract stores as is; integers beyond int64 become text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if INT64_MIN <= value <= INT64_MAX else str(value)
    return value


def flatten(values: Json, *, prefix: str = "", depth: int = 0, into: Json | None = None) -> Json:
    """Custom properties must be flat scalars or flat lists (EVENTS.md): nested objects
    become dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``), lists of objects and
    anything nested deeper than ``FLATTEN_DEPTH`` become JSON text."""
    out: Json = {} if into is None else into
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if depth + 1 < FLATTEN_DEPTH:
                flatten(value, prefix=f"{name}.", depth=depth + 1, into=out)
            else:
                out[name] = _encode(value).decode()
        elif isinstance(value, list):
            if any(isinstance(item, dict | list) for item in value):
                out[name] = _encode(value).decode()
            else:
                out[name] = [_scalar(item) for item in value]
        else:
            out[name] = _scalar(value)
    return out


def web_params(
    *,
    url: Any = None,
    path: Any = None,
    title: Any = None,
    referrer: Any = None,
    utm: Json | None = None,
    extra: Json | None = None,
) -> Json:
    """``screen_view.params`` of a web page view: the catalogued string fields (UTM tags
    taken from the URL's query when the client did not send them) over the other
    properties, flattened."""
    params = flatten(extra or {})
    url_text = url if isinstance(url, str) and url else None
    if path is None and url_text is not None:
        path = urlsplit(url_text).path or None
    tags = {name: (utm or {}).get(name) for name in UTM_FIELDS}
    if url_text is not None and not all(tags.values()):
        query = parse_qs(urlsplit(url_text).query)
        for name in UTM_FIELDS:
            if not tags[name] and query.get(name):
                tags[name] = query[name][0]
    known = {"url": url_text, "path": path, "title": title, "referrer": referrer, **tags}
    for name, value in known.items():
        text = as_id(value)
        if text is None:
            params.pop(name, None)  # a non-text value under a catalogued name would not validate
        else:
            params[name] = text
    return params


def screen_name_of(path: Any, url: Any) -> str | None:
    """A page's screen name: its path, so that paths and funnels group pages by route."""
    if isinstance(path, str) and path:
        return path
    if isinstance(url, str) and url:
        return urlsplit(url).path or "/"
    return None


def compact(values: Json) -> Json:
    """Drop ``None`` values: absent is what the envelope means by null anyway."""
    return {key: value for key, value in values.items() if value is not None}
