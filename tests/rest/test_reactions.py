"""/chat/Message/{id}/reactions: one reaction per user (a new one replaces it), occupants only."""
from __future__ import annotations

from tests.rest.test_messages import MISSING_DIALOG, make_dialog, post

THUMBS, OK, ROCKET = "\U0001f44d", "\U0001f44c", "\U0001f680"


async def react(api, who, message_id, **body):
    return await api.call("PUT", f"/chat/Message/{message_id}/reactions.json", who["token"], json=body)


async def reactions(api, who, message_id):
    return await api.call("GET", f"/chat/Message/{message_id}/reactions.json", who["token"])


async def test_add_replace_remove_and_list(api, services):
    alice, bob, carol = [await api.new_user(n) for n in ("alice", "bob", "carol")]
    dialog_id = await make_dialog(api, alice, bob, carol)
    _, msg = await post(api, alice, chat_dialog_id=dialog_id, message="react to me")
    mid = msg["_id"]

    status, body = await react(api, bob, mid, add=THUMBS)
    assert status == 200 and body == {}
    await react(api, carol, mid, add=THUMBS)
    status, body = await reactions(api, alice, mid)
    assert status == 200 and body == {THUMBS: [bob["id"], carol["id"]]}

    # adding another type replaces bob's previous reaction
    await react(api, bob, mid, add=OK)
    status, body = await reactions(api, alice, mid)
    assert body == {THUMBS: [carol["id"]], OK: [bob["id"]]}
    events = await services.outbox.find({"kind": "reactions_updated"})
    assert [e["payload"]["add"] for e in events] == [THUMBS, THUMBS, OK]
    assert events[-1]["payload"]["remove"] == THUMBS and events[-1]["payload"]["user_id"] == bob["id"]
    assert sorted(events[-1]["recipient_ids"]) == sorted([alice["id"], carol["id"]])
    assert events[-1]["payload"]["message_id"] == mid

    # the message JSON shows own reactions and totals, per viewer
    status, page = await api.call("GET", "/chat/Message.json", bob["token"],
                                  params={"chat_dialog_id": dialog_id})
    assert page["items"][0]["reactions"] == {"own": [OK], "total": {THUMBS: 1, OK: 1}}
    status, page = await api.call("GET", "/chat/Message.json", alice["token"],
                                  params={"chat_dialog_id": dialog_id})
    assert page["items"][0]["reactions"] == {"own": [], "total": {THUMBS: 1, OK: 1}}

    # add + remove together; removing the last one drops the key
    await react(api, carol, mid, add=ROCKET, remove=THUMBS)
    status, body = await reactions(api, alice, mid)
    assert body == {OK: [bob["id"]], ROCKET: [carol["id"]]}
    await react(api, bob, mid, remove=OK)
    await react(api, carol, mid, remove=ROCKET)
    status, body = await reactions(api, alice, mid)
    assert body == {}
    status, page = await api.call("GET", "/chat/Message.json", alice["token"],
                                  params={"chat_dialog_id": dialog_id})
    assert page["items"][0]["reactions"] is None
    # no change, no event
    before = await services.outbox.count({"kind": "reactions_updated"})
    await react(api, bob, mid, remove=OK)
    assert await services.outbox.count({"kind": "reactions_updated"}) == before


async def test_bad_input_and_access(api):
    alice, bob, outsider = [await api.new_user(n) for n in ("alice", "bob", "outsider")]
    dialog_id = await make_dialog(api, alice, bob)
    _, msg = await post(api, alice, chat_dialog_id=dialog_id, message="hello")
    mid = msg["_id"]
    for body, field in (({}, "base"), ({"add": ""}, "base"), ({"add": 5}, "add"),
                        ({"add": "x" * 17}, "add"), ({"add": "a.b"}, "add"), ({"add": "$x"}, "add"),
                        ({"remove": ["x"]}, "remove"), ({"add": "a b"}, "add")):
        status, answer = await react(api, bob, mid, **body)
        assert status == 422 and field in answer["errors"], (body, answer)
    status, answer = await api.call("PUT", f"/chat/Message/{mid}/reactions.json", bob["token"],
                                    data=b"{bad", headers={"Content-Type": "application/json"})
    assert status == 400
    for who, target in ((outsider, mid), (bob, MISSING_DIALOG), (bob, "_")):
        status, answer = await react(api, who, target, add=THUMBS)
        assert status == 404, answer
        status, answer = await reactions(api, who, target)
        assert status == 404, answer
    mallory = await api.new_user("mallory", app_id=2, auth_key="other-key")
    status, _ = await react(api, mallory, mid, add=THUMBS)
    assert status == 404
    status, _ = await reactions(api, mallory, mid)
    assert status == 404
    # deleted for me: gone for my reactions too
    await api.call("DELETE", f"/chat/Message/{mid}.json", bob["token"])
    status, _ = await react(api, bob, mid, add=THUMBS)
    assert status == 404
    status, body = await reactions(api, alice, mid)
    assert status == 200 and body == {}


async def test_preview_readers_may_list_but_not_react(api):
    owner, visitor = await api.new_user("owner"), await api.new_user("visitor")
    dialog_id = await make_dialog(api, owner, permissions={"allow_preview": True})
    _, msg = await post(api, owner, chat_dialog_id=dialog_id, message="look")
    await react(api, owner, msg["_id"], add=THUMBS)
    status, body = await reactions(api, visitor, msg["_id"])
    assert status == 200 and body == {THUMBS: [owner["id"]]}
    status, body = await react(api, visitor, msg["_id"], add=OK)
    assert status == 403
