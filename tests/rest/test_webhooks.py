"""The webhook routes of the admin API: endpoints (the secret shown at creation and rotation
only), the address rules at configuration time, deliveries and redelivery, and their answers
against the OpenAPI document."""
from __future__ import annotations

import pytest
from pydantic import SecretStr

from config.settings import Settings
from tests.conftest import AUTH_KEY
from tests.rest.admin_helpers import WRONG_KEY, admin_call, admin_keys
from tests.rest.test_openapi_answers import checked  # noqa: F401 - the fixture

PUBLIC = {"hooks.example.com": ["93.184.216.34"], "v6.example.com": ["2606:2800:220:1::1"],
          "inside.example.com": ["10.0.0.7"], "mixed.example.com": ["93.184.216.34", "127.0.0.1"],
          "meta.example.com": ["169.254.169.254"]}


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        _env_file=None,
        app={"id": 1, "auth_key": SecretStr(AUTH_KEY), "auth_secret": SecretStr("s")},
        blobs={"path": tmp_path / "blobs"}, data_dir=tmp_path,
        xmpp={"auth_user": "prosody", "auth_password": SecretStr("xmpp-secret")})


@pytest.fixture
async def services(services):
    async def resolve(host, port):  # no real DNS in tests
        if host not in PUBLIC:
            raise OSError("no such name")
        return PUBLIC[host]

    services.webhooks._resolve = resolve
    return services


@pytest.fixture
async def keys(services, settings):
    return await admin_keys(services, settings)


async def test_create_list_update_delete(api, keys):
    key = keys[1]
    status, made = await admin_call(api, key, "POST", "/admin/webhooks", json={
        "url": "https://hooks.example.com/chat", "events": ["message_created", "user_created"],
        "description": "bot"})
    assert status == 201, made
    assert made["secret"].startswith("whsec_") and len(made["secret"]) > 40
    assert (made["url"], made["events"], made["enabled"], made["description"]) == (
        "https://hooks.example.com/chat", ["message_created", "user_created"], True, "bot")
    hook_id = made["id"]
    status, listed = await admin_call(api, key, "GET", "/admin/webhooks")
    assert status == 200 and [h["id"] for h in listed["items"]] == [hook_id]
    assert "secret" not in listed["items"][0] and made["secret"] not in str(listed)
    status, one = await admin_call(api, key, "GET", f"/admin/webhooks/{hook_id}")
    assert status == 200 and "secret" not in one
    status, changed = await admin_call(api, key, "PUT", f"/admin/webhooks/{hook_id}",
                                       json={"enabled": 0, "events": "*", "description": None})
    assert status == 200 and (changed["enabled"], changed["events"], changed["description"]) == (
        False, ["*"], None)
    status, rotated = await admin_call(api, key, "POST", f"/admin/webhooks/{hook_id}/secret",
                                       json={"keep_previous_seconds": 3600})
    assert status == 200 and rotated["secret"] != made["secret"]
    assert rotated["previous_secret_until"] is not None
    status, _ = await admin_call(api, key, "DELETE", f"/admin/webhooks/{hook_id}")
    assert status == 200
    assert (await admin_call(api, key, "GET", f"/admin/webhooks/{hook_id}"))[0] == 404
    assert (await admin_call(api, None, "GET", "/admin/webhooks")) == (401, WRONG_KEY)


@pytest.mark.parametrize("url", [
    "http://hooks.example.com/x",             # plain http: not allowed by default
    "https://127.0.0.1/x", "https://localhost/x", "https://[::1]/x", "https://0.0.0.0/x",
    "https://10.1.2.3/x", "https://192.168.0.10/x", "https://172.16.5.4/x",
    "https://100.64.0.1/x",                   # shared (carrier-grade NAT)
    "https://169.254.169.254/latest/meta-data",  # link-local: cloud metadata
    "https://[fe80::1]/x", "https://[fd00::1]/x", "https://[::ffff:127.0.0.1]/x",
    "https://[2002:7f00:1::]/x",              # 6to4 of 127.0.0.1
    "https://224.0.0.1/x",                    # multicast
    "https://inside.example.com/x",           # a name resolving to a private address
    "https://mixed.example.com/x",            # one of its addresses is loopback
    "https://meta.example.com/x",
    "https://nowhere.example.com/x",          # does not resolve
    "https://user:pw@hooks.example.com/x",    # credentials in the URL
    "ftp://hooks.example.com/x", "hooks.example.com", "",
])
async def test_internal_or_bad_urls_are_refused_at_configuration(api, keys, url):
    status, body = await admin_call(api, keys[1], "POST", "/admin/webhooks",
                                    json={"url": url, "events": ["*"]})
    assert status == 422, body
    assert list(body["errors"]) == ["url"]


