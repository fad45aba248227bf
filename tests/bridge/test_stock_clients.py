"""Stock XMPP clients (no ConnectyCube extraParams) over real Prosody, as slixmpp with only its
standard plugins (xep_0030, xep_0045, xep_0359) sees them: their messages are stored and carry
XEP-0359 stanza-ids, rooms behave as XEP-0045 says (reflection with the sender's id and origin-id,
nick assigned with 210, non-anonymous items with affiliations, subject, disco#info). ConnectyCube
semantics stay: an SDK message with extraParams but no save_to_history=1 is not stored."""
from __future__ import annotations

import asyncio
import shutil
import uuid

import aiohttp
import pytest
from slixmpp import JID

from tests.bridge.conftest import Client, Rest, Server, is_message, make_settings, new_id, running, sub
from tests.bridge.test_groupchat import room
from tests.bridge.test_private import eventually

NS_SID = "{urn:xmpp:sid:0}"
NS_NICK = "{http://jabber.org/protocol/nick}nick"
NS_MUC_USER = "{http://jabber.org/protocol/muc#user}"
PLUGINS = ("xep_0030", "xep_0045", "xep_0359")


async def stock(server, user) -> Client:
    """A logged-in slixmpp client with only slixmpp's standard plugins."""
    client = Client(user, server.settings)
    for plugin in PLUGINS:
        client.xmpp.register_plugin(plugin)
    await client.connect()
    await server.wait_online(user["id"], client.resource)
    return client


@pytest.fixture
async def clients(server):
    made: list[Client] = []

    async def connect(user) -> Client:
        made.append(await stock(server, user))
        return made[-1]

    yield connect
    for client in made:
        await client.close()


async def private_history(rest, user, other_id) -> tuple[dict | None, list[dict]]:
    """(the pair's private dialog as `user` lists it, its messages)."""
    status, dialogs = await rest.call("GET", "/chat/Dialog.json", user["token"])
    assert status == 200
    private = [d for d in dialogs["items"] if d["type"] == 3 and other_id in d["occupants_ids"]]
    if not private:
        return None, []
    status, history = await rest.call("GET", "/chat/Message.json", user["token"],
                                      params={"chat_dialog_id": private[0]["_id"], "mark_as_read": 0})
    assert status == 200
    return private[0], history["items"]


def stanza_id(element, by: str) -> str | None:
    found = [s for s in element if s.tag == f"{NS_SID}stanza-id" and s.get("by") == by]
    return found[0].get("id") if found else None


async def test_plain_1to1_message_is_stored_under_its_stanza_id(server, rest, clients):
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await clients(a), await clients(b)
    client_id = str(uuid.uuid4())  # not a ConnectyCube id
    msg = alice.xmpp.make_message(mto=b["jid"], mbody="plain hello", mtype="chat")
    msg["id"] = client_id
    msg["origin_id"]["id"] = client_id
    msg.send()
    [got] = await bob.wait_for(lambda s: is_message(s, id=client_id))
    stored_id = stanza_id(got, b["jid"])  # by the recipient's bare JID
    assert stored_id is not None and len(stored_id) == 24

    async def history():
        dialog, items = await private_history(rest, b, a["id"])
        return (dialog, items) if items else None

    dialog, items = await eventually(history)
    for _ in range(100):  # the dialog's last message is recorded with the insert: wait for both
        if dialog["last_message_id"] == stored_id:
            break
        await asyncio.sleep(0.05)
        dialog, items = await private_history(rest, b, a["id"])
    assert [(m["_id"], m["message"], m["sender_id"]) for m in items] == [(stored_id, "plain hello", a["id"])]
    assert dialog["last_message_id"] == stored_id and dialog["last_message"] == "plain hello"
    status, unread = await rest.call("GET", "/chat/Message/unread.json", b["token"])
    assert unread["total"] == 1

    # what is not a message is never stored: chat states, receipts, markers, headlines, errors
    for extra in ('<composing xmlns="http://jabber.org/protocol/chatstates"/>',
                  f'<received xmlns="urn:xmpp:receipts" id="{client_id}"/>',
                  f'<displayed xmlns="urn:xmpp:chat-markers:0" id="{client_id}"/>'):
        bob.send(f'<message to="{a["jid"]}" type="chat" id="{uuid.uuid4()}">{extra}</message>')
    for kind in ("headline", "normal", "error"):
        alice.send(f'<message to="{b["jid"]}" type="{kind}" id="{kind}-{uuid.uuid4()}"><body>{kind}</body></message>')
    [headline] = await bob.wait_for(lambda s: is_message(s, type="headline"))
    assert stanza_id(headline, b["jid"]) is None
    last = str(uuid.uuid4())
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{last}"><body>second</body></message>')
    await bob.wait_for(lambda s: is_message(s, id=last))
    dialog, items = await eventually(lambda: _with(rest, b, a["id"], count=2))
    assert [m["message"] for m in items] == ["plain hello", "second"]


