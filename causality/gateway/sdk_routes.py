"""GET /sdk/causality.js: the web SDK's script-tag build, served by the gateway itself.

Sites then need one tag and no CDN: ``<script async src="https://gw/sdk/causality.js"
data-api-key="ck_…"></script>``. The files are the build output of ``sdk/web`` (``make
web-sdk``) in the repository checkout; they are read when first asked for and again whenever
the build replaces them, and kept gzipped in memory beside the plain bytes.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from causality.gateway.errors import ApiError

DEFAULT_DIST_DIR = Path(__file__).resolve().parents[2] / "sdk" / "web" / "dist"
"""Where ``npm run build`` in ``sdk/web`` writes the bundles."""

# the script-tag build, and the ESM build for `import … from "https://gw/sdk/causality.mjs"`
_FILES = frozenset({"causality.js", "causality.mjs"})
_MEDIA_TYPE = "text/javascript; charset=utf-8"
# short: a new gateway release reaches pages within minutes; ETags make revalidation cheap
_CACHE_CONTROL = "public, max-age=300"


@dataclass(frozen=True, slots=True)
class _Asset:
    mtime_ns: int
    body: bytes
    gzipped: bytes
    etag: str


def _load(path: Path, cached: _Asset | None) -> _Asset | None:
    """The file's current bytes: the cached ones unless the build has replaced the file."""
    try:
        mtime_ns = path.stat().st_mtime_ns
        if cached is not None and cached.mtime_ns == mtime_ns:
            return cached
        body = path.read_bytes()
    except FileNotFoundError:
        return None
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    return _Asset(mtime_ns, body, gzip.compress(body, mtime=0), etag)


def _accepts_gzip(request: Request) -> bool:
    return any(
        part.split(";", 1)[0].strip() == "gzip"
        for part in request.headers.get("accept-encoding", "").lower().split(",")
    )


def routes(*, dist_dir: Path = DEFAULT_DIST_DIR) -> list[Route]:
    """The ``/sdk/{file}`` route, for ``build_gateway_app``."""
    cache: dict[str, _Asset] = {}

    async def serve(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _FILES:
            raise ApiError(404, "not_found", f"no SDK file {name!r}", field="path")
        asset = _load(dist_dir / name, cache.get(name))
        if asset is None:
            raise ApiError(
                404, "sdk_not_built", "the web SDK is not built (run `make web-sdk`)", field="path"
            )
        cache[name] = asset
        headers = {"ETag": asset.etag, "Cache-Control": _CACHE_CONTROL, "Vary": "Accept-Encoding"}
        if asset.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        if _accepts_gzip(request):
            headers["Content-Encoding"] = "gzip"
            return Response(asset.gzipped, headers=headers, media_type=_MEDIA_TYPE)
        return Response(asset.body, headers=headers, media_type=_MEDIA_TYPE)

    return [Route("/sdk/{name}", serve, methods=["GET"])]
