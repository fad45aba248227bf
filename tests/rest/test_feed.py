"""GET /chat/events through the production app: every item type, catching up from the feed alone,
who sees what (members only, personal entries to their owner, nothing across applications),
cursors (start, paging, 422, 410) and tombstones in history (`include_deleted=1`)."""
from __future__ import annotations

import time

import pytest

from models.services.access import GROUP, PUBLIC
from tests.rest.test_dialogs import create, guest, put
from tests.rest.test_openapi_answers import checked  # noqa: F401 - the fixture

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def people(api):
    out = {name: await guest(api, name) for name in ("owner", "bob", "carol", "dave", "eve")}
    out["xeno"] = await guest(api, "xeno", 2, "other-key")
    return out


async def start(checked, who) -> str:
    status, body = await checked("GET", "/chat/events.json", who["token"])
    assert status == 200 and body["items"] == [] and body["more"] is False, body
    return body["next"]


async def catch_up(checked, who, since: str, limit: int = 100) -> tuple[list[dict], str]:
    """Every item after `since`, page by page."""
    items: list[dict] = []
    while True:
        status, body = await checked("GET", f"/chat/events.json?since={since}&limit={limit}",
                                     who["token"])
        assert status == 200, body
        items.extend(body["items"])
        since = body["next"]
        if not body["more"]:
            return items, since


async def send(api, who, dialog_id, text):
    status, body = await api.call("POST", "/chat/Message.json", who["token"],
                                  json={"chat_dialog_id": dialog_id, "message": text})
    assert status == 201, body
    return body


def types(items):
    return [i["type"] for i in items]


async def test_an_offline_member_catches_up_from_the_feed_alone(api, checked, people):
    owner, bob, carol, dave = people["owner"], people["bob"], people["carol"], people["dave"]
    dialog = await create(api, owner, type=GROUP, name="Team",
                          occupants_ids=f"{bob['id']},{carol['id']}")
    did = dialog["_id"]
    since = await start(checked, bob)  # bob goes offline here
    m1 = await send(api, owner, did, "first")
    m2 = await send(api, carol, did, "second")
    assert (await api.call("PUT", f"/chat/Message/{m1['_id']}/reactions.json", carol["token"],
                           json={"add": "👍"}))[0] == 200
    assert (await api.call("PUT", f"/chat/Message/{m1['_id']}.json", owner["token"],
                           json={"message": "first, edited"}))[0] == 200
    status, _ = await api.call("DELETE", f"/chat/Message/{m2['_id']}.json", owner["token"],
                               data="force=1", headers=FORM)
    assert status == 200
    assert (await put(api, owner, did, {"name": "Renamed"}))[0] == 200
    assert (await put(api, owner, did, {"push_all": {"pinned_messages_ids": [m1["_id"]]}}))[0] == 200
    assert (await put(api, owner, did, {"push_all": {"occupants_ids": [dave["id"]]}}))[0] == 200
    assert (await put(api, owner, did, {"push_all": {"admins_ids": [carol["id"]]}}))[0] == 200
    assert (await put(api, owner, did, {"pull_all": {"occupants_ids": [carol["id"]]}}))[0] == 200

    items, after = await catch_up(checked, bob, since, limit=3)  # in pages of 3
    assert types(items) == ["message_created", "message_created", "reactions_changed",
                            "message_updated", "message_deleted", "dialog_updated", "pins_changed",
                            "occupants_added", "admins_changed", "occupants_removed",
                            "admins_changed"]
    assert all(i["dialog_id"] == did for i in items)
    cursors = [int(i["cursor"].split("-")[0]) for i in items]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    created, second, reacted, edited, deleted, renamed, pinned, added, _, removed, _ = items
    assert created["message_id"] == m1["_id"] and created["data"]["message"]["message"] == "first"
    assert created["actor_id"] == owner["id"]
    assert second["data"]["message"]["sender_id"] == carol["id"]
    assert reacted["data"] == {"user_id": carol["id"], "add": "👍", "removed": []}
    assert edited["message_id"] == m1["_id"] and edited["data"]["message"] == "first, edited"
    assert deleted["message_id"] == m2["_id"] and deleted["actor_id"] == owner["id"]
    assert renamed["data"] == {"fields": ["name"], "values": {"name": "Renamed"}}
    assert pinned["data"] == {"pinned_messages_ids": [m1["_id"]]}
    assert added["data"] == {"user_ids": [dave["id"]]}
    assert removed["data"] == {"user_ids": [carol["id"]]}
    # nothing new: the same position, and nothing again
    assert (await catch_up(checked, bob, after))[0] == []

    # dave sees the dialog from his join on, not what came before
    dave_items, _ = await catch_up(checked, dave, since)
    assert "message_created" not in types(dave_items)
    assert types(dave_items)[0] == "occupants_added"
    # carol learns she was removed, then nothing more of the dialog
    carol_since = (await catch_up(checked, carol, since))[1]
    await send(api, owner, did, "after carol left")
    assert (await catch_up(checked, carol, carol_since))[0] == []
    assert types((await catch_up(checked, dave, since))[0])[-1] == "message_created"