async def _with(rest, user, other_id, count):
    dialog, items = await private_history(rest, user, other_id)
    return (dialog, items) if len(items) >= count else None


async def test_sdk_message_without_save_to_history_is_not_stored(server, rest, clients):
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await clients(a), await clients(b)
    mid = new_id()
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{mid}"><body>not kept</body>'
               '<extraParams xmlns="jabber:client"><k>v</k></extraParams></message>')
    [got] = await bob.wait_for(lambda s: is_message(s, id=mid))
    assert stanza_id(got, b["jid"]) is None  # nothing stored: no stored id to tell
    kept = new_id()
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{kept}"><body>kept</body>'
               '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history></extraParams></message>')
    [got] = await bob.wait_for(lambda s: is_message(s, id=kept))
    assert stanza_id(got, b["jid"]) == kept  # the SDK's id is the stored id
    dialog, items = await eventually(lambda: _with(rest, b, a["id"], count=1))
    await asyncio.sleep(0.3)
    dialog, items = await private_history(rest, b, a["id"])
    assert [m["_id"] for m in items] == [kept]


@pytest.fixture(scope="module")
def plain_off(tmp_path_factory):
    """A second chatbridge with CHAT_XMPP__STORE_PLAIN_MESSAGES=false."""
    if shutil.which("prosody") is None:
        pytest.skip("Prosody is not installed")
    yield from running(Server(make_settings(tmp_path_factory.mktemp("plain-off"),
                                            store_plain_messages=False)))


async def test_setting_off_plain_messages_are_not_stored(plain_off):
    async with aiohttp.ClientSession() as session:
        rest = Rest(session, plain_off.base_url)
        a, b = await rest.new_user(), await rest.new_user()
        alice, bob = await stock(plain_off, a), await stock(plain_off, b)
        try:
            dialog = await rest.dialog(a["token"], [b["id"]])
            plain = str(uuid.uuid4())
            alice.send(f'<message to="{b["jid"]}" type="chat" id="{plain}"><body>plain</body></message>')
            [got] = await bob.wait_for(lambda s: is_message(s, id=plain))
            assert stanza_id(got, b["jid"]) is None
            group = str(uuid.uuid4())
            alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{group}"><body>g</body></message>')
            [got] = await bob.wait_for(lambda s: is_message(s, type="groupchat") and sub(s, "body") is not None)
            assert stanza_id(got, room(dialog["_id"])) is None
            sdk = new_id()  # SDK messages keep their rule
            alice.send(f'<message to="{b["jid"]}" type="chat" id="{sdk}"><body>sdk</body>'
                       '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history></extraParams></message>')
            await bob.wait_for(lambda s: is_message(s, id=sdk))
            _, items = await eventually(lambda: _with(rest, b, a["id"], count=1))
            await asyncio.sleep(0.3)
            _, items = await private_history(rest, b, a["id"])
            assert [m["_id"] for m in items] == [sdk]
            status, history = await rest.call("GET", "/chat/Message.json", b["token"],
                                              params={"chat_dialog_id": dialog["_id"]})
            assert status == 200 and history["items"] == []
        finally:
            await alice.close()
            await bob.close()


