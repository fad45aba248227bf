"""Replies and forwards over REST (issue 15 §6): `reply_to` (a message of the same dialog, else
422) and `forwarded_from` (a message the sender may read, else 404) are stored and answered with
a preview of the quoted message (sender, first 100 characters, first attachment's type)."""
from __future__ import annotations

from tests.rest.test_messages import history, make_dialog, post

MISSING = "65a0000000000000000000ff"


async def test_a_reply_carries_its_preview(api):
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    dialog_id = await make_dialog(api, alice, bob)
    long = "x" * 150
    _, original = await post(api, alice, chat_dialog_id=dialog_id, message=long,
                             attachments=[{"type": "image", "id": "1"}, {"type": "file"}])
    status, reply = await post(api, bob, chat_dialog_id=dialog_id, message="yes",
                               reply_to=original["_id"].upper())
    assert status == 201, reply
    preview = {"sender_id": alice["id"], "message": "x" * 100, "attachment_type": "image"}
    assert reply["reply_to"] == original["_id"] and reply["reply_to_preview"] == preview
    assert "forwarded_from" not in reply and "reply_to" not in reply.get("custom", {})
    status, page = await history(api, alice, chat_dialog_id=dialog_id)
    assert [m.get("reply_to_preview") for m in page["items"]] == [None, preview]
    # the preview is what the message was: an edit later does not change it
    status, _ = await api.call("PUT", f"/chat/Message/{original['_id']}", alice["token"],
                               json={"message": "edited", "chat_dialog_id": dialog_id})
    assert status == 200
    status, page = await history(api, alice, chat_dialog_id=dialog_id)
    assert page["items"][1]["reply_to_preview"]["message"] == "x" * 100


async def test_a_reply_must_quote_this_dialog(api):
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    dialog_id = await make_dialog(api, alice, bob)
    other = await make_dialog(api, alice, bob)
    _, elsewhere = await post(api, alice, chat_dialog_id=other, message="there")
    for target in (elsewhere["_id"], MISSING):
        status, body = await post(api, alice, chat_dialog_id=dialog_id, message="re", reply_to=target)
        assert status == 422 and list(body["errors"]) == ["reply_to"], body
    status, body = await post(api, alice, chat_dialog_id=dialog_id, message="re", reply_to="nope")
    assert status == 422 and list(body["errors"]) == ["reply_to"], body
    status, page = await history(api, alice, chat_dialog_id=dialog_id)
    assert page["items"] == []


async def test_a_forward_quotes_a_message_the_sender_may_read(api):
    alice, bob, carol = [await api.new_user(n) for n in ("alice", "bob", "carol")]
    team = await make_dialog(api, alice, bob)
    secret = await make_dialog(api, alice, carol)
    _, original = await post(api, bob, chat_dialog_id=team, message="news")
    status, forward = await post(api, alice, recipient_id=carol["id"], message="",
                                 forwarded_from=original["_id"])
    assert status == 201, forward
    assert forward["forwarded_from"] == original["_id"]
    assert forward["forwarded_from_preview"] == {"sender_id": bob["id"], "message": "news",
                                                 "attachment_type": None}
    # carol can't forward what she can't read, nor an unknown message: not found (no probing)
    _, hidden = await post(api, alice, chat_dialog_id=secret, message="only us")
    for target in (original["_id"], MISSING):
        status, body = await post(api, carol, chat_dialog_id=secret, message="fw",
                                  forwarded_from=target)
        assert status == 404, body
    status, body = await post(api, carol, chat_dialog_id=secret, message="fw", forwarded_from="x")
    assert status == 422 and list(body["errors"]) == ["forwarded_from"]
    status, ok = await post(api, carol, chat_dialog_id=secret, message="fw", forwarded_from=hidden["_id"])
    assert status == 201 and ok["forwarded_from_preview"]["sender_id"] == alice["id"]
