"""Group rooms over real Prosody: join rules and replies, persisted fan-out, broadcast rules,
leave, kick, history, disco#items, typing, edits, hostile stanzas."""
from __future__ import annotations

from tests.bridge.conftest import APP_ID, extra, is_message, local, new_id, sub

MUC = "muc.localhost"
NS_MUC_USER = "{http://jabber.org/protocol/muc#user}"


def room(dialog_id: str, nick: object = "") -> str:
    jid = f"{APP_ID}_{dialog_id}@{MUC}"
    return f"{jid}/{nick}" if nick != "" else jid


def is_presence(element, **attrs) -> bool:
    return local(element.tag) == "presence" and all(element.get(k) == v for k, v in attrs.items())


def codes(presence) -> tuple[set[str], set[str]]:
    """(standard <status code>, the SDK's <xmlns><code>) inside the muc#user <x>."""
    x = presence.find(f"{NS_MUC_USER}x")
    if x is None:
        return set(), set()
    standard = {s.get("code") for s in x.findall(f"{NS_MUC_USER}status")}
    sdk = {c.text for c in x.findall(f"{NS_MUC_USER}xmlns/{NS_MUC_USER}code")}
    return standard, sdk


def join(client, dialog_id: str, history: int = 0, join_id: str | None = None) -> str:
    join_id = join_id or f"{new_id()}:join"
    client.send(f'<presence id="{join_id}" to="{room(dialog_id, client.user["id"])}">'
                f'<x xmlns="http://jabber.org/protocol/muc"><history maxstanzas="{history}"/></x></presence>')
    return join_id


async def group(rest, owner, *others, dtype: int = 2):
    return await rest.dialog(owner["token"], [u["id"] for u in others], dtype=dtype)


async def test_occupant_joins_with_both_110_forms_others_are_refused(server, rest, xmpp):
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    dialog = await group(rest, a, b)
    alice, carol = await xmpp(a), await xmpp(c)
    join_id = join(alice, dialog["_id"])
    [self_presence] = await alice.wait_for(lambda s: is_presence(s, id=join_id))
    assert self_presence.get("type") is None
    assert self_presence.get("from") == room(dialog["_id"], a["id"])
    assert codes(self_presence) == ({"100", "110"}, {"110"})  # non-anonymous, self
    item = self_presence.find(f"{NS_MUC_USER}x/{NS_MUC_USER}item")
    assert item.get("affiliation") == "owner" and item.get("jid") == alice.jid

    refused_id = join(carol, dialog["_id"])  # not an occupant
    [error] = await carol.wait_for(lambda s: is_presence(s, id=refused_id))
    assert error.get("type") == "error"
    assert error.find("{http://jabber.org/protocol/muc}x") is not None
    assert error.find("{jabber:client}error").get("code") == "404"

    wrong_app = f"{new_id()}:join"  # the same dialog id under another application id
    carol.send(f'<presence id="{wrong_app}" to="2_{dialog["_id"]}@{MUC}/{c["id"]}">'
               '<x xmlns="http://jabber.org/protocol/muc"/></presence>')
    [error] = await carol.wait_for(lambda s: is_presence(s, id=wrong_app))
    assert error.get("type") == "error"


