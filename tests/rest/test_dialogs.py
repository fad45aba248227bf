"""/chat/Dialog through the production app: create, list (filters, paging, sort, unread), update
with the roles table, delete, admins, notifications, public subscriptions, clear history."""
from __future__ import annotations

from typing import Any

import pytest

from models.dialogs import Dialog, DialogType, DialogView
from models.messages import Message
from models.services.access import BROADCAST, GROUP, PRIVATE, PUBLIC
from models.storage.dialogs import DialogStore
from models.storage.ids import new_id
from models.storage.members import MemberStore
from models.storage.messages import MessageStore
from tests.conftest import AUTH_KEY

NOT_FOUND = {"errors": {"base": ["Dialog not found"]}}


async def guest(api, name: str, app_id: int = 1, auth_key: str = AUTH_KEY) -> dict[str, Any]:
    """A user with a session (a guest: real user, no password hashing, so tests stay fast)."""
    status, body = await api.call("POST", "/session.json", json={
        "application_id": app_id, "auth_key": auth_key, "user": {"guest": "1", "full_name": name}})
    assert status == 201, body
    session = body["session"]
    return {"id": session["user_id"], "token": session["token"], "user": session["user"]}


@pytest.fixture
async def people(api) -> dict[str, Any]:
    """owner, bob, carol, dave, eve (outsider) in app 1; xeno in app 2."""
    out = {name: await guest(api, name) for name in ("owner", "bob", "carol", "dave", "eve")}
    out["xeno"] = await guest(api, "xeno", 2, "other-key")
    return out


async def create(api, who, **body) -> dict[str, Any]:
    status, dialog = await api.call("POST", "/chat/Dialog.json", who["token"], json=body)
    assert status in (200, 201), dialog  # 200: an existing private dialog answered again
    return dialog


async def group(api, people, *members: str, **extra) -> dict[str, Any]:
    ids = ", ".join(str(people[m]["id"]) for m in members)
    return await create(api, people["owner"], type=GROUP, name="Team", occupants_ids=ids, **extra)


async def put(api, who, dialog_id, body, path=""):
    return await api.call("PUT", f"/chat/Dialog/{dialog_id}{path}.json", who["token"], json=body)


async def add_message(services, dialog_id: str, sender: int, text: str, date_sent: int,
                      **extra) -> str:
    """Inserts a message the way the message service does: take the dialog seq, then insert."""
    db = services.database.db
    message_id = new_id()
    seq = await DialogStore(db).next_seq(1, dialog_id, {
        "last_message": text, "last_message_id": message_id, "last_message_user_id": sender,
        "last_message_date_sent": date_sent})
    await MessageStore(db).insert(Message.from_doc({
        "_id": message_id, "app_id": 1, "chat_dialog_id": dialog_id, "seq": seq,
        "sender_id": sender, "recipient_id": 0, "message": text, "date_sent": date_sent,
        "read_ids": [sender], "delivered_ids": [sender], "deleted_for": [], **extra}))
    return message_id


# -- create ----------------------------------------------------------------------------------------
async def test_create_group_dialog_wire_format(api, people, services):
    ids = f"{people['bob']['id']}, {people['carol']['id']}"
    dialog = await create(api, people["owner"], type=2, name="Night party", occupants_ids=ids,
                          admins_ids=str(people["bob"]["id"]), description="desc", photo="p.png",
                          extensions={"location": "Sun bar", "n": 5}, permissions={"allow_preview": True})
    assert len(dialog["_id"]) == 24
    assert dialog["type"] == 2 and dialog["name"] == "Night party" and dialog["user_id"] == people["owner"]["id"]
    assert dialog["occupants_ids"] == [people["owner"]["id"], people["bob"]["id"], people["carol"]["id"]]
    assert dialog["admins_ids"] == [people["bob"]["id"]]
    assert dialog["xmpp_room_jid"] == f"1_{dialog['_id']}@muc.localhost"
    assert dialog["extensions"] == {"location": "Sun bar", "n": "5"}
    assert dialog["permissions"] == {"allow_preview": True}
    assert dialog["pinned_messages_ids"] == [] and dialog["unread_messages_count"] == 0
    assert dialog["last_message"] is None and dialog["last_message_date_sent"] is None
    assert dialog["created_at"].endswith("Z") and dialog["description"] == "desc" and dialog["photo"] == "p.png"
    members = await MemberStore(services.database.db).for_dialog(dialog["_id"])
    assert sorted(m["user_id"] for m in members) == sorted(dialog["occupants_ids"])
    assert services.publisher is services.outbox
    events = await services.outbox.find({"kind": "dialog_created"})
    assert events[-1]["dialog_id"] == dialog["_id"]
    assert sorted(events[-1]["recipient_ids"]) == sorted(dialog["occupants_ids"])


async def test_create_accepts_array_occupants_and_other_types(api, people):
    o = people["owner"]
    dialog = await create(api, o, type="2", name="Arr", occupants_ids=[people["bob"]["id"], str(people["dave"]["id"])])
    assert dialog["occupants_ids"] == [o["id"], people["bob"]["id"], people["dave"]["id"]]
    broadcast = await create(api, o, type=BROADCAST, name="News", occupants_ids=[people["bob"]["id"]])
    assert broadcast["type"] == 1 and broadcast["xmpp_room_jid"].startswith("1_")
    public = await create(api, o, type=PUBLIC, name="Lobby")
    assert public["type"] == 4 and public["occupants_ids"] == [] and public["occupants_count"] == 1


async def test_private_dialog_is_deduplicated_and_unhidden(api, people):
    o, b = people["owner"], people["bob"]
    first = await create(api, o, type=PRIVATE, occupants_ids=str(b["id"]), name="ignored",
                         extensions={"friend_id": str(b["id"])})
    assert first["type"] == 3 and first["xmpp_room_jid"] is None and first["name"] is None
    assert sorted(first["occupants_ids"]) == sorted([o["id"], b["id"]])
    assert first["extensions"] == {"friend_id": str(b["id"])}
    # the other side creating it gets the same dialog
    again = await create(api, b, type=3, occupants_ids=[o["id"]])
    assert again["_id"] == first["_id"]
    # hidden for owner by a delete, then "created" again: same dialog, visible again
    status, body = await api.call("DELETE", f"/chat/Dialog/{first['_id']}.json", o["token"])
    assert status == 200 and body["SuccessfullyDeleted"]["ids"] == [first["_id"]]
    status, body = await api.call("GET", "/chat/Dialog.json", o["token"])
    assert body["items"] == []
    status, body = await api.call("GET", "/chat/Dialog.json", b["token"])
    assert [d["_id"] for d in body["items"]] == [first["_id"]]
    third = await create(api, o, type=3, occupants_ids=f"{o['id']}, {b['id']}")
    assert third["_id"] == first["_id"]
    status, body = await api.call("GET", "/chat/Dialog.json", o["token"])
    assert [d["_id"] for d in body["items"]] == [first["_id"]]


