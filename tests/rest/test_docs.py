"""GET /docs: Swagger UI from the installed swagger-ui-py files, with no outside request. The
assets' types and caching; then the page in headless Chromium (tests/rest/chromium.py): the
operations render and "Try it out" → Execute on GET /health shows the running server's answer."""
from __future__ import annotations

from aiohttp import web

from rest.app import create_app
from rest.views.docs import ASSETS, static_dir
from tests.rest.chromium import Chromium


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


async def test_swagger_ui_renders_and_try_it_out_reaches_the_server(aiohttp_server, services,
                                                                     tmp_path):
    app = create_app(services)
    seen: list[tuple[str, str]] = []

    @web.middleware
    async def record(request, handler):
        seen.append((request.path, request.headers.get("User-Agent", "")))
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
        op = "#operations-service-get_health"
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
        loaded = await browser.evaluate(
            "performance.getEntriesByType('resource').map(e => e.name)")
    assert status.strip() == "200"
    assert '"status": "ok"' in shown and f'"kind": "{services.database.kind}"' in shown
    assert any(path == "/health" and "HeadlessChrome" in agent for path, agent in seen)
    assert {p for p, _ in seen} >= {"/docs", "/openapi.json", "/docs/swagger-ui-bundle.js"}
    assert loaded and all(url.startswith(base + "/") for url in loaded), loaded