async def test_group_message_is_stored_stamped_and_fanned_out(server, rest, xmpp):
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    dialog = await group(rest, a, b, c)
    alice, bob = await xmpp(a), await xmpp(b)
    bob_phone = await xmpp(b)  # a second device of bob
    carol = await xmpp(c)
    await carol.close()  # offline: nothing to deliver, still stored for her
    await server.wait_online(c["id"], carol.resource, online=False)
    mid = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{mid}"><body>group hi</body>'
               '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history>'
               f'<dialog_id>{dialog["_id"]}</dialog_id><k>v</k></extraParams></message>')
    for client in (bob, bob_phone, alice):  # no join needed; the sender gets the echo
        [got] = await client.wait_for(lambda s: is_message(s, id=mid))
        assert got.get("type") == "groupchat"
        assert got.get("from") == room(dialog["_id"], a["id"])
        assert got.get("to") == client.jid
        assert sub(got, "body").text == "group hi"
        params = extra(got)
        assert params["dialog_id"] == dialog["_id"] and params["k"] == "v"
        assert params["date_sent"].isdigit() and params["save_to_history"] == "1"
    status, unread = await rest.call("GET", "/chat/Message/unread.json", c["token"])
    assert unread["total"] == 1
    status, history = await rest.call("GET", "/chat/Message.json", c["token"],
                                      params={"chat_dialog_id": dialog["_id"]})
    assert status == 200 and [m["_id"] for m in history["items"]] == [mid]
    assert history["items"][0]["k"] == "v"
    assert history["items"][0]["date_sent"] == int(params["date_sent"])