CREATE_ERRORS = [
    ({"name": "x", "occupants_ids": "5"}, "type"),
    ({"type": 9, "name": "x", "occupants_ids": "5"}, "type"),
    ({"type": "group", "name": "x", "occupants_ids": "5"}, "type"),
    ({"type": 2, "occupants_ids": "OTHER"}, "name"),
    ({"type": 2, "name": "   ", "occupants_ids": "OTHER"}, "name"),
    ({"type": 2, "name": {"a": 1}, "occupants_ids": "OTHER"}, "name"),
    ({"type": 2, "name": "x" * 256, "occupants_ids": "OTHER"}, "name"),
    ({"type": 2, "name": "x", "occupants_ids": "a,b"}, "occupants_ids"),
    ({"type": 2, "name": "x", "occupants_ids": [[1]]}, "occupants_ids"),
    ({"type": 2, "name": "x", "occupants_ids": "-4"}, "occupants_ids"),
    ({"type": 2, "name": "x", "occupants_ids": "999999"}, "occupants_ids"),
    ({"type": 2, "name": "x", "occupants_ids": "XENO"}, "occupants_ids"),
    ({"type": 3, "occupants_ids": ""}, "occupants_ids"),
    ({"type": 3, "occupants_ids": "SELF"}, "occupants_ids"),
    ({"type": 3, "occupants_ids": "OTHER, THIRD"}, "occupants_ids"),
    ({"type": 3, "occupants_ids": "XENO"}, "occupants_ids"),
    ({"type": 2, "name": "x", "occupants_ids": "OTHER", "admins_ids": "THIRD"}, "admins_ids"),
    ({"type": 2, "name": "x", "occupants_ids": "OTHER", "extensions": "nope"}, "extensions"),
    ({"type": 2, "name": "x", "occupants_ids": "OTHER", "extensions": {"a": {"b": 1}}}, "extensions"),
    ({"type": 2, "name": "x", "occupants_ids": "OTHER", "extensions": {"$bad": "1"}}, "extensions"),
    ({"type": 2, "name": "x", "occupants_ids": "OTHER", "extensions": {f"k{i}": "v" for i in range(11)}}, "extensions"),
    ({"type": 2, "name": "x", "occupants_ids": "OTHER", "permissions": "yes"}, "permissions"),
    ({"type": 2, "name": "x", "occupants_ids": "OTHER", "permissions": {"allow_preview": "maybe"}}, "permissions"),
]


async def test_create_validation(api, people, services):
    me, other, third, xeno = people["owner"], people["bob"], people["carol"], people["xeno"]
    subs = {"OTHER": str(other["id"]), "THIRD": str(third["id"]), "XENO": str(xeno["id"]), "SELF": str(me["id"])}

    def fill(value):
        if isinstance(value, str):
            for key, uid in subs.items():
                value = value.replace(key, uid)
        return value

    for body, field in CREATE_ERRORS:
        body = {k: fill(v) for k, v in body.items()}
        status, resp = await api.call("POST", "/chat/Dialog.json", me["token"], json=body)
        assert status == 422, (body, resp)
        assert list(resp["errors"]) == [field] and isinstance(resp["errors"][field][0], str), (body, resp)
    assert await DialogStore(services.database.db).count(1, {}) == 0


async def test_create_limits_and_malformed_bodies(api, people, services):
    me = people["owner"]
    status, body = await api.call("POST", "/chat/Dialog.json", me["token"], data=b"{oops",
                                  headers={"Content-Type": "application/json"})
    assert status == 400 and body == {"errors": {"base": ["Malformed JSON body"]}}
    status, body = await api.call("POST", "/chat/Dialog.json", me["token"], data=b"[1]",
                                  headers={"Content-Type": "application/json"})
    assert status == 400 and "errors" in body
    services.settings.limits.max_occupants = 2
    ids = f"{people['bob']['id']},{people['carol']['id']}"
    status, body = await api.call("POST", "/chat/Dialog.json", me["token"],
                                  json={"type": 2, "name": "big", "occupants_ids": ids})
    assert status == 422 and "occupants_ids" in body["errors"]
    many = ",".join(str(i) for i in range(1, 200))
    status, body = await api.call("POST", "/chat/Dialog.json", me["token"],
                                  json={"type": 2, "name": "big", "occupants_ids": many})
    assert status == 422 and "too many" in body["errors"]["occupants_ids"][0]
    services.settings.limits.max_occupants = 1000
    admins = [people[n]["id"] for n in ("bob", "carol", "dave", "eve")]
    extra = [(await guest(api, f"adm{i}"))["id"] for i in range(2)]
    status, body = await api.call("POST", "/chat/Dialog.json", me["token"], json={
        "type": 2, "name": "admins", "occupants_ids": admins + extra, "admins_ids": admins + extra})
    assert status == 422 and "maximum is 5" in body["errors"]["admins_ids"][0]


async def test_sessions_required(api, people):
    status, body = await api.call("GET", "/chat/Dialog.json")
    assert status == 401 and body == {"errors": {"base": ["Required session does not exist"]}}
    app_token = await api.app_token()
    status, body = await api.call("GET", "/chat/Dialog.json", app_token)
    assert status == 403
    status, body = await api.call("POST", "/chat/Dialog.json", app_token, json={"type": 4, "name": "x"})
    assert status == 403


