"""GET /metrics on the REST port: the Prometheus text format, requests by route template (never by
raw path), store operation latency, the outbox backlog, and who may scrape."""
from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from models.services.container import build_services
from models.storage.mongo import memory_database
from rest.app import create_app
from rest.keys import services_key


def _families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _value(families: dict, family: str, sample: str, **labels: str) -> float | None:
    for s in families[family].samples:
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


async def _scrape(client) -> dict:
    resp = await client.get("/metrics")
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return _families(await resp.text())


async def test_requests_are_counted_by_route_template(api, client):
    user = await api.new_user()
    status, dialog = await api.call("POST", "/chat/Dialog.json", user["token"],
                                    json={"type": 2, "name": "Team", "occupants_ids": str(user["id"])})
    assert status == 201
    for text in ("one", "two"):
        status, _ = await api.call("POST", "/chat/Message.json", user["token"],
                                   json={"chat_dialog_id": dialog["_id"], "message": text})
        assert status == 201
    status, message_list = await api.call("GET", "/chat/Message", user["token"],
                                          params={"chat_dialog_id": dialog["_id"]})
    assert status == 200
    ids = ",".join(m["_id"] for m in message_list["items"])
    assert (await api.call("PUT", f"/chat/Message/{ids}.json", user["token"],
                           json={"read": 1}))[0] == 200
    assert (await api.call("GET", "/chat/Message.json", "bad-token",
                           params={"chat_dialog_id": dialog["_id"]}))[0] == 401

    families = await _scrape(client)
    http = "chatbridge_http_requests"
    # with and without `.json`, one template; ids in the path never become labels
    assert _value(families, http, "chatbridge_http_requests_total", route="/chat/Message",
                  method="POST", status="201") == 2
    assert _value(families, http, "chatbridge_http_requests_total", route="/chat/Message",
                  method="GET", status="200") == 1
    assert _value(families, http, "chatbridge_http_requests_total", route="/chat/Message",
                  method="GET", status="401") == 1
    assert _value(families, http, "chatbridge_http_requests_total", route="/chat/Message/{ids}",
                  method="PUT", status="200") == 1
    routes = {s.labels["route"] for s in families[http].samples}
    assert not any(message_list["items"][0]["_id"] in route for route in routes)
    duration = "chatbridge_http_request_duration_seconds"
    assert _value(families, duration, f"{duration}_count", route="/chat/Message", method="POST",
                  status="201") == 2
    assert _value(families, duration, f"{duration}_bucket", route="/chat/Message", method="POST",
                  status="201", le="+Inf") == 2
    assert _value(families, duration, f"{duration}_sum", route="/chat/Message", method="POST",
                  status="201") > 0
    # the store operations behind them
    store = "chatbridge_store_operation_seconds"
    assert _value(families, store, f"{store}_count", collection="users", operation="insert_one") >= 1
    assert _value(families, store, f"{store}_count", collection="messages", operation="find") >= 1
    # and the process collectors
    assert "process_cpu_seconds" in families and "python_gc_collections" in families


async def test_unknown_paths_share_one_label(client):
    for path in ("/nope", "/nope/1", "/chat/Nothing/abc", "/users/abc/def"):
        assert (await client.get(path)).status == 404
    assert (await client.request("PATCH", "/chat/Message")).status == 405
    assert (await client.request("BREW", "/coffee")).status in (400, 404, 405)
    families = await _scrape(client)
    routes = {s.labels["route"] for s in families["chatbridge_http_requests"].samples}
    assert not any("nope" in r or "Nothing" in r or "coffee" in r for r in routes)
    assert _value(families, "chatbridge_http_requests", "chatbridge_http_requests_total",
                  route="unmatched", method="GET", status="404") == 4
    assert _value(families, "chatbridge_http_requests", "chatbridge_http_requests_total",
                  route="unmatched", method="PATCH", status="405") == 1
    methods = {s.labels["method"] for s in families["chatbridge_http_requests"].samples}
    assert "BREW" not in methods


async def test_outbox_backlog_per_consumer(api, client, services):
    await services.outbox.register_consumer("slow-reader")
    user = await api.new_user()
    status, dialog = await api.call("POST", "/chat/Dialog.json", user["token"],
                                    json={"type": 2, "name": "Team", "occupants_ids": str(user["id"])})
    assert status == 201
    families = await _scrape(client)
    pending = _value(families, "chatbridge_outbox_pending_events", "chatbridge_outbox_pending_events",
                     consumer="slow-reader")
    assert pending is not None and pending >= 1
    assert _value(families, "chatbridge_outbox_lag_seconds", "chatbridge_outbox_lag_seconds",
                  consumer="slow-reader") >= 0
    events = await services.outbox.pending("slow-reader", 1000)
    await services.outbox.mark_done_many("slow-reader", [e["_id"] for e in events])
    families = await _scrape(client)
    assert _value(families, "chatbridge_outbox_pending_events", "chatbridge_outbox_pending_events",
                  consumer="slow-reader") == 0
    assert _value(families, "chatbridge_outbox_lag_seconds", "chatbridge_outbox_lag_seconds",
                  consumer="slow-reader") == 0


async def _app_client(aiohttp_client, settings, **metrics):
    settings = settings.model_copy(update={"metrics": settings.metrics.model_copy(update=metrics)})
    services = build_services(settings, memory_database())
    await services.start()
    return await aiohttp_client(create_app(services))


async def test_scrapes_from_other_addresses_need_the_token(aiohttp_client, settings):
    closed = await _app_client(aiohttp_client, settings, allowed_networks=[])
    resp = await closed.get("/metrics")
    assert resp.status == 403
    assert await resp.json() == {"errors": {"base": ["Forbidden"]}}

    guarded = await _app_client(aiohttp_client, settings, allowed_networks=[],
                                token=SecretStr("scrape-me"))
    resp = await guarded.get("/metrics")
    assert resp.status == 401 and resp.headers["WWW-Authenticate"] == "Bearer"
    assert (await guarded.get("/metrics", headers={"Authorization": "Bearer nope"})).status == 401
    resp = await guarded.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert resp.status == 200 and "chatbridge_http_requests" in await resp.text()


async def test_disabled_metrics_have_no_endpoint_and_no_timing(aiohttp_client, settings):
    client = await _app_client(aiohttp_client, settings, enabled=False)
    assert (await client.get("/metrics")).status == 404
    services = client.app[services_key]
    assert list(services.metrics.http.collect())[0].samples == []
    assert list(services.metrics.store.collect())[0].samples == []
