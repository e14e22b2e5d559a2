"""GraphiQL page that works offline.

strawberry's built-in GraphiQL page loads React and GraphiQL from a CDN, which fails on
machines without internet access. Herald instead pins the same browser assets in
``package.json`` (installed with ``npm ci`` into ``node_modules/``) and serves them itself
under ``/static/graphiql/<name>``. When the assets are not installed, the page falls back to
the CDN copies of the exact same versions, guarded by Subresource Integrity hashes.

The GraphiQL 3.x UMD bundle (``graphiql.min.js``) already bundles ``graphql-ws``, so
subscriptions over websockets work with no extra script.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

__all__ = [
    "ASSETS",
    "ASSET_INTEGRITY",
    "ASSET_VERSIONS",
    "AUTH_PLACEHOLDER",
    "CDN_BASE",
    "DEFAULT_HEADERS",
    "STATIC_PREFIX",
    "assets_available",
    "assets_dir",
    "cdn_url",
    "graphiql_html",
    "static_route",
]

#: URL prefix under which the assets are served locally.
STATIC_PREFIX = "/static/graphiql/"

#: CDN used when the assets are not installed locally (an npm mirror: same bytes as npm).
CDN_BASE = "https://cdn.jsdelivr.net/npm/"

#: Exact versions; must match the pins in package.json (a test checks this).
ASSET_VERSIONS: dict[str, str] = {
    "react": "18.3.1",
    "react-dom": "18.3.1",
    "graphiql": "3.8.3",
}

#: URL file name -> path relative to node_modules.
ASSETS: dict[str, str] = {
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "graphiql.min.js": "graphiql/graphiql.min.js",
    "graphiql.min.css": "graphiql/graphiql.min.css",
}

#: Subresource Integrity (sha384) of each asset, used for the CDN fallback. A test checks
#: that these match the files npm installs, so a version bump must update them.
ASSET_INTEGRITY: dict[str, str] = {
    "react.production.min.js": "sha384-"
    "DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
    "react-dom.production.min.js": "sha384-"
    "gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
    "graphiql.min.js": "sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
    "graphiql.min.css": "sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
}

_MEDIA_TYPES: dict[str, str] = {
    ".js": "text/javascript",
    ".css": "text/css",
}

_CACHE_CONTROL = "public, max-age=86400"

#: Shown in the headers editor so a newcomer sees where the token goes. Header values that
#: still contain the placeholder are dropped by the page's fetcher, so introspection keeps
#: working before a real token is pasted.
AUTH_PLACEHOLDER = "<paste your token>"
DEFAULT_HEADERS = '{"Authorization": "Bearer ' + AUTH_PLACEHOLDER + '"}'


def assets_dir(root: Path) -> Path:
    """Directory the assets are installed into (``npm ci`` in the repo root)."""
    return root / "node_modules"


def assets_available(root: Path) -> bool:
    """True when every file in ASSETS is installed under ``root``."""
    base = assets_dir(root)
    return all((base / rel).is_file() for rel in ASSETS.values())


def _package_of(rel: str) -> tuple[str, str]:
    """Split a node_modules-relative path into (package name, path inside the package)."""
    parts = rel.split("/")
    n = 2 if parts[0].startswith("@") else 1
    return "/".join(parts[:n]), "/".join(parts[n:])


def cdn_url(name: str) -> str:
    """Pinned CDN URL of the asset ``name`` (a key of ASSETS)."""
    package, inner = _package_of(ASSETS[name])
    return f"{CDN_BASE}{package}@{ASSET_VERSIONS[package]}/{inner}"


def _js_literal(value: str) -> str:
    """A JavaScript string literal that is also safe inside an HTML <script> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _tag(name: str, *, local: bool) -> str:
    if local:
        src = STATIC_PREFIX + name
        extra = ""
    else:
        src = cdn_url(name)
        extra = f' integrity="{ASSET_INTEGRITY[name]}" crossorigin="anonymous"'
    if name.endswith(".css"):
        return f'<link rel="stylesheet" href="{src}"{extra} />'
    return f'<script src="{src}"{extra}></script>'


_PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Herald GraphiQL</title>
    <link rel="icon" href="data:," />
    <style>
      html, body { height: 100%; margin: 0; width: 100%; overflow: hidden; }
      #graphiql { height: 100vh; }
    </style>
    __STYLES__
    __SCRIPTS__
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL...</div>
    <script>
      (function () {
        "use strict";
        var endpoint = __ENDPOINT__;
        var placeholder = __PLACEHOLDER__;
        var defaultHeaders = __DEFAULT_HEADERS__;
        var defaultQuery = __DEFAULT_QUERY__;

        // Same host as the page; ws: for http:, wss: for https:.
        var wsUrl = new URL(endpoint, window.location.href);
        wsUrl.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
        wsUrl.hash = "";

        var baseFetcher = GraphiQL.createFetcher({
          url: endpoint,
          subscriptionUrl: wsUrl.toString(),
        });

        // Drop header values that still hold the placeholder, so the schema loads before
        // a real token has been pasted into the headers editor.
        function cleanHeaders(headers) {
          var out = {};
          Object.keys(headers || {}).forEach(function (key) {
            var value = headers[key];
            if (typeof value === "string" && value.indexOf(placeholder) !== -1) {
              return;
            }
            out[key] = value;
          });
          return out;
        }

        function fetcher(params, opts) {
          var cleaned = Object.assign({}, opts || {});
          cleaned.headers = cleanHeaders(opts && opts.headers);
          return baseFetcher(params, cleaned);
        }

        var root = ReactDOM.createRoot(document.getElementById("graphiql"));
        root.render(
          React.createElement(GraphiQL, {
            fetcher: fetcher,
            defaultQuery: defaultQuery,
            defaultHeaders: defaultHeaders,
            defaultEditorToolsVisibility: "headers",
            isHeadersEditorEnabled: true,
            shouldPersistHeaders: true,
            inputValueDeprecation: true,
          }),
        );
      })();
    </script>
  </body>
</html>
"""

_DEFAULT_QUERY = """# Welcome to Herald's GraphiQL.
#
# Most operations need a token: paste it
# into the Headers tab below.
#
# Run: Ctrl-Enter.  Complete: Ctrl-Space.
#
{
  __typename
}
"""


def graphiql_html(*, local: bool, endpoint: str = "/graphql") -> str:
    """A complete GraphiQL page talking to ``endpoint``.

    With ``local`` true every asset is loaded from ``/static/graphiql/<name>`` (see
    ``static_route``); otherwise from the pinned CDN URLs with SRI hashes.
    """
    names = list(ASSETS)
    styles = "\n    ".join(_tag(n, local=local) for n in names if n.endswith(".css"))
    scripts = "\n    ".join(_tag(n, local=local) for n in names if n.endswith(".js"))
    replacements = {
        "__STYLES__": styles,
        "__SCRIPTS__": scripts,
        "__ENDPOINT__": _js_literal(endpoint),
        "__PLACEHOLDER__": _js_literal(AUTH_PLACEHOLDER),
        "__DEFAULT_HEADERS__": _js_literal(DEFAULT_HEADERS),
        "__DEFAULT_QUERY__": _js_literal(_DEFAULT_QUERY),
    }
    page = _PAGE
    for token, value in replacements.items():
        page = page.replace(token, value)
    return page


def static_route(root: Path) -> Route:
    """Route serving ``GET /static/graphiql/{name}`` for the names in ASSETS only.

    Any other name (including anything with ``..``) is a 404; files are looked up by
    exact dictionary key, never by joining the request path.
    """
    base = assets_dir(root)

    async def serve_asset(request: Request) -> Response:
        name = request.path_params["name"]
        rel = ASSETS.get(name) if isinstance(name, str) else None
        if rel is None:
            return PlainTextResponse("Not Found", status_code=404)
        path = base / rel
        if not await anyio.Path(path).is_file():
            return PlainTextResponse("Not Found", status_code=404)
        return FileResponse(
            path,
            media_type=_MEDIA_TYPES[Path(name).suffix],
            headers={"Cache-Control": _CACHE_CONTROL},
        )

    return Route(STATIC_PREFIX + "{name}", serve_asset, methods=["GET"], name="graphiql_static")
