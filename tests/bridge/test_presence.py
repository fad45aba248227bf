"""Privileged presence → online map and PresenceRegistry; last activity (XEP-0012) and status
streaming through XEP-0355 delegation; the Tigase-style mobile switch."""
from __future__ import annotations

import asyncio

from tests.bridge.conftest import APP_ID, DOMAIN, local, new_id

NS_LAST = "{jabber:iq:last}"


def iq_with(element, **attrs) -> bool:
    return local(element.tag) == "iq" and all(element.get(k) == v for k, v in attrs.items())


async def last_activity(client, target_jid: str):
    query = new_id()
    client.send(f'<iq type="get" id="{query}" to="{target_jid}"><query xmlns="jabber:iq:last"/></iq>')
    [reply] = await client.wait_for(lambda s: iq_with(s, id=query))
    return reply


async def test_last_activity_online_offline_unknown(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await xmpp(a), await xmpp(b)
    reply = await last_activity(alice, b["jid"])
    assert reply.get("type") == "result" and reply.get("from") == b["jid"]
    assert reply.find(f"{NS_LAST}query").get("seconds") == "0"
    await bob.close()
    await server.wait_online(b["id"], bob.resource, online=False)
    reply = await last_activity(alice, b["jid"])
    assert reply.get("type") == "result"
    assert int(reply.find(f"{NS_LAST}query").get("seconds")) >= 1
    reply = await last_activity(alice, f"999999-{APP_ID}@{DOMAIN}")
    assert reply.get("type") == "error"
    reply = await last_activity(alice, f"{b['id']}-2@{DOMAIN}")  # another application
    assert reply.get("type") == "error"


async def test_status_streaming_pushes_online_and_offline(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice = await xmpp(a)
    sub_id = new_id()
    alice.send(f'<iq type="set" id="{sub_id}"><subscribe xmlns="https://connectycube.com/protocol/status_streaming" '
               f'user_jid="{b["jid"]}" enable="true"/></iq>')
    [ok] = await alice.wait_for(lambda s: iq_with(s, id=sub_id))
    assert ok.get("type") == "result"
    watched = f"{b['id']}-{APP_ID}@muc.{DOMAIN}"
    bob = await xmpp(b)
    [online] = await alice.wait_for(lambda s: iq_with(s, type="result") and s.get("from") == watched)
    assert online.find(f"{NS_LAST}query").get("seconds") == "0"
    await bob.close()
    pushes = await alice.wait_for(lambda s: iq_with(s, type="result") and s.get("from") == watched,
                                  count=2)
    assert int(pushes[1].find(f"{NS_LAST}query").get("seconds")) >= 1
    # unsubscribe: no more pushes
    off = new_id()
    alice.send(f'<iq type="set" id="{off}"><subscribe xmlns="https://connectycube.com/protocol/status_streaming" '
               f'user_jid="{b["jid"]}" enable="false"/></iq>')
    await alice.wait_for(lambda s: iq_with(s, id=off))
    await xmpp(b)
    await asyncio.sleep(0.3)
    assert len([s for s in alice.stanzas if iq_with(s, type="result") and s.get("from") == watched]) == 2


async def test_presence_registry_and_mobile_inactive(server, rest, xmpp):
    a = await rest.new_user()
    registry = server.services.presence
    phone = await xmpp(a)
    assert await server.call_sync(lambda: registry.is_online(APP_ID, a["id"]))
    inactive = new_id()
    phone.send(f'<iq type="set" id="{inactive}"><mobile xmlns="http://tigase.org/protocol/mobile#v2" enable="true"/></iq>')
    [reply] = await phone.wait_for(lambda s: iq_with(s, id=inactive))
    assert reply.get("type") == "result"
    assert not await server.call_sync(lambda: registry.is_online(APP_ID, a["id"]))  # push again
    active = new_id()
    phone.send(f'<iq type="set" id="{active}"><mobile xmlns="http://tigase.org/protocol/mobile#v2" enable="false"/></iq>')
    await phone.wait_for(lambda s: iq_with(s, id=active))
    assert await server.call_sync(lambda: registry.is_online(APP_ID, a["id"]))
    await phone.close()
    await server.wait_online(a["id"], phone.resource, online=False)
    assert not await server.call_sync(lambda: registry.is_online(APP_ID, a["id"]))


async def test_server_ping_is_answered(server, rest, xmpp):
    alice = await xmpp(await rest.new_user())
    ping = new_id()
    alice.send(f'<iq type="get" id="{ping}" to="{DOMAIN}"><ping xmlns="urn:xmpp:ping"/></iq>')
    [reply] = await alice.wait_for(lambda s: iq_with(s, id=ping))
    assert reply.get("type") == "result"
