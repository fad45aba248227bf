"""Bookmarks (XEP-0402 and XEP-0048) with slixmpp's own `xep_0060` / `xep_0402` / `xep_0048` /
`xep_0049` clients against the real Prosody: the user's group and public dialogs with autojoin,
live XEP-0060 notifications when they join or leave, read-only, one's own only."""
from __future__ import annotations

import pytest
from slixmpp.exceptions import IqError

from tests.bridge.conftest import APP_ID, DOMAIN, local, sub

NS_BOOKMARKS = "urn:xmpp:bookmarks:1"
NS_EVENT = "{http://jabber.org/protocol/pubsub#event}"


def room(dialog_id: str) -> str:
    return f"{APP_ID}_{dialog_id}@muc.{DOMAIN}"


async def bookmark_client(xmpp, user):
    client = await xmpp(user)
    for name in ("xep_0030", "xep_0060", "xep_0402", "xep_0049", "xep_0048"):
        client.xmpp.register_plugin(name)
    return client


async def bookmarks_402(client) -> dict[str, dict]:
    reply = await client.xmpp.plugin["xep_0060"].get_items(client.user["jid"], NS_BOOKMARKS, timeout=5)
    out = {}
    for item in reply["pubsub"]["items"]:
        conference = item["conference"]
        out[item["id"]] = {"name": conference["name"], "autojoin": conference["autojoin"],
                           "nick": conference["nick"]}
    return out


def bookmark_event(element, kind: str, room_jid: str) -> bool:
    if local(element.tag) != "message":
        return False
    items = element.find(f"{NS_EVENT}event/{NS_EVENT}items")
    if items is None or items.get("node") != NS_BOOKMARKS:
        return False
    return any(local(c.tag) == kind and c.get("id") == room_jid for c in items)


async def test_bookmarks_list_group_and_public_dialogs(server, rest, xmpp):
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    group = await rest.dialog(a["token"], [b["id"]], name="Team")
    public = await rest.dialog(c["token"], [], dtype=4, name="Town square")
    status, _ = await rest.call("POST", f"/chat/Dialog/{public['_id']}/subscribe.json", b["token"])
    assert status == 200
    await rest.dialog(a["token"], [b["id"]], dtype=3)  # private: not a room
    await rest.dialog(a["token"], [c["id"]], name="Not Bob's")
    bob = await bookmark_client(xmpp, b)
    marks = await bookmarks_402(bob)
    assert marks == {room(group["_id"]): {"name": "Team", "autojoin": True, "nick": str(b["id"])},
                     room(public["_id"]): {"name": "Town square", "autojoin": True, "nick": str(b["id"])}}
    # XEP-0048 in private storage (XEP-0049), as older clients ask
    reply = await bob.xmpp.plugin["xep_0048"].get_bookmarks(method="xep_0049", timeout=5)
    legacy = {str(conf["jid"]): conf for conf in reply["private"]["bookmarks"]["conferences"]}
    assert set(legacy) == set(marks)
    assert all(conf["autojoin"] and conf["nick"] == str(b["id"]) for conf in legacy.values())
    assert legacy[room(group["_id"])]["name"] == "Team"
    # ... and on XEP-0048's PEP node
    reply = await bob.xmpp.plugin["xep_0060"].get_items(b["jid"], "storage:bookmarks", timeout=5)
    [item] = reply["pubsub"]["items"]
    storage = sub(item.xml, "storage")
    assert {c.get("jid") for c in storage} == set(marks)
    # the account announces the XEP-0402 / XEP-0048 compatibility
    info = await bob.xmpp.plugin["xep_0030"].get_info(jid=b["jid"], timeout=5)
    assert f"{NS_BOOKMARKS}#compat" in info["disco_info"]["features"]


async def test_joining_and_leaving_dialogs_updates_bookmarks_live(server, rest, xmpp):
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    public = await rest.dialog(c["token"], [], dtype=4, name="Square")
    bob = await bookmark_client(xmpp, b)
    assert await bookmarks_402(bob) == {}
    # a new group dialog with Bob: a new item
    group = await rest.dialog(a["token"], [b["id"]], name="Plans")
    [event] = await bob.wait_for(lambda s: bookmark_event(s, "item", room(group["_id"])))
    assert event.get("from") == b["jid"]
    conference = event.find(f"{NS_EVENT}event/{NS_EVENT}items/{NS_EVENT}item/{{{NS_BOOKMARKS}}}conference")
    assert conference.get("name") == "Plans" and conference.get("autojoin") == "true"
    # subscribing to a public dialog: an item; renaming: the item again with the new name
    status, _ = await rest.call("POST", f"/chat/Dialog/{public['_id']}/subscribe.json", b["token"])
    assert status == 200
    await bob.wait_for(lambda s: bookmark_event(s, "item", room(public["_id"])))
    status, _ = await rest.call("PUT", f"/chat/Dialog/{group['_id']}.json", a["token"],
                                json={"name": "Plans B"})
    assert status == 200
    await bob.wait_for(lambda s: bookmark_event(s, "item", room(group["_id"])), count=2)
    assert (await bookmarks_402(bob))[room(group["_id"])]["name"] == "Plans B"
    # removed from the group, unsubscribed from the public one: retractions
    status, _ = await rest.call("PUT", f"/chat/Dialog/{group['_id']}.json", a["token"],
                                json={"pull_all": {"occupants_ids": [b["id"]]}})
    assert status == 200
    await bob.wait_for(lambda s: bookmark_event(s, "retract", room(group["_id"])))
    status, _ = await rest.call("DELETE", f"/chat/Dialog/{public['_id']}/subscribe.json", b["token"])
    assert status == 200
    await bob.wait_for(lambda s: bookmark_event(s, "retract", room(public["_id"])))
    assert await bookmarks_402(bob) == {}
    # a deleted dialog goes too
    other = await rest.dialog(a["token"], [b["id"]], name="Short-lived")
    await bob.wait_for(lambda s: bookmark_event(s, "item", room(other["_id"])))
    status, _ = await rest.call("DELETE", f"/chat/Dialog/{other['_id']}.json?force=1", a["token"])
    assert status == 200
    await bob.wait_for(lambda s: bookmark_event(s, "retract", room(other["_id"])))


async def test_bookmarks_are_read_only_and_ones_own(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    group = await rest.dialog(a["token"], [b["id"]], name="Secret plans")
    alice, bob = await bookmark_client(xmpp, a), await bookmark_client(xmpp, b)
    with pytest.raises(IqError) as raised:
        await bob.xmpp.plugin["xep_0060"].publish(b["jid"], NS_BOOKMARKS, id=room("0" * 24), timeout=5)
    assert raised.value.iq["error"]["condition"] == "not-allowed"
    storage = bob.xmpp.plugin["xep_0048"].stanza.Bookmarks()
    storage.add_conference(room("0" * 24), "x", autojoin=True)
    with pytest.raises(IqError) as raised:
        await bob.xmpp.plugin["xep_0048"].set_bookmarks(storage, method="xep_0049", timeout=5)
    assert raised.value.iq["error"]["condition"] == "not-allowed"
    assert set(await bookmarks_402(bob)) == {room(group["_id"])}
    # Alice asking for Bob's bookmarks is not answered with them
    with pytest.raises(IqError) as raised:
        await alice.xmpp.plugin["xep_0060"].get_items(b["jid"], NS_BOOKMARKS, timeout=5)
    assert "Secret plans" not in str(raised.value.iq)
