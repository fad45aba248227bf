"""XEP-0461 replies over real Prosody (issue 15 §6): a stock client's `<reply to= id=/>` with its
XEP-0428 fallback quote is stored as `reply_to` (the fallback removed from the body); messages
the bridge sends carry `<reply>` again; a 1:1 reply whose quote does not check out is stored
without it (Prosody delivered it already)."""
from __future__ import annotations

from tests.bridge.conftest import extra, is_message, new_id, sub
from tests.bridge.test_groupchat import group, join, room
from tests.bridge.test_private import eventually

NS_REPLY = "urn:xmpp:reply:0"
SAVE = '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history></extraParams>'


def reply_of(stanza):
    return next((c for c in stanza if c.tag == "{urn:xmpp:reply:0}reply"), None)


async def history(rest, user, dialog_id):
    status, page = await rest.call("GET", "/chat/Message.json", user["token"],
                                   params={"chat_dialog_id": dialog_id, "mark_as_read": 0})
    assert status == 200
    return page["items"]


async def test_a_room_reply_maps_both_ways(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await group(rest, a, b)
    alice, bob = await xmpp(a), await xmpp(b)
    for client in (alice, bob):
        join_id = join(client, dialog["_id"])
        await client.wait_for(lambda s, j=join_id: s.get("id") == j)
    first = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{first}">'
               f'<body>lunch?</body>{SAVE}</message>')
    await bob.wait_for(lambda s: is_message(s, id=first))
    # a stock client's reply: the quote as fallback text, then the answer
    quote = "> lunch?\n"
    answer = new_id()
    bob.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{answer}">'
             f'<body>{quote}yes</body>'
             f'<reply xmlns="urn:xmpp:reply:0" to="{room(dialog["_id"], a["id"])}" id="{first}"/>'
             f'<fallback xmlns="urn:xmpp:fallback:0" for="urn:xmpp:reply:0">'
             f'<body start="0" end="{len(quote)}"/></fallback>{SAVE}</message>')
    [got] = await alice.wait_for(lambda s: is_message(s, id=answer))
    assert sub(got, "body").text == "yes"
    reply = reply_of(got)
    assert reply is not None and reply.get("id") == first
    assert reply.get("to") == room(dialog["_id"], a["id"])

    async def stored():
        items = await history(rest, a, dialog["_id"])
        return items if len(items) == 2 else None

    items = await eventually(stored)
    assert items[1]["message"] == "yes" and items[1]["reply_to"] == first
    assert items[1]["reply_to_preview"] == {"sender_id": a["id"], "message": "lunch?",
                                            "attachment_type": None}
    # a reply over REST, relayed to the room, carries <reply> and the SDK's extension key
    status, rest_reply = await rest.call("POST", "/chat/Message.json", b["token"], json={
        "chat_dialog_id": dialog["_id"], "message": "me too", "reply_to": first, "send_to_chat": 1})
    assert status == 201, rest_reply
    [relayed] = await alice.wait_for(lambda s: is_message(s, id=rest_reply["_id"]))
    assert reply_of(relayed).get("id") == first and extra(relayed)["reply_to"] == first
    # a reply to a message of another dialog is refused in a room (nothing delivered yet)
    other = await group(rest, a, b)
    status, elsewhere = await rest.call("POST", "/chat/Message.json", a["token"], json={
        "chat_dialog_id": other["_id"], "message": "there"})
    bad = new_id()
    bob.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{bad}"><body>re</body>'
             f'<reply xmlns="urn:xmpp:reply:0" id="{elsewhere["_id"]}"/>{SAVE}</message>')
    [error] = await bob.wait_for(lambda s: is_message(s, id=bad, type="error"))
    assert error is not None


async def test_a_private_reply_is_stored_and_a_bad_quote_dropped(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await xmpp(a), await xmpp(b)
    first = new_id()
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{first}"><body>ping</body>{SAVE}</message>')
    await bob.wait_for(lambda s: is_message(s, id=first))
    answer, orphan = new_id(), new_id()
    bob.send(f'<message to="{a["jid"]}" type="chat" id="{answer}"><body>pong</body>'
             f'<reply xmlns="urn:xmpp:reply:0" to="{a["jid"]}" id="{first}"/>{SAVE}</message>')
    bob.send(f'<message to="{a["jid"]}" type="chat" id="{orphan}"><body>lost</body>'
             f'<reply xmlns="urn:xmpp:reply:0" to="{a["jid"]}" id="{"f" * 24}"/>{SAVE}</message>')
    await alice.wait_for(lambda s: is_message(s, id=orphan))

    async def stored():
        status, dialogs = await rest.call("GET", "/chat/Dialog.json", a["token"])
        private = [d for d in dialogs["items"] if d["type"] == 3]
        if not private:
            return None
        items = await history(rest, a, private[0]["_id"])
        return items if len(items) == 3 else None

    items = await eventually(stored)
    by_id = {m["_id"]: m for m in items}
    assert by_id[answer]["reply_to"] == first
    assert by_id[answer]["reply_to_preview"]["sender_id"] == a["id"]
    assert "reply_to" not in by_id[orphan] and by_id[orphan]["message"] == "lost"


def test_the_fallback_quote_is_cut_by_code_points():
    from xml.etree.ElementTree import fromstring

    from bridge.convert import draft_from_stanza

    def draft(body, start, end, for_=NS_REPLY, target="65a1b2c3d4e5f6a7b8c9d0e1"):
        xml = (f'<message xmlns="jabber:client" id="x"><body>{body}</body>'
               f'<reply xmlns="{NS_REPLY}" id="{target}"/>'
               f'<fallback xmlns="urn:xmpp:fallback:0" for="{for_}"><body start="{start}" end="{end}"/>'
               '</fallback></message>')
        return draft_from_stanza(fromstring(xml))

    assert draft("> 😀 hi\nok", 0, 7).body == "ok"
    assert draft("> 😀 hi\nok", 0, 7).reply_to == "65a1b2c3d4e5f6a7b8c9d0e1"
    assert draft("> q\nok", 0, 99).body == "> q\nok"  # offsets outside the body: kept
    assert draft("> q\nok", 0, 4, for_="urn:other").body == "> q\nok"  # not a reply's fallback
    assert draft("ok", 0, 0, target="client-id-1").reply_to is None  # not a stored id