async def test_repeated_id_is_stored_once(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await group(rest, a, b)
    alice, bob = await xmpp(a), await xmpp(b)
    mid = new_id()
    stanza = (f'<message to="{room(dialog["_id"])}" type="groupchat" id="{mid}"><body>once</body>'
              '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history></extraParams></message>')
    alice.send(stanza)
    alice.send(stanza)
    await bob.wait_for(lambda s: is_message(s, id=mid), count=2)
    status, history = await rest.call("GET", "/chat/Message.json", b["token"],
                                      params={"chat_dialog_id": dialog["_id"], "mark_as_read": 0})
    assert [m["_id"] for m in history["items"]] == [mid]


async def test_broadcast_accepts_only_admins(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await group(rest, a, b, dtype=1)
    alice, bob = await xmpp(a), await xmpp(b)
    mid = new_id()
    bob.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{mid}"><body>no</body></message>')
    [error] = await bob.wait_for(lambda s: is_message(s, id=mid, type="error"))
    assert error.find("{jabber:client}error").get("code") == "403"
    await alice.absent(lambda s: is_message(s, id=mid), wait=0.3)
    ok = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{ok}"><body>news</body></message>')
    await bob.wait_for(lambda s: is_message(s, id=ok, type="groupchat"))
    # stored (a plain message) and read by every user of the shared test app: gone, so other
    # tests' unread totals hold
    status, _ = await rest.call("DELETE", f"/chat/Dialog/{dialog['_id']}.json", a["token"],
                                params={"force": 1})
    assert status == 200


async def test_broadcast_reaches_every_online_user_of_the_app(server, rest, xmpp):
    a, b, c, d = (await rest.new_user(), await rest.new_user(), await rest.new_user(),
                  await rest.new_user())
    dialog = await group(rest, a, b, dtype=1)  # carol and dave are not occupants
    status, _ = await rest.call("DELETE", f"/chat/Dialog/{dialog['_id']}.json", d["token"])
    assert status == 200  # dave deleted it for himself
    alice, carol, dave = await xmpp(a), await xmpp(c), await xmpp(d)
    join_id = join(carol, dialog["_id"])  # any user of the app may join
    [joined] = await carol.wait_for(lambda s: is_presence(s, id=join_id))
    assert joined.get("type") is None and codes(joined)[0] == {"100", "110"}
    mid = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{mid}"><body>news</body>'
               '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history></extraParams>'
               "</message>")
    [got] = await carol.wait_for(lambda s: is_message(s, id=mid, type="groupchat"))
    assert got.get("from") == room(dialog["_id"], a["id"]) and sub(got, "body").text == "news"
    # over REST with send_to_chat=1: the relay delivers it to every online user too
    status, sent = await rest.call("POST", "/chat/Message.json", a["token"], json={
        "chat_dialog_id": dialog["_id"], "message": "more news", "send_to_chat": 1})
    assert status == 201, sent
    [got] = await carol.wait_for(lambda s: is_message(s, id=sent["_id"], type="groupchat"))
    assert sub(got, "body").text == "more news"
    await dave.absent(lambda s: is_message(s, id=mid) or is_message(s, id=sent["_id"]), wait=0.3)
    # a reader cannot post, and reads the history
    nope = new_id()
    carol.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{nope}"><body>x</body></message>')
    [error] = await carol.wait_for(lambda s: is_message(s, id=nope, type="error"))
    assert error.find("{jabber:client}error").get("code") == "403"
    status, history = await rest.call("GET", "/chat/Message.json", c["token"],
                                      params={"chat_dialog_id": dialog["_id"]})
    assert status == 200 and [m["_id"] for m in history["items"]] == [mid, sent["_id"]]
    # every user of the (shared) test app reads it: gone, so other tests' unread totals hold
    status, _ = await rest.call("DELETE", f"/chat/Dialog/{dialog['_id']}.json", a["token"],
                                params={"force": 1})
    assert status == 200


async def test_leave_kick_and_occupant_presence(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await group(rest, a, b)
    alice, bob = await xmpp(a), await xmpp(b)
    alice_join = join(alice, dialog["_id"])
    await alice.wait_for(lambda s: is_presence(s, id=alice_join))
    bob_join = join(bob, dialog["_id"])
    await bob.wait_for(lambda s: is_presence(s, id=bob_join))
    # alice sees bob arrive (no <xmlns> child in presences about others)
    [arrived] = await alice.wait_for(lambda s: is_presence(s, **{"from": room(dialog["_id"], b["id"])})
                                     and s.get("type") is None)
    assert codes(arrived) == (set(), set())
    # bob (joined) is removed from the dialog over REST: kicked with 301 and the actor
    status, _ = await rest.call("PUT", f"/chat/Dialog/{dialog['_id']}.json", a["token"],
                                json={"pull_all": {"occupants_ids": [b["id"]]}})
    assert status == 200
    [kick] = await bob.wait_for(lambda s: is_presence(s, type="unavailable")
                                and "301" in codes(s)[1])
    assert kick.find("{jabber:client}item/{jabber:client}actor").get("jid") == a["jid"]
    [gone] = await alice.wait_for(lambda s: is_presence(s, type="unavailable",
                                                        **{"from": room(dialog["_id"], b["id"])}))
    assert "301" in codes(gone)[0]
    # bob no longer receives the room's messages
    mid = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{mid}"><body>x</body></message>')
    await alice.wait_for(lambda s: is_message(s, id=mid))
    await bob.absent(lambda s: is_message(s, id=mid), wait=0.3)
    # alice leaves: unavailable self-presence with both 110 forms
    alice.send(f'<presence type="unavailable" to="{room(dialog["_id"], a["id"])}"/>')
    [left] = await alice.wait_for(lambda s: is_presence(s, type="unavailable",
                                                        **{"from": room(dialog["_id"], a["id"])}))
    assert codes(left) == ({"110"}, {"110"})


async def test_history_on_join_and_online_list(server, rest, xmpp):
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    dialog = await group(rest, a, b, c)
    alice = await xmpp(a)
    ids = []
    for n in range(3):
        ids.append(new_id())
        alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{ids[-1]}"><body>m{n}</body>'
                   '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history></extraParams></message>')
        await alice.wait_for(lambda s, i=ids[-1]: is_message(s, id=i))
    bob = await xmpp(b)
    join_id = join(bob, dialog["_id"], history=2)
    await bob.wait_for(lambda s: is_presence(s, id=join_id))
    old = await bob.wait_for(lambda s: is_message(s) and sub(s, "delay") is not None, count=2)
    assert [m.get("id") for m in old] == ids[1:]
    assert old[0].get("from") == room(dialog["_id"], a["id"])
    assert extra(old[0])["dialog_id"] == dialog["_id"]
    query = new_id()
    bob.send(f'<iq type="get" id="{query}" to="{room(dialog["_id"])}">'
             '<query xmlns="http://jabber.org/protocol/disco#items"/></iq>')
    [reply] = await bob.wait_for(lambda s: local(s.tag) == "iq" and s.get("id") == query)
    items = {i.get("jid") for i in reply.iter("{http://jabber.org/protocol/disco#items}item")}
    assert items == {room(dialog["_id"], a["id"]), room(dialog["_id"], b["id"])}  # carol is offline


async def test_typing_is_relayed_to_others_and_not_stored(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await group(rest, a, b)
    alice, bob = await xmpp(a), await xmpp(b)
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat">'
               '<composing xmlns="http://jabber.org/protocol/chatstates"/></message>')
    [typing] = await bob.wait_for(lambda s: is_message(s) and sub(s, "composing") is not None)
    assert typing.get("from") == room(dialog["_id"], a["id"]) and typing.get("type") == "groupchat"
    await alice.absent(lambda s: sub(s, "composing") is not None, wait=0.2)
    status, history = await rest.call("GET", "/chat/Message.json", a["token"],
                                      params={"chat_dialog_id": dialog["_id"]})
    assert history["items"] == []


async def test_edit_and_delete_notifications(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await group(rest, a, b)
    alice, bob = await xmpp(a), await xmpp(b)
    mid = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{mid}"><body>typo</body>'
               '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history></extraParams></message>')
    await bob.wait_for(lambda s: is_message(s, id=mid))
    edit = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{edit}"><body>fixed</body>'
               f'<replace xmlns="urn:xmpp:message-correct:0" id="{mid}" last="true"/>'
               f'<extraParams xmlns="jabber:client"><dialog_id>{dialog["_id"]}</dialog_id></extraParams></message>')
    [got] = await bob.wait_for(lambda s: is_message(s, id=edit))
    assert sub(got, "replace").get("id") == mid and sub(got, "body").text == "fixed"
    status, history = await rest.call("GET", "/chat/Message.json", b["token"],
                                      params={"chat_dialog_id": dialog["_id"]})
    assert history["items"][0]["message"] == "fixed"
    # bob may not edit alice's message
    bad = new_id()
    bob.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{bad}"><body>hacked</body>'
             f'<replace xmlns="urn:xmpp:message-correct:0" id="{mid}"/></message>')
    [error] = await bob.wait_for(lambda s: is_message(s, id=bad, type="error"))
    assert error.find("{jabber:client}error").get("code") == "403"
    # an XMPP edit is not relayed a second time from the outbox
    await bob.absent(lambda s: is_message(s) and sub(s, "replace") is not None and s.get("id") != edit,
                     wait=0.4)
    remove = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{remove}">'
               f'<remove xmlns="urn:xmpp:message-delete:0" id="{mid}"/></message>')
    [got] = await bob.wait_for(lambda s: is_message(s, id=remove))
    assert sub(got, "remove").get("id") == mid and extra(got)["dialog_id"] == dialog["_id"]


