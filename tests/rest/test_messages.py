"""/chat/Message over the production app: wire shapes, idempotency, filters, marks, edits, deletes,
unread counts, system messages, bad input and other-app isolation."""
from __future__ import annotations

import pytest

from models.storage.messages import MessageStore

CLIENT_ID = "65a1b2c3d4e5f6a7b8c9d0e1"
MISSING_DIALOG = "65a0000000000000000000d1"


async def make_dialog(api, owner, *others, dtype: int = 2, **extra) -> str:
    status, body = await api.call("POST", "/chat/Dialog.json", owner["token"], json={
        "type": dtype, "name": "team", "occupants_ids": ", ".join(str(o["id"]) for o in others),
        **extra})
    assert status == 201, body
    return body["_id"]


async def post(api, who, **body):
    return await api.call("POST", "/chat/Message.json", who["token"], json=body)


async def history(api, who, **params):
    return await api.call("GET", "/chat/Message.json", who["token"], params=params)


@pytest.fixture
async def trio(api):
    alice, bob, carol = [await api.new_user(n) for n in ("alice", "bob", "carol")]
    dialog_id = await make_dialog(api, alice, bob, carol)
    return alice, bob, carol, dialog_id


async def test_create_and_list_wire_format(api, trio, services):
    alice, bob, _, dialog_id = trio
    status, msg = await post(api, alice, chat_dialog_id=dialog_id, message="where are you?",
                             attachments={"3": {"type": "image", "id": "3004"}}, country="USA",
                             send_to_chat="1", markable="1", date_sent=1700000000)
    assert status == 201, msg
    assert len(msg["_id"]) == 24 and msg["chat_dialog_id"] == dialog_id
    assert msg["message"] == "where are you?" and msg["date_sent"] == 1700000000
    assert msg["sender_id"] == alice["id"] and msg["recipient_id"] == 0
    assert msg["read_ids"] == [alice["id"]] and msg["delivered_ids"] == [alice["id"]]
    assert msg["views_count"] == 0 and msg["read"] == 1 and msg["reactions"] is None
    assert msg["attachments"] == [{"type": "image", "id": "3004"}]
    assert msg["country"] == "USA" and msg["markable"] == 1
    assert msg["created_at"].endswith("Z") and msg["updated_at"] == msg["created_at"]
    assert "seq" not in msg and "custom" not in msg and "app_id" not in msg

    status, page = await history(api, bob, chat_dialog_id=dialog_id, mark_as_read="0")
    assert status == 200 and page["skip"] == 0 and page["limit"] == 100
    [item] = page["items"]
    assert item["_id"] == msg["_id"] and item["country"] == "USA" and item["read"] == 0
    # the default list marks read: the answer already shows it, and so does the next one
    status, page = await api.call("GET", f"/chat/Message?chat_dialog_id={dialog_id}", bob["token"])
    assert page["items"][0]["read"] == 1 and bob["id"] in page["items"][0]["read_ids"]
    # the event the bridge relays carries send_to_chat and the message JSON
    [event] = await services.outbox.find({"kind": "message_created"})
    assert event["payload"]["send_to_chat"] is True
    assert event["payload"]["message"]["message"] == "where are you?"
    assert sorted(event["recipient_ids"]) == sorted([bob["id"], trio[2]["id"]])


async def test_create_is_idempotent_on_the_client_id(api, trio, services):
    alice, _, _, dialog_id = trio
    status, first = await post(api, alice, _id=CLIENT_ID, chat_dialog_id=dialog_id, message="once")
    assert status == 201 and first["_id"] == CLIENT_ID
    status, second = await post(api, alice, _id=CLIENT_ID, chat_dialog_id=dialog_id, message="twice")
    assert status == 201 and second["_id"] == CLIENT_ID and second["message"] == "once"
    store = MessageStore(services.database.db)
    assert await store.count(1, {"chat_dialog_id": dialog_id}) == 1
    assert await services.outbox.count({"kind": "message_created"}) == 1
    status, body = await api.call("GET", "/chat/Dialog.json", alice["token"])
    dialog = [d for d in body["items"] if d["_id"] == dialog_id][0]
    assert dialog["last_message_id"] == CLIENT_ID and dialog["last_message"] == "once"


async def test_recipient_id_creates_the_private_dialog(api):
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    status, msg = await post(api, alice, recipient_id=str(bob["id"]), message="hi bob")
    assert status == 201, msg
    assert msg["recipient_id"] == bob["id"]
    status, page = await history(api, bob, chat_dialog_id=msg["chat_dialog_id"])
    assert [m["message"] for m in page["items"]] == ["hi bob"]
    status, body = await api.call("GET", "/chat/Dialog.json", bob["token"])
    [dialog] = body["items"]
    assert dialog["type"] == 3 and dialog["_id"] == msg["chat_dialog_id"]
    assert dialog["last_message"] == "hi bob" and dialog["unread_messages_count"] == 0


