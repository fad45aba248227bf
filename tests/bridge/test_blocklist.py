"""One block list over every path, against the real Prosody: XEP-0191 with slixmpp's `xep_0191`
client, the SDK's privacy lists (XEP-0016, `xep_0016` too) and REST read and write the same list;
1:1 stanzas between a blocked pair are refused either way (the errors the reference names), pushes
reach the user's other resources, rooms keep both members but the blocker gets nothing of the
blocked user, presence and last activity are hidden, and unblocking restores everything."""
from __future__ import annotations

import uuid

from slixmpp import JID

from tests.bridge.conftest import APP_ID, DOMAIN, is_message, local, new_id, sub

NS_BLOCKING = "urn:xmpp:blocking"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def room(dialog_id: str, nick: str | int = "") -> str:
    jid = f"{APP_ID}_{dialog_id}@muc.{DOMAIN}"
    return f"{jid}/{nick}" if nick != "" else jid


async def blocking_client(xmpp, user):
    return await xmpp(user, plugins=("xep_0030", "xep_0191", "xep_0016"))


def error_of(stanza, mid: str) -> tuple[str | None, str | None, set[str]]:
    """(error type, legacy code, child names) of the error answering stanza `mid`."""
    if stanza.get("id") != mid or stanza.get("type") != "error":
        return None, None, set()
    error = sub(stanza, "error")
    return error.get("type"), error.get("code"), {local(c.tag) for c in error}


def is_error(mid: str, condition: str):
    return lambda s: condition in error_of(s, mid)[2]


def push(kind: str, jid: str):
    def match(s) -> bool:
        if local(s.tag) != "iq" or s.get("type") != "set":
            return False
        change = sub(s, kind)
        return change is not None and any(i.get("jid") == jid for i in change)
    return match


def chat(to: dict, mid: str, body: str = "hi") -> str:
    return (f'<message to="{to["jid"]}" type="chat" id="{mid}"><body>{body}</body><extraParams '
            f'xmlns="jabber:client"><save_to_history>1</save_to_history></extraParams></message>')


async def blocked_ids(rest, who) -> list[int]:
    status, body = await rest.call("GET", "/blocklist.json", who["token"])
    assert status == 200, body
    return [u["id"] for u in body["items"]]


async def test_blocking_command_blocks_both_ways_pushes_and_unblocks(server, rest, xmpp):
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    alice, alice_phone = await blocking_client(xmpp, a), await blocking_client(xmpp, a)
    bob, carol = await xmpp(b), await xmpp(c)
    features = await alice.xmpp.plugin["xep_0030"].get_info(jid=DOMAIN, timeout=5)
    assert NS_BLOCKING in features["disco_info"]["features"]
    assert await alice_phone.xmpp.plugin["xep_0191"].get_blocked_jids(timeout=5) == set()

    await alice.xmpp.plugin["xep_0191"].block([JID(b["jid"])], timeout=5)
    # the resource that asked for the list gets the push; the list is the REST one
    await alice_phone.wait_for(push("block", b["jid"]))
    assert await blocked_ids(rest, a) == [b["id"]]
    assert await alice.xmpp.plugin["xep_0191"].get_blocked_jids(timeout=5) == {JID(b["jid"])}

    # the blocked user's 1:1 message: service-unavailable (legacy code 503), not delivered,
    # not stored (no private dialog came of it)
    refused = new_id()
    bob.send(chat(a, refused, "let me in"))
    [error] = await bob.wait_for(is_error(refused, "service-unavailable"))
    assert error_of(error, refused)[:2] == ("cancel", "503")
    # the blocker's own to the blocked: not-acceptable with XEP-0191's <blocked/>
    own = new_id()
    alice.send(chat(b, own))
    [error] = await alice.wait_for(is_error(own, "not-acceptable"))
    assert error_of(error, own)[2] == {"not-acceptable", "blocked"}
    # last activity either way: refused
    iq_id = f"{uuid.uuid4()}:lastActivity"
    bob.send(f'<iq type="get" to="{a["jid"]}" id="{iq_id}"><query xmlns="jabber:iq:last"/></iq>')
    await bob.wait_for(is_error(iq_id, "service-unavailable"))
    # someone else is not concerned
    fine = new_id()
    carol.send(chat(a, fine))
    await alice.wait_for(lambda s: is_message(s, id=fine))
    await alice.absent(lambda s: is_message(s, id=refused) or is_message(s, id=own, type="chat"),
                       wait=0.3)
    await bob.absent(lambda s: is_message(s, id=own, type="chat"), wait=0.1)
    status, dialogs = await rest.call("GET", "/chat/Dialog.json", b["token"])
    assert status == 200 and dialogs["items"] == []

    await alice.xmpp.plugin["xep_0191"].unblock([JID(b["jid"])], timeout=5)
    await alice_phone.wait_for(push("unblock", b["jid"]))
    assert await blocked_ids(rest, a) == []
    again = new_id()
    bob.send(chat(a, again, "now?"))
    await alice.wait_for(lambda s: is_message(s, id=again))