async def test_hostile_stanzas_get_errors_with_their_id(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await group(rest, a, b)
    alice, bob = await xmpp(a), await xmpp(b)
    bad_key = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{bad_key}"><body>x</body>'
               '<extraParams xmlns="jabber:client"><attachment size="1"/><date_sent>never</date_sent>'
               '</extraParams></message>')
    [error] = await alice.wait_for(lambda s: is_message(s, id=bad_key, type="error"))
    assert error.find("{jabber:client}error").get("code") == "406"
    too_big = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{too_big}">'
               f'<body>{"x" * (server.settings.limits.max_message_bytes + 1)}</body></message>')
    await alice.wait_for(lambda s: is_message(s, id=too_big, type="error"))
    unknown = new_id()
    alice.send(f'<message to="{APP_ID}_{new_id()}@{MUC}" type="groupchat" id="{unknown}"><body>x</body></message>')
    [error] = await alice.wait_for(lambda s: is_message(s, id=unknown, type="error"))
    assert error.find("{jabber:client}error").get("code") == "404"
    nowhere = new_id()
    alice.send(f'<message to="not-a-room@{MUC}" type="groupchat" id="{nowhere}"><body>x</body></message>')
    await alice.wait_for(lambda s: is_message(s, id=nowhere, type="error"))
    # the component is still fine
    ok = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{ok}"><body>fine</body></message>')
    await bob.wait_for(lambda s: is_message(s, id=ok))
    assert server.bridge.status()["connected"]


