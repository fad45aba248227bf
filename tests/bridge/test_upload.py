"""HTTP File Upload (XEP-0363) with slixmpp's own `xep_0363` client against the real Prosody:
discovery from the domain, a slot backed by the blob store, the PUT and the GET, and the XEP's
`file-too-large` error."""
from __future__ import annotations

import io
import os
from xml.etree import ElementTree as ET

import aiohttp
import pytest
from slixmpp.exceptions import IqError

from tests.bridge.conftest import DOMAIN

NS_UPLOAD = "urn:xmpp:http:upload:0"


async def uploader(xmpp, user):
    client = await xmpp(user)
    client.xmpp.register_plugin("xep_0030")
    client.xmpp.register_plugin("xep_0363")
    return client


async def slot(client, size: int, name: str = "notes.txt", content_type: str = "text/plain"):
    return await client.xmpp.plugin["xep_0363"].request_slot(
        client.xmpp.plugin["xep_0363"].upload_service or f"muc.{DOMAIN}", name, size, content_type,
        timeout=5)


async def test_upload_file_then_get_returns_the_bytes(server, rest, xmpp):
    a = await rest.new_user()
    alice = await uploader(xmpp, a)
    data = os.urandom(70_000)
    url = await alice.xmpp.plugin["xep_0363"].upload_file(
        "holiday photo.jpg", input_file=io.BytesIO(data), content_type="image/jpeg", timeout=10)
    assert str(alice.xmpp.plugin["xep_0363"].upload_service) == f"muc.{DOMAIN}"
    assert alice.xmpp.plugin["xep_0363"].max_file_size == server.settings.blobs.max_bytes
    assert url.startswith(server.base_url + "/upload/") and url.endswith("/holiday%20photo.jpg")
    # the people the file is sent to fetch it as stock clients do: a plain GET, no credentials
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "image/jpeg"
            assert await resp.read() == data
    # the slot is a blob of the uploader's, complete, in the same store as /blobs
    status, body = await rest.call("GET", "/blobs.json", a["token"])
    assert status == 200
    [item] = [i["blob"] for i in body["items"] if i["blob"]["name"] == "holiday photo.jpg"]
    assert item["size"] == len(data) and item["content_type"] == "image/jpeg"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.base_url}/blobs/{item['uid']}") as resp:
            assert resp.status == 200 and await resp.read() == data


async def test_oversized_slot_request_gets_file_too_large(server, rest, xmpp):
    a = await rest.new_user()
    alice = await uploader(xmpp, a)
    max_bytes = server.settings.blobs.max_bytes
    with pytest.raises(IqError) as raised:
        await slot(alice, max_bytes + 1)
    error = raised.value.iq.xml.find("{jabber:client}error")
    assert error.find("{urn:ietf:params:xml:ns:xmpp-stanzas}not-acceptable") is not None
    limit = error.find(f"{{{NS_UPLOAD}}}file-too-large/{{{NS_UPLOAD}}}max-file-size")
    assert limit is not None and limit.text == str(max_bytes)
    with pytest.raises(IqError) as raised:  # nonsense sizes are refused too
        await slot(alice, 0)
    error = raised.value.iq.xml.find("{jabber:client}error")
    assert raised.value.iq["error"]["condition"] == "not-acceptable"
    assert error.find(f"{{{NS_UPLOAD}}}file-too-large") is None


async def test_put_checks_token_type_and_size_and_is_single_use(server, rest, xmpp):
    a = await rest.new_user()
    alice = await uploader(xmpp, a)
    reply = await slot(alice, 5)
    put_url, get_url = reply["http_upload_slot"]["put"]["url"], reply["http_upload_slot"]["get"]["url"]
    async with aiohttp.ClientSession() as http:
        async with http.get(get_url) as resp:  # nothing uploaded yet
            assert resp.status == 404
        async with http.put(put_url.split("?")[0], data=b"hello",
                            headers={"Content-Type": "text/plain"}) as resp:
            assert resp.status == 401  # no token
        async with http.put(put_url + "x", data=b"hello", headers={"Content-Type": "text/plain"}) as resp:
            assert resp.status == 403  # wrong token
        async with http.put(put_url, data=b"hello", headers={"Content-Type": "image/png"}) as resp:
            assert resp.status == 422 and "content_type" in await resp.text()
        async with http.put(put_url, data=b"hello!", headers={"Content-Type": "text/plain"}) as resp:
            assert resp.status == 413  # more than the slot's size
        async with http.put(put_url, data=b"hell", headers={"Content-Type": "text/plain"}) as resp:
            assert resp.status == 422  # less
        async with http.put(put_url, data=b"hello", headers={"Content-Type": "text/plain"}) as resp:
            assert resp.status == 201
        async with http.put(put_url, data=b"HELLO", headers={"Content-Type": "text/plain"}) as resp:
            assert resp.status == 403  # the token is used up
        async with http.get(get_url) as resp:
            assert resp.status == 200 and await resp.read() == b"hello"


async def test_component_disco_lists_the_upload_service(server, rest, xmpp):
    a = await rest.new_user()
    alice = await uploader(xmpp, a)
    items = await alice.xmpp.plugin["xep_0030"].get_items(jid=DOMAIN, timeout=5)
    assert f"muc.{DOMAIN}" in {item[0] for item in items["disco_items"]["items"]}
    info = await alice.xmpp.plugin["xep_0030"].get_info(jid=f"muc.{DOMAIN}", timeout=5)
    identities = {(i[0], i[1]) for i in info["disco_info"]["identities"]}
    assert ("store", "file") in identities and ("conference", "text") in identities
    assert NS_UPLOAD in info["disco_info"]["features"]
    form = info.xml.find(".//{jabber:x:data}x")
    assert form is not None, ET.tostring(info.xml, encoding="unicode")
