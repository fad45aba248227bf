"""The admin API through the production app: the key (required, per application, never a user
session), every dialog and message of the application with the admin-only fields, dialog changes,
messages sent / edited / deleted as a user, users listed and deleted. Cross-application access:
tests/rest/test_admin_apps.py; statistics: tests/rest/test_admin_stats.py."""
from __future__ import annotations

from typing import Any

import pytest

from models.services.access import GROUP, PRIVATE
from tests.rest.admin_helpers import WRONG_KEY, admin_call, admin_keys
from tests.rest.test_dialogs import create, guest


@pytest.fixture
async def keys(services, settings) -> dict[int, str]:
    return await admin_keys(services, settings)


@pytest.fixture
async def people(api) -> dict[str, Any]:
    """owner, bob, carol, dave in app 1; xeno in app 2."""
    out = {name: await guest(api, name) for name in ("owner", "bob", "carol", "dave")}
    out["xeno"] = await guest(api, "xeno", 2, "other-key")
    return out


async def team(api, people, *members: str, name: str = "Team") -> dict[str, Any]:
    ids = [people[m]["id"] for m in members]
    return await create(api, people["owner"], type=GROUP, name=name, occupants_ids=ids)


async def send(api, who, dialog_id: str, text: str, **extra) -> dict[str, Any]:
    status, body = await api.call("POST", "/chat/Message.json", who["token"],
                                  json={"chat_dialog_id": dialog_id, "message": text, **extra})
    assert status == 201, body
    return body


# -- the key --------------------------------------------------------------------------------------
async def test_admin_routes_need_the_key_and_refuse_sessions(api, keys, people):
    for key in (None, "", "wrong-key", keys[1] + "x"):
        status, body = await admin_call(api, key, "GET", "/admin/chat/list")
        assert (status, body) == (401, WRONG_KEY)
    # a user session opens no admin route, not even with the token as the key
    token = people["bob"]["token"]
    assert await api.call("GET", "/admin/chat/list", token) == (401, WRONG_KEY)
    assert (await admin_call(api, token, "GET", "/admin/chat/list"))[0] == 401
    # and the key opens no user route
    status, body = await admin_call(api, keys[1], "GET", "/chat/Dialog.json")
    assert (status, body) == (401, {"errors": {"base": ["Required session does not exist"]}})
    assert (await api.call("GET", "/chat/Dialog.json", keys[1]))[0] == 401
    assert (await admin_call(api, keys[1], "GET", "/admin/chat/list.json"))[0] == 200


async def test_a_rotated_key_stops_working_at_once(api, services, keys):
    assert (await admin_call(api, keys[1], "GET", "/admin/chat/list"))[0] == 200  # now cached
    new = await services.apps.rotate_admin_key(1)
    assert (await admin_call(api, keys[1], "GET", "/admin/chat/list"))[0] == 401
    assert (await admin_call(api, new, "GET", "/admin/chat/list"))[0] == 200


@pytest.fixture
def limited(settings):
    settings.rate_limits.trusted_proxies = ["127.0.0.0/8"]
    settings.rate_limits.admin_failures_per_address = "3/minute"
    return settings


async def test_wrong_keys_are_rate_limited_per_address(limited, api, keys):
    here, there = {"X-Forwarded-For": "198.51.100.1"}, {"X-Forwarded-For": "198.51.100.2"}
    for _ in range(3):
        assert (await admin_call(api, "guess", "GET", "/admin/chat/list", headers=here))[0] == 401
    resp = await api.client.get("/admin/chat/list", headers={**here, "CB-Administration-API-Key": keys[1]})
    assert resp.status == 429 and 1 <= int(resp.headers["Retry-After"]) <= 60
    assert await resp.json() == {"errors": {"base": ["Too many requests, retry later"]}}
    # another address is not held back, and right keys do not count
    for _ in range(5):
        assert (await admin_call(api, keys[1], "GET", "/admin/chat/list", headers=there))[0] == 200


