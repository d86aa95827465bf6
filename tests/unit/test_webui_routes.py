"""The /app routes against a temporary dist folder: the single-page app's contract with the
browser (client routes get index.html, hashed assets are cached for good, index.html never,
a missing asset is a JSON 404 rather than HTML that a stale page would try to run as script)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from causality.config import Settings
from causality.gateway import webui_routes
from causality.gateway.app import build_gateway_app
from causality.gateway.errors import ApiError, handle_exception

INDEX = '<!doctype html><html><head><script type="module" src="/app/assets/index-abc123.js">'
INDEX += "</script></head><body><div id=root></div></body></html>"
SCRIPT = "console.log('causality');\n" * 200  # over 1 KB: served gzipped when asked


def _client(dist: Path) -> TestClient:
    app = Starlette(
        routes=webui_routes.routes(dist_dir=dist),
        exception_handlers={ApiError: handle_exception},
    )
    return TestClient(app, follow_redirects=False)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "index-abc123.js").write_text(SCRIPT)
    (root / "assets" / "index-abc123.css").write_text("body{color:red}")
    (root / ".vite").mkdir()
    (root / ".vite" / "manifest.json").write_text("{}")
    (tmp_path / "secret.txt").write_text("outside dist")
    return root


def test_bare_app_redirects_to_the_slash(dist: Path) -> None:
    response = _client(dist).get("/app?x=1")
    assert response.status_code == 308
    assert response.headers["location"] == "/app/?x=1"


@pytest.mark.parametrize(
    "path", ["/app/", "/app/login", "/app/dashboards/42", "/app/insights/funnels", "/app/x/y/z"]
)
def test_client_routes_get_index_html_uncached(dist: Path, path: str) -> None:
    response = _client(dist).get(path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["etag"]


def test_hashed_assets_are_cached_for_a_year_with_their_type(dist: Path) -> None:
    client = _client(dist)
    js = client.get("/app/assets/index-abc123.js")
    assert js.status_code == 200
    assert js.text == SCRIPT
    assert js.headers["content-type"] == "text/javascript; charset=utf-8"
    assert js.headers["cache-control"] == "public, max-age=31536000, immutable"
    css = client.get("/app/assets/index-abc123.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"


def test_assets_are_gzipped_when_asked_and_revalidate_with_etag(dist: Path) -> None:
    client = _client(dist)
    raw = client.get("/app/assets/index-abc123.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    zipped = client.get("/app/assets/index-abc123.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.text == SCRIPT  # httpx decodes; the bytes on the wire were gzip
    assert len(gzip.compress(SCRIPT.encode())) < len(SCRIPT)
    again = client.get(
        "/app/assets/index-abc123.js", headers={"If-None-Match": raw.headers["etag"]}
    )
    assert again.status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "/app/assets/index-old999.js",
        "/app/assets/../index.html",
        "/app/assets/%2e%2e/%2e%2e/secret.txt",
        "/app/assets/.hidden",
        "/app/assets/",
    ],
)
def test_missing_or_escaping_assets_are_json_404s(dist: Path, path: str) -> None:
    response = _client(dist).get(path)
    if response.status_code == 200:
        # "/app/assets/../index.html" is normalised by the client to /app/index.html: a route
        assert response.text == INDEX
        return
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_found"
    assert "outside dist" not in response.text


def test_a_new_build_is_served_without_a_restart(dist: Path) -> None:
    client = _client(dist)
    assert client.get("/app/").text == INDEX
    new_index = INDEX.replace("abc123", "def456")
    (dist / "index.html").write_text(new_index)
    stat = (dist / "index.html").stat()
    os.utime(dist / "index.html", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert client.get("/app/").text == new_index


def test_without_a_build_the_app_says_how_to_build_it(tmp_path: Path) -> None:
    client = _client(tmp_path / "nowhere")
    response = client.get("/app/settings")
    assert response.status_code == 503
    assert "make webui" in response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    missing = client.get("/app/assets/index-abc123.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_the_gateway_app_registers_the_routes() -> None:
    app = build_gateway_app(Settings())
    paths = {getattr(route, "path", None) for route in app.routes}
    assert {"/app", "/app/assets/{name:path}", "/app/{route:path}"} <= paths
