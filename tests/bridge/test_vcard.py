"""vCards (XEP-0054) with slixmpp's own `xep_0054` client against the real Prosody: answered from
the profile (FN, NICKNAME, PHOTO), the owner's set changes the profile, no cross-app reads."""
from __future__ import annotations

import base64
import os

import aiohttp
import pytest
from slixmpp.exceptions import IqError

from tests.bridge.conftest import APP_ID, DOMAIN

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGA"
                       "hKmMIQAAAABJRU5ErkJggg==")


async def vcard_client(xmpp, user):
    client = await xmpp(user)
    client.xmpp.register_plugin("xep_0030")
    client.xmpp.register_plugin("xep_0054")
    return client


async def test_vcard_is_answered_from_the_profile(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    status, _ = await rest.call("PUT", f"/users/{a['id']}.json", a["token"],
                                json={"user": {"full_name": "Alice Liddell"}})
    assert status == 200
    bob = await vcard_client(xmpp, b)
    reply = await bob.xmpp.plugin["xep_0054"].get_vcard(a["jid"], cached=False, timeout=5)
    assert reply["from"] == a["jid"]
    card = reply["vcard_temp"]
    assert card["FN"] == "Alice Liddell" and card["NICKNAME"] == [a["login"]]
    assert not card.xml.findall("{vcard-temp}PHOTO")
    # the owner reads their own card: at their bare JID, and with no `to` at all
    alice = await vcard_client(xmpp, a)
    own = await alice.xmpp.plugin["xep_0054"].get_vcard(a["jid"], local=False, timeout=5)
    assert own["vcard_temp"]["FN"] == "Alice Liddell"
    iq = alice.xmpp.make_iq_get()
    iq.enable("vcard_temp")
    own = await iq.send(timeout=5)
    assert own["vcard_temp"]["FN"] == "Alice Liddell"
    # unknown users and users of another application: not found
    for jid in (f"999999-{APP_ID}@{DOMAIN}", f"{a['id']}-2@{DOMAIN}"):
        with pytest.raises(IqError) as raised:
            await bob.xmpp.plugin["xep_0054"].get_vcard(jid, cached=False, timeout=5)
        assert raised.value.iq["error"]["condition"] == "item-not-found"


async def test_avatar_blob_is_the_photo(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    status, body = await rest.call("POST", "/blobs.json", a["token"], json={
        "blob": {"name": "me.png", "content_type": "image/png", "public": True}})
    assert status == 201, body
    blob = body["blob"]
    form = aiohttp.FormData()
    form.add_field("key", blob["uid"])
    token = blob["blob_object_access"]["params"].split("token=")[1].split("&")[0]
    form.add_field("token", token)
    form.add_field("file", PNG, filename="me.png", content_type="image/png")
    status, body = await rest.call("POST", "/blobs/upload", data=form)
    assert status == 201, body
    status, _ = await rest.call("PUT", f"/blobs/{blob['id']}/complete.json", a["token"],
                                json={"blob": {"size": len(PNG)}})
    assert status == 200
    status, _ = await rest.call("PUT", f"/users/{a['id']}.json", a["token"],
                                json={"user": {"blob_id": blob["id"]}})
    assert status == 200
    bob = await vcard_client(xmpp, b)
    reply = await bob.xmpp.plugin["xep_0054"].get_vcard(a["jid"], cached=False, timeout=5)
    photo = reply["vcard_temp"]["PHOTO"]
    assert photo["TYPE"] == "image/png" and photo["BINVAL"] == PNG


async def test_own_vcard_set_updates_the_profile(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice = await vcard_client(xmpp, a)
    plugin = alice.xmpp.plugin["xep_0054"]
    card = plugin.make_vcard()
    card["FN"] = "Alice from XMPP"
    card["NICKNAME"] = "not-my-login"
    card["PHOTO"]["TYPE"] = "image/png"
    card["PHOTO"]["BINVAL"] = PNG
    await plugin.publish_vcard(card, timeout=5)
    status, body = await rest.call("GET", f"/users/{a['id']}.json", a["token"])
    assert status == 200
    user = body["user"]
    assert user["full_name"] == "Alice from XMPP" and user["login"] == a["login"]  # login kept
    assert user["blob_id"] and user["avatar"].startswith(server.base_url + "/blobs/")
    async with aiohttp.ClientSession() as http:
        async with http.get(user["avatar"]) as resp:  # a public blob of hers
            assert resp.status == 200 and await resp.read() == PNG
    bob = await vcard_client(xmpp, b)
    reply = await bob.xmpp.plugin["xep_0054"].get_vcard(a["jid"], cached=False, timeout=5)
    assert reply["vcard_temp"]["FN"] == "Alice from XMPP"
    assert reply["vcard_temp"]["PHOTO"]["BINVAL"] == PNG
    # a set on someone else's account is refused, and changes nothing
    other = plugin.make_vcard()
    other["FN"] = "Mallory"
    with pytest.raises(IqError) as raised:
        await bob.xmpp.plugin["xep_0054"].publish_vcard(other, jid=a["jid"], timeout=5)
    assert raised.value.iq["error"]["condition"] == "forbidden"
    _, body = await rest.call("GET", f"/users/{a['id']}.json", a["token"])
    assert body["user"]["full_name"] == "Alice from XMPP"


async def test_vcard_photo_set_refuses_non_images_and_bad_base64(server, rest, xmpp):
    a = await rest.new_user()
    alice = await vcard_client(xmpp, a)
    bad = "".join(chr(c) for c in os.urandom(8) if 65 <= c < 91) or "A"
    for photo in (f"<TYPE>text/html</TYPE><BINVAL>{base64.b64encode(b'<b>x</b>').decode()}</BINVAL>",
                  f"<TYPE>image/png</TYPE><BINVAL>!!{bad}!!</BINVAL>"):
        iq = alice.xmpp.make_iq_set()
        iq.append(__import__("xml.etree.ElementTree", fromlist=["x"]).fromstring(
            f'<vCard xmlns="vcard-temp"><FN>X</FN><PHOTO>{photo}</PHOTO></vCard>'))
        with pytest.raises(IqError) as raised:
            await iq.send(timeout=5)
        assert raised.value.iq["error"]["condition"] == "not-acceptable"
    _, body = await rest.call("GET", f"/users/{a['id']}.json", a["token"])
    assert body["user"]["full_name"] is None and not body["user"]["blob_id"]


async def test_server_and_accounts_announce_vcard_temp(server, rest, xmpp):
    a = await rest.new_user()
    alice = await vcard_client(xmpp, a)
    disco = alice.xmpp.plugin["xep_0030"]
    for jid in (DOMAIN, a["jid"]):
        info = await disco.get_info(jid=jid, timeout=5)
        assert "vcard-temp" in info["disco_info"]["features"], jid
        # the component's room identity is its own, not the server's or the account's
        assert ("conference", "text") not in {(i[0], i[1]) for i in info["disco_info"]["identities"]}


async def test_avatar_url_is_handed_out_never_fetched(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    bob = await vcard_client(xmpp, b)
    # an address the server must not fetch: it is only handed out as EXTVAL
    for avatar, expected in (("http://127.0.0.1:1/internal.png", "http://127.0.0.1:1/internal.png"),
                             ("javascript:alert(1)", None), ("not a url", None)):
        status, _ = await rest.call("PUT", f"/users/{a['id']}.json", a["token"],
                                    json={"user": {"avatar": avatar}})
        assert status == 200
        reply = await bob.xmpp.plugin["xep_0054"].get_vcard(a["jid"], cached=False, timeout=5)
        photos = reply["vcard_temp"].xml.findall("{vcard-temp}PHOTO")
        if expected is None:
            assert not photos
        else:
            assert reply["vcard_temp"]["PHOTO"]["EXTVAL"] == expected
            assert photos[0].find("{vcard-temp}BINVAL") is None
