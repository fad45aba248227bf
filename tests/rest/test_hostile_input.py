"""Hostile input answers as the API does, never 500: integers past the store's 64 bits (read as
422 where they are parsed: models/lax.cast_int), bad page sizes, and requests aiohttp cannot
parse (a request line or header over its limit), which rest/server.py answers in the API's error
shape without echoing the client's bytes."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestServer

from rest.server import ApiRunner

BIG = str(2**70)
DIALOG = "65a1b2c3d4e5f6a7b8c9d0e1"


@pytest.mark.parametrize("method, path, body", [
    ("GET", f"/chat/Dialog.json?skip={BIG}", None),
    ("GET", f"/chat/Dialog.json?limit={BIG}", None),
    ("GET", f"/chat/Message.json?chat_dialog_id={DIALOG}&skip={BIG}", None),
    ("GET", f"/users.json?page={BIG}", None),
    ("GET", f"/users.json?per_page={BIG}", None),
    ("GET", "/users.json?per_page=-5", None),
    ("GET", "/users.json?per_page=0", None),
    ("GET", f"/users.json?page={2**62}&per_page=100", None),  # the skip it makes is too large
    ("GET", f"/blobs.json?page={2**62}&per_page=100", None),
    ("GET", f"/users/{BIG}.json", None),
    ("POST", "/chat/Message.json", {"recipient_id": int(BIG), "message": "x"}),
    ("POST", "/chat/Dialog.json", {"type": 2, "name": "x", "occupants_ids": BIG}),
    ("POST", "/chat/Dialog.json", {"type": 2, "name": "x", "occupants_ids": [int(BIG)]}),
])
async def test_numbers_past_the_store_are_client_errors(api, method, path, body):
    alice = await api.new_user()
    status, answer = await api.call(method, path, alice["token"], json=body)
    assert 400 <= status < 500, (status, answer)
    assert isinstance(answer, dict) and answer.get("errors"), answer


async def test_page_zero_is_the_first_page_and_sizes_are_checked(api):
    alice = await api.new_user()
    status, first = await api.call("GET", "/users.json?page=0&per_page=5", alice["token"])
    assert status == 200 and first["current_page"] == 1
    status, answer = await api.call("GET", "/users.json?per_page=-5", alice["token"])
    assert status == 422 and answer == {"errors": {"per_page": ["must be at least 1"]}}


class ApiTestServer(TestServer):
    async def _make_runner(self, **kwargs):
        return ApiRunner(self.app, **kwargs)


async def _raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


async def test_unparsable_requests_get_the_error_shape_and_the_server_goes_on(services, caplog):
    from rest.app import create_app

    server = ApiTestServer(create_app(services))
    await server.start_server()
    try:
        long_line = b"GET /chat/Dialog.json?" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        long_header = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n"
        bad_method = b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n"
        for request in (long_line, long_header, bad_method):
            with caplog.at_level("INFO"):
                answer = await _raw(server.port, request)
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.split(b"\r\n")[0].split()[1] == b"400", head
            assert b"application/json" in head
            assert body.startswith(b'{"errors":{"base":['), body
            assert b"aaaa" not in answer and b"bbbb" not in answer  # the client's bytes
        assert not [r for r in caplog.records if r.levelname == "ERROR"]  # a client's doing
        ok = await _raw(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200")
    finally:
        await server.close()


async def test_odd_credentials_are_refused_not_crashed_on(api, client):
    resp = await client.get("/chat/Dialog.json", headers={"CB-Token": "\xff\xfe"})
    assert resp.status == 401
    resp = await client.get("/xmpp-auth/check_password?user=1-1&server=localhost&pass=x",
                            headers={"Authorization": "Basic !!!not-base64"})
    assert resp.status == 401
