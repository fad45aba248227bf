"""A webhook receiver on loopback for the tests: verifies each request's signature the way
docs/webhooks.md tells receivers to (written out here, not imported from the code under test),
records the deliveries and answers what the test scripted."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from typing import Any

from aiohttp import web

from tests.push.fakes import start_site


def verify_signature(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The docs' snippet: `t=<unix>,v1=<hex>[,v1=...]`, HMAC-SHA256 over `"{t}." + body`."""
    items = [part.split("=", 1) for part in header.split(",")]
    timestamps = [value for key, value in items if key == "t"]
    signatures = [value for key, value in items if key == "v1"]
    if len(timestamps) != 1 or abs(time.time() - int(timestamps[0])) > tolerance:
        return False
    signed = timestamps[0].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, s) for s in signatures)


class Receiver:
    def __init__(self) -> None:
        self.secrets: list[str] = []  # a request is valid when signed with any of them
        self.received: list[dict[str, Any]] = []
        self.script: list[Any] = []  # statuses to answer, "hang", or ("redirect", url)
        self.port = 0
        self.other_hits = 0
        self._runner: web.AppRunner | None = None
        self._release = asyncio.Event()

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        app.router.add_route("*", "/elsewhere", self._elsewhere)
        self._runner, self.port = await start_site(app)

    async def close(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _elsewhere(self, request: web.Request) -> web.Response:
        self.other_hits += 1
        return web.Response(status=200)

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        header = request.headers.get("Chatbridge-Signature", "")
        self.received.append({
            "valid": any(verify_signature(s, header, body) for s in self.secrets),
            "signature": header, "delivery": request.headers.get("Chatbridge-Delivery"),
            "event": request.headers.get("Chatbridge-Event"),
            "content_type": request.headers.get("Content-Type"), "raw": body,
            "body": json.loads(body)})
        action = self.script.pop(0) if self.script else 200
        if action == "hang":
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._release.wait(), 30)
        if isinstance(action, tuple):
            raise web.HTTPFound(action[1])
        return web.Response(status=int(action) if action != "hang" else 200)

    def valid(self) -> list[dict[str, Any]]:
        """The requests signed with one of `secrets` as they are now."""
        return [r for r in self.received
                if any(verify_signature(s, r["signature"], r["raw"]) for s in self.secrets)]
