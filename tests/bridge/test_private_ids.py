"""1:1 client ids and acknowledgements over real Prosody (issue 15 §5): the sender's devices get
`<ack xmlns="urn:chatbridge:ack:0">` with the stored id and the server's time; a stanza id or
XEP-0359 origin-id of any format makes a repeated send (a client resending after a reconnect)
store one message."""
from __future__ import annotations

import uuid

from tests.bridge.conftest import extra, is_message, new_id, sub
from tests.bridge.test_private import eventually

SAVE = '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history></extraParams>'


def ack_of(stanza, mid):
    if not is_message(stanza, type="headline"):
        return None
    return next((ack for ack in stanza if ack.tag == "{urn:chatbridge:ack:0}ack"
                 and ack.get("mid") == mid), None)


async def private_history(rest, user, peer_id):
    status, dialogs = await rest.call("GET", "/chat/Dialog.json", user["token"])
    private = [d for d in dialogs["items"] if d["type"] == 3 and peer_id in d["occupants_ids"]]
    if not private:
        return None, []
    status, page = await rest.call("GET", "/chat/Message.json", user["token"],
                                   params={"chat_dialog_id": private[0]["_id"], "mark_as_read": 0})
    return private[0]["_id"], page["items"]


async def test_the_sender_gets_an_ack_with_the_stored_id(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await xmpp(a), await xmpp(b)
    other_device = await xmpp(a)
    mid = new_id()  # the SDK's own ObjectId-shaped id: stored under it
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{mid}"><body>hi</body>{SAVE}</message>')
    [got] = await alice.wait_for(lambda s: ack_of(s, mid) is not None)
    ack = ack_of(got, mid)
    assert ack.get("server_mid") == mid and got.get("from") == f"muc.{a['jid'].split('@')[1]}"
    dialog_id, items = await eventually(lambda: _stored(rest, a, b["id"], 1))
    assert ack.get("dialog_id") == dialog_id and int(ack.get("date_sent")) == items[0]["date_sent"]
    assert abs(int(ack.get("t")) - items[0]["date_sent"]) <= 2  # the server's time
    assert ack.get("stored") is None
    # every device of the sender, never the recipient
    await other_device.wait_for(lambda s: ack_of(s, mid) is not None)
    await bob.absent(lambda s: sub(s, "ack") is not None, wait=0.3)


async def test_a_stanza_id_of_any_format_is_the_client_id(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await xmpp(a), await xmpp(b)
    local = str(uuid.uuid4())  # a stock client's id
    for attempt in range(2):  # a resend (as after a reconnect): Prosody numbers it anew
        alice.send(f'<message to="{b["jid"]}" type="chat" id="{local}"><body>hello</body>{SAVE}</message>')
    await eventually(lambda: _acks(alice, local, 2))
    acks = await _acks(alice, local, 2)  # one headline per sender and batch: both may share one
    server_mids = {ack.get("server_mid") for ack in acks}
    assert len(server_mids) == 1 and all(ack.get("client_id") == local for ack in acks)
    dialog_id, items = await eventually(lambda: _stored(rest, a, b["id"], 1))
    assert [(m["_id"], m["client_id"]) for m in items] == [(server_mids.pop(), local)]
    # the XEP-0359 origin-id wins over the stanza id
    origin = "origin-" + uuid.uuid4().hex
    for _ in range(2):
        alice.send(f'<message to="{b["jid"]}" type="chat" id="{uuid.uuid4()}"><body>again</body>'
                   f'<origin-id xmlns="urn:xmpp:sid:0" id="{origin}"/>{SAVE}</message>')
    await eventually(lambda: _stored(rest, a, b["id"], 2))
    await alice.absent(lambda s: False, wait=0.3)
    _, items = await _stored(rest, a, b["id"], 2)
    assert [m.get("client_id") for m in items] == [local, origin]
    # a message not kept in history is acknowledged too, marked as such
    plain = new_id()
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{plain}"><body>gone</body>'
               '<extraParams xmlns="jabber:client"><save_to_history>0</save_to_history></extraParams></message>')
    [got] = await alice.wait_for(lambda s: ack_of(s, plain) is not None)
    assert ack_of(got, plain).get("stored") == "0"


async def _stored(rest, user, peer_id, count):
    dialog_id, items = await private_history(rest, user, peer_id)
    return (dialog_id, items) if len(items) >= count else None


async def test_a_first_message_reaches_the_recipient_with_its_dialog_and_date(server, rest, xmpp):
    """Issue 15 §9a/b: the SDK's first message to a user has no dialog_id (and no date_sent);
    the recipient's copy gets both from the server, as the stored message has them."""
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await xmpp(a), await xmpp(b)
    mid = new_id()
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{mid}"><body>first</body>{SAVE}</message>')
    [got] = await bob.wait_for(lambda s: is_message(s, id=mid))
    params = extra(got)
    dialog_id, items = await eventually(lambda: _stored(rest, a, b["id"], 1))
    assert params["dialog_id"] == dialog_id and params["save_to_history"] == "1"
    assert int(params["date_sent"]) == items[0]["date_sent"]
    # the next one (the cache) too; a date_sent or dialog_id the client gave is kept
    second, third = new_id(), new_id()
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{second}"><body>2</body>{SAVE}</message>')
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{third}"><body>3</body>'
               '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history>'
               f'<date_sent>1700000000</date_sent><dialog_id>{"0" * 24}</dialog_id></extraParams></message>')
    [two] = await bob.wait_for(lambda s: is_message(s, id=second))
    [three] = await bob.wait_for(lambda s: is_message(s, id=third))
    assert extra(two)["dialog_id"] == dialog_id and "date_sent" in extra(two)
    assert extra(three)["date_sent"] == "1700000000" and extra(three)["dialog_id"] == "0" * 24
    _, items = await eventually(lambda: _stored(rest, a, b["id"], 3))
    assert {m["chat_dialog_id"] for m in items} == {dialog_id}  # stored by the pair, as before
    assert [m["date_sent"] for m in items if m["_id"] == third] == [1700000000]
    # the reverse direction is the same dialog; a plain client's message stays as it was sent
    plain = new_id()
    bob.send(f'<message to="{a["jid"]}" type="chat" id="{plain}"><body>plain</body></message>')
    [got] = await alice.wait_for(lambda s: is_message(s, id=plain))
    assert sub(got, "extraParams") is None
    back = new_id()
    bob.send(f'<message to="{a["jid"]}" type="chat" id="{back}"><body>b</body>{SAVE}</message>')
    [got] = await alice.wait_for(lambda s: is_message(s, id=back))
    assert extra(got)["dialog_id"] == dialog_id


