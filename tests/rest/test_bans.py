"""/chat/Dialog/{id}/block through the production app: who may ban, what a ban takes away (the
dialog, its history, posting, reacting, subscribing, being added again), unban, the list, and
no probing across applications."""
from __future__ import annotations

import pytest

from models.services.access import BROADCAST, GROUP, PRIVATE, PUBLIC
from tests.rest.test_dialogs import create, guest, put
from tests.rest.test_openapi_answers import checked  # noqa: F401 - the fixture

BLOCKED = {"errors": {"base": ["You are blocked in this dialog"]}}


@pytest.fixture
async def people(api):
    out = {name: await guest(api, name) for name in ("owner", "admin", "bob", "carol", "eve")}
    out["xeno"] = await guest(api, "xeno", 2, "other-key")
    return out


async def block(api, who, dialog_id, user_id, method="POST", path="Dialog", **kwargs):
    if "json" not in kwargs and "data" not in kwargs:
        kwargs["json"] = {"user_id": user_id}
    return await api.call(method, f"/chat/{path}/{dialog_id}/block.json", who["token"], **kwargs)


async def blocked_ids(api, who, dialog_id):
    status, body = await api.call("GET", f"/chat/Dialog/{dialog_id}/block.json", who["token"])
    assert status == 200, body
    return [u["id"] for u in body["items"]]


async def group_of(api, people, *members, **extra):
    ids = ", ".join(str(people[m]["id"]) for m in members)
    return await create(api, people["owner"], type=GROUP, name="Team", occupants_ids=ids,
                        admins_ids=str(people["admin"]["id"]), **extra)


async def send(api, who, dialog_id, text="hi"):
    return await api.call("POST", "/chat/Message.json", who["token"],
                          json={"chat_dialog_id": dialog_id, "message": text})


async def test_a_banned_group_occupant_is_removed_and_stays_out(api, people):
    dialog = await group_of(api, people, "admin", "bob", "carol")
    did = dialog["_id"]
    status, message = await send(api, people["owner"], did)
    assert status == 201
    status, body = await block(api, people["admin"], did, people["bob"]["id"])
    assert (status, body) == (200, None)  # 200, empty body
    status, seen = await api.call("GET", f"/chat/Dialog.json?_id={did}", people["owner"]["token"])
    assert people["bob"]["id"] not in seen["items"][0]["occupants_ids"]
    assert await blocked_ids(api, people["owner"], did) == [people["bob"]["id"]]

    bob = people["bob"]
    status, page = await api.call("GET", "/chat/Dialog.json", bob["token"])
    assert did not in [d["_id"] for d in page["items"]]
    assert await api.call("GET", f"/chat/Message.json?chat_dialog_id={did}", bob["token"]) == \
        (403, BLOCKED)
    assert await send(api, bob, did) == (403, BLOCKED)
    status, _ = await api.call("PUT", f"/chat/Message/{message['_id']}/reactions.json",
                               bob["token"], json={"add": "👍"})
    assert status in (403, 404)
    status, _ = await api.call("GET", f"/chat/Message/{message['_id']}/reactions.json", bob["token"])
    assert status in (403, 404)
    # any occupant may add users to a group: not a banned one
    status, body = await put(api, people["carol"], did,
                             {"push_all": {"occupants_ids": [bob["id"]]}})
    assert status == 422 and "blocked" in body["errors"]["occupants_ids"][0]

    # unbanned: nobody is added back, but they may be added again
    status, body = await block(api, people["owner"], did, bob["id"], method="DELETE")
    assert (status, body) == (200, None)
    assert await blocked_ids(api, people["owner"], did) == []
    assert await send(api, bob, did) == (404, {"errors": {"base": ["Dialog not found"]}})
    status, body = await put(api, people["carol"], did, {"push_all": {"occupants_ids": [bob["id"]]}})
    assert status == 200 and bob["id"] in body["occupants_ids"]
    assert (await send(api, bob, did))[0] == 201