async def test_unknown_jids_and_others_lists_are_refused(server, rest, xmpp):
    a = await rest.new_user()
    alice = await blocking_client(xmpp, a)
    iq_id = new_id()
    alice.send(f'<iq type="set" id="{iq_id}"><block xmlns="{NS_BLOCKING}">'
               f'<item jid="999999-{APP_ID}@{DOMAIN}"/></block></iq>')
    await alice.wait_for(is_error(iq_id, "item-not-found"))
    iq_id = new_id()
    alice.send(f'<iq type="set" id="{iq_id}"><block xmlns="{NS_BLOCKING}"><item jid="{a["jid"]}"/>'
               "</block></iq>")
    await alice.wait_for(is_error(iq_id, "not-acceptable"))
    iq_id = new_id()
    alice.send(f'<iq type="set" id="{iq_id}"><block xmlns="{NS_BLOCKING}"/></iq>')
    await alice.wait_for(is_error(iq_id, "bad-request"))
    assert await blocked_ids(rest, a) == []


async def test_rest_changes_reach_xmpp(server, rest, xmpp):
    """A block made over REST: Prosody's cache is updated by the outbox relay (with the XEP-0191
    push), then the pair is cut off; the unblock restores it."""
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await blocking_client(xmpp, a), await xmpp(b)
    await alice.xmpp.plugin["xep_0191"].get_blocked_jids(timeout=5)
    status, _ = await rest.call("POST", "/blocklist.json", a["token"], json={"user_ids": [b["id"]]})
    assert status == 200
    await alice.wait_for(push("block", b["jid"]))
    refused = new_id()
    bob.send(chat(a, refused))
    await bob.wait_for(is_error(refused, "service-unavailable"))
    status, _ = await rest.call("DELETE", f"/blocklist/{b['id']}.json", a["token"])
    assert status == 200
    await alice.wait_for(push("unblock", b["jid"]))
    again = new_id()
    bob.send(chat(a, again))
    await alice.wait_for(lambda s: is_message(s, id=again))