async def test_no_one_sees_what_is_not_theirs(api, checked, people):
    owner, bob, eve, xeno = people["owner"], people["bob"], people["eve"], people["xeno"]
    eve_since, xeno_since = await start(checked, eve), await start(checked, xeno)
    dialog = await create(api, owner, type=GROUP, name="Team", occupants_ids=str(bob["id"]))
    message = await send(api, owner, dialog["_id"], "secret")
    status, _ = await api.call("PUT", f"/chat/Dialog/{dialog['_id']}/notifications.json",
                               bob["token"], json={"enabled": 0})
    assert status == 200
    status, _ = await api.call("PUT", f"/chat/Message/{message['_id']}.json", bob["token"],
                               json={"read": 1})
    assert status == 200
    assert (await catch_up(checked, eve, eve_since))[0] == []
    assert (await catch_up(checked, xeno, xeno_since))[0] == []
    # xeno's own cursor numbers are global: asking from 0 in app 2 still shows nothing of app 1
    assert (await catch_up(checked, xeno, f"0-{int(time.time() * 1000)}"))[0] == []


async def test_read_marks_reach_the_sender_and_the_readers_other_devices(api, checked, people):
    owner, bob, carol = people["owner"], people["bob"], people["carol"]
    dialog = await create(api, owner, type=GROUP, name="Team",
                          occupants_ids=f"{bob['id']},{carol['id']}")
    message = await send(api, owner, dialog["_id"], "read me")
    since = {k: await start(checked, people[k]) for k in ("owner", "bob", "carol")}
    assert (await api.call("PUT", f"/chat/Message/{message['_id']}.json", bob["token"],
                           json={"delivered": 1}))[0] == 200
    assert (await api.call("PUT", f"/chat/Message/{message['_id']}.json", bob["token"],
                           json={"read": 1}))[0] == 200
    for who in ("owner", "bob"):
        items, _ = await catch_up(checked, people[who], since[who])
        assert types(items) == ["messages_delivered", "messages_read"], who
        assert items[1]["data"]["message_ids"] == [message["_id"]]
        assert items[1]["data"]["user_id"] == bob["id"] and items[1]["actor_id"] == bob["id"]
    assert (await catch_up(checked, carol, since["carol"]))[0] == []  # not her message