async def test_malformed_room_stanzas_never_break_the_component(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await group(rest, a, b)
    alice, bob = await xmpp(a), await xmpp(b)
    nested = "".join(f"<n{i}>" for i in range(30)) + "x" + "".join(f"</n{i}>" for i in reversed(range(30)))
    deep = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{deep}"><body>deep</body>'
               f'<extraParams xmlns="jabber:client">{nested}</extraParams></message>')
    iq_id = new_id()
    alice.send(f'<iq type="set" id="{iq_id}" to="{room(dialog["_id"])}"><query xmlns="jabber:iq:nothing"/></iq>')
    [reply] = await alice.wait_for(lambda s: local(s.tag) == "iq" and s.get("id") == iq_id)
    assert reply.get("type") == "error"
    normal = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" id="{normal}"><body>no type</body></message>')
    [error] = await alice.wait_for(lambda s: is_message(s, id=normal, type="error"))
    assert error.find("{jabber:client}error").get("code") == "400"
    alice.send(f'<presence to="{room(dialog["_id"], "x")}" type="probe"/>')  # ignored
    # the deeply nested one was stored (depth capped) and delivered
    await bob.wait_for(lambda s: is_message(s, id=deep))
    ok = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{ok}"><body>still fine</body></message>')
    await bob.wait_for(lambda s: is_message(s, id=ok))


async def test_clients_cannot_use_the_fanout_module(server, rest, xmpp):
    """mod_chatbridge_fanout delivers wrappers from the component only: a user who addresses one
    to fanout@ reaches nobody."""
    a, b = await rest.new_user(), await rest.new_user()
    mallory, bob = await xmpp(a), await xmpp(b)
    forged = [new_id(), new_id()]
    for recipients, stanza_id in zip((f'<to jid="{bob.jid}"/>', f"<to>{bob.jid}\n{bob.jid}</to>"), forged):
        mallory.send(f'<message to="fanout@{MUC}" id="{new_id()}"><fanout xmlns="urn:chatbridge:fanout:0">'
                     f'{recipients}<message xmlns="jabber:client" type="chat" id="{stanza_id}" '
                     f'from="{room("0" * 24, "admin")}"><body>spoofed</body></message></fanout></message>')
    await bob.absent(lambda s: is_message(s) and s.get("id") in forged, wait=1.0)


async def test_wrappers_coming_back_are_delivered_one_by_one(server, rest, xmpp):
    """Without the module on the server the wrapper comes back to the component, which then
    delivers its stanza to each recipient itself and stops using wrappers."""
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await xmpp(a), await xmpp(b)
    component = server.bridge.component
    mid = new_id()
    head = f'<message from="{room("0" * 24, a["id"])}" type="groupchat" id="{mid}"'
    tail = "><body>one by one</body></message>"

    async def bounce(_services):
        from xml.etree.ElementTree import Element
        component._sent_fanouts["fan-test"] = ([alice.jid, bob.jid], head, tail)
        returned = Element("{jabber:component:accept}message",
                           {"from": component.muc_domain, "to": f"fanout@{component.muc_domain}",
                            "id": "fan-test"})
        component._on_message(returned)
        # from now on: plain stanzas, one per recipient
        component.fan_out([bob.jid], head.replace(mid, later), tail)
        return component.fanout_module

    later = new_id()
    try:
        assert await server.call(bounce) is False
        for client in (alice, bob):
            [got] = await client.wait_for(lambda s: is_message(s, id=mid))
            assert sub(got, "body").text == "one by one"
        [got] = await bob.wait_for(lambda s: is_message(s, id=later))
        assert got.get("to") == bob.jid
    finally:
        component.fanout_module = True