async def test_a_block_made_while_offline_holds_at_login_and_nothing_is_kept_offline(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    status, _ = await rest.call("POST", "/blocklist.json", a["token"], json={"user_ids": [b["id"]]})
    assert status == 200
    bob = await xmpp(b)  # his relations are read at login; alice is offline
    refused = new_id()
    bob.send(chat(a, refused, "while you were away"))
    await bob.wait_for(is_error(refused, "service-unavailable"))
    alice = await xmpp(a)
    await alice.absent(lambda s: is_message(s, id=refused), wait=0.5)


async def test_privacy_lists_xep_0191_and_rest_are_one_list(server, rest, xmpp):
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    alice = await blocking_client(xmpp, a)
    muc = server.settings.xmpp.muc_domain
    privacy = alice.xmpp.plugin["xep_0016"]
    # the SDK's create + setAsDefault (two items per user)
    iq_id = f"{uuid.uuid4()}:edit"
    alice.send(f'<iq type="set" id="{iq_id}"><query xmlns="jabber:iq:privacy"><list name="mine">'
               f'<item type="jid" value="{b["jid"]}" action="deny" order="1"/>'
               f'<item type="jid" value="{muc}/{b["id"]}" action="deny" order="2"/>'
               f'<item type="jid" value="{c["jid"]}" action="allow" order="3"/>'
               "</list></query></iq>")
    [reply] = await alice.wait_for(lambda s: s.get("id") == iq_id)
    assert reply.get("type") == "result"
    assert await blocked_ids(rest, a) == []  # not the default list yet: nothing enforced
    await privacy.make_default("mine", timeout=5)
    assert await blocked_ids(rest, a) == [b["id"]]
    assert await alice.xmpp.plugin["xep_0191"].get_blocked_jids(timeout=5) == {JID(b["jid"])}
    names = await privacy.get_privacy_lists(timeout=5)
    assert names["privacy"]["default"]["name"] == "mine"
    assert [lst["name"] for lst in names["privacy"]["lists"]] == ["mine"]

    # a REST block shows in the default list, read back as the SDK reads it: two items per user
    await rest.call("POST", "/blocklist.json", a["token"], json={"user_ids": [c["id"]]})
    reply = await privacy.get_list("mine", timeout=5)
    items = [(i["value"], i["action"], i["order"]) for i in reply["privacy"]["list"]["items"]]
    assert items == [(b["jid"], "deny", "1"), (f"{muc}/{b['id']}", "deny", "2"),
                     (c["jid"], "deny", "3"), (f"{muc}/{c['id']}", "deny", "4")]
    # a XEP-0191 unblock takes the user out of the privacy list too
    await alice.xmpp.plugin["xep_0191"].unblock([JID(b["jid"])], timeout=5)
    reply = await privacy.get_list("mine", timeout=5)
    assert [i["value"] for i in reply["privacy"]["list"]["items"]] == [c["jid"], f"{muc}/{c['id']}"]
    # an unsupported rule is refused, not silently ignored
    iq_id = new_id()
    alice.send(f'<iq type="set" id="{iq_id}"><query xmlns="jabber:iq:privacy"><list name="x">'
               '<item type="group" value="Friends" action="deny" order="1"/></list></query></iq>')
    await alice.wait_for(is_error(iq_id, "feature-not-implemented"))
    # the SDK's decline: nobody is blocked, the list is kept under its name
    await privacy.remove_default(timeout=5)
    assert await blocked_ids(rest, a) == []
    reply = await privacy.get_list("mine", timeout=5)
    assert [i["value"] for i in reply["privacy"]["list"]["items"]][0] == c["jid"]


async def test_rooms_keep_both_but_the_blocker_gets_nothing_of_the_blocked(server, rest, xmpp):
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    dialog = await rest.dialog(a["token"], [b["id"], c["id"]], name="crew")
    alice, bob, carol = await xmpp(a), await xmpp(b), await xmpp(c)
    await rest.call("POST", "/blocklist.json", a["token"], json={"user_ids": [b["id"]]})

    # presence: alice joins, then bob; neither sees the other, carol sees both
    for client, who in ((alice, a), (carol, c), (bob, b)):
        join_id = f"{new_id()}:join"
        client.send(f'<presence id="{join_id}" to="{room(dialog["_id"], who["id"])}">'
                    '<x xmlns="http://jabber.org/protocol/muc"/></presence>')
        await client.wait_for(lambda s, j=join_id: s.get("id") == j)

    def presence_of(uid):
        return lambda s: local(s.tag) == "presence" and s.get("from") == room(dialog["_id"], uid)
    await carol.wait_for(presence_of(b["id"]))
    await carol.wait_for(presence_of(a["id"]))
    await alice.absent(presence_of(b["id"]), wait=0.3)
    await bob.absent(presence_of(a["id"]), wait=0.1)

    # bob's message, typing and edit: carol gets them, alice does not; bob still gets alice's
    mid = new_id()
    bob.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{mid}"><body>from bob</body>'
             '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history></extraParams></message>')
    await carol.wait_for(lambda s: is_message(s, id=mid, type="groupchat"))
    bob.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{new_id()}">'
             '<composing xmlns="http://jabber.org/protocol/chatstates"/></message>')
    await carol.wait_for(lambda s: sub(s, "composing") is not None)
    edit = new_id()
    bob.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{edit}"><body>fixed</body>'
             f'<replace xmlns="urn:xmpp:message-correct:0" id="{mid}"/></message>')
    await carol.wait_for(lambda s: is_message(s, id=edit))
    # over REST too (relayed): reactions and messages
    status, _ = await rest.call("PUT", f"/chat/Message/{mid}/reactions.json", b["token"],
                                json={"add": "🔥"})
    assert status == 200
    await carol.wait_for(lambda s: sub(s, "reactions") is not None)
    status, sent = await rest.call("POST", "/chat/Message.json", b["token"], json={
        "chat_dialog_id": dialog["_id"], "message": "rest from bob", "send_to_chat": 1})
    assert status == 201
    await carol.wait_for(lambda s: is_message(s, id=sent["_id"]))
    from_alice = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{from_alice}">'
               "<body>from alice</body></message>")
    await bob.wait_for(lambda s: is_message(s, id=from_alice))
    await alice.absent(lambda s: s.get("from") == room(dialog["_id"], b["id"]) or
                       sub(s, "reactions") is not None or s.get("id") == sent["_id"], wait=0.5)
    # history is unchanged: alice reads bob's message over REST
    status, page = await rest.call("GET", f"/chat/Message.json?chat_dialog_id={dialog['_id']}",
                                   a["token"])
    assert status == 200 and mid in [m["_id"] for m in page["items"]]

    # unblocking restores it
    await rest.call("DELETE", f"/blocklist/{b['id']}.json", a["token"])
    after = new_id()
    bob.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{after}"><body>again</body></message>')
    await alice.wait_for(lambda s: is_message(s, id=after, type="groupchat"))