# -- list ------------------------------------------------------------------------------------------
async def test_list_filters_operators_and_encodings(api, people, clock, services):
    o, b = people["owner"], people["bob"]
    g1 = await group(api, people, "bob", extensions={"location": "Sun bar"})
    clock.advance(10)
    g2 = await create(api, o, type=GROUP, name="Second team", occupants_ids=[b["id"], people["carol"]["id"]])
    clock.advance(10)
    priv = await create(api, o, type=PRIVATE, occupants_ids=[b["id"]])
    clock.advance(10)
    pub = await create(api, o, type=PUBLIC, name="Lobby", extensions={"location": "Moon bar"})
    await add_message(services, g1["_id"], b["id"], "hello", 1_800_000_100)
    await add_message(services, g2["_id"], b["id"], "later", 1_800_000_200)
    token = o["token"]

    async def ids(query: str) -> list[str]:
        status, body = await api.call("GET", f"/chat/Dialog.json?{query}", token)
        assert status == 200, body
        assert body["total_entries"] == len(body["items"])
        return sorted(d["_id"] for d in body["items"])

    everything = sorted([g1["_id"], g2["_id"], priv["_id"], pub["_id"]])
    assert await ids("") == everything
    assert await ids("type=2") == sorted([g1["_id"], g2["_id"]])
    assert await ids("type[in]=2%2C3") == sorted([g1["_id"], g2["_id"], priv["_id"]])
    assert await ids("type[in][]=3&type[in][]=4") == sorted([priv["_id"], pub["_id"]])
    assert await ids("type[nin]=2,3") == [pub["_id"]]
    assert await ids("type[ne]=2") == sorted([priv["_id"], pub["_id"]])
    assert await ids("type[lt]=3") == sorted([g1["_id"], g2["_id"]])
    assert await ids("type[lte]=3") == sorted([g1["_id"], g2["_id"], priv["_id"]])
    assert await ids("type[gt]=3") == [pub["_id"]]
    assert await ids("type[gte]=3") == sorted([priv["_id"], pub["_id"]])
    assert await ids("name[ctn]=team") == sorted([g1["_id"], g2["_id"]])
    assert await ids("name=Lobby") == [pub["_id"]]
    assert await ids(f"_id={g1['_id']}") == [g1["_id"]]
    assert await ids(f"_id[in]={g1['_id']},{pub['_id']}") == sorted([g1["_id"], pub["_id"]])
    assert await ids(f"occupants_ids[all]={o['id']},{people['carol']['id']}") == [g2["_id"]]
    assert await ids(f"occupants_ids={people['carol']['id']}") == [g2["_id"]]
    assert await ids(f"user_id={o['id']}") == everything
    assert await ids("extensions[location]=Sun%20bar") == [g1["_id"]]
    assert await ids("extensions%5Blocation%5D=Sun%20bar") == [g1["_id"]]
    assert await ids("extensions[location][ctn]=bar") == sorted([g1["_id"], pub["_id"]])
    assert await ids("last_message_date_sent[gt]=1800000150") == [g2["_id"]]
    assert await ids("last_message_date_sent[lte]=1800000150") == [g1["_id"]]
    created = int(clock.now().timestamp())
    assert await ids(f"created_at[gte]={created}") == [pub["_id"]]
    assert await ids(f"created_at[lt]={created - 25}") == [g1["_id"]]
    assert await ids("updated_at[gt]=2025-12-31T00:00:00Z") == everything
    # the caller's dialogs only: bob is not in the public one
    status, body = await api.call("GET", "/chat/Dialog.json", b["token"])
    assert sorted(d["_id"] for d in body["items"]) == sorted([g1["_id"], g2["_id"], priv["_id"]])
    status, body = await api.call("GET", "/chat/Dialog.json", people["eve"]["token"])
    assert body == {"total_entries": 0, "skip": 0, "limit": 100, "items": []}


LIST_ERRORS = [
    ("type=x", "type"),
    ("type[in]=2,x", "type"),
    ("type[bogus]=2", "type"),
    ("_id=123", "_id"),
    ("_id[ctn]=abc", "_id"),
    ("created_at[gt]=yesterday", "created_at"),
    ("limit=abc", "limit"),
    ("skip=-1", "skip"),
    ("sort_desc=name", "sort_desc"),
    ("count=maybe", "count"),
    ("extensions=flat", "extensions"),
    ("extensions[a.b]=1", "extensions"),
]


async def test_list_bad_filters(api, people):
    for query, field in LIST_ERRORS:
        status, body = await api.call("GET", f"/chat/Dialog.json?{query}", people["owner"]["token"])
        assert status == 422, (query, body)
        assert list(body["errors"]) == [field], (query, body)


async def test_list_paging_count_and_sort(api, people, clock, services):
    o = people["owner"]
    made = []
    for i in range(5):
        made.append(await create(api, o, type=GROUP, name=f"g{i}", occupants_ids=[people["bob"]["id"]]))
        clock.advance(5)
    # messages make g1 the newest and g3 the second newest; the others have none
    await add_message(services, made[3]["_id"], o["id"], "x", 1_900_000_000)
    await add_message(services, made[1]["_id"], o["id"], "y", 1_900_000_500)
    status, body = await api.call("GET", "/chat/Dialog.json", o["token"])
    order = [d["name"] for d in body["items"]]
    # default: last_message_date_sent desc, then updated_at desc
    assert order == ["g1", "g3", "g4", "g2", "g0"]
    status, body = await api.call("GET", "/chat/Dialog.json?limit=2&skip=1", o["token"])
    assert body["total_entries"] == 5 and body["limit"] == 2 and body["skip"] == 1
    assert [d["name"] for d in body["items"]] == ["g3", "g4"]
    status, body = await api.call("GET", "/chat/Dialog.json?sort_asc=created_at", o["token"])
    assert [d["name"] for d in body["items"]] == ["g0", "g1", "g2", "g3", "g4"]
    status, body = await api.call("GET", "/chat/Dialog.json?sort_desc=created_at&limit=1", o["token"])
    assert [d["name"] for d in body["items"]] == ["g4"]
    status, body = await api.call("GET", "/chat/Dialog.json?limit=500", o["token"])
    assert body["limit"] == 100
    status, body = await api.call("GET", "/chat/Dialog.json?count=1", o["token"])
    assert status == 200 and body == {"items_count": 5}
    status, body = await api.call("GET", "/chat/Dialog.json?count=1&name[in]=g1,g2", o["token"])
    assert body == {"items_count": 2}
    status, body = await api.call("GET", "/chat/Dialog.json?limit=0", o["token"])
    assert body["items"] == [] and body["total_entries"] == 5


