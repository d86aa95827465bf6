"""JSON request bodies for the account and admin APIs: capped, strictly typed, errors naming
the field.

Only ``application/json`` is accepted. Besides being the contract, that keeps cross-site HTML
forms (which can send only form encodings and ``text/plain`` without a CORS preflight) from
reaching any handler: defense in depth behind SameSite cookies and CSRF tokens.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request

from causality.gateway.body import read_body
from causality.gateway.errors import ApiError

T = TypeVar("T")

JSON_BODY_LIMIT = 64 * 1024
_AT = " - at `$"
_FIELD_MESSAGE = re.compile(r"^Object (missing required|contains unknown) field `(.*)`$")


_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}


def _decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    """One decoder per body type, built on first use (a cache, not state)."""
    decoder = _DECODERS.get(type_)
    if decoder is None:
        decoder = _DECODERS[type_] = msgspec.json.Decoder(type_)
    return decoder


def locate(exc: msgspec.ValidationError) -> tuple[str, str]:
    """``(field path, reason)`` from a msgspec error, which names the path only in its text
    (``Expected `str`, got `int` - at `$.app_ids[0]` ``); ``body`` when it is the whole body."""
    message = str(exc)
    path = ""
    cut = message.rfind(_AT)
    if cut != -1 and message.endswith("`"):
        path = message[cut + len(_AT) : -1]
        message = message[:cut]
    match = _FIELD_MESSAGE.match(message)
    if match is not None:
        path = f"{path}.{match.group(2)}"
        message = "required field is missing" if match.group(1)[0] == "m" else "unknown field"
    path = path[1:] if path.startswith(".") else path
    return path or "body", message


async def read_struct(request: Request, type_: type[T], *, limit: int = JSON_BODY_LIMIT) -> T:
    """Decode the body into ``type_``: 415 for another media type, 413 over ``limit``, 400 for
    malformed JSON, 422 naming the field for anything that does not fit the type."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype != "application/json":
        raise ApiError(
            415,
            "unsupported_media_type",
            "send JSON with Content-Type: application/json",
            field="Content-Type",
        )
    body = await read_body(request, limit=limit)
    try:
        decoded: T = _decoder(type_).decode(body)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: test it first
        field, reason = locate(exc)
        raise ApiError(422, "invalid_field", f"{field}: {reason}", field=field) from None
    except msgspec.DecodeError:
        raise ApiError(400, "malformed_json", "body is not valid JSON", field="body") from None
    except RecursionError:  # msgspec's answer to pathologically nested JSON
        raise ApiError(400, "malformed_json", "JSON is nested too deeply", field="body") from None
    return decoded