async def test_public_addresses_are_accepted(api, keys):
    for url in ("https://hooks.example.com/x", "https://v6.example.com:8443/x",
                "https://93.184.216.34/x", "https://[2606:2800:220:1::1]/x"):
        status, body = await admin_call(api, keys[1], "POST", "/admin/webhooks",
                                        json={"url": url, "events": "message_created,dialog_deleted"})
        assert status == 201, (url, body)
    status, body = await admin_call(api, keys[1], "PUT", f"/admin/webhooks/{body['id']}",
                                    json={"url": "https://10.0.0.1/x"})
    assert status == 422 and list(body["errors"]) == ["url"]


async def test_event_types_are_checked(api, keys):
    status, body = await admin_call(api, keys[1], "POST", "/admin/webhooks", json={
        "url": "https://hooks.example.com/x", "events": ["message_created", "nope"]})
    assert status == 422 and list(body["errors"]) == ["events"]
    status, body = await admin_call(api, keys[1], "POST", "/admin/webhooks", json={
        "url": "https://hooks.example.com/x"})
    assert status == 422 and list(body["errors"]) == ["events"]


async def test_an_app_has_a_limited_number_of_endpoints(api, keys, services):
    for _ in range(services.settings.webhooks.max_per_app):
        assert (await admin_call(api, keys[1], "POST", "/admin/webhooks", json={
            "url": "https://hooks.example.com/x", "events": "*"}))[0] == 201
    status, body = await admin_call(api, keys[1], "POST", "/admin/webhooks", json={
        "url": "https://hooks.example.com/x", "events": "*"})
    assert status == 422 and list(body["errors"]) == ["base"]


async def test_deliveries_and_redelivery_through_the_api(api, keys, services, checked):
    key = keys[1]
    status, made = await checked("POST", "/admin/webhooks", headers={
        "CB-Administration-API-Key": key}, json={"url": "https://hooks.example.com/x",
                                                 "events": ["user_created"]})
    assert status == 201
    hook_id = made["id"]
    alice = await api.new_user("hookalice")  # a user_created event
    await services.webhooks.handle_events(await services.outbox.find({"kind": "user_created"}))
    status, page = await checked("GET", f"/admin/webhooks/{hook_id}/deliveries?state=pending",
                                 headers={"CB-Administration-API-Key": key})
    assert status == 200 and page["total_entries"] == 1
    [item] = page["items"]
    assert item["state"] == "pending" and item["event_type"] == "user_created"
    user = item["payload"]["data"]["user"]
    assert user["id"] == alice["id"] and user["login"] == "hookalice"
    assert "password_hash" not in user
    # not dead: not redeliverable
    status, body = await checked("POST", f"/admin/webhooks/{hook_id}/deliveries/{item['id']}/redeliver",
                                 headers={"CB-Administration-API-Key": key})
    assert status == 422
    claim = await services.webhooks.claim(10)
    await services.webhooks.bury(claim.deliveries[0], claim.token, "HTTP 500", 500)
    status, page = await checked("GET", f"/admin/webhooks/{hook_id}/deliveries?state=dead",
                                 headers={"CB-Administration-API-Key": key})
    assert [(d["id"], d["state"], d["last_status"]) for d in page["items"]] == [
        (item["id"], "dead", 500)]
    status, again = await checked("POST", f"/admin/webhooks/{hook_id}/deliveries/{item['id']}/redeliver",
                                  headers={"CB-Administration-API-Key": key})
    assert status == 200 and (again["state"], again["attempts"]) == ("pending", 0)
    assert (await checked("POST", f"/admin/webhooks/{hook_id}/deliveries/nope/redeliver",
                          headers={"CB-Administration-API-Key": key}))[0] == 404
    for method, path, kwargs in [
            ("GET", "/admin/webhooks", {}), ("GET", f"/admin/webhooks/{hook_id}", {}),
            ("PUT", f"/admin/webhooks/{hook_id}", {"json": {"enabled": False}}),
            ("POST", f"/admin/webhooks/{hook_id}/secret", {}),
            ("GET", f"/admin/webhooks/{hook_id}/deliveries", {}),
            ("GET", f"/admin/webhooks/{hook_id}/deliveries?state=bogus", {}),
            ("DELETE", f"/admin/webhooks/{hook_id}", {}),
            ("GET", f"/admin/webhooks/{hook_id}", {}),
            ("POST", "/admin/webhooks", {"json": {"url": "https://10.0.0.1/", "events": "*"}})]:
        status, _ = await checked(method, path, headers={"CB-Administration-API-Key": key}, **kwargs)
        assert status in (200, 404, 422), (method, path, status)
    assert (await checked("GET", "/admin/webhooks"))[0] == 401