async def test_unread_counts_and_last_message_per_user(api, people, services):
    o, b, c = people["owner"], people["bob"], people["carol"]
    g = await group(api, people, "bob", "carol")
    m1 = await add_message(services, g["_id"], o["id"], "one", 1_800_000_001)
    await add_message(services, g["_id"], o["id"], "two", 1_800_000_002, read_ids=[o["id"], c["id"]])
    m3 = await add_message(services, g["_id"], b["id"], "three", 1_800_000_003,
                           delivered_ids=[b["id"], o["id"]])

    async def mine(who) -> dict[str, Any]:
        status, body = await api.call("GET", "/chat/Dialog.json", who["token"])
        assert status == 200
        return body["items"][0]

    seen_by_bob = await mine(b)
    assert seen_by_bob["unread_messages_count"] == 2
    assert seen_by_bob["last_message"] == "three" and seen_by_bob["last_message_id"] == m3
    assert seen_by_bob["last_message_user_id"] == b["id"] and seen_by_bob["last_message_date_sent"] == 1_800_000_003
    assert seen_by_bob["last_message_status"] == "delivered"
    assert (await mine(c))["unread_messages_count"] == 2  # read "two" already
    seen_by_owner = await mine(o)
    assert seen_by_owner["unread_messages_count"] == 1 and seen_by_owner["last_message_status"] is None
    # reading moves the position: bob has read up to seq 1
    await MemberStore(services.database.db).advance_read(g["_id"], b["id"], 1)
    assert (await mine(b))["unread_messages_count"] == 1
    # "three" deleted for carol only: her last message is "two" (sent by someone else)
    await MessageStore(services.database.db).update(1, m3, {"$push": {"deleted_for": c["id"]}})
    seen_by_carol = await mine(c)
    assert seen_by_carol["last_message"] == "two" and seen_by_carol["unread_messages_count"] == 1
    assert seen_by_carol["last_message_id"] != m1
    # clearing history: nothing unread and no last message for the caller only
    status, body = await api.call("DELETE", f"/chat/Dialog/clearHistory/{g['_id']}.json", c["token"])
    assert status == 200 and body == {}
    seen_by_carol = await mine(c)
    assert seen_by_carol["unread_messages_count"] == 0 and seen_by_carol["last_message"] is None
    assert (await mine(b))["last_message"] == "three"
    # a new message after the clear is counted and shown
    await add_message(services, g["_id"], o["id"], "four", 1_800_000_004)
    seen_by_carol = await mine(c)
    assert seen_by_carol["unread_messages_count"] == 1 and seen_by_carol["last_message"] == "four"


# -- update and roles --------------------------------------------------------------------------------
async def test_update_profile_roles_in_group(api, people, services):
    g = await group(api, people, "bob", "carol", admins_ids=str(people["bob"]["id"]))
    # a regular occupant may rename a group chat and change photo/description/extensions
    status, body = await put(api, people["carol"], g["_id"], {
        "name": "Renamed", "photo": "new.png", "description": "d", "extensions": {"a": "1"}})
    assert status == 200 and body["name"] == "Renamed" and body["photo"] == "new.png"
    assert body["extensions"] == {"a": "1"}
    # merge and removal of extension keys; null resets
    status, body = await put(api, people["carol"], g["_id"], {"extensions": {"b": 2, "a": None}})
    assert body["extensions"] == {"b": "2"}
    status, body = await put(api, people["owner"], g["_id"], {"extensions": None})
    assert body["extensions"] is None
    # permissions are admin-only
    status, body = await put(api, people["carol"], g["_id"], {"permissions": {"allow_preview": True}})
    assert status == 403
    status, body = await put(api, people["bob"], g["_id"], {"permissions": {"allow_preview": 1}})
    assert status == 200 and body["permissions"] == {"allow_preview": True}
    # outsiders and other apps see nothing
    status, body = await put(api, people["eve"], g["_id"], {"name": "x"})
    assert status == 404 and body == NOT_FOUND
    status, body = await put(api, people["xeno"], g["_id"], {"name": "x"})
    assert status == 404 and body == NOT_FOUND
    status, body = await put(api, people["owner"], g["_id"], {"name": ""})
    assert status == 422 and list(body["errors"]) == ["name"]
    status, body = await put(api, people["owner"], "not-an-id", {"name": "x"})
    assert status == 404
    status, body = await api.call("PUT", f"/chat/Dialog/{g['_id']}.json", people["owner"]["token"],
                                  data=b"{bad", headers={"Content-Type": "application/json"})
    assert status == 400
    stored = await DialogStore(services.database.db).get(1, g["_id"])
    assert stored.name == "Renamed" and stored.permissions == {"allow_preview": True}


async def test_update_occupants_roles_in_group(api, people, services):
    o, b, c, d, e = (people[n] for n in ("owner", "bob", "carol", "dave", "eve"))
    g = await group(api, people, "bob", "carol", admins_ids=str(b["id"]))
    members = MemberStore(services.database.db)
    # regular occupant adds a user (strings and numbers both accepted)
    status, body = await put(api, c, g["_id"], {"push_all": {"occupants_ids": [str(d["id"])]}})
    assert status == 200 and d["id"] in body["occupants_ids"]
    assert await members.get(g["_id"], d["id"]) is not None
    # regular occupant cannot remove others, but may remove themselves
    status, body = await put(api, c, g["_id"], {"pull_all": {"occupants_ids": [d["id"]]}})
    assert status == 403
    # admin removes a user; the membership goes and an event names the removed user
    status, body = await put(api, b, g["_id"], {"pull_all": {"occupants_ids": [d["id"]]}})
    assert status == 200 and d["id"] not in body["occupants_ids"]
    assert await members.get(g["_id"], d["id"]) is None
    event = (await services.outbox.find({"kind": "dialog_updated", "dialog_id": g["_id"]}))[-1]
    assert event["payload"]["removed_ids"] == [d["id"]] and d["id"] in event["recipient_ids"]
    # admins can't remove other admins or the owner
    status, _ = await put(api, b, g["_id"], {"pull_all": {"occupants_ids": [o["id"]]}})
    assert status == 403
    status, _ = await put(api, o, g["_id"], {"pull_all": {"occupants_ids": [o["id"]]}})
    assert status == 403
    # unknown / other-app users can't be added
    status, body = await put(api, c, g["_id"], {"push_all": {"occupants_ids": [people["xeno"]["id"]]}})
    assert status == 422 and list(body["errors"]) == ["occupants_ids"]
    status, body = await put(api, c, g["_id"], {"push_all": {"occupants_ids": "abc"}})
    assert status == 422
    status, body = await put(api, c, g["_id"], {"push_all": "nope"})
    assert status == 422 and list(body["errors"]) == ["push_all"]
    status, body = await put(api, c, g["_id"], {"push_all": {"occupants_ids": list(range(1, 150))}})
    assert status == 422 and "too many" in body["errors"]["occupants_ids"][0]
    # the owner removes an admin occupant: the admin role goes too
    status, body = await put(api, o, g["_id"], {"pull_all": {"occupants_ids": [b["id"]]}})
    assert status == 200 and b["id"] not in body["occupants_ids"] and body["admins_ids"] == []
    # carol leaves by removing herself
    status, body = await put(api, c, g["_id"], {"pull_all": {"occupants_ids": [c["id"]]}})
    assert status == 200 and body["occupants_ids"] == [o["id"]]
    status, body = await put(api, c, g["_id"], {"name": "back?"})
    assert status == 404
    # e was never there
    status, _ = await put(api, e, g["_id"], {"push_all": {"occupants_ids": [e["id"]]}})
    assert status == 404


