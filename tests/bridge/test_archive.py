"""Message Archive Management (XEP-0313) against the real Prosody, with slixmpp's own `xep_0313`
and `xep_0059` client plugins: the user's own archive (with, start/end, paging both ways, the
last page, `<fin complete>`), what the user no longer sees, room archives for members only,
another user's archive refused, and `urn:xmpp:mam:2` in disco (account bare JID, server)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from slixmpp.exceptions import IqError

from models.messages import Message, make_draft
from models.requester import Requester
from tests.bridge.conftest import APP_ID

NS_MAM = "urn:xmpp:mam:2"
BASE = 1_700_000_000


async def mam_client(xmpp, user):
    client = await xmpp(user)
    for plugin in ("xep_0030", "xep_0059", "xep_0297", "xep_0313"):
        client.xmpp.register_plugin(plugin)
    return client


async def store(server, sender: dict, body: str, date_sent: int, to: dict | None = None,
                dialog_id: str | None = None) -> Message:
    draft = make_draft(recipient_id=to["id"] if to else None, dialog_id=dialog_id, body=body,
                       date_sent=date_sent, custom={"kind": "note"})
    return await server.call(lambda s: s.messages.send(Requester(app_id=APP_ID, user_id=sender["id"]),
                                                       draft))


def page_of(iq) -> list[tuple[str, str]]:
    """(result id, inner body) of each result, in order."""
    out = []
    for message in iq["mam"]["results"]:
        inner = message["mam_result"]["forwarded"]["stanza"]
        out.append((message["mam_result"]["id"], inner["body"]))
    return out


def fin(iq):
    return iq["mam_fin"]


@pytest.fixture
async def chat(server, rest, xmpp):
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    docs = []
    for i in range(5):
        sender, to = (a, b) if i % 2 == 0 else (b, a)
        docs.append(await store(server, sender, f"ab{i}", BASE + i, to=to))
    docs.append(await store(server, c, "ca0", BASE + 10, to=a))
    return a, b, c, docs


async def test_own_archive_with_a_contact_and_time_bounds(server, xmpp, chat):
    a, b, c, docs = chat
    alice = await mam_client(xmpp, a)
    everything = await alice.xmpp.plugin["xep_0313"].retrieve(rsm={"max": 50})
    assert [body for _, body in page_of(everything)] == ["ab0", "ab1", "ab2", "ab3", "ab4", "ca0"]
    assert fin(everything)["complete"] in ("true", True)
    with_bob = await alice.xmpp.plugin["xep_0313"].retrieve(with_jid=b["jid"], rsm={"max": 50})
    assert [rid for rid, _ in page_of(with_bob)] == [d.id for d in docs[:5]]
    bounded = await alice.xmpp.plugin["xep_0313"].retrieve(
        with_jid=b["jid"], start=datetime.fromtimestamp(BASE + 1, timezone.utc),
        end=datetime.fromtimestamp(BASE + 3, timezone.utc))
    assert [body for _, body in page_of(bounded)] == ["ab1", "ab2", "ab3"]
    # the forwarded message is the stored one as delivered live: ids, delay, extraParams
    result = with_bob["mam"]["results"][0]
    forwarded = result["mam_result"]["forwarded"]
    inner = forwarded["stanza"]
    assert inner["id"] == docs[0].id and inner["type"] == "chat"
    assert inner["from"].bare == a["jid"] and inner["to"].bare == b["jid"]
    assert forwarded["delay"]["stamp"] == datetime.fromtimestamp(BASE, timezone.utc)
    sid = inner.xml.find("{urn:xmpp:sid:0}stanza-id")
    assert sid is not None and sid.get("id") == docs[0].id and sid.get("by") == a["jid"]
    extra = inner.xml.find("{jabber:client}extraParams")
    assert extra.findtext("{jabber:client}dialog_id") == docs[0].dialog_id
    assert extra.findtext("{jabber:client}kind") == "note"
    assert extra.findtext("{jabber:client}date_sent") == str(BASE)


async def test_rsm_paging_forward_backward_and_the_last_page(server, xmpp, chat):
    a, b, _, docs = chat
    alice = await mam_client(xmpp, a)
    mam = alice.xmpp.plugin["xep_0313"]
    ids = [d.id for d in docs[:5]]
    first = await mam.retrieve(with_jid=b["jid"], rsm={"max": 2})
    assert [rid for rid, _ in page_of(first)] == ids[:2]
    assert fin(first)["complete"] in ("", False, None) and fin(first)["rsm"]["last"] == ids[1]
    second = await mam.retrieve(with_jid=b["jid"], rsm={"max": 2, "after": ids[1]})
    assert [rid for rid, _ in page_of(second)] == ids[2:4]
    third = await mam.retrieve(with_jid=b["jid"], rsm={"max": 2, "after": ids[3]})
    assert [rid for rid, _ in page_of(third)] == ids[4:]
    assert fin(third)["complete"] in ("true", True)
    # an empty <before/> (slixmpp's backward iteration starts with one): the last page
    last = await mam.retrieve(with_jid=b["jid"], iterator=True, reverse=True, rsm={"max": 2}).next()
    assert [rid for rid, _ in page_of(last)] == ids[3:]
    assert fin(last)["rsm"]["first"] == ids[3]
    earlier = await mam.retrieve(with_jid=b["jid"], rsm={"max": 2, "before": ids[3]})
    assert [rid for rid, _ in page_of(earlier)] == ids[1:3]
    oldest = await mam.retrieve(with_jid=b["jid"], rsm={"max": 2, "before": ids[1]})
    assert [rid for rid, _ in page_of(oldest)] == ids[:1]
    assert fin(oldest)["complete"] in ("true", True)
    # slixmpp's own RSM iteration walks the whole archive page by page
    seen = [m["mam_result"]["id"] async for m in mam.iterate(with_jid=b["jid"], rsm={"max": 2})]
    assert seen == ids
    with pytest.raises(IqError) as error:  # an id not in this archive
        await mam.retrieve(rsm={"max": 2, "after": "0123456789abcdef01234567"})
    assert error.value.iq["error"]["condition"] == "item-not-found"


async def test_deleted_for_me_forced_deletes_and_cleared_history(server, rest, xmpp, chat):
    a, b, _, docs = chat
    status, _ = await rest.call("DELETE", f"/chat/Message/{docs[1].id}.json", a["token"])
    assert status == 200
    status, _ = await rest.call("DELETE", f"/chat/Message/{docs[2].id}.json?force=1", a["token"])
    assert status == 200
    alice, bob = await mam_client(xmpp, a), await mam_client(xmpp, b)
    mine = await alice.xmpp.plugin["xep_0313"].retrieve(with_jid=b["jid"])
    assert [body for _, body in page_of(mine)] == ["ab0", "ab3", "ab4"]
    theirs = await bob.xmpp.plugin["xep_0313"].retrieve(with_jid=a["jid"])
    assert [body for _, body in page_of(theirs)] == ["ab0", "ab1", "ab3", "ab4"]
    await server.call(lambda s: s.memberships.clear_history(
        Requester(app_id=APP_ID, user_id=b["id"]), docs[0].dialog_id))
    await store(server, a, "fresh", BASE + 20, to=b)
    cleared = await bob.xmpp.plugin["xep_0313"].retrieve(with_jid=a["jid"])
    assert [body for _, body in page_of(cleared)] == ["fresh"]


async def test_room_archive_for_members_only(server, rest, xmpp):
    a, b, eve = await rest.new_user(), await rest.new_user(), await rest.new_user()
    dialog = await rest.dialog(a["token"], [b["id"]])
    for i in range(3):
        await store(server, b, f"g{i}", BASE + i, dialog_id=dialog["_id"])
    room = dialog["xmpp_room_jid"]
    alice, intruder = await mam_client(xmpp, a), await mam_client(xmpp, eve)
    page = await alice.xmpp.plugin["xep_0313"].retrieve(jid=room, iterator=True, reverse=True,
                                                 rsm={"max": 2}).next()
    assert [body for _, body in page_of(page)] == ["g1", "g2"]
    inner = page["mam"]["results"][0]["mam_result"]["forwarded"]["stanza"]
    assert inner["type"] == "groupchat" and str(inner["from"]) == f"{room}/{b['id']}"
    with pytest.raises(IqError) as error:
        await intruder.xmpp.plugin["xep_0313"].retrieve(jid=room)
    assert error.value.iq["error"]["condition"] == "forbidden"


async def test_another_users_archive_is_refused(server, xmpp, chat):
    a, b, _, _ = chat
    alice = await mam_client(xmpp, a)
    with pytest.raises(IqError) as error:
        await alice.xmpp.plugin["xep_0313"].retrieve(jid=b["jid"])
    assert error.value.iq["error"]["condition"] == "forbidden"


async def test_disco_advertises_mam_on_the_account_and_the_server(server, rest, xmpp):
    a = await rest.new_user()
    alice = await mam_client(xmpp, a)
    account = await alice.xmpp.plugin["xep_0030"].get_info(jid=a["jid"])
    assert NS_MAM in account["disco_info"]["features"]
    host = await alice.xmpp.plugin["xep_0030"].get_info(jid=server.settings.xmpp.domain)
    assert NS_MAM in host["disco_info"]["features"]