# -- dialogs --------------------------------------------------------------------------------------
async def test_dialog_list_shows_every_dialog_with_mutes_and_deletes(api, keys, people):
    group = await team(api, people, "bob", "carol")
    private = await create(api, people["carol"], type=PRIVATE, occupants_ids=[people["dave"]["id"]])
    foreign = await create(api, people["xeno"], type=GROUP, name="Elsewhere", occupants_ids=[])
    # bob mutes the group, dave deletes the private dialog for himself (the normal user routes)
    status, _ = await api.call("PUT", f"/chat/Dialog/{group['_id']}/notifications.json",
                               people["bob"]["token"], json={"enabled": 0})
    assert status == 200
    status, _ = await api.call("DELETE", f"/chat/Dialog/{private['_id']}.json", people["dave"]["token"])
    assert status == 200
    status, body = await admin_call(api, keys[1], "GET", "/admin/chat/list")
    assert status == 200
    assert body["total_entries"] == 2 and body["skip"] == 0 and body["limit"] == 100
    by_id = {d["_id"]: d for d in body["items"]}
    assert list(by_id) == [private["_id"], group["_id"]]  # newest first
    assert by_id[group["_id"]]["silent_ids"] == [people["bob"]["id"]]
    assert by_id[group["_id"]]["deleted_ids"] == []
    assert by_id[private["_id"]]["deleted_ids"] == [people["dave"]["id"]]
    assert by_id[private["_id"]]["silent_ids"] == []
    assert by_id[group["_id"]]["is_e2ee"] is False and by_id[group["_id"]]["is_muted"] is None
    assert by_id[group["_id"]]["occupants_ids"] == [people[m]["id"] for m in ("owner", "bob", "carol")]
    # bob unmutes: the list says so
    await api.call("PUT", f"/chat/Dialog/{group['_id']}/notifications.json", people["bob"]["token"],
                   json={"enabled": 1})
    status, body = await admin_call(api, keys[1], "GET", "/admin/chat/list", params={"_id": group["_id"]})
    assert [d["silent_ids"] for d in body["items"]] == [[]]
    # app 2's key sees app 2's dialog only
    status, body = await admin_call(api, keys[2], "GET", "/admin/chat/list")
    assert [d["_id"] for d in body["items"]] == [foreign["_id"]] and body["total_entries"] == 1


async def test_dialog_list_pages_by_id_and_filters(api, services, clock, keys, people):
    made = []
    for i in range(5):
        made.append((await team(api, people, "bob", name=f"T{i}"))["_id"])
        clock.advance(60)
    seen, params = [], {"limit": "2"}
    while True:
        status, body = await admin_call(api, keys[1], "GET", "/admin/chat/list", params=params)
        assert status == 200 and body["total_entries"] == 5 - len(seen)
        if not body["items"]:
            break
        seen += [d["_id"] for d in body["items"]]
        params = {"limit": "2", "_id[lt]": seen[-1]}
    assert seen == made[::-1]
    # the parameters in a form body, as ConnectyCube's curl examples send them
    start = int(clock.now().timestamp()) - 60 * 3
    status, body = await admin_call(api, keys[1], "GET", "/admin/chat/list",
                                    data={"created_at[gte]": str(start), "sort_asc": "created_at"})
    assert status == 200 and [d["_id"] for d in body["items"]] == made[2:]
    status, body = await admin_call(api, keys[1], "GET", "/admin/chat/list",
                                    params={"type": "3", "limit": "500"})
    assert status == 200 and body["items"] == [] and body["limit"] == 100
    status, body = await admin_call(api, keys[1], "GET", "/admin/chat/list", params={"_id[ctn]": "a"})
    assert status == 422 and "_id" in body["errors"]
    status, body = await admin_call(api, keys[1], "GET", "/admin/chat/list", params={"limit": "x"})
    assert (status, body) == (422, {"errors": {"limit": ["must be an integer"]}})
    status, body = await admin_call(api, keys[1], "GET", "/admin/chat/list", params={"sort_desc": "name"})
    assert status == 422 and "sort_desc" in body["errors"]


