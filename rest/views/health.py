"""GET /health: 200 with a JSON status once the store is ready, 503 otherwise."""
from __future__ import annotations

from aiohttp import web

from rest.keys import services_key
from rest.params import json_response

# Other parts of the process (the XMPP bridge, the push worker) register status callbacks here.
HEALTH_CHECKS: web.AppKey = web.AppKey("health_checks", dict)


async def health(request: web.Request) -> web.Response:
    services = request.app[services_key]
    store_ok = await services.database.ping()
    status = {"status": "ok" if store_ok else "unavailable",
              "store": {"ok": store_ok, "kind": services.database.kind}}
    ok = store_ok
    for name, check in request.app.get(HEALTH_CHECKS, {}).items():
        part = await check()
        status[name] = part
        ok = ok and bool(part.get("ok", True))
    if not ok:
        status["status"] = "degraded" if store_ok else "unavailable"
    return json_response(status, status=200 if ok else 503)