async def test_list_filters_sort_paging_and_count(api, trio):
    alice, bob, _, dialog_id = trio
    ids = []
    for n, (who, when) in enumerate([(alice, 100), (bob, 200), (alice, 300), (bob, 300)]):
        status, msg = await post(api, who, chat_dialog_id=dialog_id, message=f"m{n}",
                                 date_sent=when, rating=n, color="red" if n % 2 else "blue")
        ids.append(msg["_id"])

    async def names(**params):
        status, page = await history(api, alice, chat_dialog_id=dialog_id, mark_as_read="0", **params)
        assert status == 200, page
        return [m["message"] for m in page["items"]]

    assert await names() == ["m0", "m1", "m2", "m3"]
    assert await names(sort_desc="date_sent") == ["m3", "m2", "m1", "m0"]
    assert await names(**{"date_sent[gt]": "100", "date_sent[lte]": "300"}) == ["m1", "m2", "m3"]
    assert await names(sender_id=str(bob["id"])) == ["m1", "m3"]
    assert await names(**{"_id[in]": f"{ids[0]},{ids[3]}"}) == ["m0", "m3"]
    assert await names(**{"_id[nin][]": [ids[0], ids[3]]}) == ["m1", "m2"]
    assert await names(**{"message[ctn]": "M2"}) == ["m2"]
    assert await names(color="red") == ["m1", "m3"]
    assert await names(**{"rating[gte]": "2"}) == ["m2", "m3"]
    assert await names(limit="2", skip="1") == ["m1", "m2"]
    assert await names(limit="0") == []
    assert await names(read="0") == ["m1", "m3"]  # alice's own messages are read
    status, body = await history(api, alice, chat_dialog_id=dialog_id, count="1", sender_id=str(alice["id"]))
    assert status == 200 and body == {"items_count": 2}
    status, page = await history(api, alice, chat_dialog_id=dialog_id, limit="1000")
    assert page["limit"] == 100


async def test_list_bad_input(api, trio):
    alice, _, _, dialog_id = trio
    for params, field in (({}, "chat_dialog_id"),
                          ({"chat_dialog_id": dialog_id, "date_sent[gt]": "soon"}, "date_sent"),
                          ({"chat_dialog_id": dialog_id, "sender_id[near]": "1"}, "sender_id"),
                          ({"chat_dialog_id": dialog_id, "sort_desc": "message"}, "sort_desc"),
                          ({"chat_dialog_id": dialog_id, "limit": "many"}, "limit"),
                          ({"chat_dialog_id": dialog_id, "skip": "-1"}, "skip"),
                          ({"chat_dialog_id": dialog_id, "mark_as_read": "perhaps"}, "mark_as_read")):
        status, body = await history(api, alice, **params)
        assert status == 422 and field in body["errors"], (params, body)
    status, body = await history(api, alice, chat_dialog_id=MISSING_DIALOG)
    assert status == 404 and body == {"errors": {"base": ["Dialog not found"]}}
    status, body = await api.call("GET", f"/chat/Message.json?chat_dialog_id={dialog_id}")
    assert status == 401
    app_token = await api.app_token()
    status, body = await api.call("GET", f"/chat/Message.json?chat_dialog_id={dialog_id}", app_token)
    assert status == 403


async def test_preview_of_a_dialog_that_allows_it(api):
    owner, member, visitor = [await api.new_user(n) for n in ("owner", "member", "visitor")]
    dialog_id = await make_dialog(api, owner, member, permissions={"allow_preview": True})
    closed_id = await make_dialog(api, owner, member)
    for n in range(25):
        await post(api, owner, chat_dialog_id=dialog_id, message=f"m{n}")
    await post(api, owner, chat_dialog_id=closed_id, message="secret")
    status, _ = await history(api, visitor, chat_dialog_id=dialog_id)
    assert status == 404
    status, page = await history(api, visitor, chat_dialog_id=dialog_id, preview="1", limit="3", skip="5")
    assert status == 200
    assert [m["message"] for m in page["items"]] == [f"m{n}" for n in range(5, 25)]
    assert all(m["read"] == 0 and visitor["id"] not in m["read_ids"] for m in page["items"])
    status, _ = await history(api, visitor, chat_dialog_id=closed_id, preview="1")
    assert status == 404