async def test_update_dialog_with_the_admins_rights(api, services, keys, people):
    group = await team(api, people, "bob")
    path = f"/admin/chat/{group['_id']}"
    status, body = await admin_call(api, keys[1], "PUT", path, json={
        "name": "Renamed", "push_all": {"occupants_ids": [people["carol"]["id"]],
                                        "admins_ids": [people["bob"]["id"]]}})
    assert status == 200, body
    assert body["name"] == "Renamed" and body["admins_ids"] == [people["bob"]["id"]]
    assert people["carol"]["id"] in body["occupants_ids"]
    assert body["silent_ids"] == [] and body["deleted_ids"] == []
    events = await services.outbox.find({"kind": "dialog_updated"})
    assert events[-1]["dialog_id"] == group["_id"]
    # per-user fields: mute carol; she sees it through her own route
    status, body = await admin_call(api, keys[1], "PUT", path,
                                    json={"user_id": people["carol"]["id"], "is_muted": 1})
    assert status == 200 and body["is_muted"] is True and body["silent_ids"] == [people["carol"]["id"]]
    status, body = await api.call("GET", f"/chat/Dialog/{group['_id']}/notifications.json",
                                  people["carol"]["token"])
    assert body == {"notifications": {"enabled": 0}}
    status, body = await admin_call(api, keys[1], "PUT", path,
                                    data={"user_id": str(people["carol"]["id"]), "is_muted": "0"})
    assert status == 200 and body["is_muted"] is False and body["silent_ids"] == []
    # errors
    assert await admin_call(api, keys[1], "PUT", path, json={"is_muted": 1}) == \
        (422, {"errors": {"user_id": ["is required with is_muted"]}})
    assert await admin_call(api, keys[1], "PUT", path, json={"user_id": people["dave"]["id"],
                                                             "is_muted": 1}) == \
        (422, {"errors": {"user_id": ["is not a member of this dialog"]}})
    assert (await admin_call(api, keys[1], "PUT", path, json={"user_id": people["xeno"]["id"]}))[0] == 404
    assert (await admin_call(api, keys[1], "PUT", path, json={"name": ""}))[0] == 422
    assert (await admin_call(api, keys[1], "PUT", path, json={"is_muted": "maybe", "user_id": 1}))[0] == 422
    assert (await admin_call(api, keys[1], "PUT", path, data="[1]",
                             headers={"Content-Type": "application/json"}))[0] == 400
    assert await admin_call(api, keys[1], "PUT", "/admin/chat/nope", json={"name": "x"}) == \
        (404, {"errors": {"base": ["Dialog not found"]}})
    private = await create(api, people["bob"], type=PRIVATE, occupants_ids=[people["dave"]["id"]])
    status, body = await admin_call(api, keys[1], "PUT", f"/admin/chat/{private['_id']}",
                                    json={"name": "x"})
    assert status == 403


# -- messages -------------------------------------------------------------------------------------
async def test_message_list_with_deleted_for_ids_and_paging(api, keys, people):
    group = await team(api, people, "bob")
    other = await team(api, people, "carol", name="Other")
    sent = [(await send(api, people["owner"], group["_id"], f"m{i}"))["_id"] for i in range(4)]
    elsewhere = await send(api, people["carol"], other["_id"], "elsewhere")
    status, _ = await api.call("DELETE", f"/chat/Message/{sent[1]}.json", people["bob"]["token"])
    assert status == 200  # bob deletes it for himself
    status, body = await admin_call(api, keys[1], "GET", "/admin/chat/messages/list",
                                    params={"chat_dialog_id": group["_id"]})
    assert status == 200 and body["total_entries"] == 4
    items = {m["_id"]: m for m in body["items"]}
    assert list(items) == sent[::-1]
    assert items[sent[1]]["deleted_for_ids"] == [people["bob"]["id"]]
    assert items[sent[0]]["deleted_for_ids"] == [] and items[sent[0]]["message"] == "m0"
    assert isinstance(items[sent[0]]["date_sent"], int) and items[sent[0]]["chat_dialog_id"] == group["_id"]
    # paging by _id, the parameters in a form body
    status, body = await admin_call(api, keys[1], "GET", "/admin/chat/messages/list",
                                    data={"chat_dialog_id": group["_id"], "limit": "2",
                                          "_id[lt]": sent[2]})
    assert [m["_id"] for m in body["items"]] == [sent[1], sent[0]] and body["total_entries"] == 2
    # every dialog of the app, filters
    status, body = await admin_call(api, keys[1], "GET", "/admin/chat/messages/list")
    assert body["total_entries"] == 5 and body["items"][0]["_id"] == elsewhere["_id"]
    status, body = await admin_call(api, keys[1], "GET", "/admin/chat/messages/list",
                                    params={"sender_id": str(people["carol"]["id"])})
    assert [m["_id"] for m in body["items"]] == [elsewhere["_id"]]
    # errors
    assert await admin_call(api, keys[1], "GET", "/admin/chat/messages/list",
                            params={"chat_dialog_id": "nope"}) == \
        (404, {"errors": {"base": ["Dialog not found"]}})
    assert (await admin_call(api, keys[1], "GET", "/admin/chat/messages/list",
                             params={"_id[lt]": "zz"}))[0] == 422
    assert (await admin_call(api, keys[1], "GET", "/admin/chat/messages/list",
                             params={"skip": "-1"}))[0] == 422