async def test_private_dialogs_cannot_change_occupants_or_profile(api, people):
    o, b = people["owner"], people["bob"]
    p = await create(api, o, type=PRIVATE, occupants_ids=[b["id"]])
    status, body = await put(api, o, p["_id"], {"push_all": {"occupants_ids": [people["carol"]["id"]]}})
    assert status == 422 and list(body["errors"]) == ["occupants_ids"]
    status, _ = await put(api, b, p["_id"], {"name": "x"})
    assert status == 403
    status, _ = await put(api, o, p["_id"], {"push_all": {"admins_ids": [b["id"]]}})
    assert status == 403
    status, body = await put(api, b, p["_id"], {"extensions": {"friend": "yes"}})
    assert status == 200 and body["extensions"] == {"friend": "yes"}
    status, _ = await put(api, people["carol"], p["_id"], {"extensions": {"x": "1"}})
    assert status == 404


async def test_broadcast_and_public_roles(api, people):
    o, b, c = people["owner"], people["bob"], people["carol"]
    bc = await create(api, o, type=BROADCAST, name="News", occupants_ids=[b["id"], c["id"]],
                      admins_ids=[b["id"]])
    status, _ = await put(api, c, bc["_id"], {"name": "hijack"})
    assert status == 403
    status, _ = await put(api, c, bc["_id"], {"push_all": {"occupants_ids": [people["dave"]["id"]]}})
    assert status == 403
    status, body = await put(api, b, bc["_id"], {"name": "Daily news",
                                                 "push_all": {"occupants_ids": [people["dave"]["id"]]}})
    assert status == 200 and body["name"] == "Daily news" and people["dave"]["id"] in body["occupants_ids"]

    pub = await create(api, o, type=PUBLIC, name="Lobby")
    status, _ = await api.call("POST", f"/chat/Dialog/{pub['_id']}/subscribe.json", b["token"])
    assert status == 200
    status, _ = await put(api, b, pub["_id"], {"name": "mine"})
    assert status == 403
    status, body = await put(api, c, pub["_id"], {"name": "mine"})
    assert status == 403 and body == {"errors": {"base": ["You are not subscribed to this dialog"]}}
    status, body = await put(api, o, pub["_id"], {"push_all": {"occupants_ids": [c["id"]]}})
    assert status == 422 and list(body["errors"]) == ["occupants_ids"]
    status, body = await put(api, o, pub["_id"], {"push_all": {"admins_ids": [c["id"]]}})
    assert status == 422 and list(body["errors"]) == ["admins_ids"]  # not a subscriber
    status, body = await put(api, o, pub["_id"], {"push_all": {"admins_ids": [b["id"]]}})
    assert status == 200 and body["admins_ids"] == [b["id"]] and body["occupants_ids"] == []
    status, body = await put(api, b, pub["_id"], {"description": "by admin"})
    assert status == 200 and body["description"] == "by admin"


async def test_pinned_messages(api, people, services):
    o, b, c = people["owner"], people["bob"], people["carol"]
    g = await group(api, people, "bob", "carol", admins_ids=[b["id"]])
    other = await group(api, people, "bob")
    mid = await add_message(services, g["_id"], c["id"], "pin me", 1_800_000_000)
    foreign = await add_message(services, other["_id"], o["id"], "elsewhere", 1_800_000_000)
    status, _ = await put(api, c, g["_id"], {"push_all": {"pinned_messages_ids": [mid]}})
    assert status == 403
    status, body = await put(api, b, g["_id"], {"push_all": {"pinned_messages_ids": [mid]}})
    assert status == 200 and body["pinned_messages_ids"] == [mid]
    status, body = await put(api, b, g["_id"], {"push_all": {"pinned_messages_ids": [foreign]}})
    assert status == 422 and list(body["errors"]) == ["pinned_messages_ids"]
    status, body = await put(api, b, g["_id"], {"push_all": {"pinned_messages_ids": ["xyz"]}})
    assert status == 422
    status, body = await put(api, o, g["_id"], {"pull_all": {"pinned_messages_ids": [mid]}})
    assert status == 200 and body["pinned_messages_ids"] == []


# -- admins ----------------------------------------------------------------------------------------
async def test_admins_endpoint(api, people, services):
    o, b, c, d = (people[n] for n in ("owner", "bob", "carol", "dave"))
    g = await group(api, people, "bob", "carol")
    path = "/admins"
    status, body = await put(api, o, g["_id"], {"push_all": {"admins_ids": [b["id"], c["id"]]}}, path)
    assert status == 200 and sorted(body["admins_ids"]) == sorted([b["id"], c["id"]])
    status, _ = await put(api, b, g["_id"], {"push_all": {"admins_ids": [b["id"]]}}, path)
    assert status == 403  # admins can't manage admins
    status, body = await put(api, o, g["_id"], {"push_all": {"admins_ids": [d["id"]]}}, path)
    assert status == 422 and list(body["errors"]) == ["admins_ids"]  # not an occupant
    status, body = await put(api, o, g["_id"], {"pull_all": {"admins_ids": [c["id"]]}}, path)
    assert status == 200 and body["admins_ids"] == [b["id"]]
    status, body = await put(api, o, g["_id"], {"name": "ignored here"}, path)
    assert status == 422 and list(body["errors"]) == ["admins_ids"]
    status, _ = await put(api, people["eve"], g["_id"], {"push_all": {"admins_ids": [b["id"]]}}, path)
    assert status == 404
    # at most 5 admins
    extra = [await guest(api, f"extra{i}") for i in range(5)]
    await put(api, o, g["_id"], {"push_all": {"occupants_ids": [u["id"] for u in extra]}})
    status, body = await put(api, o, g["_id"], {"push_all": {"admins_ids": [u["id"] for u in extra]}}, path)
    assert status == 422 and "maximum is 5" in body["errors"]["admins_ids"][0]
    stored = await DialogStore(services.database.db).get(1, g["_id"])
    assert stored.admins_ids == (b["id"],)