async def test_update_marks_and_edits(api, trio, services):
    alice, bob, carol, dialog_id = trio
    _, m1 = await post(api, alice, chat_dialog_id=dialog_id, message="one")
    _, m2 = await post(api, alice, chat_dialog_id=dialog_id, message="two")
    status, body = await api.call("PUT", f"/chat/Message/{m1['_id']}.json", bob["token"],
                                  json={"delivered": "1", "chat_dialog_id": dialog_id})
    assert status == 200 and body == {}
    status, body = await api.call("PUT", f"/chat/Message/{m1['_id']},{m2['_id']}", bob["token"],
                                  json={"read": 1})
    assert status == 200
    status, page = await history(api, alice, chat_dialog_id=dialog_id)
    assert [sorted(m["read_ids"]) for m in page["items"]] == [sorted([alice["id"], bob["id"]])] * 2
    assert bob["id"] in page["items"][0]["delivered_ids"]
    kinds = [e["kind"] for e in await services.outbox.find({"dialog_id": dialog_id})]
    assert "messages_delivered" in kinds and "messages_read" in kinds

    # all in the dialog: PUT /chat/Message with chat_dialog_id
    status, unread = await api.call("GET", "/chat/Message/unread.json", carol["token"])
    assert unread == {"total": 2}
    status, body = await api.call("PUT", "/chat/Message.json", carol["token"],
                                  json={"read": "1", "chat_dialog_id": dialog_id})
    assert status == 200 and body == {}
    status, unread = await api.call("GET", "/chat/Message/unread.json", carol["token"])
    assert unread == {"total": 0}

    # edit: the sender only, one id
    status, body = await api.call("PUT", f"/chat/Message/{m2['_id']}.json", bob["token"],
                                  json={"message": "hacked"})
    assert status == 403
    status, body = await api.call("PUT", f"/chat/Message/{m2['_id']}.json", alice["token"],
                                  json={"message": "two (edited)"})
    assert status == 200
    status, page = await history(api, bob, chat_dialog_id=dialog_id)
    assert page["items"][1]["message"] == "two (edited)"
    status, body = await api.call("GET", "/chat/Dialog.json", bob["token"])
    assert body["items"][0]["last_message"] == "two (edited)"

    # bad input
    for path, payload, code, field in (
            (f"/chat/Message/{m1['_id']}.json", {}, 422, "base"),
            (f"/chat/Message/{m1['_id']}.json", {"read": "sometimes"}, 422, "read"),
            ("/chat/Message.json", {"read": 1}, 422, "chat_dialog_id"),
            ("/chat/Message.json", {"message": "x"}, 422, "id"),
            (f"/chat/Message/{m1['_id']},{m2['_id']}.json", {"message": "x"}, 422, "id"),
            (f"/chat/Message/{m1['_id']}.json", {"message": ["x"]}, 422, "message"),
            ("/chat/Message/nope.json", {"read": 1}, 404, "base"),
            (f"/chat/Message/{MISSING_DIALOG}.json", {"read": 1}, 404, "base")):
        status, body = await api.call("PUT", path, alice["token"], json=payload)
        assert status == code and field in body["errors"], (path, payload, body)
    status, body = await api.call("PUT", "/chat/Message.json", alice["token"], data=b"{oops",
                                  headers={"Content-Type": "application/json"})
    assert status == 400