async def test_send_as_a_user_is_stored_relayed_and_pushed_like_theirs(api, services, keys, people):
    group = await team(api, people, "bob")
    status, body = await admin_call(api, keys[1], "POST", "/admin/chat/messages", json={
        "sender_id": people["bob"]["id"], "chat_dialog_id": group["_id"], "message": "from the bot",
        "send_to_chat": 1, "ticket": "T-1"})
    assert status == 201, body
    assert body["sender_id"] == people["bob"]["id"] and body["message"] == "from the bot"
    assert body["ticket"] == "T-1" and body["read"] == 1
    event = (await services.outbox.find({"kind": "message_created"}))[-1]
    assert event["sender_id"] == people["bob"]["id"] and event["dialog_id"] == group["_id"]
    assert event["recipient_ids"] == [people["owner"]["id"]]
    assert event["payload"]["send_to_chat"] is True
    assert event["payload"]["message"]["_id"] == body["_id"]
    status, history = await api.call("GET", "/chat/Message.json", people["owner"]["token"],
                                     params={"chat_dialog_id": group["_id"]})
    assert [m["_id"] for m in history["items"]] == [body["_id"]]
    # to a user: the private dialog of the pair, as a REST send with recipient_id
    status, body = await admin_call(api, keys[1], "POST", "/admin/chat/messages", data={
        "sender_id": str(people["carol"]["id"]), "recipient_id": str(people["dave"]["id"]),
        "message": "hello"})
    assert status == 201 and body["recipient_id"] == people["dave"]["id"]
    # the user's own rights: not an occupant, not a user of the app, no sender
    status, body = await admin_call(api, keys[1], "POST", "/admin/chat/messages", json={
        "sender_id": people["dave"]["id"], "chat_dialog_id": group["_id"], "message": "x"})
    assert (status, body) == (404, {"errors": {"base": ["Dialog not found"]}})
    status, body = await admin_call(api, keys[1], "POST", "/admin/chat/messages", json={
        "sender_id": people["xeno"]["id"], "chat_dialog_id": group["_id"], "message": "x"})
    assert (status, body) == (404, {"errors": {"base": ["User not found"]}})
    assert await admin_call(api, keys[1], "POST", "/admin/chat/messages", json={
        "chat_dialog_id": group["_id"], "message": "x"}) == \
        (422, {"errors": {"sender_id": ["can't be blank"]}})
    assert (await admin_call(api, keys[1], "POST", "/admin/chat/messages", json={
        "sender_id": "bob", "chat_dialog_id": group["_id"]}))[0] == 422
    assert (await admin_call(api, keys[1], "POST", "/admin/chat/messages", json={
        "sender_id": people["bob"]["id"], "chat_dialog_id": group["_id"],
        "attachments": "nope"}))[0] == 422


