"""Offline GraphiQL: the pinned assets are served locally and the page never needs a CDN.

The asset-serving tests need the npm packages installed (``npm ci`` in the repo root).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from tools.graphiql import (
    ASSET_INTEGRITY,
    ASSET_VERSIONS,
    ASSETS,
    STATIC_PREFIX,
    assets_available,
    assets_dir,
    cdn_url,
    graphiql_html,
    static_route,
)

ROOT = Path(__file__).resolve().parents[2]
NEEDS_NPM = "GraphiQL assets missing: run `npm ci` in the repo root"


def _client(root: Path) -> httpx.AsyncClient:
    app = Starlette(routes=[static_route(root)])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with _client(ROOT) as c:
        yield c


def test_assets_installed() -> None:
    assert assets_dir(ROOT) == ROOT / "node_modules"
    assert assets_available(ROOT), NEEDS_NPM


@pytest.mark.parametrize("name", sorted(ASSETS))
async def test_asset_served(client: httpx.AsyncClient, name: str) -> None:
    assert assets_available(ROOT), NEEDS_NPM
    resp = await client.get(STATIC_PREFIX + name)
    assert resp.status_code == 200
    assert resp.content
    assert resp.content == (assets_dir(ROOT) / ASSETS[name]).read_bytes()
    expected = "text/css" if name.endswith(".css") else "text/javascript"
    assert resp.headers["content-type"].split(";")[0].strip() == expected
    assert resp.headers["cache-control"] == "public, max-age=86400"


@pytest.mark.parametrize(
    "path",
    [
        "nope.js",
        "graphiql.min.js.map",
        "package.json",
        "../pyproject.toml",
        "..%2Fpyproject.toml",
        "%2e%2e%2fpyproject.toml",
        "..%2F..%2Fpyproject.toml",
        "%2Fetc%2Fpasswd",
    ],
)
async def test_unknown_names_are_404(client: httpx.AsyncClient, path: str) -> None:
    resp = await client.get(STATIC_PREFIX + path)
    assert resp.status_code == 404
    assert b"[project]" not in resp.content


async def test_missing_install_is_404(tmp_path: Path) -> None:
    assert not assets_available(tmp_path)
    async with _client(tmp_path) as c:
        resp = await c.get(STATIC_PREFIX + "graphiql.min.js")
    assert resp.status_code == 404


def test_integrity_matches_installed_files() -> None:
    assert assets_available(ROOT), NEEDS_NPM
    assert set(ASSET_INTEGRITY) == set(ASSETS)
    for name, rel in ASSETS.items():
        digest = hashlib.sha384((assets_dir(ROOT) / rel).read_bytes()).digest()
        assert ASSET_INTEGRITY[name] == "sha384-" + base64.b64encode(digest).decode(), name


def test_versions_match_package_json_and_lock() -> None:
    deps = json.loads((ROOT / "package.json").read_text())["dependencies"]
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for package, version in ASSET_VERSIONS.items():
        assert deps[package] == version, package
        assert lock[f"node_modules/{package}"]["version"] == version, package
    for rel in ASSETS.values():
        assert rel.split("/")[0] in ASSET_VERSIONS


def _asset_refs(html: str) -> list[str]:
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    return [ref for ref in refs if not ref.startswith("data:")]


def test_local_page_uses_only_local_assets() -> None:
    html = graphiql_html(local=True)
    assert re.search(r"https?://", html) is None
    refs = _asset_refs(html)
    assert sorted(refs) == sorted(STATIC_PREFIX + name for name in ASSETS)
    assert "cdn.jsdelivr.net" not in html
    assert "unpkg" not in html


def test_cdn_page_uses_pinned_cdn() -> None:
    html = graphiql_html(local=False)
    assert STATIC_PREFIX not in html
    refs = _asset_refs(html)
    assert sorted(refs) == sorted(cdn_url(name) for name in ASSETS)
    for name in ASSETS:
        url = cdn_url(name)
        assert url.startswith("https://")
        package = ASSETS[name].split("/")[0]
        assert f"/{package}@{ASSET_VERSIONS[package]}/" in url
        assert ASSET_INTEGRITY[name] in html


@pytest.mark.parametrize("local", [True, False])
def test_page_configuration(local: bool) -> None:
    html = graphiql_html(local=local, endpoint="/api/graphql")
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert html.rstrip().endswith("</html>")
    assert 'var endpoint = "/api/graphql";' in html
    assert "subscriptionUrl" in html
    assert '"wss:" : "ws:"' in html
    assert "isHeadersEditorEnabled: true" in html
    assert "shouldPersistHeaders: true" in html
    # The default headers text, as a JS string literal (angle brackets escaped for <script>).
    assert "Authorization" in html
    assert "Bearer \\u003cpaste your token\\u003e" in html
    assert "<paste your token>" not in html


def test_default_endpoint() -> None:
    assert 'var endpoint = "/graphql";' in graphiql_html(local=True)
