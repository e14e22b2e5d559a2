"""The admin UI's files: `/` is the page, `/ui/` Herald's own modules from web/, `/vendor/`
the pinned npm packages the page imports, nothing else from the tree (no `..`, no other
package, no other suffix). The import map names only served files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from tools.webui import VENDOR_PACKAGES, ui_routes

ROOT = Path(__file__).resolve().parents[2]


def _client(root: Path) -> httpx.AsyncClient:
    app = Starlette(routes=ui_routes(root))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def _import_map() -> dict[str, str]:
    html = (ROOT / "web" / "index.html").read_text()
    found = re.search(r'<script type="importmap">(.*?)</script>', html, re.S)
    assert found
    imports: dict[str, str] = json.loads(found.group(1))["imports"]
    return imports


async def test_the_page_its_modules_and_every_mapped_import_are_served() -> None:
    async with _client(ROOT) as http:
        page = await http.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert 'src="/ui/app.js"' in page.text
        app = await http.get("/ui/app.js")
        assert app.status_code == 200
        assert app.headers["content-type"].startswith("text/javascript")
        for url in _import_map().values():
            resp = await http.get(url)
            assert resp.status_code == 200, url
            assert resp.headers["content-type"].startswith("text/javascript"), url


def test_every_vendor_package_is_pinned_in_package_json_and_lock() -> None:
    deps = json.loads((ROOT / "package.json").read_text())["dependencies"]
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for package in VENDOR_PACKAGES | {"axe-core"}:
        assert re.fullmatch(r"\d+\.\d+\.\d+", deps[package]), package  # exact, no range
        assert lock[f"node_modules/{package}"]["version"] == deps[package], package
    mapped = {url.split("/")[2] for url in _import_map().values()}
    assert mapped == VENDOR_PACKAGES


@pytest.mark.parametrize(
    "path",
    [
        "/ui/../herald/app.py",
        "/ui/%2e%2e/pyproject.toml",
        "/ui/..%2Fpyproject.toml",
        "/ui/index.txt",
        "/ui/",
        "/vendor/react/package.json",
        "/vendor/react/umd/react.production.min.js",  # not a package the UI imports
        "/vendor/preact/package.json",  # not a suffix we serve
        "/vendor/preact/..%2F..%2Fpackage-lock.json",
        "/vendor/preact/dist/missing.mjs",
    ],
)
async def test_nothing_else_is_served(path: str) -> None:
    async with _client(ROOT) as http:
        assert (await http.get(path)).status_code == 404, path


async def test_without_the_npm_packages_the_page_says_how_to_get_them(tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "index.html").write_text("<!doctype html>")
    async with _client(tmp_path) as http:
        resp = await http.get("/")
    assert resp.status_code == 503
    assert "make assets" in resp.text
