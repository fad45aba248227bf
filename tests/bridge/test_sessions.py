"""Sessions over XMPP: ending a session closes the connections that logged in with its token
(config/mod_chatbridge_sessions.lua via the relay), and a login from a new device tells the
user's online devices (docs/xmpp.md, "Sessions")."""
from __future__ import annotations

import asyncio
import shutil

import pytest

from tests.bridge.conftest import APP_ID, AUTH_KEY, extra, is_message, sub

pytestmark = pytest.mark.skipif(shutil.which("prosody") is None, reason="Prosody is not installed")


async def login(rest, user: dict, **device) -> dict:
    """Another session of `user` (a second device): {id, token, refresh_token}."""
    status, body = await rest.call("POST", "/session.json", json={
        "application_id": APP_ID, "auth_key": AUTH_KEY,
        "user": {"login": user["login"], "password": "password123"}, **device})
    assert status == 201, body
    return body["session"]


def watch_close(client) -> asyncio.Future:
    """Resolves with the stream error's condition (or None) when the server drops the client."""
    future = asyncio.get_running_loop().create_future()
    conditions: list[str] = []
    client.xmpp.add_event_handler("stream_error", lambda error: conditions.append(error["condition"]))
    client.xmpp.add_event_handler(
        "disconnected", lambda _reason: future.done() or future.set_result(
            conditions[0] if conditions else None))
    return future


async def test_deleting_a_session_closes_the_connections_that_used_its_token(server, rest, xmpp):
    user = await rest.new_user()
    laptop = await login(rest, user, udid="laptop")
    phone_client = await xmpp(user)  # logged in with the first session's token
    laptop_client = await xmpp({**user, "token": laptop["token"]})
    closed = watch_close(phone_client)
    status, listed = await rest.call("GET", "/sessions.json", laptop["token"])
    assert status == 200
    phone = next(item for item in listed["items"] if not item["current"])

    status, body = await rest.call("DELETE", f"/sessions/{phone['id']}.json", laptop["token"])
    assert status == 200 and body == {}
    assert await asyncio.wait_for(closed, 5) == "policy-violation"
    await server.wait_online(user["id"], phone_client.resource, online=False)
    # the other session's connection stays, and the ended token logs in no more
    assert laptop_client.resource in server.bridge.state.online.connections((APP_ID, user["id"]))
    with pytest.raises(ConnectionRefusedError):
        await xmpp(user)


async def test_ending_the_other_sessions_leaves_this_one_and_password_logins(server, rest, xmpp):
    user = await rest.new_user()
    other = await login(rest, user, udid="tablet")
    by_token = await xmpp({**user, "token": other["token"]})
    by_password = await xmpp(user, "password123")  # no session: not ended with one
    current = await xmpp(user)
    closed = watch_close(by_token)
    status, body = await rest.call("DELETE", "/sessions.json", user["token"])
    assert status == 200 and body == {"ended": 1}
    assert await asyncio.wait_for(closed, 5) == "policy-violation"
    await asyncio.sleep(0.3)
    online = server.bridge.state.online.connections((APP_ID, user["id"]))
    assert current.resource in online and by_password.resource in online
    assert by_token.resource not in online


async def test_a_reused_refresh_token_closes_the_login_everywhere(server, rest, xmpp):
    user = await rest.new_user()
    first = await login(rest, user, udid="watch")
    status, refreshed = await rest.call("POST", "/session/refresh.json",
                                        json={"refresh_token": first["refresh_token"]})
    assert status == 201
    client = await xmpp({**user, "token": refreshed["session"]["token"]})
    closed = watch_close(client)
    status, _ = await rest.call("POST", "/session/refresh.json",
                                json={"refresh_token": first["refresh_token"]})
    assert status == 401
    assert await asyncio.wait_for(closed, 5) == "policy-violation"


def is_new_login(stanza) -> bool:
    return is_message(stanza, type="headline") and extra(stanza).get("notification_type") == "new_login"


async def test_a_login_from_a_new_device_tells_the_online_devices(server, rest, xmpp):
    user = await rest.new_user()
    phone = await xmpp(user)
    new = await login(rest, user, device={"udid": "laptop-7", "platform": "web"})
    [notice] = await phone.wait_for(is_new_login)
    params = extra(notice)
    assert notice.get("from") == user["jid"] and sub(notice, "body").text == "New login to your account"
    assert params["moduleIdentifier"] == "SystemNotifications"
    assert params["session_id"] == str(new["id"]) and params["udid"] == "laptop-7"
    assert params["platform"] == "web" and int(params["date"]) > 0
    # a device used before is no news
    phone.clear()
    await login(rest, user, device={"udid": "laptop-7", "platform": "web"})
    await login(rest, user)  # the first login's device (same user agent, no device id)
    await phone.absent(is_new_login, wait=0.6)


async def test_only_the_component_may_close_sessions(server, rest, xmpp):
    victim = await rest.new_user()
    status, body = await rest.call("GET", "/session.json", victim["token"])
    victim_client = await xmpp(victim)
    mallory = await xmpp(await rest.new_user())
    closed = watch_close(victim_client)
    mallory.send(f'<message to="sessions@muc.localhost" id="x1"><end xmlns="urn:chatbridge:sessions:0" '
                 f'user="{victim["id"]}-{APP_ID}" sessions="{body["session"]["id"]}"/></message>')
    await asyncio.sleep(0.8)
    assert not closed.done()
    assert victim_client.resource in server.bridge.state.online.connections((APP_ID, victim["id"]))
