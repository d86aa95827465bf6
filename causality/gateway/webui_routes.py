"""GET /app and /app/*: the analyst web UI, a single-page app built by ``webui/`` (``make webui``).

The gateway serves it itself so that ``make up`` gives a working UI on the API's own origin: the
session cookie (SameSite=Strict) and the CSRF header then need no CORS. The router runs in the
browser, so every ``/app/<route>`` answers ``index.html`` and the client picks the page;
``/app/assets/*`` are Vite's content-hashed files, cached for a year because a new build gives
them new names, while ``index.html`` is never cached so a new build reaches browsers at once.
A missing asset is a 404 in the API's JSON error shape, never index.html: a stale page asking for
an old chunk must fail visibly (the UI then offers to reload) instead of parsing HTML as script.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from causality.gateway.errors import ApiError

DEFAULT_DIST_DIR = Path(__file__).resolve().parents[2] / "webui" / "dist"
"""Where ``npm run build`` in ``webui`` writes the app."""

_IMMUTABLE = "public, max-age=31536000, immutable"
_NO_CACHE = "no-cache"
# text formats worth compressing; images and fonts are compressed already
_COMPRESSIBLE = (".js", ".mjs", ".css", ".html", ".json", ".svg", ".map", ".txt")
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".map": "application/json",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".png": "image/png",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}

_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Causality: the web UI is not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto;
padding: 0 1rem">
<h1>The web UI is not built</h1>
<p>This gateway has no <code>webui/dist</code>. Build it with <code>make webui</code> (or
<code>cd webui &amp;&amp; npm ci &amp;&amp; npm run build</code>), then reload this page.
<code>make up</code> builds it too.</p>
<p>The API works without it: see <a href="/docs">/docs</a>.</p>
</body></html>
"""


@dataclass(frozen=True, slots=True)
class _Asset:
    mtime_ns: int
    body: bytes
    gzipped: bytes | None
    etag: str


def _media_type(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    known = _MEDIA_TYPES.get(suffix)
    if known is not None:
        return known
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def _load(path: Path, cached: _Asset | None) -> _Asset | None:
    """The file's current bytes: the cached ones unless a new build replaced the file."""
    try:
        mtime_ns = path.stat().st_mtime_ns
        if cached is not None and cached.mtime_ns == mtime_ns:
            return cached
        body = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    compress = path.suffix.lower() in _COMPRESSIBLE and len(body) > 1024
    return _Asset(mtime_ns, body, gzip.compress(body, mtime=0) if compress else None, etag)


def _accepts_gzip(request: Request) -> bool:
    return any(
        part.split(";", 1)[0].strip() == "gzip"
        for part in request.headers.get("accept-encoding", "").lower().split(",")
    )


def _respond(request: Request, asset: _Asset, media_type: str, cache_control: str) -> Response:
    headers = {"ETag": asset.etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if asset.gzipped is not None and _accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, headers=headers, media_type=media_type)
    return Response(asset.body, headers=headers, media_type=media_type)


def _safe_asset_name(name: str) -> str | None:
    """``name`` if it stays inside the assets folder (no ``..``, no absolute path), else None."""
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or "\\" in name:
        return None
    if any(part in ("..", ".", "") or part.startswith(".") for part in parts):
        return None
    return name


def routes(*, dist_dir: Path = DEFAULT_DIST_DIR) -> list[Route]:
    """The ``/app`` routes, for ``build_gateway_app``; ``dist_dir`` is injectable for tests."""
    cache: dict[str, _Asset] = {}
    assets_dir = dist_dir / "assets"

    def cached(path: Path) -> _Asset | None:
        key = str(path)
        asset = _load(path, cache.get(key))
        if asset is None:
            cache.pop(key, None)
        else:
            cache[key] = asset
        return asset

    async def redirect(request: Request) -> Response:
        query = request.url.query
        return RedirectResponse("/app/" + (f"?{query}" if query else ""), status_code=308)

    async def index(request: Request) -> Response:
        asset = cached(dist_dir / "index.html")
        if asset is None:
            return HTMLResponse(
                _NOT_BUILT,
                status_code=503,
                headers={"Cache-Control": "no-store", "Retry-After": "60"},
            )
        return _respond(request, asset, "text/html; charset=utf-8", _NO_CACHE)

    async def asset(request: Request) -> Response:
        name = _safe_asset_name(request.path_params["name"])
        found = None if name is None else cached(assets_dir / name)
        if found is None or name is None:
            raise ApiError(
                404,
                "not_found",
                "no such web UI asset (the UI was rebuilt: reload the page)",
                field="path",
            )
        return _respond(request, found, _media_type(name), _IMMUTABLE)

    return [
        Route("/app", redirect, methods=["GET", "HEAD"]),
        Route("/app/assets/{name:path}", asset, methods=["GET", "HEAD"]),
        Route("/app/{route:path}", index, methods=["GET", "HEAD"]),
    ]
