"""Rate limits over REST: login failures per login and per address, sign-ups per address,
message sends per user; 429 with Retry-After in the usual error shape; X-Forwarded-For believed
only from trusted proxies. (The counting itself: tests/services/test_rate_limits.py.)"""
from __future__ import annotations

import base64

import pytest

from tests.conftest import AUTH_KEY

LIMITED = {"errors": {"base": ["Too many requests, retry later"]}}


@pytest.fixture
def settings(settings):
    settings.rate_limits.login_failures_per_login = "10/minute"
    settings.rate_limits.login_failures_per_address = "25/minute"
    settings.rate_limits.signups_per_address = "1000/minute"
    settings.rate_limits.messages_per_user = "5/minute"
    return settings


async def login(api, login_name: str, password: str, headers: dict | None = None):
    resp = await api.client.post("/session.json", headers=headers or {}, json={
        "application_id": 1, "auth_key": AUTH_KEY, "user": {"login": login_name, "password": password}})
    return resp.status, await resp.json(), resp.headers


async def test_thirty_wrong_logins_in_a_row_are_slowed_down(api):
    await api.new_user("victim")
    answers = [await login(api, "victim", f"guess-{i}") for i in range(30)]
    statuses = [status for status, _, _ in answers]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429] * 20
    _, body, headers = answers[-1]
    assert body == LIMITED
    assert 1 <= int(headers["Retry-After"]) <= 60
    # the right password does not get through either while the login is refused
    status, body, _ = await login(api, "victim", "password123")
    assert status == 429 and body == LIMITED
    # POST /login on an application session counts against the same account
    token = await api.app_token()
    resp = await api.client.post("/login.json", headers={"CB-Token": token},
                                 json={"login": "victim", "password": "password123"})
    assert resp.status == 429 and "Retry-After" in resp.headers
    # another account is not locked
    other = await api.new_user("bystander")
    status, _, _ = await login(api, "bystander", "password123")
    assert status == 201 and other["id"]


async def test_login_failures_count_per_account_whatever_name_is_used(api):
    await api.new_user("carol", email="carol@example.com")
    for i in range(5):
        assert (await login(api, "carol", f"wrong-{i}"))[0] == 401
    for i in range(5):
        resp = await api.client.post("/session.json", json={
            "application_id": 1, "auth_key": AUTH_KEY,
            "user": {"email": "Carol@Example.com", "password": f"wrong-{i}"}})
        assert resp.status == 401
    assert (await login(api, "carol", "password123"))[0] == 429


async def test_one_address_guessing_many_logins_is_slowed_down(api):
    for i in range(25):
        assert (await login(api, f"nobody{i}", "guess"))[0] == 401
    status, body, headers = await login(api, "nobody-else", "guess")
    assert status == 429 and body == LIMITED and "Retry-After" in headers
    # a forwarded-for header from an untrusted peer changes nothing
    status, _, _ = await login(api, "nobody-else", "guess", {"X-Forwarded-For": "203.0.113.9"})
    assert status == 429


async def test_successful_logins_do_not_count(api):
    await api.new_user("dave")
    for _ in range(15):
        assert (await login(api, "dave", "password123"))[0] == 201


@pytest.fixture
def trusted(settings):
    settings.rate_limits.trusted_proxies = ["127.0.0.0/8"]
    settings.rate_limits.login_failures_per_address = "3/minute"
    return settings


async def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(trusted, api):
    first = {"X-Forwarded-For": "198.51.100.1"}
    for i in range(3):
        assert (await login(api, f"x{i}", "guess", first))[0] == 401
    assert (await login(api, "x9", "guess", first))[0] == 429
    # another client behind the same proxy has its own count
    assert (await login(api, "x9", "guess", {"X-Forwarded-For": "198.51.100.2"}))[0] == 401
    # a client that prepends an address of its choosing is still counted by its own one
    spoofed = {"X-Forwarded-For": "192.0.2.77, 198.51.100.1"}
    assert (await login(api, "x9", "guess", spoofed))[0] == 429


@pytest.fixture
def few_signups(settings):
    settings.rate_limits.signups_per_address = "3/minute"
    return settings


async def test_signups_per_address(few_signups, api):
    token = await api.app_token()
    statuses = []
    for i in range(4):
        resp = await api.client.post("/users.json", headers={"CB-Token": token},
                                     json={"user": {"login": f"newbie{i}", "password": "password123"}})
        statuses.append(resp.status)
    assert statuses == [201, 201, 201, 429]
    assert "Retry-After" in resp.headers and await resp.json() == LIMITED


async def test_message_sends_per_user(api):
    alice, bob = await api.new_user(), await api.new_user()
    status, dialog = await api.call("POST", "/chat/Dialog.json", alice["token"],
                                    json={"type": 3, "occupants_ids": str(bob["id"])})
    assert status == 201
    sent = []
    for i in range(6):
        resp = await api.client.post("/chat/Message.json", headers={"CB-Token": alice["token"]},
                                     json={"chat_dialog_id": dialog["_id"], "message": f"m{i}"})
        sent.append(resp.status)
    assert sent == [201] * 5 + [429]
    assert int(resp.headers["Retry-After"]) >= 1
    # the refused one was not stored; the other user can still send
    status, page = await api.call("GET", f"/chat/Message.json?chat_dialog_id={dialog['_id']}", alice["token"])
    assert [m["message"] for m in page["items"]] == [f"m{i}" for i in range(5)]
    status, _ = await api.call("POST", "/chat/Message.json", bob["token"],
                               json={"chat_dialog_id": dialog["_id"], "message": "hi"})
    assert status == 201


async def test_xmpp_password_auth_is_limited_apart_from_rest_logins(api):
    user = await api.new_user("erin")
    auth = {"Authorization": "Basic " + base64.b64encode(b"prosody:xmpp-secret").decode()}
    name = f"{user['id']}-1"

    async def xmpp_login(password: str) -> str:
        resp = await api.client.get("/xmpp-auth/check_password", params={"user": name, "pass": password},
                                    headers=auth)
        return await resp.text()

    assert [await xmpp_login(f"stale-token-{i}") for i in range(10)] == ["false"] * 10
    assert await xmpp_login("password123") == "false"  # refused without checking
    assert await xmpp_login(user["token"]) == "true"  # a live session token still works
    assert (await login(api, "erin", "password123"))[0] == 201  # REST logins are not locked
