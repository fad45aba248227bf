"""The XMPP roster is the contact list: slixmpp's own roster handling (roster get with versions,
roster pushes, subscription presences) against the real Prosody with mod_chatbridge_roster, and
REST `/contacts` seeing the same list, both ways; presence goes to contacts as Prosody routes it
from the roster; nobody else's roster can be read or changed."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from slixmpp.exceptions import IqError
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from tests.bridge.conftest import APP_ID, DOMAIN, Client, local, sub

NS_ROSTER = "jabber:iq:roster"


@pytest.fixture
async def roster_client(server):
    """A client with slixmpp's standard presence and roster handling (the shared `Client` turns
    presence handling off), not accepting requests on its own."""
    clients: list[Client] = []

    async def connect(user, fetch: bool = True) -> Client:
        client = Client(user, server.settings)
        client.xmpp.register_handler(Callback(
            "Presence", MatchXPath("{jabber:client}presence"), client.xmpp._handle_presence))
        client.xmpp.auto_authorize = None  # requests are events for the test, not answered
        client.xmpp.auto_subscribe = False
        clients.append(client)
        await client.connect()
        await server.wait_online(user["id"], client.resource)
        if fetch:
            await client.xmpp.get_roster(timeout=5)
        return client

    yield connect
    for client in clients:
        await client.close()


def presence(element, kind: str | None, sender: str) -> bool:
    return (local(element.tag) == "presence" and element.get("type") == kind
            and (element.get("from") or "").split("/")[0] == sender)


def roster_push(element, jid: str) -> bool:
    query = sub(element, "query") if local(element.tag) == "iq" else None
    return (element.get("type") == "set" and query is not None
            and any(i.get("jid") == jid for i in query))


async def contacts(rest, user) -> dict:
    status, body = await rest.call("GET", "/contacts.json", user["token"])
    assert status == 200, body
    return body


async def until(check, timeout: float = 5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


async def test_rest_changes_reach_the_roster_and_presence_follows(server, rest, roster_client):
    ann, bob = await rest.new_user(), await rest.new_user()
    ann_c, bob_c = await roster_client(ann), await roster_client(bob)
    assert list(ann_c.xmpp.client_roster) == []
    status, _ = await rest.call("POST", "/contacts", ann["token"], json={"user_ids": [bob["id"]]})
    assert status == 200
    # a roster push to ann (slixmpp accepted it: it comes from her bare JID) and bob's request
    await ann_c.wait_for(lambda s: roster_push(s, bob["jid"]))
    await until(lambda: _check(ann_c.xmpp.client_roster[bob["jid"]]["pending_out"] is True))
    assert ann_c.xmpp.client_roster[bob["jid"]]["subscription"] == "none"
    await bob_c.wait_for(lambda s: presence(s, "subscribe", ann["jid"]))
    # bob accepts over REST: ann sees "to" and bob's presence
    ann_c.clear()
    status, _ = await rest.call("POST", "/contacts", bob["token"], json={"user_ids": [ann["id"]]})
    assert status == 200
    await ann_c.wait_for(lambda s: presence(s, "subscribed", bob["jid"]))
    await ann_c.wait_for(lambda s: presence(s, None, bob["jid"]))  # bob's current presence
    await until(lambda: _check(ann_c.xmpp.client_roster[bob["jid"]]["to"] is True))
    # and ann is asked in turn (bob's "add" asks to see her)
    await ann_c.wait_for(lambda s: presence(s, "subscribe", bob["jid"]))
    # presence broadcast is Prosody's, from the roster: bob's new status reaches ann
    ann_c.clear()
    bob_c.xmpp.send_presence(pstatus="in a meeting")
    [seen] = await ann_c.wait_for(lambda s: presence(s, None, bob["jid"]))
    assert sub(seen, "status").text == "in a meeting"
    # REST removal: a push removing the item, bob's resources look unavailable to ann
    ann_c.clear()
    status, _ = await rest.call("DELETE", f"/contacts/{bob['id']}", ann["token"])
    assert status == 200
    [push] = await ann_c.wait_for(lambda s: roster_push(s, bob["jid"]))
    assert sub(push, "query")[0].get("subscription") == "remove"
    await ann_c.wait_for(lambda s: presence(s, "unavailable", bob["jid"]))
    # (slixmpp keeps a removed item in memory, with no subscription left)
    await until(lambda: _check(ann_c.xmpp.client_roster[bob["jid"]]["subscription"] == "none"))


def _check(condition: bool):
    async def check():
        assert condition
    return check()


async def test_xmpp_changes_show_in_rest_and_presence_broadcast_works(server, rest, roster_client):
    carol, dave = await rest.new_user(), await rest.new_user()
    carol_c, dave_c = await roster_client(carol), await roster_client(dave)
    # the roster set plus subscribe presence that clients (and older ConnectyCube SDKs) send
    await carol_c.xmpp.update_roster(dave["jid"], name="Dave", groups=["Friends"], timeout=5)
    carol_c.xmpp.send_presence_subscription(pto=dave["jid"])
    await dave_c.wait_for(lambda s: presence(s, "subscribe", carol["jid"]))

    async def asked():
        [entry] = (await contacts(rest, carol))["items"]
        assert entry["user_id"] == dave["id"] and entry["ask"] == "subscribe"
        assert entry["display_name"] == "Dave" and entry["groups"] == ["Friends"]
        [request] = (await contacts(rest, dave))["requests"]
        assert request["user_id"] == carol["id"] and request["pending_in"] is True
    await until(asked)
    # dave approves from his client (slixmpp's authorize), and subscribes back
    dave_c.xmpp.send_presence_subscription(pto=carol["jid"], ptype="subscribed")
    await carol_c.wait_for(lambda s: presence(s, "subscribed", dave["jid"]))
    await carol_c.wait_for(lambda s: presence(s, None, dave["jid"]))
    dave_c.xmpp.send_presence_subscription(pto=carol["jid"])
    await carol_c.wait_for(lambda s: presence(s, "subscribe", dave["jid"]))
    carol_c.xmpp.send_presence_subscription(pto=dave["jid"], ptype="subscribed")

    async def both():
        [of_carol] = (await contacts(rest, carol))["items"]
        [of_dave] = (await contacts(rest, dave))["items"]
        assert of_carol["subscription"] == of_dave["subscription"] == "both"
        assert of_carol["online"] is True and of_dave["online"] is True
    await until(both)
    await until(lambda: _check(carol_c.xmpp.client_roster[dave["jid"]]["subscription"] == "both"))
    # Prosody's own presence broadcast and probes, from the roster it loaded from MongoDB:
    # a second connection of dave is announced to carol, and it sees carol at once
    carol_c.clear()
    dave2 = await roster_client(dave, fetch=False)
    await carol_c.wait_for(lambda s: presence(s, None, dave["jid"])
                           and s.get("from") == dave2.jid)
    await dave2.wait_for(lambda s: presence(s, None, carol["jid"]))
    # unsubscribed from carol: dave stops seeing her (REST and his roster agree)
    carol_c.xmpp.send_presence_subscription(pto=dave["jid"], ptype="unsubscribed")
    await dave_c.wait_for(lambda s: presence(s, "unavailable", carol["jid"]))

    async def dave_sees_nothing():
        [of_dave] = (await contacts(rest, dave))["items"]
        assert of_dave["subscription"] == "from" and of_dave["online"] is None
    await until(dave_sees_nothing)
    # the item removed by carol's client: gone from REST, dave keeps his
    await carol_c.xmpp.del_roster_item(dave["jid"])
    async def removed():
        assert (await contacts(rest, carol))["items"] == []
        [of_dave] = (await contacts(rest, dave))["items"]
        assert of_dave["subscription"] == "none"
    await until(removed)


async def test_the_roster_is_loaded_from_the_store_with_versions(server, rest, roster_client):
    eve, fay = await rest.new_user(), await rest.new_user()
    # changed while eve is offline: at login the roster, and fay's pending request, are there
    await rest.call("POST", "/contacts", eve["token"], json={"user_ids": [fay["id"]]})
    await rest.call("PUT", f"/contacts/{fay['id']}", eve["token"], json={"display_name": "Fay F."})
    await rest.call("POST", "/contacts", fay["token"], json={"user_ids": [eve["id"]]})
    eve_c = await roster_client(eve, fetch=False)
    await eve_c.wait_for(lambda s: presence(s, "subscribe", fay["jid"]))  # re-sent at login
    iq_id = uuid.uuid4().hex
    eve_c.send(f'<iq type="get" id="{iq_id}"><query xmlns="{NS_ROSTER}"/></iq>')
    [reply] = await eve_c.wait_for(lambda s: s.get("id") == iq_id)
    query = sub(reply, "query")
    [item] = list(query)
    assert item.get("jid") == fay["jid"] and item.get("name") == "Fay F."
    assert item.get("subscription") == "to"
    version = query.get("ver")
    assert version and version != "1"
    # XEP-0237: the same version answers empty; the stream feature is there
    iq_id = uuid.uuid4().hex
    eve_c.send(f'<iq type="get" id="{iq_id}"><query xmlns="{NS_ROSTER}" ver="{version}"/></iq>')
    [reply] = await eve_c.wait_for(lambda s: s.get("id") == iq_id)
    assert reply.get("type") == "result" and sub(reply, "query") is None
    assert any(sub(f, "ver") is not None for f in eve_c.stream_features)
    # a change: the push carries the next version, and an old version gets the full roster
    eve_c.clear()
    await rest.call("PUT", f"/contacts/{fay['id']}", eve["token"], json={"display_name": "Fay"})
    [push] = await eve_c.wait_for(lambda s: roster_push(s, fay["jid"]))
    assert int(sub(push, "query").get("ver")) == int(version) + 1
    assert sub(push, "query")[0].get("name") == "Fay"
    iq_id = uuid.uuid4().hex
    eve_c.send(f'<iq type="get" id="{iq_id}"><query xmlns="{NS_ROSTER}" ver="{version}"/></iq>')
    [reply] = await eve_c.wait_for(lambda s: s.get("id") == iq_id)
    assert [i.get("name") for i in sub(reply, "query")] == ["Fay"]
    # nothing of it is in Prosody's own files
    data = server.settings.data_dir / "prosody" / "data"
    assert data.is_dir()
    assert not [p for p in data.rglob("*") if "roster" in p.parts]


async def test_nobody_reads_or_changes_another_roster(server, rest, roster_client):
    gil, hal = await rest.new_user(), await rest.new_user()
    gil_c = await roster_client(gil)
    # another application's user, or a JID of no user: item-not-found
    for jid in (f"{hal['id']}-99@{DOMAIN}", f"nobody@{DOMAIN}", f"x@other.example"):
        with pytest.raises(IqError) as failed:
            await gil_c.xmpp.update_roster(jid, name="x", timeout=5)
        assert failed.value.condition == "item-not-found"
    # a request to another application's user: answered "unsubscribed", nothing stored
    stranger = f"{hal['id']}-99@{DOMAIN}"
    gil_c.xmpp.send_presence_subscription(pto=stranger)
    await gil_c.wait_for(lambda s: presence(s, "unsubscribed", stranger))
    assert (await contacts(rest, gil)) == {"items": [], "requests": []}
    # the component's roster request and Prosody's apply are not for clients
    iq_id = uuid.uuid4().hex
    gil_c.send(f'<iq type="get" id="{iq_id}" to="muc.{DOMAIN}">'
               f'<roster xmlns="urn:chatbridge:roster:0" user="{hal["id"]}-{APP_ID}"/></iq>')
    [reply] = await gil_c.wait_for(lambda s: s.get("id") == iq_id)
    assert reply.get("type") == "error" and sub(reply, "roster") is None
    hal_c = await roster_client(hal)
    iq_id = uuid.uuid4().hex
    gil_c.send(f'<iq type="set" id="{iq_id}" to="{DOMAIN}"><apply xmlns="urn:chatbridge:roster:0">'
               f'<push user="{hal["id"]}-{APP_ID}" jid="{gil["jid"]}" ver="99" pending="0">'
               f'<item jid="{gil["jid"]}" subscription="both"/></push></apply></iq>')
    [reply] = await gil_c.wait_for(lambda s: s.get("id") == iq_id)
    assert reply.get("type") == "error"
    await hal_c.absent(lambda s: roster_push(s, gil["jid"]))
    assert gil["jid"] not in hal_c.xmpp.client_roster
    # a roster request to another account is not answered with theirs
    iq_id = uuid.uuid4().hex
    gil_c.send(f'<iq type="get" id="{iq_id}" to="{hal["jid"]}"><query xmlns="{NS_ROSTER}"/></iq>')
    [reply] = await gil_c.wait_for(lambda s: s.get("id") == iq_id)
    assert reply.get("type") == "error"


async def test_a_deleted_account_leaves_the_rosters(server, rest, roster_client):
    ivy, jon = await rest.new_user(), await rest.new_user()
    await rest.call("POST", "/contacts", ivy["token"], json={"user_ids": [jon["id"]]})
    ivy_c = await roster_client(ivy)
    assert ivy_c.xmpp.client_roster[jon["jid"]]["pending_out"] is True
    status, _ = await rest.call("DELETE", f"/users/{jon['id']}.json", jon["token"])
    assert status == 200
    [push] = await ivy_c.wait_for(lambda s: roster_push(s, jon["jid"]))
    assert sub(push, "query")[0].get("subscription") == "remove"
    assert (await contacts(rest, ivy))["items"] == []


async def test_a_roster_the_bridge_could_not_give_is_loaded_again(server, rest, roster_client):
    kim, lee = await rest.new_user(), await rest.new_user()
    await rest.call("POST", "/contacts", kim["token"], json={"user_ids": [lee["id"]]})

    async def failing(requester):
        raise RuntimeError("store down")

    def break_rosters():
        server.services.contacts.roster = failing

    def mend_rosters():
        del server.services.contacts.roster

    await server.call_sync(break_rosters)
    try:
        kim_c = await roster_client(kim, fetch=False)  # the login still works
    finally:
        await server.call_sync(mend_rosters)
    # the first roster get loads it again (mod_chatbridge_roster), and answers it whole
    await kim_c.xmpp.get_roster(timeout=5)
    assert kim_c.xmpp.client_roster[lee["jid"]]["pending_out"] is True
    assert kim_c.xmpp.client_roster.version not in ("", "0")