async def test_edit_and_delete_as_a_user_or_as_the_admin(api, services, keys, people):
    group = await team(api, people, "bob", "carol")
    mine = await send(api, people["bob"], group["_id"], "typo")
    path = f"/admin/chat/messages/{mine['_id']}"
    status, body = await admin_call(api, keys[1], "PUT", path,
                                    json={"message": "fixed", "user_id": people["bob"]["id"]})
    assert status == 200 and body["message"] == "fixed" and body["deleted_for_ids"] == []
    assert await admin_call(api, keys[1], "PUT", path,
                            json={"message": "no", "user_id": people["carol"]["id"]}) == \
        (403, {"errors": {"base": ["You can edit only your own messages"]}})
    # as the admin: any message; the event names the author, as the relay expects
    status, body = await admin_call(api, keys[1], "PUT", path, json={"message": "moderated"})
    assert status == 200 and body["message"] == "moderated"
    event = (await services.outbox.find({"kind": "message_updated"}))[-1]
    assert event["sender_id"] == people["bob"]["id"] and event["payload"]["message"] == "moderated"
    assert await admin_call(api, keys[1], "PUT", path, json={}) == \
        (422, {"errors": {"message": ["can't be blank"]}})
    # delete for everyone: carol (not the author, not an admin of the dialog) may not
    assert (await admin_call(api, keys[1], "DELETE", path,
                             params={"user_id": str(people["carol"]["id"])}))[0] == 403
    assert await admin_call(api, keys[1], "DELETE", path) == (200, {"success": True})
    deleted = (await services.outbox.find({"kind": "message_deleted"}))[-1]
    assert deleted["payload"]["message_ids"] == [mine["_id"]]
    status, history = await api.call("GET", "/chat/Message.json", people["owner"]["token"],
                                     params={"chat_dialog_id": group["_id"]})
    assert history["items"] == []
    assert await admin_call(api, keys[1], "DELETE", path) == \
        (404, {"errors": {"base": ["Message not found"]}})
    assert (await admin_call(api, keys[1], "PUT", path, json={"message": "x"}))[0] == 404
    assert (await admin_call(api, keys[1], "DELETE", "/admin/chat/messages/nope"))[0] == 404
    # as the author, with user_id
    second = await send(api, people["carol"], group["_id"], "mine")
    assert await admin_call(api, keys[1], "DELETE", f"/admin/chat/messages/{second['_id']}",
                            data={"user_id": str(people["carol"]["id"])}) == (200, {"success": True})


# -- users ----------------------------------------------------------------------------------------
async def test_list_and_delete_users(api, keys, people):
    status, body = await admin_call(api, keys[1], "GET", "/admin/users", params={"limit": "100"})
    assert status == 200 and body["total_entries"] == 4
    assert sorted(u["id"] for u in body["items"]) == sorted(people[n]["id"] for n in
                                                             ("owner", "bob", "carol", "dave"))
    status, body = await admin_call(api, keys[1], "GET", "/admin/users",
                                    params={"full_name[ctn]": "bo"})
    assert [u["id"] for u in body["items"]] == [people["bob"]["id"]]
    status, body = await admin_call(api, keys[1], "GET", "/admin/users", data={"limit": "1", "skip": "1"})
    assert len(body["items"]) == 1 and body["skip"] == 1 and body["total_entries"] == 4
    bob = people["bob"]
    assert await admin_call(api, keys[1], "DELETE", f"/admin/user/{bob['id']}") == (200, {"success": True})
    assert (await api.call("GET", "/chat/Dialog.json", bob["token"]))[0] == 401  # sessions ended
    assert await admin_call(api, keys[1], "DELETE", f"/admin/user/{bob['id']}") == \
        (404, {"errors": {"base": ["User not found"]}})
    assert (await admin_call(api, keys[1], "DELETE", "/admin/user/abc"))[0] == 404
    status, body = await admin_call(api, keys[1], "GET", "/admin/users")
    assert body["total_entries"] == 3


async def test_the_admin_moderates_messages_their_author_no_longer_sees(api, keys, people):
    group = await team(api, people, "bob", "carol")
    first = await send(api, people["bob"], group["_id"], "one")
    second = await send(api, people["bob"], group["_id"], "two")
    # bob deletes the first for himself and clears his history: neither is his to see any more
    assert (await api.call("DELETE", f"/chat/Message/{first['_id']}.json", people["bob"]["token"]))[0] == 200
    assert (await api.call("DELETE", f"/chat/Dialog/clearHistory/{group['_id']}.json",
                           people["bob"]["token"]))[0] == 200
    # as bob, they are gone; as the admin, they are there
    assert (await admin_call(api, keys[1], "PUT", f"/admin/chat/messages/{second['_id']}",
                             json={"message": "x", "user_id": people["bob"]["id"]}))[0] == 404
    status, body = await admin_call(api, keys[1], "PUT", f"/admin/chat/messages/{second['_id']}",
                                    json={"message": "moderated"})
    assert status == 200 and body["message"] == "moderated"
    for message in (first, second):
        assert await admin_call(api, keys[1], "DELETE", f"/admin/chat/messages/{message['_id']}") == \
            (200, {"success": True})
    status, history = await api.call("GET", "/chat/Message.json", people["carol"]["token"],
                                     params={"chat_dialog_id": group["_id"]})
    assert history["items"] == []