async def test_a_banned_subscriber_is_unsubscribed_and_cannot_subscribe(api, people):
    dialog = await create(api, people["owner"], type=PUBLIC, name="Open")
    did, bob = dialog["_id"], people["bob"]
    for who in ("admin", "bob", "carol"):
        status, _ = await api.call("POST", f"/chat/Dialog/{did}/subscribe.json", people[who]["token"])
        assert status == 200
    status, body = await put(api, people["owner"], did,
                             {"push_all": {"admins_ids": [people["admin"]["id"]]}})
    assert status == 200, body
    status, _ = await block(api, people["admin"], did, bob["id"], path="dialog")  # lower case
    assert status == 200
    status, body = await api.call("GET", f"/chat/Dialog/{did}/occupants.json", people["owner"]["token"])
    assert bob["id"] not in [u["id"] for u in body["items"]]
    status, seen = await api.call("GET", f"/chat/Dialog.json?_id={did}", people["owner"]["token"])
    assert seen["items"][0]["occupants_count"] == 3
    assert await api.call("POST", f"/chat/Dialog/{did}/subscribe.json", bob["token"]) == \
        (403, BLOCKED)
    assert await send(api, bob, did) == (403, BLOCKED)
    # a form body, and JSON sent as a form (ConnectyCube's curl examples)
    status, _ = await block(api, people["owner"], did, None, method="DELETE",
                            data=f"user_id={bob['id']}")
    assert status == 200
    status, _ = await api.call("POST", f"/chat/Dialog/{did}/subscribe.json", bob["token"])
    assert status == 200
    status, _ = await block(api, people["owner"], did, None,
                            data='{"user_id": "%d"}' % bob["id"],
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200
    assert await blocked_ids(api, people["admin"], did) == [bob["id"]]


async def test_a_user_can_be_banned_before_subscribing(api, people):
    dialog = await create(api, people["owner"], type=PUBLIC, name="Open")
    status, _ = await block(api, people["owner"], dialog["_id"], people["eve"]["id"])
    assert status == 200
    assert await api.call("POST", f"/chat/Dialog/{dialog['_id']}/subscribe.json",
                          people["eve"]["token"]) == (403, BLOCKED)


async def test_a_banned_reader_of_a_broadcast_reads_nothing(api, people):
    dialog = await create(api, people["owner"], type=BROADCAST, name="News")
    did, eve = dialog["_id"], people["eve"]
    assert (await send(api, people["owner"], did, "news"))[0] == 201
    status, _ = await api.call("GET", f"/chat/Message.json?chat_dialog_id={did}", eve["token"])
    assert status == 200
    assert (await block(api, people["owner"], did, eve["id"]))[0] == 200
    assert await api.call("GET", f"/chat/Message.json?chat_dialog_id={did}", eve["token"]) == \
        (403, BLOCKED)
    status, page = await api.call("GET", "/chat/Dialog.json", eve["token"])
    assert did not in [d["_id"] for d in page["items"]]
    status, counts = await api.call("GET", "/chat/Message/unread.json", eve["token"])
    assert did not in counts
    assert (await block(api, people["owner"], did, eve["id"], method="DELETE"))[0] == 200
    status, page = await api.call("GET", "/chat/Dialog.json", eve["token"])
    assert did in [d["_id"] for d in page["items"]]


async def test_who_may_ban_and_whom(api, people):
    dialog = await group_of(api, people, "admin", "bob", "carol")
    did = dialog["_id"]
    forbidden = 403
    # a regular occupant may not ban, list or unban
    assert (await block(api, people["carol"], did, people["bob"]["id"]))[0] == forbidden
    assert (await block(api, people["carol"], did, people["bob"]["id"], method="DELETE"))[0] == forbidden
    assert (await api.call("GET", f"/chat/Dialog/{did}/block.json", people["carol"]["token"]))[0] == forbidden
    # the owner and admins can't be banned, by anyone
    for who, whom in (("admin", "owner"), ("owner", "admin"), ("admin", "admin")):
        status, body = await block(api, people[who], did, people[whom]["id"])
        assert status == forbidden, body
    # an outsider and another application's user: the dialog is not found for them
    assert (await block(api, people["eve"], did, people["bob"]["id"]))[0] == 404
    assert (await block(api, people["xeno"], did, people["bob"]["id"]))[0] == 404
    assert (await api.call("GET", f"/chat/Dialog/{did}/block.json", people["xeno"]["token"]))[0] == 404
    # the user must be one of this application's
    status, body = await block(api, people["owner"], did, people["xeno"]["id"])
    assert status == 422 and "user_id" in body["errors"]
    for bad in ("x", 0, None):
        status, body = await block(api, people["owner"], did, bad)
        assert status == 422 and "user_id" in body["errors"]
    # a private dialog has no admins
    private = await create(api, people["bob"], type=PRIVATE, occupants_ids=str(people["carol"]["id"]))
    assert (await block(api, people["bob"], private["_id"], people["carol"]["id"]))[0] == forbidden
    # banning twice is one ban
    assert (await block(api, people["owner"], did, people["bob"]["id"]))[0] == 200
    assert (await block(api, people["owner"], did, people["bob"]["id"]))[0] == 200
    assert await blocked_ids(api, people["owner"], did) == [people["bob"]["id"]]


async def test_the_ban_list_answer_is_documented(api, people, checked):  # noqa: F811
    dialog = await group_of(api, people, "admin", "bob")
    assert (await block(api, people["owner"], dialog["_id"], people["bob"]["id"]))[0] == 200
    status, body = await checked("GET", f"/chat/Dialog/{dialog['_id']}/block.json",
                                 people["owner"]["token"])
    assert status == 200 and [u["id"] for u in body["items"]] == [people["bob"]["id"]]
    status, _ = await checked("GET", f"/chat/dialog/{dialog['_id']}/block", people["carol"]["token"])
    assert status == 404  # carol is not in this dialog
