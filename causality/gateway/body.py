"""Reading request bodies with limits that hold before and after decompression."""

from __future__ import annotations

import zlib

from starlette.requests import Request

from causality.gateway.errors import ApiError

_ACCEPTED_TYPES = ("application/json", "text/plain", "")


def _too_large(limit: int, what: str) -> ApiError:
    return ApiError(
        413, "body_too_large", f"request body exceeds {limit} bytes{what}", field="body"
    )


async def read_body(request: Request, *, limit: int) -> bytes:
    """The (decompressed) body, or a 4xx naming the problem.

    Content-Length is checked before reading, the stream is cut off at the limit, and gzip
    output is bounded too, so neither a large upload nor a zip bomb can exhaust memory.
    """
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype not in _ACCEPTED_TYPES:
        raise ApiError(
            415, "unsupported_media_type", "send JSON (application/json)", field="Content-Type"
        )
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", ""):
        raise ApiError(
            415,
            "unsupported_encoding",
            "Content-Encoding must be gzip or identity",
            field="Content-Encoding",
        )
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise _too_large(limit, "")
        except ValueError:
            raise ApiError(
                400, "bad_content_length", "invalid Content-Length", field="Content-Length"
            ) from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, "")
        chunks.append(chunk)
    body = b"".join(chunks)
    if encoding == "gzip":
        body = _gunzip(body, limit=limit)
    if not body:
        raise ApiError(400, "empty_body", "request body is empty", field="body")
    return body


def _gunzip(data: bytes, *, limit: int) -> bytes:
    decompressor = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        out = decompressor.decompress(data, limit + 1)
    except zlib.error:
        raise ApiError(400, "malformed_gzip", "body is not valid gzip", field="body") from None
    if len(out) > limit or decompressor.unconsumed_tail:
        raise _too_large(limit, " after decompression")
    if not decompressor.eof:
        raise ApiError(400, "malformed_gzip", "gzip body is truncated", field="body")
    if decompressor.unused_data:
        # a second member or trailing junk: refuse rather than silently drop events
        raise ApiError(400, "malformed_gzip", "unexpected data after the gzip stream", field="body")
    return out