async def test_blocks_survive_a_prosody_restart_and_a_dropped_component_link(server, rest, xmpp):
    """Prosody's cache is rebuilt from the store after a Prosody crash (users log in again), and
    a change made over REST while the component link is down reaches it after the reconnect."""
    import asyncio

    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    status, _ = await rest.call("POST", "/blocklist.json", a["token"], json={"user_ids": [b["id"]]})
    assert status == 200
    bridge = server.bridge
    before = bridge.prosody.status()
    await server.call_sync(bridge.prosody.kill_for_test)
    for _ in range(200):
        status = bridge.status()
        if status["prosody"]["restarts"] > before["restarts"] and status["connected"]:
            break
        await asyncio.sleep(0.05)
    assert status["connected"], status
    alice, bob, carol = await blocking_client(xmpp, a), await xmpp(b), await xmpp(c)
    refused = new_id()
    bob.send(chat(a, refused))
    await bob.wait_for(is_error(refused, "service-unavailable"))

    # carol is blocked over REST while the component is away: told after the reconnect
    await alice.xmpp.plugin["xep_0191"].get_blocked_jids(timeout=5)
    component = bridge.component
    sessions = component.sessions

    def drop():
        component._backoff = 0.5
        component.abort()

    server.loop.call_soon_threadsafe(drop)
    while bridge.status()["connected"]:
        await asyncio.sleep(0.01)
    status, _ = await rest.call("POST", "/blocklist.json", a["token"], json={"user_ids": [c["id"]]})
    assert status == 200
    for _ in range(300):
        status = bridge.status()
        if status["connected"] and status["sessions"] > sessions:
            break
        await asyncio.sleep(0.02)
    await alice.wait_for(push("block", c["jid"]), timeout=10)
    refused = new_id()
    carol.send(chat(a, refused))
    await carol.wait_for(is_error(refused, "service-unavailable"))


async def test_presence_and_status_streaming_are_hidden_both_ways(server, rest, xmpp):
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    alice = await xmpp(a)
    status, _ = await rest.call("POST", "/blocklist.json", a["token"], json={"user_ids": [b["id"]]})
    assert status == 200
    # alice watches bob and carol (ConnectyCube status streaming); bob watches alice
    for who in (b, c):
        sub_id = new_id()
        alice.send(f'<iq type="set" id="{sub_id}"><subscribe xmlns="https://connectycube.com/'
                   f'protocol/status_streaming" user_jid="{who["jid"]}" enable="true"/></iq>')
        await alice.wait_for(lambda s, i=sub_id: s.get("id") == i)
    bob = await xmpp(b)
    carol_phone = await xmpp(c)

    def status_of(user):
        return lambda s: local(s.tag) == "iq" and s.get("from") == f"{user['id']}-{APP_ID}@muc.{DOMAIN}"
    await alice.wait_for(status_of(c))  # carol came online
    await alice.absent(status_of(b), wait=0.3)
    # directed presence either way is dropped; carol's arrives
    bob.send(f'<presence to="{alice.jid}" id="{new_id()}"/>')
    alice.send(f'<presence to="{bob.jid}" id="{new_id()}"/>')
    carol_phone.send(f'<presence to="{alice.jid}" id="{new_id()}"/>')
    await alice.wait_for(lambda s: local(s.tag) == "presence" and s.get("from") == carol_phone.jid)
    await alice.absent(lambda s: local(s.tag) == "presence" and s.get("from") == bob.jid, wait=0.3)
    await bob.absent(lambda s: local(s.tag) == "presence" and s.get("from") == alice.jid, wait=0.1)