async def test_own_dialog_settings_are_personal(api, checked, people):
    owner, bob = people["owner"], people["bob"]
    dialog = await create(api, owner, type=GROUP, name="Team", occupants_ids=str(bob["id"]))
    did = dialog["_id"]
    since = {k: await start(checked, people[k]) for k in ("owner", "bob")}
    assert (await api.call("PUT", f"/chat/Dialog/{did}/notifications.json", bob["token"],
                           json={"enabled": 0}))[0] == 200
    await send(api, owner, did, "one")
    assert (await api.call("DELETE", f"/chat/Dialog/clearHistory/{did}.json", bob["token"]))[0] == 200
    # archived and hidden without leaving (issue 15 §4) reach the member's other devices too
    assert (await api.call("PUT", f"/chat/Dialog/{did}/archive.json", bob["token"],
                           json={"archived": 1}))[0] == 200
    assert (await api.call("PUT", f"/chat/Dialog/{did}/hidden.json", bob["token"],
                           json={"hidden": 1}))[0] == 200
    # the owner "deletes for me": hidden for them only
    assert (await api.call("DELETE", f"/chat/Dialog/{did}.json", owner["token"]))[0] == 200
    bob_items, _ = await catch_up(checked, bob, since["bob"])
    assert [(i["type"], i["data"].get("changes")) for i in bob_items] == [
        ("settings_changed", {"notifications": False}), ("message_created", None),
        ("settings_changed", {"cleared_seq": 1}), ("settings_changed", {"archived": True}),
        ("settings_changed", {"hidden": True})]
    owner_items, _ = await catch_up(checked, owner, since["owner"])
    assert [(i["type"], i["data"].get("changes")) for i in owner_items] == [
        ("message_created", None), ("settings_changed", {"hidden": True})]


async def test_bans_and_a_deleted_dialog(api, checked, people):
    owner, bob, carol = people["owner"], people["bob"], people["carol"]
    dialog = await create(api, owner, type=GROUP, name="Team",
                          occupants_ids=f"{bob['id']},{carol['id']}")
    did = dialog["_id"]
    since = {k: await start(checked, people[k]) for k in ("bob", "carol")}
    status, _ = await api.call("POST", f"/chat/Dialog/{did}/block.json", owner["token"],
                               json={"user_id": bob["id"]})
    assert status == 200
    status, _ = await api.call("DELETE", f"/chat/Dialog/{did}/block.json", owner["token"],
                               json={"user_id": bob["id"]})
    assert status == 200
    status, _ = await api.call("DELETE", f"/chat/Dialog/{did}.json", owner["token"],
                               data="force=1", headers=FORM)
    assert status == 200
    bob_items, _ = await catch_up(checked, bob, since["bob"])
    assert [(i["type"], i["data"]) for i in bob_items] == [
        ("banned", {"user_id": bob["id"]}), ("unbanned", {"user_id": bob["id"]})]
    carol_items, _ = await catch_up(checked, carol, since["carol"])
    assert types(carol_items) == ["occupants_removed", "dialog_deleted"]
    assert carol_items[0]["data"] == {"user_ids": [bob["id"]]}


async def test_public_dialogs_are_read_by_their_subscribers(api, checked, people):
    owner, bob, carol = people["owner"], people["bob"], people["carol"]
    dialog = await create(api, owner, type=PUBLIC, name="Town square")
    did = dialog["_id"]
    since = {k: await start(checked, people[k]) for k in ("bob", "carol")}
    await send(api, owner, did, "before bob")
    assert (await api.call("POST", f"/chat/Dialog/{did}/subscribe.json", bob["token"]))[0] == 200
    await send(api, owner, did, "for subscribers")
    bob_items, bob_since = await catch_up(checked, bob, since["bob"])
    # joining changed the subscriber count too
    assert types(bob_items) == ["occupants_added", "dialog_updated", "message_created"]
    assert bob_items[1]["data"]["fields"] == ["occupants_count"]
    assert bob_items[2]["data"]["message"]["message"] == "for subscribers"
    assert (await catch_up(checked, carol, since["carol"]))[0] == []
    assert (await api.call("DELETE", f"/chat/Dialog/{did}/subscribe.json", bob["token"]))[0] == 200
    await send(api, owner, did, "after bob left")
    assert types((await catch_up(checked, bob, bob_since))[0]) == ["occupants_removed"]