async def test_fan_out_reaches_resources_with_xml_special_characters(server, rest, xmpp):
    """The wrapper lists recipients as text, one JID per line: a resource with `&`, `<`, `>`
    and quotes is escaped on the way in and delivered to as it is."""
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await group(rest, a, b)
    alice = await xmpp(a)
    odd = await xmpp({**b, "jid": f'{b["jid"]}/desk & <1> "x"'})
    assert odd.resource == 'desk & <1> "x"'
    plain = await xmpp(b)
    mid = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{mid}"><body>odd</body></message>')
    for client in (odd, plain, alice):
        [got] = await client.wait_for(lambda s: is_message(s, id=mid))
        assert got.get("to") == client.jid


async def test_an_unexpected_failure_answers_internal_server_error_and_logs_once(server, rest, xmpp,
                                                                                 caplog):
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await group(rest, a, b)
    alice, bob = await xmpp(a), await xmpp(b)
    messages = server.services.messages

    async def broken(requester, draft):
        raise RuntimeError("the store went away (a detail not for clients)")
    await server.call_sync(lambda: setattr(messages, "send", broken))
    try:
        failing = new_id()
        with caplog.at_level("ERROR", logger="bridge"):
            alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{failing}">'
                       '<body>lost?</body></message>')
            [error] = await alice.wait_for(lambda s: is_message(s, id=failing, type="error"))
        condition = error.find("{jabber:client}error")
        assert condition.get("code") == "500" and condition.get("type") == "wait"
        assert condition.find("{urn:ietf:params:xml:ns:xmpp-stanzas}internal-server-error") is not None
        assert "store went away" not in (error.findtext(".//{urn:ietf:params:xml:ns:xmpp-stanzas}text") or "")
        logged = [r for r in caplog.records if r.exc_info and "store went away" in str(r.exc_info[1])]
        assert len(logged) == 1, [r.getMessage() for r in logged]
        await bob.absent(lambda s: is_message(s, id=failing), wait=0.2)
    finally:
        await server.call_sync(lambda: delattr(messages, "send"))  # the class's method again
    ok = new_id()  # the room's queue goes on
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{ok}"><body>fine</body></message>')
    await bob.wait_for(lambda s: is_message(s, id=ok))


async def test_a_receipt_sent_to_the_room_reaches_the_author(server, rest, xmpp):
    """The bridge does not deliver receipts sent to a room: their events carry no XMPP origin,
    so the relay tells the author (1:1, `<displayed>`), once."""
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await group(rest, a, b)
    alice, bob = await xmpp(a), await xmpp(b)
    mid = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{mid}"><body>read me</body>'
               '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history></extraParams></message>')
    await bob.wait_for(lambda s: is_message(s, id=mid))
    bob.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{new_id()}">'
             f'<displayed xmlns="urn:xmpp:chat-markers:0" id="{mid}"/></message>')
    [read] = await alice.wait_for(lambda s: is_message(s) and sub(s, "displayed") is not None)
    assert sub(read, "displayed").get("id") == mid and read.get("type") == "chat"
    await alice.absent(lambda s: is_message(s) and sub(s, "displayed") is not None and s is not read,
                       wait=0.4)


async def test_after_a_reconnect_joins_of_connections_gone_are_pruned(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await group(rest, a, b)
    alice = await xmpp(a)
    join_id = join(alice, dialog["_id"])
    await alice.wait_for(lambda s: is_presence(s, id=join_id))
    state = server.bridge.state
    key = (APP_ID, dialog["_id"])
    gone = f"{b['id']}-{APP_ID}@localhost/vanished"  # joined, and did not come back
    await server.call_sync(lambda: state.occupancy.join(key, b["id"], gone))
    plugin = server.bridge.component.plugin["cc_groupchat"]
    await server.call_sync(plugin._prune)  # noqa: SLF001 - what the session listener schedules
    occupants = await server.call_sync(lambda: state.occupancy.occupants(key))
    assert occupants == {a["id"]: {alice.jid}}
