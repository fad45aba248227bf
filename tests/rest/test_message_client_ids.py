"""`client_id` on `POST /chat/Message` (issue 15 §5): any string up to 64 characters, idempotent
per sender and dialog, returned on the message (and in its history)."""
from __future__ import annotations

import asyncio
import uuid

from tests.rest.test_messages import history, make_dialog, post


async def test_client_id_is_idempotent_and_returned(api):
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    dialog_id = await make_dialog(api, alice, bob)
    local = str(uuid.uuid4())
    status, first = await post(api, alice, chat_dialog_id=dialog_id, message="hi", client_id=local)
    assert status == 201 and first["client_id"] == local, first
    status, again = await post(api, alice, chat_dialog_id=dialog_id, message="hi", client_id=local)
    assert status == 201 and again["_id"] == first["_id"]
    # two at once (one batch, or two): one message
    answers = await asyncio.gather(*[post(api, alice, chat_dialog_id=dialog_id, message="x",
                                          client_id="clientHash-7") for _ in range(4)])
    assert {status for status, _ in answers} == {201}
    assert len({body["_id"] for _, body in answers}) == 1
    status, page = await history(api, bob, chat_dialog_id=dialog_id)
    assert [m.get("client_id") for m in page["items"]] == [local, "clientHash-7"]
    # the recipient's client_id of their own is another message
    status, theirs = await post(api, bob, chat_dialog_id=dialog_id, message="hi", client_id=local)
    assert status == 201 and theirs["_id"] != first["_id"]
    # a 1:1 send by recipient_id repeats as well
    status, one = await post(api, alice, recipient_id=bob["id"], message="p", client_id="l-1")
    status, two = await post(api, alice, recipient_id=bob["id"], message="p", client_id="l-1")
    assert status == 201 and one["_id"] == two["_id"] and one["client_id"] == "l-1"


async def test_client_id_is_checked(api):
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    dialog_id = await make_dialog(api, alice, bob)
    status, body = await post(api, alice, chat_dialog_id=dialog_id, message="x", client_id="a" * 65)
    assert status == 422 and list(body["errors"]) == ["client_id"], body
    status, body = await post(api, alice, chat_dialog_id=dialog_id, message="x", client_id=["a"])
    assert status == 422 and list(body["errors"]) == ["client_id"], body
    status, body = await post(api, alice, chat_dialog_id=dialog_id, message="x")
    assert status == 201 and "client_id" not in body
