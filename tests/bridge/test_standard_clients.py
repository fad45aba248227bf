"""What stock XMPP clients (Conversations, Dino, Gajim, profanity) rely on, driven with slixmpp's
standard plugins against the embedded Prosody: carbons and offline delivery (Prosody's own
modules), and the checks of the Conversations Compliance Tester (iNPUTmice/ComplianceTester):
stream features (stream management, CSI, roster versioning, caps), the account's PEP with
publish-options (OMEMO), push registration (XEP-0357), the server's carbons, offline storage,
external services (XEP-0215), contact addresses (XEP-0157) and the SOCKS5 proxy (XEP-0065).

The server here has an abuse contact and two external services configured (both are empty by
default), so it runs on its own next to the session's."""
from __future__ import annotations

import asyncio
import datetime
import shutil
from xml.etree import ElementTree as ET

import aiohttp
import pytest
from pydantic import SecretStr

from tests.bridge.conftest import (Client, Rest, Server, is_message, local, make_settings, new_id,
                                  running, sub)

pytestmark = pytest.mark.skipif(shutil.which("prosody") is None, reason="Prosody is not installed")

ABUSE = "mailto:abuse@chat.example.com"
SERVICES = [{"type": "stun", "host": "stun.example.com", "port": 3478, "transport": "udp"},
            {"type": "turn", "host": "turn.example.com", "port": 3478, "transport": "udp",
             "secret": SecretStr("turn-shared-secret")}]
CARBONS = "urn:xmpp:carbons:2"
PLUGINS = ("xep_0030", "xep_0060", "xep_0115", "xep_0203", "xep_0280", "xep_0352")


@pytest.fixture(scope="module")
def stock_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stock-server")
    yield from running(Server(make_settings(tmp, contact_info={"abuse": [ABUSE]},
                                            external_services=SERVICES)))


@pytest.fixture
async def stock(stock_server):
    """(rest, login): `await login(user)` → a logged-in Client with slixmpp's standard plugins."""
    clients: list[Client] = []

    async def login(user: dict, connect: bool = True) -> Client:
        client = Client(user, stock_server.settings, plugins=PLUGINS)
        clients.append(client)
        if connect:
            await client.connect()
            await stock_server.wait_online(user["id"], client.resource)
        return client

    async with aiohttp.ClientSession() as session:
        yield Rest(session, stock_server.base_url), login
    for client in clients:
        await client.close()


def _body(stanza: ET.Element) -> str | None:
    body = sub(stanza, "body")
    return body.text if body is not None else None


def _carbon(stanza: ET.Element, kind: str) -> ET.Element | None:
    """The message inside a `<sent>` / `<received>` carbon."""
    wrapper = stanza.find(f"{{{CARBONS}}}{kind}")
    if wrapper is None:
        return None
    return wrapper.find("{urn:xmpp:forward:0}forwarded/{jabber:client}message")


# -- item 8: carbons and offline delivery -------------------------------------------------------
async def test_carbons_give_a_second_resource_what_the_first_sent_and_received(stock):
    rest, login = stock
    a, b = await rest.new_user(), await rest.new_user()
    phone, laptop, bob = await login(a), await login(a), await login(b)
    await phone.xmpp.plugin["xep_0280"].enable()
    await laptop.xmpp.plugin["xep_0280"].enable()
    sent = new_id()
    phone.send(f'<message to="{b["jid"]}" type="chat" id="{sent}"><body>from the phone</body></message>')
    await bob.wait_for(lambda s: is_message(s, id=sent))
    [copy] = await laptop.wait_for(lambda s: (m := _carbon(s, "sent")) is not None
                                   and m.get("id") == sent)
    inner = _carbon(copy, "sent")
    assert copy.get("from") == a["jid"] and inner.get("to") == b["jid"]
    assert _body(inner) == "from the phone" and inner.get("from") == phone.jid
    reply = new_id()
    bob.send(f'<message to="{phone.jid}" type="chat" id="{reply}"><body>to the phone</body></message>')
    await phone.wait_for(lambda s: is_message(s, id=reply))
    [copy] = await laptop.wait_for(lambda s: (m := _carbon(s, "received")) is not None
                                   and m.get("id") == reply)
    assert _body(_carbon(copy, "received")) == "to the phone"
    # a resource that did not enable carbons gets no copies
    other = await login(a)
    again = new_id()
    phone.send(f'<message to="{b["jid"]}" type="chat" id="{again}"><body>once more</body></message>')
    await laptop.wait_for(lambda s: (m := _carbon(s, "sent")) is not None and m.get("id") == again)
    await other.absent(lambda s: _carbon(s, "sent") is not None, wait=0.3)


