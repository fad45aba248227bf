"""Per-member archive and hiding without leaving (issue 15 §4): `PUT /chat/Dialog/{id}/archive`,
`PUT /chat/Dialog/{id}/hidden`, the `archived` list filter and the Dialog JSON's `archived`."""
from __future__ import annotations

from models.services.access import BROADCAST, PRIVATE, PUBLIC
from models.storage.dialogs import DialogStore
from tests.rest.test_dialogs import NOT_FOUND, create, group, listed, people, put, say  # noqa: F401


def ids(body) -> list[str]:
    return [d["_id"] for d in body["items"]]


async def test_archive_filters_the_list_per_member(api, people, clock, services):
    o, b = people["owner"], people["bob"]
    first = await group(api, people, "bob", "carol")
    clock.advance(5)
    second = await group(api, people, "bob")
    status, body = await put(api, b, first["_id"], {"archived": 1}, "/archive")
    assert status == 200 and body["_id"] == first["_id"] and body["archived"] == 1
    # the owner's list is untouched; every dialog JSON says whether it is archived
    assert all(d["archived"] == 0 for d in (await listed(api, o))["items"])
    everything = await listed(api, b)
    assert ids(everything) == [second["_id"], first["_id"]]
    assert [d["archived"] for d in everything["items"]] == [0, 1]
    assert ids(await listed(api, b, "?archived=1")) == [first["_id"]]
    assert ids(await listed(api, b, "?archived=0")) == [second["_id"]]
    assert await listed(api, b, "?archived=1&count=1") == {"items_count": 1}
    assert await listed(api, b, "?archived=0&count=1") == {"items_count": 1}
    assert (await listed(api, b, "?archived=true&type=2"))["total_entries"] == 1
    # a new message leaves it archived (and counts as unread there)
    await say(api, o, first["_id"], "still here")
    archived = await listed(api, b, "?archived=1")
    assert ids(archived) == [first["_id"]] and archived["items"][0]["unread_messages_count"] == 1
    # out of the archive again, in the SDK's string form too
    status, body = await put(api, b, first["_id"], {"archived": "0"}, "/archive")
    assert status == 200 and body["archived"] == 0
    assert ids(await listed(api, b, "?archived=1")) == []
    assert sorted(ids(await listed(api, b, "?archived=0"))) == sorted([first["_id"], second["_id"]])


async def test_archive_of_a_broadcast_and_a_private_dialog(api, people):
    o, c, d = people["owner"], people["carol"], people["dave"]
    news = await create(api, o, type=BROADCAST, name="News")
    pair = await create(api, c, type=PRIVATE, occupants_ids=[d["id"]])
    # carol reads the broadcast without a membership: archiving makes hers
    for dialog in (news, pair):
        status, body = await put(api, c, dialog["_id"], {"archived": 1}, "/archive")
        assert status == 200 and body["archived"] == 1, body
    assert sorted(ids(await listed(api, c, "?archived=1"))) == sorted([news["_id"], pair["_id"]])
    assert ids(await listed(api, c, "?archived=0")) == []
    # other readers still have the broadcast outside their archive
    assert sorted(ids(await listed(api, d, "?archived=0"))) == sorted([pair["_id"], news["_id"]])
    assert ids(await listed(api, d, "?archived=1")) == []


async def test_hidden_without_leaving(api, people, services):
    o, b, c = people["owner"], people["bob"], people["carol"]
    team = await group(api, people, "bob", "carol")
    await say(api, o, team["_id"], "one")
    status, body = await put(api, b, team["_id"], {"hidden": 1}, "/hidden")
    assert status == 200 and body["_id"] == team["_id"]
    assert ids(await listed(api, b)) == [] and await listed(api, b, "?count=1") == {"items_count": 0}
    # bob is still an occupant: he reads the history, the others still see him
    dialog = await DialogStore(services.database.db).get(1, team["_id"])
    assert b["id"] in dialog.occupants_ids
    status, page = await api.call("GET", f"/chat/Message.json?chat_dialog_id={team['_id']}",
                                  b["token"])
    assert status == 200 and [m["message"] for m in page["items"]] == ["one"]
    assert ids(await listed(api, c)) == [team["_id"]]
    # the next message brings it back, with its unread count
    await say(api, c, team["_id"], "two")
    [shown] = (await listed(api, b))["items"]
    assert shown["_id"] == team["_id"] and shown["unread_messages_count"] == 1
    assert b["id"] in shown["occupants_ids"]
    # hidden again, then shown again at once by the member
    await put(api, b, team["_id"], {"hidden": "1"}, "/hidden")
    assert ids(await listed(api, b)) == []
    status, body = await put(api, b, team["_id"], {"hidden": 0}, "/hidden")
    assert status == 200 and ids(await listed(api, b)) == [team["_id"]]
    # the owner may hide it too (it stays theirs); hiding publishes nothing
    kinds = await services.outbox.count({"kind": {"$in": ["dialog_updated", "dialog_deleted"]}})
    await put(api, o, team["_id"], {"hidden": 1}, "/hidden")
    assert ids(await listed(api, o)) == []
    assert await services.outbox.count(
        {"kind": {"$in": ["dialog_updated", "dialog_deleted"]}}) == kinds
    await say(api, c, team["_id"], "three")
    assert ids(await listed(api, o)) == [team["_id"]]


async def test_hidden_broadcast_comes_back_with_the_next_message(api, people):
    o, c = people["owner"], people["carol"]
    news = await create(api, o, type=BROADCAST, name="News")
    await put(api, c, news["_id"], {"hidden": 1}, "/hidden")
    assert ids(await listed(api, c)) == []
    await say(api, o, news["_id"], "extra")
    assert ids(await listed(api, c)) == [news["_id"]]
    # after "delete for me" (hidden for good), showing it explicitly brings it back
    status, _ = await api.call("DELETE", f"/chat/Dialog/{news['_id']}.json", c["token"])
    assert status == 200 and ids(await listed(api, c)) == []
    await put(api, c, news["_id"], {"hidden": 0}, "/hidden")
    assert ids(await listed(api, c)) == [news["_id"]]


async def test_members_only_and_bad_input(api, people):
    o, b, e, x = people["owner"], people["bob"], people["eve"], people["xeno"]
    team = await group(api, people, "bob")
    open_room = await create(api, o, type=PUBLIC, name="Open")
    for path, body in (("/archive", {"archived": 1}), ("/hidden", {"hidden": 1})):
        for who in (e, x):  # not a member; another application
            status, answer = await put(api, who, team["_id"], body, path)
            assert status == 404 and answer == NOT_FOUND, (path, who, answer)
        status, _ = await put(api, e, open_room["_id"], body, path)  # not subscribed
        assert status == 403
        status, _ = await put(api, b, "65a0000000000000000000d1", body, path)
        assert status == 404
        [field] = body
        for bad in ({}, {field: ""}, {field: "sometimes"}):
            status, answer = await put(api, b, team["_id"], bad, path)
            assert status == 422 and field in answer["errors"], (path, bad, answer)
        status, _ = await api.call("PUT", f"/chat/Dialog/{team['_id']}{path}", None, json=body)
        assert status == 401
        # the suffix-less path answers too
        status, answer = await api.call("PUT", f"/chat/Dialog/{team['_id']}{path}", b["token"],
                                        json={field: 0})
        assert status == 200 and answer["_id"] == team["_id"]
    status, answer = await api.call("GET", "/chat/Dialog.json?archived=maybe", b["token"])
    assert status == 422 and "archived" in answer["errors"]
