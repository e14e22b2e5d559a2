"""The admin web UI's files: Herald's own ES modules and CSS from ``web/`` and the pinned
third-party browser libraries from ``node_modules/`` (installed by ``npm ci``, never copied
into the repository). No bundler: ``web/index.html`` maps bare imports (``preact``,
``graphql-ws`` …) to ``/vendor/…`` with an import map.

Both routes serve only files inside their base directory, with an allowed suffix and, for
``/vendor/``, only from the packages in VENDOR_PACKAGES: a request path is resolved and
checked to stay inside, so ``..`` or a symlink out of the tree is a 404.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["UI_PREFIX", "VENDOR_PACKAGES", "VENDOR_PREFIX", "ui_routes"]

UI_PREFIX = "/ui/"
VENDOR_PREFIX = "/vendor/"

#: The npm packages the UI imports in the browser (pinned in package.json).
VENDOR_PACKAGES = frozenset({"preact", "htm", "graphql-ws", "uplot"})

_MEDIA_TYPES: dict[str, str] = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}

_MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Herald</title></head>
<body><main><h1>Herald</h1>
<p>The web UI needs its browser libraries: run <code>make assets</code> (<code>npm ci</code>)
and restart. The API is at <a href="/graphql">/graphql</a>.</p></main></body></html>
"""


def _inside(base: Path, rel: str) -> Path | None:
    """The file `rel` names under `base`, or None when it is not one we serve."""
    if not rel or "\\" in rel or "\0" in rel:
        return None
    try:
        target = (base / rel).resolve()
        root = base.resolve()
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(root) or target.suffix not in _MEDIA_TYPES:
        return None
    return target if target.is_file() else None


def _file(path: Path | None, cache: str) -> Response:
    if path is None:
        return PlainTextResponse("Not Found", status_code=404)
    return FileResponse(
        path, media_type=_MEDIA_TYPES[path.suffix], headers={"Cache-Control": cache}
    )


def vendor_available(root: Path) -> bool:
    modules = root / "node_modules"
    return all((modules / name / "package.json").is_file() for name in VENDOR_PACKAGES)


def ui_routes(root: Path) -> list[Route]:
    """``GET /`` (the page), ``/ui/{path}`` (web/) and ``/vendor/{package}/{path}``."""
    web = root / "web"
    modules = root / "node_modules"

    async def index(_: Request) -> Response:
        if not vendor_available(root):
            return HTMLResponse(_MISSING, status_code=503)
        return FileResponse(
            web / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"}
        )

    async def ui_file(request: Request) -> Response:
        # Herald's own files change with every release: revalidate each time.
        return _file(_inside(web, request.path_params["path"]), "no-cache")

    async def vendor_file(request: Request) -> Response:
        package = request.path_params["package"]
        if package not in VENDOR_PACKAGES:
            return _file(None, "")
        # Pinned versions: a file's content changes only with package-lock.json.
        found = _inside(modules / package, request.path_params["path"])
        return _file(found, "public, max-age=3600")

    return [
        Route("/", index),
        Route(UI_PREFIX + "{path:path}", ui_file),
        Route(VENDOR_PREFIX + "{package}/{path:path}", vendor_file),
    ]