async def test_room_join_reflection_items_subject_and_disco(server, rest, clients):
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    dialog = await rest.dialog(a["token"], [b["id"], c["id"]], name="Stock room", admins_ids=[b["id"]])
    alice, bob, carol = await clients(a), await clients(b), await clients(c)
    room_jid = JID(room(dialog["_id"]))
    for client, nick in ((bob, "bob"), (carol, "carol")):
        await client.xmpp.plugin["xep_0045"].join_muc_wait(room_jid, nick, maxstanzas=0, timeout=5)

    # any proposed nick: the occupant is its user id, told with 210 (and 100: non-anonymous; 110)
    pres, subject, occupants, _history = await alice.xmpp.plugin["xep_0045"].join_muc_wait(
        room_jid, "alice", maxstanzas=0, timeout=5)
    assert pres["from"].resource == str(a["id"])
    assert {100, 110, 210} <= set(pres["muc"]["status_codes"])
    assert pres["muc"]["affiliation"] == "owner" and pres["muc"]["role"] == "moderator"
    assert subject["subject"] == "Stock room"
    occupants = [p for p in occupants if p["from"] != pres["from"]]  # slixmpp lists itself too
    items = {int(p["from"].resource): (p["muc"]["affiliation"], p["muc"]["role"], str(p["muc"]["jid"]))
             for p in occupants}
    assert items == {b["id"]: ("admin", "moderator", bob.jid), c["id"]: ("member", "participant", carol.jid)}
    nicks = {int(p["from"].resource): p.xml.find(NS_NICK).text for p in occupants}
    assert nicks == {b["id"]: b["login"], c["id"]: c["login"]}  # XEP-0172: login, no full name
    # the others learn alice's real JID and name
    [joined] = await bob.wait_for(lambda s: s.get("from") == f"{room_jid}/{a['id']}" and s.tag.endswith("presence"))
    assert joined.find(f"{NS_MUC_USER}x/{NS_MUC_USER}item").get("jid") == alice.jid
    assert joined.find(NS_NICK).text == a["login"]

    # the reflection keeps the sender's id and origin-id; everyone gets the stored id as stanza-id
    client_id = str(uuid.uuid4())
    msg = alice.xmpp.make_message(mto=room_jid, mbody="hello room", mtype="groupchat")
    msg["id"] = client_id
    msg["origin_id"]["id"] = client_id
    msg.send()
    [mine] = await alice.wait_for(lambda s: is_message(s, type="groupchat") and sub(s, "body") is not None)
    assert mine.get("id") == client_id
    assert mine.find(f"{NS_SID}origin-id").get("id") == client_id
    stored_id = stanza_id(mine, str(room_jid))
    assert stored_id is not None
    [theirs] = await bob.wait_for(lambda s: is_message(s, type="groupchat") and sub(s, "body") is not None)
    assert theirs.get("id") == stored_id and stanza_id(theirs, str(room_jid)) == stored_id
    assert theirs.find(NS_NICK).text == a["login"]
    status, history = await rest.call("GET", "/chat/Message.json", c["token"],
                                      params={"chat_dialog_id": dialog["_id"], "mark_as_read": 0})
    assert status == 200 and [(m["_id"], m["message"]) for m in history["items"]] == [(stored_id, "hello room")]

    # a subject change is refused (the dialog's name is changed through REST)
    alice.send(f'<message to="{room_jid}" type="groupchat" id="subj"><subject>new</subject></message>')
    [error] = await alice.wait_for(lambda s: is_message(s, id="subj", type="error"))
    assert error.find("{jabber:client}error").get("code") == "403"

    info = await alice.xmpp.plugin["xep_0030"].get_info(jid=room_jid, timeout=5)
    identities = info["disco_info"]["identities"]
    assert ("conference", "text", None, "Stock room") in identities
    features = set(info["disco_info"]["features"])
    assert {"http://jabber.org/protocol/muc", "muc_membersonly", "muc_persistent", "muc_nonanonymous",
            "urn:xmpp:sid:0"} <= features
    # a non-member is not told
    d = await rest.new_user()
    dave = await clients(d)
    dave.send(f'<iq type="get" to="{room_jid}" id="info1"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>')
    [refused] = await dave.wait_for(lambda s: s.get("id") == "info1")
    assert refused.get("type") == "error"


async def test_sdk_join_still_gets_no_subject_and_own_id(server, rest, clients):
    """The SDK's join (id ending in ":join", nick = its user id): no 210, no subject message."""
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await rest.dialog(a["token"], [b["id"]])
    alice = await clients(a)
    join_id = f"{new_id()}:join"
    alice.send(f'<presence id="{join_id}" to="{room(dialog["_id"], a["id"])}">'
               '<x xmlns="http://jabber.org/protocol/muc"><history maxstanzas="0"/></x></presence>')
    [self_presence] = await alice.wait_for(lambda s: s.get("id") == join_id)
    statuses = {s.get("code") for s in self_presence.findall(f"{NS_MUC_USER}x/{NS_MUC_USER}status")}
    assert statuses == {"100", "110"}
    # the SDK's join() reads the first <status> only
    assert self_presence.find(f"{NS_MUC_USER}x/{NS_MUC_USER}status").get("code") == "110"
    assert self_presence[0].tag == f"{NS_MUC_USER}x"  # the SDK reads the first child named x
    await alice.absent(lambda s: sub(s, "subject") is not None, wait=0.3)