async def test_a_message_to_an_offline_user_arrives_at_the_next_login_with_its_delay(stock):
    rest, login = stock
    a, b = await rest.new_user(), await rest.new_user()
    alice = await login(a)
    mid = new_id()
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{mid}"><body>while you were away</body></message>')
    await asyncio.sleep(1.2)  # stored by mod_offline; the delay stamp is whole seconds
    bob = await login(b)
    [got] = await bob.wait_for(lambda s: is_message(s, id=mid))
    assert _body(got) == "while you were away" and got.get("from") == alice.jid
    delay = got.find("{urn:xmpp:delay}delay")
    assert delay is not None and delay.get("from") == "localhost"
    stamp = datetime.datetime.fromisoformat(delay.get("stamp").replace("Z", "+00:00"))
    assert before <= stamp <= datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    # delivered once: a second login gets nothing more
    await bob.close()
    again = await login(b)
    await again.absent(lambda s: is_message(s, id=mid), wait=0.5)


# -- item 10: what the Compliance Tester checks -------------------------------------------------
async def test_stream_features_sm_csi_roster_versioning_and_caps(stock):
    rest, login = stock
    client = await login(await rest.new_user())
    features = client.stream_features[-1]  # after authentication
    names = {child.tag for child in features}
    assert "{urn:xmpp:sm:3}sm" in names
    assert "{urn:xmpp:csi:0}csi" in names
    assert "{urn:xmpp:features:rosterver}ver" in names
    assert "{http://jabber.org/protocol/caps}c" in names
    assert "rosterver" in client.xmpp.features  # slixmpp negotiated it
    roster = await client.xmpp.get_roster()
    assert roster["roster"]["ver"]  # a versioned roster


async def test_an_inactive_client_gets_chat_at_once_and_presence_later(stock):
    rest, login = stock
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await login(a), await login(b)
    bob.xmpp.plugin["xep_0352"].send_inactive()
    await asyncio.sleep(0.2)
    bob.clear()
    alice.send(f'<presence to="{b["jid"]}"><status>directed</status></presence>')
    await bob.absent(lambda s: local(s.tag) == "presence" and s.get("from") == alice.jid, wait=0.7)
    mid = new_id()
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{mid}"><body>important</body></message>')
    await bob.wait_for(lambda s: is_message(s, id=mid), timeout=2)
    # the held presence is flushed with it, before it
    order = [s.get("id") if local(s.tag) == "message" else "presence" for s in bob.stanzas
             if s.get("from") == alice.jid]
    assert order.index("presence") < order.index(mid)


async def test_the_account_has_pep_with_publish_options_and_push(stock):
    rest, login = stock
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await login(a), await login(b)
    info = await alice.xmpp.plugin["xep_0030"].get_info(jid=a["jid"], cached=False)
    assert ("pubsub", "pep", None, None) in info["disco_info"]["identities"]
    features = info["disco_info"]["features"]
    assert "http://jabber.org/protocol/pubsub#publish-options" in features
    assert "urn:xmpp:push:0" in features
    # what OMEMO does: a device list published with access_model=open, read by another user
    node = "eu.siacs.conversations.axolotl.devicelist"
    form = alice.xmpp.plugin["xep_0004"].make_form(ftype="submit")
    form.add_field(var="FORM_TYPE", ftype="hidden",
                   value="http://jabber.org/protocol/pubsub#publish-options")
    form.add_field(var="pubsub#access_model", value="open")
    payload = ET.fromstring('<list xmlns="eu.siacs.conversations.axolotl"><device id="4223"/></list>')
    await alice.xmpp.plugin["xep_0060"].publish(None, node, id="current", payload=payload, options=form)
    item = await bob.xmpp.plugin["xep_0060"].get_item(a["jid"], node, "current")
    got = item.xml.find(".//{eu.siacs.conversations.axolotl}device")
    assert got is not None and got.get("id") == "4223"


