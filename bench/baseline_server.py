"""The baseline: a bare aiohttp JSON handler (no store, no auth), run as its own process."""
from __future__ import annotations

import sys

import orjson
from aiohttp import web


async def handle(request: web.Request) -> web.Response:
    if request.body_exists:
        await request.read()
    return web.Response(body=orjson.dumps({"ok": True, "echo": request.path}),
                        content_type="application/json")


def main() -> None:
    port = int(sys.argv[1])
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