async def test_the_dialog_lookup_answers_only_the_server(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice = await xmpp(a)
    ask = (f'<iq type="get" to="muc.localhost" id="q1"><dialog xmlns="urn:chatbridge:dialog:0" '
           f'from="{b["id"]}-1" to="{a["id"]}-1"/></iq>')
    alice.send(ask)
    [answer] = await alice.wait_for(lambda s: s.get("id") == "q1")
    assert answer.get("type") == "error" and sub(answer, "dialog") is None
    status, dialogs = await rest.call("GET", "/chat/Dialog.json", a["token"])
    assert dialogs["items"] == []  # nothing created


async def test_no_dialog_for_an_unknown_recipient(server, rest, xmpp):
    a = await rest.new_user()
    alice = await xmpp(a)
    mid = new_id()
    alice.send(f'<message to="999999-1@localhost" type="chat" id="{mid}"><body>x</body>{SAVE}</message>')
    await alice.absent(lambda s: ack_of(s, mid) is not None, wait=0.5)
    status, dialogs = await rest.call("GET", "/chat/Dialog.json", a["token"])
    assert dialogs["items"] == []


async def _acks(client, mid, count):
    found = [ack for s in client.stanzas if is_message(s, type="headline") for ack in s
             if ack.tag == "{urn:chatbridge:ack:0}ack" and ack.get("mid") == mid]
    return found if len(found) >= count else None


async def test_one_headline_acknowledges_a_burst(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await xmpp(a), await xmpp(b)
    ids = [new_id() for _ in range(30)]
    for mid in ids:
        alice.send(f'<message to="{b["jid"]}" type="chat" id="{mid}"><body>{mid}</body>{SAVE}</message>')
    for mid in ids:
        await eventually(lambda mid=mid: _acks(alice, mid, 1))
    headlines = [s for s in alice.stanzas if is_message(s, type="headline")]
    acked = [ack.get("server_mid") for s in headlines for ack in s]
    assert sorted(acked) == sorted(ids)  # each message once, with its stored id
    assert all(s.get("to") == a["jid"] and len(s) >= 1 for s in headlines)