# -- delete ----------------------------------------------------------------------------------------
async def test_delete_for_me_and_for_everyone(api, people, services):
    o, b, c = people["owner"], people["bob"], people["carol"]
    db = services.database.db
    g = await group(api, people, "bob", "carol")
    await add_message(services, g["_id"], o["id"], "hi", 1_800_000_000)
    # a regular occupant deleting a group leaves it
    status, body = await api.call("DELETE", f"/chat/Dialog/{g['_id']}.json", c["token"])
    assert status == 200 and body == {"SuccessfullyDeleted": {"ids": [g["_id"]]}, "NotFound": {"ids": []},
                                      "WrongPermissions": {"ids": []}}
    stored = await DialogStore(db).get(1, g["_id"])
    assert c["id"] not in stored.occupants_ids and await MemberStore(db).get(g["_id"], c["id"]) is None
    # force by a non-owner: wrong permissions; nothing deleted
    status, body = await api.call("DELETE", f"/chat/Dialog/{g['_id']}.json", b["token"], data="force=1",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert body["WrongPermissions"]["ids"] == [g["_id"]] and await DialogStore(db).get(1, g["_id"])
    # force by the owner, with several ids (one unknown, one invalid, one of another app)
    other_app = await create(api, people["xeno"], type=PUBLIC, name="elsewhere")
    ghost = new_id()
    status, body = await api.call("DELETE", f"/chat/Dialog/{g['_id']},{ghost},bad,{other_app['_id']}.json",
                                  o["token"], data="force=1",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200
    assert body["SuccessfullyDeleted"]["ids"] == [g["_id"]]
    assert body["NotFound"]["ids"] == [ghost, "bad", other_app["_id"]]
    assert await DialogStore(db).get(1, g["_id"]) is None
    assert await MemberStore(db).for_dialog(g["_id"]) == []
    assert await MessageStore(db).count(1, {"chat_dialog_id": g["_id"]}) == 0
    event = (await services.outbox.find({"kind": "dialog_deleted"}))[-1]
    assert event["dialog_id"] == g["_id"] and sorted(event["recipient_ids"]) == sorted([o["id"], b["id"]])
    assert await DialogStore(db).get(2, other_app["_id"]) is not None


async def test_delete_limits_and_owner_hide(api, people, services):
    o = people["owner"]
    ids = ",".join(new_id() for _ in range(101))
    status, body = await api.call("DELETE", f"/chat/Dialog/{ids}.json", o["token"])
    assert status == 422 and list(body["errors"]) == ["id"]
    status, body = await api.call("DELETE", "/chat/Dialog/x.json", o["token"], data="force=perhaps",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 422 and list(body["errors"]) == ["force"]
    # the owner deleting without force only hides the dialog for themselves
    g = await group(api, people, "bob")
    status, body = await api.call("DELETE", f"/chat/Dialog/{g['_id']}", o["token"])
    assert body["SuccessfullyDeleted"]["ids"] == [g["_id"]]
    stored = await DialogStore(services.database.db).get(1, g["_id"])
    assert o["id"] in stored.occupants_ids
    status, body = await api.call("GET", "/chat/Dialog.json", o["token"])
    assert body["items"] == []
    status, body = await api.call("GET", "/chat/Dialog.json", people["bob"]["token"])
    assert [d["_id"] for d in body["items"]] == [g["_id"]]


# -- notifications -----------------------------------------------------------------------------------
async def test_notifications(api, people, services):
    g = await group(api, people, "bob")
    path = f"/chat/Dialog/{g['_id']}/notifications.json"
    status, body = await api.call("GET", path, people["bob"]["token"])
    assert status == 200 and body == {"notifications": {"enabled": 1}}
    status, body = await api.call("PUT", path, people["bob"]["token"], json={"enabled": "0"})
    assert status == 200 and body == {"notifications": {"enabled": 0}}
    status, body = await api.call("GET", path, people["bob"]["token"])
    assert body == {"notifications": {"enabled": 0}}
    assert (await MemberStore(services.database.db).get(g["_id"], people["bob"]["id"]))["notifications"] is False
    status, body = await api.call("GET", path, people["owner"]["token"])
    assert body == {"notifications": {"enabled": 1}}
    status, body = await api.call("PUT", path, people["bob"]["token"], json={"enabled": 1})
    assert body == {"notifications": {"enabled": 1}}
    status, body = await api.call("PUT", path, people["bob"]["token"], json={"enabled": "sometimes"})
    assert status == 422 and list(body["errors"]) == ["enabled"]
    status, body = await api.call("PUT", path, people["bob"]["token"], json={})
    assert status == 422
    status, _ = await api.call("GET", path, people["eve"]["token"])
    assert status == 404
    status, _ = await api.call("PUT", path, people["xeno"]["token"], json={"enabled": 0})
    assert status == 404


# -- public dialogs ----------------------------------------------------------------------------------
async def test_subscribe_unsubscribe_and_occupants(api, people, services):
    o, b, c = people["owner"], people["bob"], people["carol"]
    pub = await create(api, o, type=PUBLIC, name="Lobby", description="all welcome")
    sub = f"/chat/Dialog/{pub['_id']}/subscribe.json"
    # POST with no body at all, JSON content type (as the SDK sends it)
    resp = await api.client.post(sub, headers={"CB-Token": b["token"], "Content-Type": "application/json"})
    assert resp.status == 200
    body = await resp.json()
    assert body["_id"] == pub["_id"] and body["occupants_count"] == 2 and body["occupants_ids"] == []
    status, body = await api.call("POST", sub, b["token"])  # idempotent
    assert body["occupants_count"] == 2
    status, body = await api.call("POST", sub, c["token"])
    assert body["occupants_count"] == 3
    status, body = await api.call("GET", "/chat/Dialog.json", b["token"])
    assert [d["_id"] for d in body["items"]] == [pub["_id"]]
    status, body = await api.call("GET", f"/chat/Dialog/{pub['_id']}/occupants.json", people["eve"]["token"])
    assert status == 200 and [u["id"] for u in body["items"]] == sorted([o["id"], b["id"], c["id"]])
    assert {u["full_name"] for u in body["items"]} == {"owner", "bob", "carol"}
    status, body = await api.call("GET", f"/chat/Dialog/{pub['_id']}/occupants.json?limit=1&skip=1",
                                  people["eve"]["token"])
    assert [u["id"] for u in body["items"]] == [sorted([o["id"], b["id"], c["id"]])[1]]
    status, _ = await api.call("GET", f"/chat/Dialog/{pub['_id']}/occupants.json", people["xeno"]["token"])
    assert status == 404
    status, body = await api.call("DELETE", sub, b["token"])
    assert status == 200
    status, body = await api.call("GET", "/chat/Dialog.json", b["token"])
    assert body["items"] == []
    stored = await DialogStore(services.database.db).get(1, pub["_id"])
    assert stored.occupants_count == 2
    kinds = [(e["kind"], e["payload"].get("added_ids"), e["payload"].get("removed_ids"))
             for e in await services.outbox.find({"dialog_id": pub["_id"]})]
    assert ("dialog_updated", [b["id"]], []) in kinds and ("dialog_updated", [], [b["id"]]) in kinds
    # other apps can't subscribe; group dialogs can't be subscribed to
    status, _ = await api.call("POST", sub, people["xeno"]["token"])
    assert status == 404
    g = await group(api, people, "bob")
    status, body = await api.call("POST", f"/chat/Dialog/{g['_id']}/subscribe.json", b["token"])
    assert status == 422 and "errors" in body
    status, _ = await api.call("POST", f"/chat/Dialog/{g['_id']}/subscribe.json", people["eve"]["token"])
    assert status == 404
    # a group's occupants are listed for its occupants only
    status, body = await api.call("GET", f"/chat/Dialog/{g['_id']}/occupants.json", b["token"])
    assert status == 200 and sorted(u["id"] for u in body["items"]) == sorted([o["id"], b["id"]])
    status, _ = await api.call("GET", f"/chat/Dialog/{g['_id']}/occupants.json", c["token"])
    assert status == 404


async def test_public_subscribers_limit(api, people, services):
    services.settings.limits.max_occupants = 2
    pub = await create(api, people["owner"], type=PUBLIC, name="Small")
    status, _ = await api.call("POST", f"/chat/Dialog/{pub['_id']}/subscribe.json", people["bob"]["token"])
    assert status == 200
    status, body = await api.call("POST", f"/chat/Dialog/{pub['_id']}/subscribe.json", people["carol"]["token"])
    assert status == 422 and "full" in body["errors"]["base"][0]
    stored = await DialogStore(services.database.db).get(1, pub["_id"])
    assert stored.occupants_count == 2


# -- clear history -------------------------------------------------------------------------------------
async def test_clear_history_access(api, people, services):
    g = await group(api, people, "bob")
    await add_message(services, g["_id"], people["owner"]["id"], "a", 1_800_000_000)
    status, _ = await api.call("DELETE", f"/chat/Dialog/clearHistory/{g['_id']}.json", people["eve"]["token"])
    assert status == 404
    status, _ = await api.call("DELETE", f"/chat/Dialog/clearHistory/{g['_id']}.json", people["xeno"]["token"])
    assert status == 404
    status, body = await api.call("DELETE", f"/chat/Dialog/clearHistory/{g['_id']}", people["bob"]["token"])
    assert status == 200 and body == {}
    member = await MemberStore(services.database.db).get(g["_id"], people["bob"]["id"])
    assert member["cleared_seq"] == 1
    # the messages stay for the others
    assert await MessageStore(services.database.db).count(1, {"chat_dialog_id": g["_id"]}) == 1


# -- schema ------------------------------------------------------------------------------------------
def test_dialog_to_json_is_per_user():
    from datetime import datetime, timezone

    from rest.schemas.dialogs import dialog_to_json

    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    dialog = Dialog.from_doc({
        "_id": "a" * 24, "type": PUBLIC, "name": "Lobby", "user_id": 7, "occupants_ids": [7, 8],
        "occupants_count": 12, "admins_ids": [8], "created_at": when, "updated_at": when,
        "last_message": "hi", "last_message_id": "b" * 24, "last_message_user_id": 7,
        "last_message_date_sent": 1_800_000_000.0, "extensions": {"k": "v"},
        "permissions": {"allow_preview": 1}, "seq": 3, "app_id": 1})
    mine = dialog_to_json(DialogView(dialog, {"user_id": 7}, 2, "read"))
    assert mine["occupants_ids"] == [] and mine["occupants_count"] == 12
    assert mine["last_message_status"] == "read" and mine["unread_messages_count"] == 2
    assert mine["created_at"] == "2026-01-02T03:04:05Z" and mine["last_message_date_sent"] == 1_800_000_000
    assert mine["permissions"] == {"allow_preview": True} and mine["extensions"] == {"k": "v"}
    assert "app_id" not in mine and "seq" not in mine and "private_key" not in mine
    theirs = dialog_to_json(DialogView(dialog, {"user_id": 8}, 0, "read"))
    assert theirs["last_message_status"] is None
    as_group = dialog._replace(type=DialogType.GROUP)
    group = dialog_to_json(DialogView(as_group, {"user_id": 7}, 0, None))
    assert group["occupants_ids"] == [7, 8] and "occupants_count" not in group
    assert group["last_message_status"] == "sent"
    assert dialog_to_json(DialogView(as_group, None, 0, "read"))["last_message_status"] is None


# -- broadcast dialogs: every user of the app reads them ---------------------------------------------
async def say(api, who, dialog_id: str, text: str, status: int = 201) -> dict[str, Any]:
    code, body = await api.call("POST", "/chat/Message.json", who["token"],
                                json={"chat_dialog_id": dialog_id, "message": text})
    assert code == status, body
    return body


async def listed(api, who, query: str = "") -> dict[str, Any]:
    status, body = await api.call("GET", f"/chat/Dialog.json{query}", who["token"])
    assert status == 200, body
    return body


async def test_broadcast_is_listed_for_every_user_of_its_app(api, people, clock):
    o, b, c, x = people["owner"], people["bob"], people["carol"], people["xeno"]
    bc = await create(api, o, type=BROADCAST, name="News", occupants_ids=[b["id"]])
    clock.advance(5)
    g = await group(api, people, "bob")  # carol is in neither dialog
    other_app = await create(api, x, type=BROADCAST, name="Elsewhere")
    clock.advance(5)
    mine = await create(api, c, type=GROUP, name="Mine", occupants_ids=[people["dave"]["id"]])
    body = await listed(api, c)
    assert [d["_id"] for d in body["items"]] == [mine["_id"], bc["_id"]]
    assert body["total_entries"] == 2 and body["items"][1]["unread_messages_count"] == 0
    assert g["_id"] not in [d["_id"] for d in body["items"]]
    assert await listed(api, c, "?count=1") == {"items_count": 2}
    assert [d["_id"] for d in (await listed(api, c, "?type=1"))["items"]] == [bc["_id"]]
    assert (await listed(api, c, "?type=2&count=1")) == {"items_count": 1}
    assert [d["_id"] for d in (await listed(api, c, "?name[in]=News,Elsewhere"))["items"]] == [bc["_id"]]
    paged = await listed(api, c, "?limit=1&skip=1&sort_asc=created_at")
    assert paged["total_entries"] == 2 and [d["_id"] for d in paged["items"]] == [mine["_id"]]
    # the other app's users see their own broadcast only
    assert [d["_id"] for d in (await listed(api, x))["items"]] == [other_app["_id"]]
    status, body = await api.call("GET", f"/chat/Dialog/{bc['_id']}/occupants.json", c["token"])
    assert status == 200 and sorted(u["id"] for u in body["items"]) == sorted([o["id"], b["id"]])


async def test_broadcast_reader_reads_history_and_unread_drops(api, people, services):
    o, c, x = people["owner"], people["carol"], people["xeno"]
    bc = await create(api, o, type=BROADCAST, name="News")
    first = await say(api, o, bc["_id"], "one")
    await say(api, o, bc["_id"], "two")
    assert (await listed(api, c))["items"][0]["unread_messages_count"] == 2
    status, body = await api.call("GET", "/chat/Message/unread.json", c["token"])
    assert status == 200 and body == {"total": 2}
    status, body = await api.call("GET", f"/chat/Message/unread.json?chat_dialog_ids={bc['_id']}",
                                  c["token"])
    assert body == {"total": 2, bc["_id"]: 2}
    assert await MemberStore(services.database.db).get(bc["_id"], c["id"]) is None
    status, body = await api.call("GET", f"/chat/Message.json?chat_dialog_id={bc['_id']}", c["token"])
    assert status == 200 and [m["message"] for m in body["items"]] == ["one", "two"]
    member = await MemberStore(services.database.db).get(bc["_id"], c["id"])
    assert member is not None and member["last_read_seq"] == 2  # created on first read
    seen = (await listed(api, c))["items"][0]
    assert seen["unread_messages_count"] == 0 and seen["last_message"] == "two"
    await say(api, o, bc["_id"], "three")
    assert (await listed(api, c))["items"][0]["unread_messages_count"] == 1
    status, _ = await api.call("PUT", "/chat/Message.json", c["token"],
                               json={"chat_dialog_id": bc["_id"], "read": 1})
    assert status == 200
    assert (await listed(api, c))["items"][0]["unread_messages_count"] == 0
    # readers react (reacting is not posting); they cannot post, edit or delete for everyone
    status, _ = await api.call("PUT", f"/chat/Message/{first['_id']}/reactions.json", c["token"],
                               json={"add": "👍"})
    assert status == 200
    await say(api, c, bc["_id"], "me too", status=403)
    status, body = await api.call("DELETE", f"/chat/Message/{first['_id']}.json?force=1", c["token"])
    assert status == 200 and body["WrongPermissions"]["ids"] == [first["_id"]], body
    status, _ = await api.call("PUT", f"/chat/Dialog/{bc['_id']}.json", c["token"], json={"name": "x"})
    assert status == 403
    # another application's user: not found
    status, _ = await api.call("GET", f"/chat/Message.json?chat_dialog_id={bc['_id']}", x["token"])
    assert status == 404
    await say(api, x, bc["_id"], "hi", status=404)
    status, body = await api.call("DELETE", f"/chat/Dialog/{bc['_id']}.json", x["token"])
    assert status == 200 and body["NotFound"]["ids"] == [bc["_id"]]


async def test_broadcast_deleted_for_me_is_hidden_for_that_user_only(api, people, services):
    o, b, c, d = people["owner"], people["bob"], people["carol"], people["dave"]
    bc = await create(api, o, type=BROADCAST, name="News", occupants_ids=[b["id"]])
    await say(api, o, bc["_id"], "one")
    for who in (c, b):  # a reader, then an occupant
        status, body = await api.call("DELETE", f"/chat/Dialog/{bc['_id']}.json", who["token"])
        assert status == 200, body
        assert (await listed(api, who))["items"] == []
        assert await listed(api, who, "?count=1") == {"items_count": 0}
    status, body = await api.call("GET", "/chat/Message/unread.json", c["token"])
    assert body == {"total": 0}
    # new messages do not bring it back (unlike a hidden private dialog)
    await say(api, o, bc["_id"], "two")
    assert (await listed(api, c))["items"] == [] and (await listed(api, b))["items"] == []
    dialog = await DialogStore(services.database.db).get(1, bc["_id"])
    assert dialog.occupants_ids == (o["id"],)  # bob left
    # everyone else still sees it
    assert [i["_id"] for i in (await listed(api, d))["items"]] == [bc["_id"]]
    assert (await listed(api, d))["items"][0]["unread_messages_count"] == 2
    assert [i["_id"] for i in (await listed(api, o))["items"]] == [bc["_id"]]
    # an admin adding the user again shows it to them again
    status, _ = await put(api, o, bc["_id"], {"push_all": {"occupants_ids": [c["id"]]}})
    assert status == 200
    assert [i["_id"] for i in (await listed(api, c))["items"]] == [bc["_id"]]
