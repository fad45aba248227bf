"""Privacy lists (XEP-0016) as the ConnectyCube SDK uses them: a default list that denies a user
stops that user's 1:1 messages; lists read back in order."""
from __future__ import annotations

import uuid

from tests.bridge.conftest import is_message, local, new_id, sub


def _iq_result(client, iq_id):
    return lambda s: local(s.tag) == "iq" and s.get("id") == iq_id


async def _set(client, payload: str) -> None:
    iq_id = f"{uuid.uuid4()}:edit"
    client.send(f'<iq type="set" id="{iq_id}"><query xmlns="jabber:iq:privacy">{payload}</query></iq>')
    [reply] = await client.wait_for(_iq_result(client, iq_id))
    assert reply.get("type") == "result", reply


async def test_default_deny_list_blocks_a_user(server, rest, xmpp):
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    alice, bob, carol = await xmpp(a), await xmpp(b), await xmpp(c)
    muc = server.settings.xmpp.muc_domain
    await _set(alice, f'<list name="blocklist">'
                      f'<item type="jid" value="{b["jid"]}" action="deny" order="1"><message/><presence-in/><presence-out/><iq/></item>'
                      f'<item type="jid" value="{muc}/{b["id"]}" action="deny" order="2"><message/><presence-in/><presence-out/><iq/></item>'
                      f'</list>')
    await _set(alice, '<default name="blocklist"/>')

    # read back as the SDK does: items in order
    iq_id = f"{uuid.uuid4()}:getlist"
    alice.send(f'<iq type="get" id="{iq_id}"><query xmlns="jabber:iq:privacy"><list name="blocklist"/></query></iq>')
    [reply] = await alice.wait_for(_iq_result(alice, iq_id))
    items = [i for i in sub(sub(reply, "query"), "list") if local(i.tag) == "item"]
    assert [(i.get("value"), i.get("action"), i.get("order")) for i in items] == [
        (b["jid"], "deny", "1"), (f"{muc}/{b['id']}", "deny", "2")]

    blocked, allowed = new_id(), new_id()
    bob.send(f'<message to="{a["jid"]}" type="chat" id="{blocked}"><body>let me in</body></message>')
    carol.send(f'<message to="{a["jid"]}" type="chat" id="{allowed}"><body>hello</body></message>')
    await alice.wait_for(lambda s: is_message(s, id=allowed))
    await alice.absent(lambda s: is_message(s, id=blocked), wait=0.5)

    # declining the default list lifts the block
    await _set(alice, "<default/>")
    again = new_id()
    bob.send(f'<message to="{a["jid"]}" type="chat" id="{again}"><body>now?</body></message>')
    await alice.wait_for(lambda s: is_message(s, id=again))
