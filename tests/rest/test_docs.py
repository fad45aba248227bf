"""GET /docs: Swagger UI from the installed swagger-ui-py files, with no outside request. The
assets' types and caching; then the page in headless Chromium (tests/rest/chromium.py): the
operations render and "Try it out" → Execute on GET /health shows the running server's answer."""
from __future__ import annotations

import json

import aiohttp
import pytest
from aiohttp import web

from rest.app import create_app
from rest.views.docs import ASSETS, static_dir
from tests.conftest import AUTH_KEY
from tests.rest.chromium import Chromium

# Types the token into the CBToken form of the Authorize dialog (React reads the input event).
AUTHORIZE = """(() => {
  const box = [...document.querySelectorAll('.modal-ux .auth-container')]
    .find(c => c.querySelector('h4 code').textContent === 'CBToken');
  const input = box.querySelector('input');
  Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(input, %s);
  input.dispatchEvent(new Event('input', {bubbles: true}));
  box.querySelector('button.authorize').click();
})()"""


async def _app_token(base: str) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/session.json",
                             json={"application_id": 1, "auth_key": AUTH_KEY}) as resp:
            assert resp.status == 201
            return (await resp.json())["session"]["token"]


async def _execute(browser: Chromium, op: str) -> tuple[str, str]:
    """Opens an operation, Try it out, Execute: (the status shown, the body shown)."""
    await browser.evaluate(f"document.querySelector('{op} .opblock-summary-control').click()")
    await browser.wait_for(f"!!document.querySelector('{op} .try-out__btn')")
    await browser.evaluate(f"document.querySelector('{op} .try-out__btn').click()")
    await browser.wait_for(f"!!document.querySelector('{op} button.execute')")
    await browser.evaluate(f"document.querySelector('{op} button.execute').click()")
    status = await browser.wait_for(
        f"(document.querySelector('{op} .live-responses-table tr.response "
        ".response-col_status') || {}).textContent")
    shown = await browser.wait_for(
        f"(document.querySelector('{op} .live-responses-table tr.response "
        ".highlight-code pre') || {}).textContent")
    return status.strip(), shown


async def test_the_page_loads_the_packaged_ui_and_no_validator(client):
    resp = await client.get("/docs")
    assert resp.status == 200 and resp.content_type == "text/html"
    page = await resp.text()
    assert "validatorUrl: null" in page and 'url: "openapi.json"' in page
    assert "http://" not in page and "https://" not in page  # nothing from elsewhere


async def test_assets_come_from_the_package_with_types_and_caching(client):
    for name, content_type in ASSETS.items():
        resp = await client.get(f"/docs/{name}")
        assert resp.status == 200, name
        assert resp.headers["Content-Type"] == content_type
        assert resp.headers["Cache-Control"] == "public, max-age=86400"
        assert await resp.read() == (static_dir() / name).read_bytes()
        again = await client.get(f"/docs/{name}", headers={"If-None-Match": resp.headers["ETag"]})
        assert again.status == 304
    assert (await client.get("/docs/swagger-editor.js")).status == 404
    assert (await client.get("/docs/..%2Fcore.py")).status == 404


@pytest.mark.browser
async def test_swagger_ui_renders_and_try_it_out_reaches_the_server(aiohttp_server, services,
                                                                     tmp_path):
    app = create_app(services)
    seen: list[tuple[str, str, str | None]] = []

    @web.middleware
    async def record(request, handler):
        seen.append((request.path, request.headers.get("User-Agent", ""),
                     request.headers.get("CB-Token")))
        return await handler(request)

    app.middlewares.append(record)
    server = await aiohttp_server(app)
    base = f"http://127.0.0.1:{server.port}"
    async with Chromium(tmp_path / "profile") as browser:
        await browser.call("Page.enable")
        await browser.call("Page.navigate", url=f"{base}/docs")
        count = await browser.wait_for(
            "document.querySelectorAll('.opblock').length > 100 && "
            "document.querySelectorAll('.opblock').length")
        assert count >= 120  # one per operation (the .json variants included)
        title = await browser.evaluate("document.querySelector('.info .title').textContent")
        assert "chatbridge" in title
        status, shown = await _execute(browser, "#operations-service-get_health")
        loaded = await browser.evaluate(
            "performance.getEntriesByType('resource').map(e => e.name)")
        # Authorize with a session token (the CBToken scheme), then GET /session.json with it
        token = await _app_token(base)
        await browser.evaluate("document.querySelector('.auth-wrapper .authorize').click()")
        await browser.wait_for("!!document.querySelector('.modal-ux .auth-container input')")
        await browser.evaluate(AUTHORIZE % json.dumps(token))
        await browser.wait_for("!!document.querySelector('.modal-ux .auth-container .btn-done')")
        await browser.evaluate("document.querySelector('.modal-ux .btn-done').click()")
        session = await _execute(browser, "#operations-sessions-get_session_json")
    assert session[0] == "200" and '"application_id": 1' in session[1], session
    assert ("/session.json", token) in [(p, t) for p, _, t in seen]
    assert status.strip() == "200"
    assert '"status": "ok"' in shown and f'"kind": "{services.database.kind}"' in shown
    assert any(path == "/health" and "HeadlessChrome" in agent for path, agent, _ in seen)
    assert {p for p, _, _ in seen} >= {"/docs", "/openapi.json", "/docs/swagger-ui-bundle.js"}
    assert loaded and all(url.startswith(base + "/") for url in loaded), loaded