async def test_localhost_through_the_system_resolver_is_refused(api, keys, services):
    from models.services.webhooks import system_resolve

    services.webhooks._resolve = system_resolve  # /etc/hosts: no network needed
    status, body = await admin_call(api, keys[1], "POST", "/admin/webhooks",
                                    json={"url": "https://localhost:8443/x", "events": "*"})
    assert status == 422
    assert body["errors"]["url"] == ["must be a public address (not loopback, private or link-local)"]


async def test_the_operator_key_opens_the_webhook_routes_from_loopback_only(api, keys, settings):
    operator = {"CB-Operator-Key": (settings.data_dir / "operator-key").read_text().strip()}
    body = {"url": "https://hooks.example.com/op", "events": ["message_created"]}
    status, made = await api.call("POST", "/admin/webhooks", headers=operator,
                                  params={"app_id": "2"}, json=body)
    assert status == 201, made
    assert made["secret"]
    status, listed = await admin_call(api, keys[2], "GET", "/admin/webhooks")
    assert status == 200 and [h["id"] for h in listed["items"]] == [made["id"]]
    status, listed = await admin_call(api, keys[1], "GET", "/admin/webhooks")
    assert status == 200 and listed["items"] == []  # another application's endpoint
    status, _ = await admin_call(api, keys[1], "GET", "/admin/webhooks", params={"app_id": "2"})
    assert status == 404  # an admin key with another application's id finds nothing
    status, listed = await api.call("GET", "/admin/webhooks", headers=operator,
                                    params={"app_id": "2"})
    assert status == 200 and [h["id"] for h in listed["items"]] == [made["id"]]
    status, body_ = await api.call("GET", "/admin/webhooks", headers=operator)
    assert status == 422 and "app_id" in body_["errors"]
    status, _ = await api.call("GET", "/admin/webhooks", headers=operator, params={"app_id": "77"})
    assert status == 404
    status, _ = await api.call("GET", "/admin/webhooks", params={"app_id": "2"},
                               headers={**operator, "X-Forwarded-For": "203.0.113.1"})
    assert status == 403  # not from loopback (through a proxy)
    status, _ = await api.call("GET", "/admin/webhooks", params={"app_id": "2"},
                               headers={"CB-Operator-Key": "x" * 40})
    assert status == 401
    status, rotated = await api.call("POST", f"/admin/webhooks/{made['id']}/secret",
                                     headers=operator, params={"app_id": "2"},
                                     json={"keep_previous_seconds": 60})
    assert status == 200 and rotated["secret"] != made["secret"]
    status, _ = await api.call("DELETE", f"/admin/webhooks/{made['id']}", headers=operator,
                               params={"app_id": "1"})
    assert status == 404  # app 1 has no such webhook
    status, _ = await api.call("DELETE", f"/admin/webhooks/{made['id']}", headers=operator,
                               params={"app_id": "2"})
    assert status == 200
