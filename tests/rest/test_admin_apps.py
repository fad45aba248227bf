"""A key of one application sees nothing of another's: app 2's admin key on every admin route,
aimed at app 1's dialogs, messages and users, gets 404 or only app 2's own data, and app 1's data
is unchanged afterwards. Every admin route of the router is in the matrix (a new one must be)."""
from __future__ import annotations

import json

from models.services.access import GROUP
from tests.rest.admin_helpers import admin_call, admin_keys
from tests.rest.test_dialogs import create, guest


def admin_routes(app) -> set[tuple[str, str]]:
    out = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/admin/") and not path.endswith(".json") and route.method != "HEAD":
            out.add((route.method, path))
    return out


async def test_app_two_key_sees_nothing_of_app_one(api, services, settings, client):
    keys = await admin_keys(services, settings)
    alice, bob = await guest(api, "alice"), await guest(api, "bob")
    xeno = await guest(api, "xeno", 2, "other-key")
    dialog = await create(api, alice, type=GROUP, name="Secret", occupants_ids=[bob["id"]])
    status, message = await api.call("POST", "/chat/Message.json", alice["token"],
                                     json={"chat_dialog_id": dialog["_id"], "message": "secret text"})
    assert status == 201
    own = await create(api, xeno, type=GROUP, name="Mine", occupants_ids=[])
    await api.call("POST", "/chat/Message.json", xeno["token"],
                   json={"chat_dialog_id": own["_id"], "message": "mine"})
    status, report = await api.call("POST", "/reports.json", bob["token"], json={
        "type": "message", "id": message["_id"], "reason": "secret text"})
    assert status == 201
    status, hook = await admin_call(api, keys[1], "POST", "/admin/webhooks", json={
        "url": "https://93.184.216.34/secret-hook", "events": ["*"]})
    assert status == 201
    status, own_hook = await admin_call(api, keys[2], "POST", "/admin/webhooks", json={
        "url": "https://93.184.216.34/mine", "events": ["user_deleted"]})
    assert status == 201
    await services.webhooks.handle_events(await services.outbox.find({"app_id": 1}))
    status, queued = await admin_call(api, keys[1], "GET", f"/admin/webhooks/{hook['id']}/deliveries")
    assert status == 200 and queued["items"]
    delivery = queued["items"][0]["id"]
    d, m, u = dialog["_id"], message["_id"], bob["id"]
    h = hook["id"]
    key = keys[2]
    matrix = [
        ("PUT", "/admin/chat/{dialog_id}", f"/admin/chat/{d}", {"json": {"name": "Pwned"}}, 404),
        ("PUT", "/admin/chat/{dialog_id}", f"/admin/chat/{own['_id']}",
         {"json": {"user_id": u, "is_muted": 1}}, 404),
        ("GET", "/admin/chat/list", "/admin/chat/list", {}, 200),
        ("GET", "/admin/chat/messages/list", "/admin/chat/messages/list",
         {"params": {"chat_dialog_id": d}}, 404),
        ("GET", "/admin/chat/messages/list", "/admin/chat/messages/list", {}, 200),
        ("POST", "/admin/chat/messages", "/admin/chat/messages",
         {"json": {"sender_id": u, "chat_dialog_id": d, "message": "x"}}, 404),
        ("POST", "/admin/chat/messages", "/admin/chat/messages",
         {"json": {"sender_id": xeno["id"], "chat_dialog_id": d, "message": "x"}}, 404),
        ("POST", "/admin/chat/messages", "/admin/chat/messages",
         {"json": {"sender_id": xeno["id"], "recipient_id": u, "message": "x"}}, 404),
        ("PUT", "/admin/chat/messages/{message_id}", f"/admin/chat/messages/{m}",
         {"json": {"message": "Pwned"}}, 404),
        ("PUT", "/admin/chat/messages/{message_id}", f"/admin/chat/messages/{m}",
         {"json": {"message": "Pwned", "user_id": alice["id"]}}, 404),
        ("DELETE", "/admin/chat/messages/{message_id}", f"/admin/chat/messages/{m}", {}, 404),
        ("DELETE", "/admin/chat/messages/{message_id}", f"/admin/chat/messages/{m}",
         {"params": {"user_id": str(alice["id"])}}, 404),
        ("GET", "/admin/users", "/admin/users", {}, 200),
        ("DELETE", "/admin/user/{user_id}", f"/admin/user/{u}", {}, 404),
        ("GET", "/admin/reports", "/admin/reports", {}, 200),
        ("PUT", "/admin/reports/{report_id}", f"/admin/reports/{report['id']}",
         {"json": {"status": "dismissed", "note": "Pwned"}}, 404),
        ("GET", "/admin/stats/messages/sent-total", "/admin/stats/messages/sent-total", {}, 200),
        ("GET", "/admin/stats/messages/sent-per-day", "/admin/stats/messages/sent-per-day", {}, 200),
        ("GET", "/admin/stats/dialogs/created-total", "/admin/stats/dialogs/created-total", {}, 200),
        ("GET", "/admin/stats/dialogs/created-per-day", "/admin/stats/dialogs/created-per-day", {}, 200),
        ("GET", "/admin/webhooks", "/admin/webhooks", {}, 200),
        ("POST", "/admin/webhooks", "/admin/webhooks",
         {"json": {"url": "https://93.184.216.34/x", "events": ["*"]}}, 201),
        ("GET", "/admin/webhooks/{webhook_id}", f"/admin/webhooks/{h}", {}, 404),
        ("PUT", "/admin/webhooks/{webhook_id}", f"/admin/webhooks/{h}",
         {"json": {"url": "https://93.184.216.34/pwned", "enabled": 0}}, 404),
        ("POST", "/admin/webhooks/{webhook_id}/secret", f"/admin/webhooks/{h}/secret", {}, 404),
        ("GET", "/admin/webhooks/{webhook_id}/deliveries", f"/admin/webhooks/{h}/deliveries", {}, 404),
        ("GET", "/admin/webhooks/{webhook_id}/deliveries",
         f"/admin/webhooks/{own_hook['id']}/deliveries", {}, 200),
        ("POST", "/admin/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
         f"/admin/webhooks/{h}/deliveries/{delivery}/redeliver", {}, 404),
        ("POST", "/admin/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
         f"/admin/webhooks/{own_hook['id']}/deliveries/{delivery}/redeliver", {}, 404),
        ("DELETE", "/admin/webhooks/{webhook_id}", f"/admin/webhooks/{h}", {}, 404),
        # the operators' routes: an application's key opens none of the operator-only ones, and
        # the per-application ones only for its own application
        ("GET", "/admin/apps", "/admin/apps", {}, 401),
        ("POST", "/admin/apps", "/admin/apps", {"json": {"title": "Pwned"}}, 401),
        ("GET", "/admin/apps/{app_id}", "/admin/apps/1", {}, 401),
        ("POST", "/admin/apps/{app_id}/keys", "/admin/apps/1/keys", {}, 401),
        ("POST", "/admin/apps/{app_id}/users/import", "/admin/apps/1/users/import",
         {"json": {"users": [{"user": {"login": "pwned1", "password": "password123"}}]}}, 404),
        ("DELETE", "/admin/apps/{app_id}/users/{user_id}", f"/admin/apps/1/users/{u}", {}, 404),
        ("GET", "/admin/apps/{app_id}/export", "/admin/apps/1/export", {}, 404),
    ]
    assert {(method, template) for method, template, *_ in matrix} == admin_routes(client.app)
    secrets = {d, m, "Secret", "secret text", str(alice["id"]), str(u), "secret-hook",
               hook["secret"], delivery}
    answers = {}
    for method, template, path, kwargs, expected in matrix:
        status, body = await admin_call(api, key, method, path, **kwargs)
        assert status == expected, (method, path, body)
        text = json.dumps(body)
        if status == 404:
            assert set(body["errors"]) == {"base"}, body
        else:
            leaked = {s for s in secrets if s in text and not s.isdigit()}
            assert not leaked, (path, body)
        answers[(method, path)] = body
    assert [x["_id"] for x in answers[("GET", "/admin/chat/list")]["items"]] == [own["_id"]]
    assert {x["chat_dialog_id"] for x in answers[("GET", "/admin/chat/messages/list")]["items"]} == {own["_id"]}
    assert [x["id"] for x in answers[("GET", "/admin/users")]["items"]] == [xeno["id"]]
    assert answers[("GET", "/admin/reports")]["items"] == []
    assert answers[("GET", "/admin/apps")] == {"errors": {"base": ["Unexpected operator key"]}}
    assert answers[("GET", "/admin/stats/messages/sent-total")] == {"total": 1}
    assert answers[("GET", "/admin/stats/dialogs/created-total")] == {"total": 1}
    assert sum(answers[("GET", "/admin/stats/messages/sent-per-day")].values()) == 1
    assert [x["url"] for x in answers[("GET", "/admin/webhooks")]["items"]] == [
        "https://93.184.216.34/mine"]
    assert answers[("GET", f"/admin/webhooks/{own_hook['id']}/deliveries")]["items"] == []
    # app 1 is as it was
    status, body = await admin_call(api, keys[1], "GET", "/admin/chat/messages/list",
                                    params={"chat_dialog_id": d})
    assert [(x["_id"], x["message"]) for x in body["items"]] == [(m, "secret text")]
    status, body = await admin_call(api, keys[1], "GET", "/admin/chat/list")
    assert [(x["_id"], x["name"], x["silent_ids"]) for x in body["items"]] == [(d, "Secret", [])]
    assert (await api.call("GET", "/chat/Dialog.json", bob["token"]))[0] == 200
    status, body = await admin_call(api, keys[1], "GET", f"/admin/webhooks/{h}")
    assert (status, body["url"], body["enabled"]) == (200, "https://93.184.216.34/secret-hook", True)
    status, body = await admin_call(api, keys[1], "GET", f"/admin/webhooks/{h}/deliveries")
    assert [x["id"] for x in body["items"]] == [x["id"] for x in queued["items"]]
    assert all(x["state"] == "pending" and x["attempts"] == 0 for x in body["items"])
    status, body = await admin_call(api, keys[1], "GET", "/admin/users")
    assert "pwned1" not in json.dumps(body) and str(u) in json.dumps(body)
    status, body = await admin_call(api, keys[1], "GET", "/admin/reports")
    assert [(x["id"], x["status"], x["note"]) for x in body["items"]] == [(report["id"], "open", None)]
