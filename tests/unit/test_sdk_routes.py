"""GET /sdk/causality.js: the web SDK's build served by the gateway (no services needed)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from causality.gateway import sdk_routes
from causality.gateway.errors import ApiError, handle_exception

SCRIPT = b"var causality=(()=>{})();\n"


def client(dist: Path) -> httpx.AsyncClient:
    app = Starlette(
        routes=sdk_routes.routes(dist_dir=dist), exception_handlers={ApiError: handle_exception}
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "causality.js").write_bytes(SCRIPT)
    (tmp_path / "causality.mjs").write_bytes(b"export const a=1;\n")
    return tmp_path


async def test_serves_the_script_gzipped_to_browsers_and_plain_to_others(dist: Path) -> None:
    async with client(dist) as c:
        zipped = await c.get("/sdk/causality.js", headers={"Accept-Encoding": "gzip, br"})
        plain = await c.get("/sdk/causality.js", headers={"Accept-Encoding": "identity"})
    assert zipped.status_code == plain.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == SCRIPT  # httpx decoded it
    assert "content-encoding" not in plain.headers
    assert plain.content == SCRIPT
    for r in (zipped, plain):
        assert r.headers["content-type"] == "text/javascript; charset=utf-8"
        assert r.headers["cache-control"] == "public, max-age=300"
        assert r.headers["vary"] == "Accept-Encoding"


def test_stored_gzip_is_deterministic(dist: Path) -> None:
    asset = sdk_routes._load(dist / "causality.js", None)
    assert asset is not None
    assert gzip.decompress(asset.gzipped) == SCRIPT
    again = sdk_routes._load(dist / "causality.js", None)
    assert again is not None and again.gzipped == asset.gzipped


async def test_etag_revalidation_answers_304(dist: Path) -> None:
    async with client(dist) as c:
        etag = (await c.get("/sdk/causality.js")).headers["etag"]
        again = await c.get("/sdk/causality.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag


async def test_a_rebuild_is_served_without_a_restart(dist: Path) -> None:
    async with client(dist) as c:
        first = await c.get("/sdk/causality.js")
        path = dist / "causality.js"
        path.write_bytes(b"var causality=2;\n")
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        second = await c.get("/sdk/causality.js")
    assert second.content == b"var causality=2;\n"
    assert second.headers["etag"] != first.headers["etag"]


async def test_serves_the_esm_build_too(dist: Path) -> None:
    async with client(dist) as c:
        r = await c.get("/sdk/causality.mjs")
    assert r.status_code == 200
    assert r.content == b"export const a=1;\n"


async def test_other_names_and_a_missing_build_are_json_404s(tmp_path: Path, dist: Path) -> None:
    async with client(dist) as c:
        other = await c.get("/sdk/..%2Fpyproject.toml")
        unknown = await c.get("/sdk/other.js")
    assert other.status_code == unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    async with client(tmp_path / "nothing-built") as c:
        missing = await c.get("/sdk/causality.js")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": "sdk_not_built",
        "message": "the web SDK is not built (run `make web-sdk`)",
        "field": "path",
    }


def test_default_location_is_the_checkout_s_build() -> None:
    root = Path(__file__).resolve().parents[2]
    assert root / "sdk" / "web" / "dist" == sdk_routes.DEFAULT_DIST_DIR
