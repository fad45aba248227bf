"""Real answers validate against the schemas the OpenAPI document gives them: a sample of
routes (every area, lists and counts, errors) through the production app, each answer checked
against the document's schema for the route aiohttp matched and the status it answered."""
from __future__ import annotations

import jsonschema
import pytest
from aiohttp.test_utils import make_mocked_request

from rest.openapi import shape
from tests.rest.test_blobs import create, upload
from tests.rest.test_events import b64, settings  # noqa: F401 - push configured, for events
from tests.rest.test_subscriptions import apns_body


@pytest.fixture
async def checked(api, client):
    document = await (await client.get("/openapi.json")).json()
    keys = {shape(path): path for path in document["paths"]}
    seen: list[tuple[str, str, int]] = []

    async def call(method: str, path: str, token: str | None = None, **kwargs):
        status, body = await api.call(method, path, token, **kwargs)
        match = await client.app.router.resolve(make_mocked_request(method, path.split("?")[0]))
        op = document["paths"][keys[shape(match.route.resource.canonical)]][method.lower()]
        answer = op["responses"].get(str(status))
        assert answer is not None, f"{method} {path}: {status} is not documented"
        if "$ref" in answer:
            answer = document["components"]["responses"][answer["$ref"].rsplit("/", 1)[-1]]
        schema = answer["content"]["application/json"]["schema"]
        jsonschema.validate(body, {**schema, "components": document["components"]},
                            cls=jsonschema.Draft202012Validator)
        seen.append((method, path, status))
        return status, body

    call.seen = seen
    return call


async def test_sessions_and_users_answers(api, checked):
    app_token = await api.app_token()
    status, _ = await checked("POST", "/users.json", app_token, json={"user": {
        "login": "docs1", "password": "password123", "full_name": "D", "tag_list": "a,b"}})
    assert status == 201
    status, body = await checked("POST", "/session.json", json={
        "application_id": 1, "auth_key": "test-auth-key",
        "user": {"login": "docs1", "password": "password123"}})
    assert status == 201
    token, me = body["session"]["token"], body["session"]["user_id"]
    assert (await checked("GET", "/session.json", token))[0] == 200
    status, refreshed = await checked("POST", "/session/refresh.json",
                                      json={"refresh_token": body["session"]["refresh_token"]})
    assert status == 201
    assert (await checked("POST", "/session/refresh", json={"refresh_token": "nope"}))[0] == 401
    token = refreshed["session"]["token"]
    assert (await checked("GET", "/sessions.json", token))[0] == 200
    assert (await checked("DELETE", "/sessions.json", token))[0] == 200
    assert (await checked("DELETE", "/sessions/999999.json", token))[0] == 404
    assert (await checked("GET", f"/users/{me}.json", token))[0] == 200
    assert (await checked("GET", "/users/v2.json?login=docs1", token))[0] == 200
    assert (await checked("GET", "/users.json?per_page=5", token))[0] == 200
    assert (await checked("GET", "/users/by_login.json?login=docs1", token))[0] == 200
    assert (await checked("GET", "/users/by_full_name?full_name=D", token))[0] == 200
    assert (await checked("GET", "/users/online.json", token))[0] == 200
    assert (await checked("GET", "/users/online.json?count=1", token))[0] == 200
    assert (await checked("PUT", f"/users/{me}.json", token,
                          json={"user": {"website": "https://example.com"}}))[0] == 200
    guest = await checked("POST", "/session.json", json={
        "application_id": 1, "auth_key": "test-auth-key", "user": {"guest": 1, "full_name": "G"}})
    assert guest[0] == 201 and guest[1]["session"]["user"]["is_guest"] is True
    status, _ = await checked("POST", "/login.json", app_token,
                              json={"login": "docs1", "password": "password123"})
    assert status == 202
    # errors: the ConnectyCube shape, documented per status
    assert (await checked("GET", "/session.json", "no-such-token"))[0] == 401
    assert (await checked("GET", "/users/999999.json", token))[0] == 404
    assert (await checked("POST", "/session.json", json={"auth_key": "x"}))[0] == 422
    assert (await checked("DELETE", "/session.json", token))[0] == 200