async def test_rest_events_of_a_blocked_pair_are_not_relayed(server, rest, xmpp):
    """Edits, reactions, read marks and system messages made over REST in an existing private
    dialog do not reach the other of a blocked pair; after the unblock they do again."""
    a, b = await rest.new_user(), await rest.new_user()
    status, old = await rest.call("POST", "/chat/Message.json", b["token"], json={
        "recipient_id": a["id"], "message": "before the block"})
    assert status == 201
    status, mine = await rest.call("POST", "/chat/Message.json", a["token"], json={
        "recipient_id": b["id"], "message": "from alice"})
    assert status == 201
    alice = await xmpp(a)
    await rest.call("POST", "/blocklist.json", a["token"], json={"user_ids": [b["id"]]})
    status, _ = await rest.call("PUT", f"/chat/Message/{old['_id']}.json", b["token"],
                                json={"message": "edited"})
    assert status == 200
    status, _ = await rest.call("PUT", f"/chat/Message/{mine['_id']}/reactions.json", b["token"],
                                json={"add": "👍"})
    assert status == 200
    status, _ = await rest.call("PUT", f"/chat/Message/{mine['_id']}.json", b["token"],
                                json={"read": 1, "chat_dialog_id": mine["chat_dialog_id"]})
    assert status == 200
    status, hidden = await rest.call("POST", "/chat/Message/system.json", b["token"], json={
        "recipientId": a["id"], "param1": "hidden"})
    assert status == 200
    await rest.call("DELETE", f"/blocklist/{b['id']}.json", a["token"])
    status, shown = await rest.call("POST", "/chat/Message/system.json", b["token"], json={
        "recipientId": a["id"], "param1": "shown"})
    assert status == 200
    await alice.wait_for(lambda s: s.get("id") == shown["messageId"])  # relayed in order
    from_bob = [s for s in alice.stanzas if s.get("from", "").startswith(b["jid"])]
    assert [s.get("id") for s in from_bob] == [shown["messageId"]], from_bob


async def test_broadcast_messages_of_a_blocked_admin_skip_the_blocker(server, rest, xmpp):
    """A broadcast dialog reaches every online user of the app: one who blocked the admin (and is
    no occupant) gets none of theirs, over XMPP or REST; the others do."""
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    status, dialog = await rest.call("POST", "/chat/Dialog.json", a["token"], json={
        "type": 1, "name": "news", "occupants_ids": []})
    assert status == 201, dialog
    await rest.call("POST", "/blocklist.json", c["token"], json={"user_ids": [a["id"]]})
    alice, bob, carol = await xmpp(a), await xmpp(b), await xmpp(c)
    mid = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{mid}"><body>news</body>'
               '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history></extraParams>'
               "</message>")
    await bob.wait_for(lambda s: is_message(s, id=mid, type="groupchat"))
    status, sent = await rest.call("POST", "/chat/Message.json", a["token"], json={
        "chat_dialog_id": dialog["_id"], "message": "more news", "send_to_chat": 1})
    assert status == 201, sent
    await bob.wait_for(lambda s: is_message(s, id=sent["_id"], type="groupchat"))
    await carol.absent(lambda s: is_message(s, id=mid) or is_message(s, id=sent["_id"]), wait=0.3)
    # every user of the app reads a broadcast dialog (unread counts of later tests): gone again
    status, _ = await rest.call("DELETE", f"/chat/Dialog/{dialog['_id']}.json", a["token"],
                                json={"force": 1})
    assert status == 200


async def test_leaving_a_room_is_not_shown_to_a_blocked_pair(server, rest, xmpp):
    """Neither of a blocked pair saw the other join, so neither sees the other leave: an explicit
    leave and a dropped connection; carol sees both."""
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    dialog = await rest.dialog(a["token"], [b["id"], c["id"]], name="crew")
    alice, bob, carol = await xmpp(a), await xmpp(b), await xmpp(c)
    await rest.call("POST", "/blocklist.json", a["token"], json={"user_ids": [b["id"]]})
    for client, who in ((alice, a), (carol, c), (bob, b)):
        join_id = f"{new_id()}:join"
        client.send(f'<presence id="{join_id}" to="{room(dialog["_id"], who["id"])}">'
                    '<x xmlns="http://jabber.org/protocol/muc"/></presence>')
        await client.wait_for(lambda s, j=join_id: s.get("id") == j)

    def gone(uid):
        return lambda s: (local(s.tag) == "presence" and s.get("type") == "unavailable"
                          and s.get("from") == room(dialog["_id"], uid))
    bob.send(f'<presence type="unavailable" to="{room(dialog["_id"], b["id"])}"/>')
    await carol.wait_for(gone(b["id"]))
    await alice.absent(gone(b["id"]), wait=0.3)
    rejoin = f"{new_id()}:join"
    bob.send(f'<presence id="{rejoin}" to="{room(dialog["_id"], b["id"])}">'
             '<x xmlns="http://jabber.org/protocol/muc"/></presence>')
    await bob.wait_for(lambda s: s.get("id") == rejoin)
    await alice.close()  # her connection goes: she leaves the room
    await carol.wait_for(gone(a["id"]))
    await bob.absent(gone(a["id"]), wait=0.3)
