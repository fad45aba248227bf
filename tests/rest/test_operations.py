"""The operators' routes (`/admin/apps...`, rest/views/operations.py): the operator key of
`{data_dir}/operator-key` on loopback opens them all; an application's admin key opens only the
per-application ones, for its own application."""
from __future__ import annotations

import json

from tests.rest.admin_helpers import admin_call, admin_keys
from tests.rest.test_dialogs import create, guest

OPERATOR = "CB-Operator-Key"


def operator_key(settings) -> str:
    return (settings.data_dir / "operator-key").read_text().strip()


async def test_operator_key_creates_lists_shows_and_rotates(api, settings, services):
    key = {OPERATOR: operator_key(settings)}
    status, made = await api.call("POST", "/admin/apps.json", headers=key,
                                  json={"title": "Acme", "id": 10})
    assert status == 201, made
    assert made["app"]["id"] == 10 and {"admin_api_key", "auth_key", "auth_secret"} <= set(made)
    assert (await services.apps.resolve_admin_key(made["admin_api_key"])).app_id == 10
    status, again = await api.call("POST", "/admin/apps", headers=key, json={"title": "Acme", "id": 10})
    assert status == 422 and again == {"errors": {"id": ["application 10 exists already"]}}
    status, listed = await api.call("GET", "/admin/apps", headers=key)
    assert status == 200 and [a["id"] for a in listed["items"]] == [1, 2, 10]
    assert made["auth_secret"] not in json.dumps(listed)
    status, shown = await api.call("GET", "/admin/apps/10", headers=key)
    assert status == 200 and shown["users"] == 0
    assert (await api.call("GET", "/admin/apps/77", headers=key))[0] == 404
    status, rotated = await api.call("POST", "/admin/apps/10/keys", headers=key, json={"auth": 1})
    assert status == 200 and rotated["auth_key"] != made["auth_key"]
    assert (await api.call("POST", "/session.json", json={
        "application_id": 10, "auth_key": rotated["auth_key"]}))[0] == 201
    assert (await api.call("POST", "/session.json", json={
        "application_id": 10, "auth_key": made["auth_key"]}))[0] == 401


async def test_wrong_or_forwarded_operator_keys_are_refused(api, settings):
    status, body = await api.call("GET", "/admin/apps", headers={OPERATOR: "x" * 40})
    assert status == 401 and body == {"errors": {"base": ["Unexpected operator key"]}}
    status, _ = await api.call("GET", "/admin/apps", headers={
        OPERATOR: operator_key(settings), "X-Forwarded-For": "203.0.113.1"})
    assert status == 403
    status, _ = await api.call("GET", "/admin/apps")
    assert status == 401


async def test_an_apps_admin_key_imports_and_exports_its_own_app_only(api, settings, services):
    keys = await admin_keys(services, settings)
    rows = {"users": [{"line": 2, "user": {"login": "imp001", "password": "password123"}},
                      {"line": 3, "user": {"login": "imp001", "password": "password123"}},
                      {"line": 4, "user": "nope"},
                      {"line": 5, "user": {"email": "bad", "password": "password123"}}]}
    status, body = await admin_call(api, keys[1], "POST", "/admin/apps/1/users/import", json=rows)
    assert status == 200, body
    results = body["results"]
    assert results[0]["line"] == 2 and isinstance(results[0]["id"], int)
    assert results[1:] == [{"line": 3, "error": "login: has already been taken"},
                           {"line": 4, "error": "user: must be an object"},
                           {"line": 5, "error": results[3]["error"]}]
    assert results[3]["error"].startswith("email:")
    status, _ = await admin_call(api, keys[2], "POST", "/admin/apps/1/users/import", json=rows)
    assert status == 404
    too_many = {"users": [{"user": {"login": f"u{i:05d}"}} for i in range(1001)]}
    status, body = await admin_call(api, keys[1], "POST", "/admin/apps/1/users/import", json=too_many)
    assert status == 422 and "users" in body["errors"]
    alice, bob = await guest(api, "alice"), await guest(api, "bob")
    dialog = await create(api, alice, type=2, name="g", occupants_ids=[bob["id"]])
    for text in ("one", "two"):
        await api.call("POST", "/chat/Message.json", alice["token"],
                       json={"chat_dialog_id": dialog["_id"], "message": text})
    resp = await api.client.get("/admin/apps/1/export", params={"chat_dialog_id": dialog["_id"]},
                                headers={"CB-Administration-API-Key": keys[1]})
    assert resp.status == 200 and resp.content_type == "application/x-ndjson"
    lines = [json.loads(x) for x in (await resp.text()).splitlines()]
    assert [m["message"] for m in lines] == ["one", "two"]
    assert all("deleted_for_ids" in m for m in lines)
    resp = await api.client.get("/admin/apps/2/export", params={"chat_dialog_id": dialog["_id"]},
                                headers={OPERATOR: operator_key(settings)})
    assert resp.status == 404
    status, body = await admin_call(api, keys[1], "DELETE", f"/admin/apps/1/users/{bob['id']}")
    assert status == 200 and body == {"success": True}
    status, _ = await admin_call(api, keys[1], "DELETE", f"/admin/apps/1/users/{bob['id']}")
    assert status == 404
