"""GET /openapi.json (the document of rest/openapi.py, built once per application) and GET /docs
(Swagger UI from the files the swagger-ui-py package installs: no CDN, it works offline).

The page loads its assets and the document by relative URLs (`docs/…`, `openapi.json`), so it
also works behind a path prefix; with no `servers` in the document, "Try it out" asks the origin
that served the page. `validatorUrl: null`: the UI sends the document to no outside validator.
"""
from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import orjson
from aiohttp import web

from rest.openapi import build_document


class DocumentCache:
    """The document's bytes, built on the first request (the routes are all registered then),
    in a thread: the few hundred milliseconds of schema generation do not hold up the loop."""

    def __init__(self) -> None:
        self._body: bytes | None = None
        self._lock = asyncio.Lock()

    async def body(self, app: web.Application) -> bytes:
        if self._body is None:
            async with self._lock:
                if self._body is None:
                    self._body = await asyncio.to_thread(
                        lambda: orjson.dumps(build_document(app)))
        return self._body


document_key: web.AppKey[DocumentCache] = web.AppKey("openapi_document", DocumentCache)

# The files of the page, from swagger-ui-py's `static` folder, and how they are served.
ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
ASSET_PATTERN = "|".join(name.replace(".", "\\.") for name in ASSETS)
ASSET_CACHE = "public, max-age=86400"

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>chatbridge REST API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
  displayRequestDuration: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
</script>
</body>
</html>
""".encode()


def static_dir() -> Path:
    """swagger-ui-py's `static` folder, found without importing the package (which loads jinja2
    for templates this page does not use)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed (see requirements.lock)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


async def openapi_json(request: web.Request) -> web.Response:
    body = await request.app[document_key].body(request.app)
    return web.Response(body=body, content_type="application/json",
                        headers={"Cache-Control": "no-cache"})


async def docs_page(request: web.Request) -> web.Response:
    return web.Response(body=PAGE, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-cache"})


async def docs_asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["asset"]
    content_type = ASSETS.get(name)
    if content_type is None:  # the route's pattern lets only these through
        raise web.HTTPNotFound()
    return web.FileResponse(static_dir() / name, headers={
        "Content-Type": content_type, "Cache-Control": ASSET_CACHE,
        "X-Content-Type-Options": "nosniff"})