async def test_dialogs_messages_and_search_answers(api, checked):
    alice, bob = await api.new_user("docsa"), await api.new_user("docsb")
    status, dialog = await checked("POST", "/chat/Dialog.json", alice["token"], json={
        "type": 2, "name": "docs room", "occupants_ids": [bob["id"]],
        "extensions": {"topic": "x"}, "permissions": {"allow_preview": 1}})
    assert status == 201
    public = await checked("POST", "/chat/Dialog.json", alice["token"], json={"type": 4, "name": "pub"})
    assert public[0] == 201 and "occupants_count" in public[1]
    dialog_id = dialog["_id"]
    status, message = await checked("POST", "/chat/Message.json", alice["token"], json={
        "chat_dialog_id": dialog_id, "message": "hello docs", "markable": 1, "rating": 5,
        "attachments": [{"type": "image", "uid": "u1"}]})
    assert status == 201 and message["rating"] == 5
    await checked("PUT", f"/chat/Message/{message['_id']}/reactions.json", bob["token"],
                  json={"add": "👍"})
    assert (await checked("GET", f"/chat/Message/{message['_id']}/reactions.json",
                          alice["token"]))[0] == 200
    assert (await checked("GET", f"/chat/Message.json?chat_dialog_id={dialog_id}",
                          bob["token"]))[0] == 200
    assert (await checked("GET", f"/chat/Message.json?chat_dialog_id={dialog_id}&count=1",
                          bob["token"]))[0] == 200
    assert (await checked("GET", f"/chat/Message/unread.json?chat_dialog_ids={dialog_id}",
                          bob["token"]))[0] == 200
    assert (await checked("PUT", f"/chat/Message/{message['_id']}.json", bob["token"],
                          json={"read": 1, "chat_dialog_id": dialog_id}))[0] == 200
    assert (await checked("GET", "/chat/search.json?search_text=docs", alice["token"]))[0] == 200
    assert (await checked("POST", "/chat/Message/system.json", alice["token"], json={
        "chat_dialog_id": dialog_id, "kind": "ping"}))[0] == 200
    assert (await checked("GET", "/chat/Dialog.json", bob["token"]))[0] == 200
    assert (await checked("GET", "/chat/Dialog.json?count=1", bob["token"]))[0] == 200
    assert (await checked("PUT", f"/chat/Dialog/{dialog_id}.json", alice["token"],
                          json={"name": "renamed", "push_all": {"admins_ids": [bob["id"]]}}))[0] == 200
    assert (await checked("GET", f"/chat/Dialog/{dialog_id}/notifications.json",
                          bob["token"]))[0] == 200
    assert (await checked("PUT", f"/chat/Dialog/{dialog_id}/notifications.json", bob["token"],
                          json={"enabled": 0}))[0] == 200
    assert (await checked("GET", f"/chat/Dialog/{public[1]['_id']}/occupants.json",
                          bob["token"]))[0] == 200
    assert (await checked("PUT", f"/chat/Dialog/{dialog_id}/archive.json", bob["token"],
                          json={"archived": 1}))[0] == 200
    assert (await checked("GET", "/chat/Dialog.json?archived=1", bob["token"]))[0] == 200
    assert (await checked("PUT", f"/chat/Dialog/{dialog_id}/hidden", bob["token"],
                          json={"hidden": 1}))[0] == 200
    assert (await checked("PUT", f"/chat/Dialog/{dialog_id}/hidden.json", bob["token"],
                          json={"hidden": "never"}))[0] == 422
    assert (await checked("PUT", f"/chat/Message/{message['_id']}.json", alice["token"],
                          json={"message": "y", "attachments": [{"type": "image", "id": "9"}],
                                "rating": 5}))[0] == 200
    assert (await checked("DELETE", f"/chat/Message/{message['_id']}.json",
                          alice["token"]))[0] == 200
    assert (await checked("POST", "/chat/Message.json", alice["token"], json={
        "chat_dialog_id": dialog_id, "message": "x", "date_sent": "later"}))[0] == 422
    assert (await checked("DELETE", f"/chat/Dialog/{dialog_id}.json", bob["token"]))[0] == 200


