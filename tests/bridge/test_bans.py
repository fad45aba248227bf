"""Bans over real Prosody: a user banned over REST (`/chat/Dialog/{id}/block`) is kicked out of
the room, cannot join it again nor post to it, and receives nothing of it; unbanned, a public
dialog's user subscribes and joins again. The rule is the access authority's
(models/services/access.py), which both transports obey."""
from __future__ import annotations

from tests.bridge.conftest import is_message, new_id
from tests.bridge.test_groupchat import codes, group, is_presence, join, room


async def ban(rest, who, dialog_id, user_id, method="POST") -> None:
    status, body = await rest.call(method, f"/chat/Dialog/{dialog_id}/block.json", who["token"],
                                   json={"user_id": user_id})
    assert status == 200, body


async def test_a_banned_occupant_is_kicked_and_refused(server, rest, xmpp):
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    dialog = await group(rest, a, b, c)
    alice, bob = await xmpp(a), await xmpp(b)
    bob_join = join(bob, dialog["_id"])
    [joined] = await bob.wait_for(lambda s: is_presence(s, id=bob_join))
    assert joined.get("type") is None
    await ban(rest, a, dialog["_id"], b["id"])
    [kick] = await bob.wait_for(lambda s: is_presence(s, type="unavailable") and "301" in codes(s)[1])
    assert kick.find("{jabber:client}item/{jabber:client}actor").get("jid") == a["jid"]

    again = join(bob, dialog["_id"])
    [error] = await bob.wait_for(lambda s: is_presence(s, id=again))
    assert error.get("type") == "error"
    assert error.find("{http://jabber.org/protocol/muc}x") is not None
    assert error.find("{jabber:client}error").get("code") == "403"
    mid = new_id()
    bob.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{mid}"><body>hey</body></message>')
    [refused] = await bob.wait_for(lambda s: is_message(s, id=mid, type="error"))
    assert refused.find("{jabber:client}error").get("code") == "403"
    ok = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{ok}"><body>x</body></message>')
    await alice.wait_for(lambda s: is_message(s, id=ok))
    await bob.absent(lambda s: is_message(s, id=ok), wait=0.3)


async def test_a_banned_subscriber_rejoins_only_once_unbanned(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    status, dialog = await rest.call("POST", "/chat/Dialog.json", a["token"],
                                     json={"type": 4, "name": "open"})
    assert status == 201
    did = dialog["_id"]
    assert (await rest.call("POST", f"/chat/Dialog/{did}/subscribe.json", b["token"]))[0] == 200
    bob = await xmpp(b)
    first = join(bob, did)
    [joined] = await bob.wait_for(lambda s: is_presence(s, id=first))
    assert joined.get("type") is None
    await ban(rest, a, did, b["id"])
    await bob.wait_for(lambda s: is_presence(s, type="unavailable") and "301" in codes(s)[1])
    refused = join(bob, did)
    [error] = await bob.wait_for(lambda s: is_presence(s, id=refused))
    assert error.find("{jabber:client}error").get("code") == "403"

    await ban(rest, a, did, b["id"], method="DELETE")
    assert (await rest.call("POST", f"/chat/Dialog/{did}/subscribe.json", b["token"]))[0] == 200
    back = join(bob, did)
    [joined] = await bob.wait_for(lambda s: is_presence(s, id=back))
    assert joined.get("type") is None