async def test_delete_answers_and_permissions(api, trio, services):
    alice, bob, carol, dialog_id = trio
    _, m1 = await post(api, alice, chat_dialog_id=dialog_id, message="alice")
    _, m2 = await post(api, bob, chat_dialog_id=dialog_id, message="bob")
    # bob is not an admin: alice's message can go only for him, his own for everyone
    status, body = await api.call("DELETE", f"/chat/Message/{m1['_id']},{m2['_id']},nope.json",
                                  bob["token"], data="force=1",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200
    assert body == {"SuccessfullyDeleted": {"ids": [m2["_id"]]}, "NotFound": {"ids": ["nope"]},
                    "WrongPermissions": {"ids": [m1["_id"]]}}
    status, body = await api.call("DELETE", f"/chat/Message/{m1['_id']}", bob["token"])
    assert body["SuccessfullyDeleted"] == {"ids": [m1["_id"]]}
    status, page = await history(api, bob, chat_dialog_id=dialog_id)
    assert page["items"] == []
    status, page = await history(api, carol, chat_dialog_id=dialog_id)
    assert [m["message"] for m in page["items"]] == ["alice"]
    [event] = await services.outbox.find({"kind": "message_deleted"})
    assert event["payload"]["message_ids"] == [m2["_id"]]
    # the owner (super admin) may delete anyone's message for everyone
    status, body = await api.call("DELETE", f"/chat/Message/{m1['_id']}.json", alice["token"],
                                  data="force=1")
    assert body["SuccessfullyDeleted"] == {"ids": [m1["_id"]]}
    status, page = await history(api, carol, chat_dialog_id=dialog_id)
    assert page["items"] == []
    status, body = await api.call("GET", "/chat/Dialog.json", carol["token"])
    assert body["items"][0]["last_message_id"] is None
    status, body = await api.call("DELETE", f"/chat/Message/{m1['_id']}.json", alice["token"],
                                  data="force=maybe")
    assert status == 422 and "force" in body["errors"]
    ids = ",".join([CLIENT_ID] * 101)
    status, body = await api.call("DELETE", f"/chat/Message/{ids}.json", alice["token"])
    assert status == 422 and "id" in body["errors"]


async def test_unread_counts(api, trio):
    alice, bob, carol, dialog_id = trio
    other_id = await make_dialog(api, bob, carol)
    for n in range(3):
        await post(api, alice, chat_dialog_id=dialog_id, message=f"a{n}")
    await post(api, carol, chat_dialog_id=other_id, message="c")
    status, body = await api.call("GET", "/chat/Message/unread.json", bob["token"])
    assert status == 200 and body == {"total": 4}
    status, body = await api.call("GET", f"/chat/Message/unread.json?chat_dialog_ids={dialog_id},%20{other_id}",
                                  bob["token"])
    assert body == {"total": 4, dialog_id: 3, other_id: 1}
    status, body = await api.call("GET", f"/chat/Message/unread?chat_dialog_ids={other_id}", alice["token"])
    assert body == {"total": 0}  # not alice's dialog: left out
    await history(api, bob, chat_dialog_id=dialog_id)
    status, body = await api.call("GET", f"/chat/Message/unread?chat_dialog_ids={dialog_id}", bob["token"])
    assert body == {"total": 0, dialog_id: 0}
    ids = ",".join([MISSING_DIALOG] * 101)
    status, body = await api.call("GET", f"/chat/Message/unread?chat_dialog_ids={ids}", bob["token"])
    assert status == 422 and "chat_dialog_ids" in body["errors"]


async def test_system_messages(api, trio, services):
    alice, bob, carol, dialog_id = trio
    status, body = await api.call("POST", "/chat/Message/system.json", alice["token"], json={
        "recipientId": bob["id"], "needToUpdate": "1", "userExt": {"name": "Smith"}})
    assert status == 200, body
    assert len(body["messageId"]) == 24 and body["recipientId"] == bob["id"]
    assert body["extensionParams"] == {"needToUpdate": "1", "userExt": {"name": "Smith"}}
    [event] = await services.outbox.find({"kind": "system_message"})
    assert event["recipient_ids"] == [bob["id"]] and event["sender_id"] == alice["id"]
    assert event["payload"]["id"] == body["messageId"]
    assert event["payload"]["extension"] == {"needToUpdate": "1", "userExt": {"name": "Smith"}}
    assert await MessageStore(services.database.db).count(1, {}) == 0  # stored nowhere

    status, body = await api.call("POST", "/chat/Message/system", alice["token"],
                                  json={"chat_dialog_id": dialog_id, "ping": "1"})
    assert status == 200 and body["recipientId"] == 0
    events = await services.outbox.find({"kind": "system_message"})
    assert sorted(events[-1]["recipient_ids"]) == sorted([bob["id"], carol["id"]])

    stranger = await api.new_user("stranger", app_id=2, auth_key="other-key")
    for payload, code, field in (({"ping": 1}, 422, "recipientId"),
                                 ({"recipientId": "abc"}, 422, "recipientId"),
                                 ({"recipientId": 999999}, 404, "base"),
                                 ({"recipientId": stranger["id"]}, 404, "base"),
                                 ({"recipientId": bob["id"], "bad key": 1}, 422, "bad key"),
                                 ({"recipientId": bob["id"], "big": "x" * 70000}, 422, "base"),
                                 ({"chat_dialog_id": MISSING_DIALOG}, 404, "base")):
        status, body = await api.call("POST", "/chat/Message/system.json", alice["token"], json=payload)
        assert status == code and field in body["errors"], (payload, body)


async def test_create_bad_input(api, trio, settings):
    alice, bob, _, dialog_id = trio
    big = "x" * (settings.limits.max_message_bytes + 1)
    for payload, code, field in (({"message": "no target"}, 422, "chat_dialog_id"),
                                 ({"chat_dialog_id": dialog_id, "message": big}, 422, "message"),
                                 ({"chat_dialog_id": dialog_id, "attachments": "x"}, 422, "attachments"),
                                 ({"chat_dialog_id": dialog_id, "_id": "short"}, 422, "_id"),
                                 ({"chat_dialog_id": dialog_id, "date_sent": "x"}, 422, "date_sent"),
                                 ({"chat_dialog_id": dialog_id, "a.b": 1}, 422, "a.b"),
                                 ({"recipient_id": "bob"}, 422, "recipient_id"),
                                 ({"recipient_id": alice["id"]}, 422, "recipient_id"),
                                 ({"recipient_id": 999999}, 404, "base"),
                                 ({"chat_dialog_id": MISSING_DIALOG}, 404, "base"),
                                 ({"chat_dialog_id": "garbage"}, 404, "base")):
        status, body = await post(api, alice, **payload)
        assert status == code and field in body["errors"], (payload, body)
    for raw in (b"[1]", b"{nope"):
        status, body = await api.call("POST", "/chat/Message.json", alice["token"], data=raw,
                                      headers={"Content-Type": "application/json"})
        assert status == 400
    status, body = await api.call("POST", "/chat/Message.json", json={"chat_dialog_id": dialog_id})
    assert status == 401 and body == {"errors": {"base": ["Required session does not exist"]}}
    # broadcast: only admins post
    broadcast_id = await make_dialog(api, alice, bob, dtype=1)
    status, body = await post(api, bob, chat_dialog_id=broadcast_id, message="me too")
    assert status == 403
    status, body = await post(api, alice, chat_dialog_id=broadcast_id, message="news")
    assert status == 201


async def test_other_apps_see_nothing(api, trio):
    alice, _, _, dialog_id = trio
    _, msg = await post(api, alice, chat_dialog_id=dialog_id, message="private to app 1")
    mallory = await api.new_user("mallory", app_id=2, auth_key="other-key")
    status, body = await history(api, mallory, chat_dialog_id=dialog_id)
    assert status == 404
    status, body = await history(api, mallory, chat_dialog_id=dialog_id, preview="1")
    assert status == 404
    status, body = await post(api, mallory, chat_dialog_id=dialog_id, message="hi")
    assert status == 404
    status, body = await api.call("PUT", f"/chat/Message/{msg['_id']}.json", mallory["token"],
                                  json={"read": 1})
    assert status == 404
    status, body = await api.call("PUT", f"/chat/Message/{msg['_id']}.json", mallory["token"],
                                  json={"message": "edited"})
    assert status == 404
    status, body = await api.call("DELETE", f"/chat/Message/{msg['_id']}.json", mallory["token"],
                                  data="force=1")
    assert body["NotFound"] == {"ids": [msg["_id"]]} and body["SuccessfullyDeleted"] == {"ids": []}
    status, body = await api.call("GET", f"/chat/Message/unread?chat_dialog_ids={dialog_id}",
                                  mallory["token"])
    assert body == {"total": 0}
    status, body = await post(api, mallory, _id=msg["_id"], recipient_id=alice["id"], message="x")
    assert status == 404  # alice is not a user of app 2
    status, page = await history(api, alice, chat_dialog_id=dialog_id)
    assert [m["message"] for m in page["items"]] == ["private to app 1"]


async def test_cleared_history_is_hidden_and_not_unread(api, trio):
    alice, bob, _, dialog_id = trio
    await post(api, alice, chat_dialog_id=dialog_id, message="before clear")
    status, _ = await api.call("DELETE", f"/chat/Dialog/clearHistory/{dialog_id}.json", bob["token"])
    assert status < 300
    status, page = await history(api, bob, chat_dialog_id=dialog_id)
    assert page["items"] == []
    status, body = await api.call("GET", "/chat/Message/unread.json", bob["token"])
    assert body == {"total": 0}
    _, after = await post(api, alice, chat_dialog_id=dialog_id, message="after clear")
    status, body = await api.call("GET", "/chat/Message/unread.json", bob["token"])
    assert body == {"total": 1}
    status, page = await history(api, bob, chat_dialog_id=dialog_id, mark_as_read="0")
    assert [m["message"] for m in page["items"]] == ["after clear"]
    status, body = await api.call("DELETE", f"/chat/Message/{page['items'][0]['_id']}.json", bob["token"])
    assert body["SuccessfullyDeleted"] == {"ids": [after["_id"]]}
    # alice still has both
    status, page = await history(api, alice, chat_dialog_id=dialog_id)
    assert [m["message"] for m in page["items"]] == ["before clear", "after clear"]