async def test_push_registration_notifies_the_app_server_of_an_offline_message(stock):
    rest, login = stock
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    alice, bob, app_server = await login(a), await login(b), await login(c)
    enable = f"{new_id()}:push"
    bob.send(f'<iq type="set" id="{enable}"><enable xmlns="urn:xmpp:push:0" '
             f'jid="{app_server.jid}" node="bobs-phone"/></iq>')
    [reply] = await bob.wait_for(lambda s: local(s.tag) == "iq" and s.get("id") == enable)
    assert reply.get("type") == "result"
    await bob.close()
    await asyncio.sleep(0.3)
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{new_id()}"><body>wake up</body></message>')
    [push] = await app_server.wait_for(
        lambda s: local(s.tag) == "iq" and s.find(".//{urn:xmpp:push:0}notification") is not None)
    assert push.get("from") == "localhost" and push.get("type") == "set"  # from the server
    assert push.find(".//{http://jabber.org/protocol/pubsub}publish").get("node") == "bobs-phone"


async def test_the_server_advertises_carbons_offline_external_services_and_contacts(stock):
    rest, login = stock
    client = await login(await rest.new_user())
    info = await client.xmpp.plugin["xep_0030"].get_info(jid="localhost", cached=False)
    features = info["disco_info"]["features"]
    assert {CARBONS, "msgoffline", "urn:xmpp:extdisco:2", "urn:xmpp:ping"} <= set(features)
    forms = info.xml.findall(".//{jabber:x:data}x")
    abuse = [v.text for form in forms for field in form if field.get("var") == "abuse-addresses"
             for v in field]
    assert abuse == [ABUSE]
    # XEP-0215: the configured STUN and TURN servers, TURN with credentials from its secret
    ask = f"{new_id()}:services"
    client.send(f'<iq type="get" to="localhost" id="{ask}"><services xmlns="urn:xmpp:extdisco:2"/></iq>')
    [reply] = await client.wait_for(lambda s: local(s.tag) == "iq" and s.get("id") == ask)
    services = {s.get("type"): s for s in reply.iter("{urn:xmpp:extdisco:2}service")}
    assert set(services) == {"stun", "turn"}
    assert services["stun"].get("host") == "stun.example.com" and services["stun"].get("port") == "3478"
    assert services["turn"].get("username") and services["turn"].get("password")


async def test_a_socks5_proxy_is_offered_on_loopback(stock_server, stock):
    rest, login = stock
    client = await login(await rest.new_user())
    items = await client.xmpp.plugin["xep_0030"].get_items(jid="localhost")
    jids = {item[0] for item in items["disco_items"]["items"]}
    assert {"proxy.localhost", "muc.localhost"} <= jids
    info = await client.xmpp.plugin["xep_0030"].get_info(jid="proxy.localhost", cached=False)
    assert "http://jabber.org/protocol/bytestreams" in info["disco_info"]["features"]
    ask = f"{new_id()}:proxy"
    client.send(f'<iq type="get" to="proxy.localhost" id="{ask}">'
                '<query xmlns="http://jabber.org/protocol/bytestreams"/></iq>')
    [reply] = await client.wait_for(lambda s: local(s.tag) == "iq" and s.get("id") == ask)
    host = reply.find(".//{http://jabber.org/protocol/bytestreams}streamhost")
    assert host.get("host") == "127.0.0.1"
    assert host.get("port") == str(stock_server.settings.xmpp.proxy65_port)
    _, writer = await asyncio.open_connection("127.0.0.1", stock_server.settings.xmpp.proxy65_port)
    writer.close()