async def test_blob_and_push_answers(api, checked):
    user = await api.new_user("docsblob")
    blob = await create(api, user, name="a.txt", content_type="text/plain")
    status, body = await checked("POST", "/blobs.json", user["token"], json={
        "blob": {"name": "b.txt", "content_type": "text/plain", "public": True}})
    assert status == 201 and body["blob"]["blob_object_access"]["object_access_type"] == "Write"
    status, _ = await upload(api, blob, b"hello", user["token"])
    assert status == 201
    assert (await checked("PUT", f"/blobs/{blob['id']}/complete.json", user["token"],
                          json={"size": 5}))[0] == 200
    assert (await checked("GET", f"/blobs/{blob['id']}.json", user["token"]))[0] == 200
    assert (await checked("GET", f"/blobs/{blob['id']}/object.json?download_url=1",
                          user["token"]))[0] == 200
    assert (await checked("GET", "/blobs.json", user["token"]))[0] == 200
    assert (await checked("PUT", f"/blobs/{blob['id']}.json", user["token"],
                          json={"blob": {"name": "c.txt"}}))[0] == 200
    status, subs = await checked("POST", "/subscriptions.json", user["token"], json=apns_body())
    assert status == 201
    assert (await checked("GET", "/subscriptions.json", user["token"]))[0] == 200
    assert (await checked("POST", "/events.json", user["token"], json={"event": {
        "notification_type": "push", "environment": "development",
        "message": b64({"message": "hi"}), "user": {"ids": [user["id"]]}}}))[0] == 201
    assert (await checked("DELETE", f"/blobs/{blob['id']}.json", user["token"]))[0] == 200
    assert (await checked("GET", "/health"))[0] == 200


async def test_a_wrong_answer_fails_the_check(api, checked, client):
    """The check is not vacuous: a body the document does not allow is caught."""
    document = await (await client.get("/openapi.json")).json()
    schema = {"$ref": "#/components/schemas/SessionAnswer", "components": document["components"]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"session": {"id": "1"}}, schema, cls=jsonschema.Draft202012Validator)


async def test_every_get_without_path_parameters_answers_as_documented(api, checked, client):
    """Every such GET (its `.json` variant and the bare path), with a user session and no query:
    JSON answers match their schema, the others their documented media type."""
    user = await api.new_user("docsall")
    document = await (await client.get("/openapi.json")).json()
    for path, item in document["paths"].items():
        op = item.get("get")
        if op is None or "{" in path:
            continue
        answer = op["responses"].get("200", {})
        if "application/json" in answer.get("content", {}) or "$ref" in answer:
            status, _ = await checked("GET", path, user["token"])
            assert status < 500, path
        else:
            resp = await client.get(path, headers={"CB-Token": user["token"]})
            documented = op["responses"].get(str(resp.status))
            assert documented is not None, (path, resp.status)
            media = next(iter(documented.get("content", {"": None})))
            assert media in ("*/*", resp.content_type), (path, resp.content_type)
    assert len(checked.seen) > 30


async def test_admin_answers(api, checked, services, settings):
    from models.services.access import GROUP
    from tests.rest.admin_helpers import KEY_HEADER, admin_keys
    from tests.rest.test_dialogs import create, guest

    key = {KEY_HEADER: (await admin_keys(services, settings))[1]}
    owner, bob = await guest(api, "owner"), await guest(api, "bob")
    dialog = await create(api, owner, type=GROUP, name="Team", occupants_ids=[bob["id"]])
    assert (await checked("PUT", f"/chat/Dialog/{dialog['_id']}/notifications.json", bob["token"],
                          json={"enabled": 0}))[0] == 200
    status, sent = await checked("POST", "/admin/chat/messages.json", headers=key, json={
        "sender_id": owner["id"], "chat_dialog_id": dialog["_id"], "message": "hi", "custom": "x"})
    assert status == 201
    assert (await checked("GET", "/admin/chat/list.json", headers=key))[0] == 200
    assert (await checked("GET", f"/admin/chat/messages/list.json?chat_dialog_id={dialog['_id']}",
                          headers=key))[0] == 200
    assert (await checked("PUT", f"/admin/chat/{dialog['_id']}.json", headers=key,
                          json={"name": "Renamed", "user_id": bob["id"], "is_muted": 1}))[0] == 200
    assert (await checked("PUT", f"/admin/chat/messages/{sent['_id']}.json", headers=key,
                          json={"message": "edited"}))[0] == 200
    assert (await checked("GET", "/admin/users.json", headers=key))[0] == 200
    for path in ("messages/sent-total", "messages/sent-per-day", "dialogs/created-total",
                 "dialogs/created-per-day"):
        assert (await checked("GET", f"/admin/stats/{path}.json?start_date=0&end_date=4102444800",
                              headers=key))[0] == 200
    assert (await checked("DELETE", f"/admin/chat/messages/{sent['_id']}.json", headers=key))[0] == 200
    assert (await checked("DELETE", f"/admin/user/{bob['id']}.json", headers=key))[0] == 200
    assert (await checked("GET", "/admin/chat/list.json", headers={KEY_HEADER: "wrong"}))[0] == 401