async def test_cursors(api, checked, people):
    bob = people["bob"]
    for bad in ("abc", "12", "-1-2", "1-2-3", "99999999-1"):
        status, body = await checked("GET", f"/chat/events.json?since={bad}", bob["token"])
        assert status == 422 and list(body["errors"]) == ["since"], (bad, body)
    status, body = await checked("GET", "/chat/events.json?limit=0", bob["token"])
    assert status == 422 and list(body["errors"]) == ["limit"]
    status, body = await checked("GET", "/chat/events.json?limit=lots", bob["token"])
    assert status == 422 and list(body["errors"]) == ["limit"]
    old = int((time.time() - 31 * 86400) * 1000)
    status, body = await checked("GET", f"/chat/events.json?since=0-{old}", bob["token"])
    assert status == 410 and list(body["errors"]) == ["since"]
    recent = int((time.time() - 29 * 86400) * 1000)
    status, body = await checked("GET", f"/chat/events.json?since=0-{recent}", bob["token"])
    assert status == 200
    status, _ = await api.call("GET", "/chat/events.json")
    assert status == 401


async def test_tombstones_in_history_only_when_asked(api, checked, people):
    owner, bob = people["owner"], people["bob"]
    dialog = await create(api, owner, type=GROUP, name="Team", occupants_ids=str(bob["id"]))
    did = dialog["_id"]
    sent = [await send(api, owner, did, f"m{i}") for i in range(3)]
    status, _ = await api.call("DELETE", f"/chat/Message/{sent[1]['_id']}.json", owner["token"],
                               data="force=1", headers=FORM)
    assert status == 200
    status, plain = await checked("GET", f"/chat/Message.json?chat_dialog_id={did}", bob["token"])
    assert [m["_id"] for m in plain["items"]] == [sent[0]["_id"], sent[2]["_id"]]
    status, body = await checked(
        "GET", f"/chat/Message.json?chat_dialog_id={did}&include_deleted=1", bob["token"])
    assert status == 200
    assert [m["_id"] for m in body["items"]] == [m["_id"] for m in sent]
    tomb = body["items"][1]
    assert tomb["deleted"] is True and tomb["deleted_by"] == owner["id"]
    assert tomb["chat_dialog_id"] == did and tomb["sender_id"] == owner["id"]
    assert "message" not in tomb and "attachments" not in tomb
    status, body = await checked(
        "GET", f"/chat/Message.json?chat_dialog_id={did}&include_deleted=1&sort_desc=date_sent",
        bob["token"])
    assert [m["_id"] for m in body["items"]] == [m["_id"] for m in reversed(sent)]
    # paged: each tombstone comes once, in the page that holds its place
    more = [await send(api, owner, did, f"n{i}") for i in range(3)]
    pages = []
    for skip in (0, 2, 4):
        status, body = await checked(
            "GET", f"/chat/Message.json?chat_dialog_id={did}&include_deleted=1&limit=2&skip={skip}",
            bob["token"])
        pages.append([m["_id"] for m in body["items"]])
    assert pages == [[sent[0]["_id"], sent[1]["_id"], sent[2]["_id"]],
                     [more[0]["_id"], more[1]["_id"]], [more[2]["_id"]]]
    # an outsider gets no tombstones either
    status, _ = await api.call("GET", f"/chat/Message.json?chat_dialog_id={did}&include_deleted=1",
                               people["eve"]["token"])
    assert status in (403, 404)
    status, body = await api.call(
        "GET", f"/chat/Message.json?chat_dialog_id={did}&include_deleted=perhaps", bob["token"])
    assert status == 422 and list(body["errors"]) == ["include_deleted"]


async def test_the_block_list_reaches_its_owners_other_devices_only(api, checked, people):
    owner, bob = people["owner"], people["bob"]
    since = {k: await start(checked, people[k]) for k in ("owner", "bob")}
    status, _ = await api.call("POST", "/blocklist.json", owner["token"],
                               json={"user_ids": [bob["id"]]})
    assert status == 200
    status, _ = await api.call("DELETE", f"/blocklist/{bob['id']}.json", owner["token"])
    assert status in (200, 204)
    items, _ = await catch_up(checked, owner, since["owner"])
    assert [(i["type"], i["data"]) for i in items] == [
        ("blocks_changed", {"blocked": [bob["id"]], "unblocked": []}),
        ("blocks_changed", {"blocked": [], "unblocked": [bob["id"]]})]
    assert items[0]["dialog_id"] is None and items[0]["actor_id"] == owner["id"]
    assert (await catch_up(checked, bob, since["bob"]))[0] == []  # the blocked are not told
