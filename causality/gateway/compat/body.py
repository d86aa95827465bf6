"""Reading the bodies Segment and PostHog clients send, within the gateway's size limits.

Unlike ``/api/v1/events`` these endpoints accept what the vendors' clients actually send:
gzip or zlib ``deflate`` bodies, posthog-js's ``?compression=gzip-js`` (a gzip body without a
Content-Encoding header), form posts with the payload in ``data=``, and base64 payloads. The
limits are the same as ingestion's and hold before and after every decoding step.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any, Final
from urllib.parse import parse_qs

import msgspec
from starlette.requests import Request

from causality.gateway.errors import ApiError

FORM_TYPE: Final = "application/x-www-form-urlencoded"
_GZIP_WORDS: Final = frozenset({"gzip", "gzip-js"})
_decode_json = msgspec.json.Decoder().decode


def _too_large(limit: int, what: str = "") -> ApiError:
    return ApiError(
        413, "body_too_large", f"request body exceeds {limit} bytes{what}", field="body"
    )


def malformed(message: str) -> ApiError:
    """A 400 for a body that cannot be read as the vendor's payload."""
    return ApiError(400, "malformed_body", message, field="body")


async def read_raw(request: Request, *, limit: int) -> bytes:
    """The body as sent, cut off at ``limit`` (Content-Length is checked before reading)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise ApiError(
                400, "bad_content_length", "invalid Content-Length", field="Content-Length"
            ) from None
        if too_big:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def decompress(data: bytes, encoding: str, *, limit: int) -> bytes:
    """Undo ``gzip`` or ``deflate`` (zlib-wrapped, or raw as some clients send it), bounded
    so that a small bomb cannot expand past ``limit``."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding in _GZIP_WORDS:
        return _inflate(data, zlib.MAX_WBITS | 16, limit=limit)
    if encoding == "deflate":
        try:
            return _inflate(data, zlib.MAX_WBITS, limit=limit)
        except ApiError as exc:
            if exc.status == 413:
                raise
            return _inflate(data, -zlib.MAX_WBITS, limit=limit)
    raise ApiError(
        415,
        "unsupported_encoding",
        f"compression {encoding[:32]!r} is not supported; use gzip or deflate",
        field="Content-Encoding",
    )


def _inflate(data: bytes, wbits: int, *, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=wbits)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise malformed("body is not valid compressed data") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise _too_large(limit, " after decompression")
    if not inflater.eof:
        raise malformed("compressed body is truncated")
    if inflater.unused_data:
        raise malformed("unexpected data after the compressed stream")
    return out


def parse_json(data: bytes) -> Any:
    """JSON text, or base64 of it (PostHog's ``data=`` convention); 400 otherwise."""
    text = data.strip()
    if not text:
        raise ApiError(400, "empty_body", "request body is empty", field="body")
    if text[:1] not in (b"{", b"["):
        text = _unbase64(text)
    try:
        return _decode_json(text)
    except (msgspec.DecodeError, RecursionError):
        raise malformed("body is not valid JSON") from None


def _unbase64(text: bytes) -> bytes:
    padded = text + b"=" * (-len(text) % 4)
    try:
        decoded = base64.b64decode(
            padded, altchars=b"-_" if b"-" in padded or b"_" in padded else None, validate=True
        )
    except (binascii.Error, ValueError):
        raise malformed("body is neither JSON nor base64-encoded JSON") from None
    decoded = decoded.strip()
    if decoded[:1] not in (b"{", b"["):
        raise malformed("body is neither JSON nor base64-encoded JSON")
    return decoded


async def read_json(request: Request, *, limit: int) -> Any:
    """A Segment body: JSON, gzip or deflate per Content-Encoding."""
    raw = await read_raw(request, limit=limit)
    encoding = request.headers.get("content-encoding", "")
    return parse_json(decompress(raw, encoding, limit=limit))


async def read_posthog(request: Request, *, limit: int) -> Any:
    """A PostHog capture payload from a JSON, text, form or query (``GET ?data=``) request.

    Content-Encoding is undone first; then ``compression`` (query or form field) says how
    the payload itself is packed: ``gzip``/``gzip-js``, ``base64``, or nothing.
    ``lz64`` (lz-string) is refused with a 400 so the client logs why.
    """
    fields: dict[str, list[str]] = {}
    if request.method == "GET":
        payload = request.query_params.get("data", "").encode()
    else:
        raw = await read_raw(request, limit=limit)
        payload = decompress(raw, request.headers.get("content-encoding", ""), limit=limit)
        ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype == FORM_TYPE:
            try:
                fields = parse_qs(payload.decode("utf-8"), max_num_fields=16)
            except (UnicodeDecodeError, ValueError):
                raise malformed("form body is not valid") from None
            if not fields.get("data"):
                raise malformed("form body has no data field")
            payload = fields["data"][0].encode()
    compression = (
        fields.get("compression", [""])[0] or request.query_params.get("compression", "")
    ).lower()
    if compression == "lz64":
        raise ApiError(
            400,
            "unsupported_compression",
            "lz64 payloads are not supported; configure the client to use gzip",
            field="compression",
        )
    if compression in _GZIP_WORDS:
        if fields:  # inside a form field, gzip bytes travel as latin-1 text
            try:
                payload = payload.decode("utf-8").encode("latin-1")
            except UnicodeError:
                raise malformed("gzip data in the form field is not latin-1 text") from None
        payload = decompress(payload, "gzip", limit=limit)
    return parse_json(payload)
