from __future__ import annotations

from tests.conftest import AUTH_KEY

MISSING = {"errors": {"base": ["Required session does not exist"]}}


async def test_application_session_then_user_session(api):
    status, body = await api.call("POST", "/session.json", json={"application_id": 1, "auth_key": AUTH_KEY})
    assert status == 201
    session = body["session"]
    assert session["application_id"] == 1 and session["user_id"] == 0 and len(session["token"]) > 30
    assert "user" not in session

    user = await api.new_user("alice")
    assert user["user"]["login"] == "alice" and user["id"] > 0
    status, body = await api.call("GET", "/session.json", user["token"])
    assert status == 200 and body["session"]["user_id"] == user["id"]
    assert body["session"]["user"]["login"] == "alice"
    assert "token" not in body["session"]


async def test_session_with_email_and_wrong_password(api):
    await api.new_user("bob", email="Bob@Example.com")
    status, body = await api.call("POST", "/session", json={
        "application_id": "1", "auth_key": AUTH_KEY, "user": {"email": "bob@example.com", "password": "password123"}})
    assert status == 201 and body["session"]["user"]["login"] == "bob"
    status, body = await api.call("POST", "/session", json={
        "application_id": 1, "auth_key": AUTH_KEY, "user": {"login": "bob", "password": "wrong-pass"}})
    assert status == 401 and body == {"errors": {"base": ["Unauthorized"]}}


async def test_bad_app_credentials(api):
    status, body = await api.call("POST", "/session.json", json={"application_id": 1, "auth_key": "nope"})
    assert status == 401 and "errors" in body
    status, body = await api.call("POST", "/session.json", json={"application_id": 99, "auth_key": AUTH_KEY})
    assert status == 401
    status, body = await api.call("POST", "/session.json", json={"application_id": "x", "auth_key": AUTH_KEY})
    assert status == 422 and body == {"errors": {"application_id": ["must be an integer"]}}
    status, body = await api.call("POST", "/session.json", json={"auth_key": AUTH_KEY})
    assert status == 422 and "application_id" in body["errors"]
    # another app's key does not open this app
    status, _ = await api.call("POST", "/session.json", json={"application_id": 1, "auth_key": "other-key"})
    assert status == 401


async def test_malformed_bodies(api):
    status, body = await api.call("POST", "/session.json", data=b"{not json",
                                  headers={"Content-Type": "application/json"})
    assert status == 400 and body == {"errors": {"base": ["Malformed JSON body"]}}
    status, body = await api.call("POST", "/session.json", data=b"[1,2]",
                                  headers={"Content-Type": "application/json"})
    assert status == 400
    status, body = await api.call("POST", "/session.json", data=b"x" * (2 * 1024 * 1024),
                                  headers={"Content-Type": "application/json"})
    assert status == 413 and "errors" in body


async def test_unknown_and_expired_tokens_answer_the_exact_401(api, clock):
    status, body = await api.call("GET", "/session.json", "not-a-token")
    assert status == 401 and body == MISSING
    status, body = await api.call("GET", "/users/v2.json")
    assert status == 401 and body == MISSING
    user = await api.new_user("carol")
    # sliding expiry: used after 1h59 (past the cache window) it survives, then idle 2h01 expires
    from models.services import sessions as sessions_module

    sessions_module.CACHE_SECONDS = 0
    try:
        clock.advance(119 * 60)
        status, _ = await api.call("GET", "/session.json", user["token"])
        assert status == 200
        clock.advance(119 * 60)
        status, _ = await api.call("GET", "/session.json", user["token"])
        assert status == 200
        clock.advance(121 * 60)
        status, body = await api.call("GET", "/session.json", user["token"])
        assert status == 401 and body == MISSING
    finally:
        sessions_module.CACHE_SECONDS = 10.0


async def test_stale_token_does_not_block_new_session(api):
    status, body = await api.call("POST", "/session.json", "stale-token",
                                  json={"application_id": 1, "auth_key": AUTH_KEY})
    assert status == 201


async def test_destroy_session_and_login_logout(api):
    await api.new_user("dave")
    token = await api.app_token()
    status, body = await api.call("POST", "/login.json", token, json={"login": "dave", "password": "password123"})
    assert status == 202 and body["user"]["login"] == "dave"
    status, body = await api.call("GET", "/session.json", token)
    assert body["session"]["user_id"] == body["session"]["user"]["id"]
    status, _ = await api.call("DELETE", "/login.json", token)
    assert status == 200
    status, body = await api.call("GET", "/session.json", token)
    assert body["session"]["user_id"] == 0
    status, body = await api.call("DELETE", "/session.json", token)
    assert status == 200 and body == {}
    status, body = await api.call("GET", "/session.json", token)
    assert status == 401 and body == MISSING


async def test_guest_session(api):
    status, body = await api.call("POST", "/session.json", json={
        "application_id": 1, "auth_key": AUTH_KEY, "user": {"guest": "1", "full_name": "Visitor"}})
    assert status == 201
    assert body["session"]["user"]["full_name"] == "Visitor" and body["session"]["user"]["is_guest"] is True


async def test_tokens_are_not_stored_in_clear(api, services):
    user = await api.new_user("erin")
    docs = await services.database.db["sessions"].find({}).to_list(None)
    assert docs and all(user["token"] not in str(d) for d in docs)
    users = await services.database.db["users"].find({}).to_list(None)
    assert all("password123" not in str(u) for u in users)


async def test_xmpp_auth_endpoint(api):
    import base64

    user = await api.new_user("frank")
    good = {"Authorization": "Basic " + base64.b64encode(b"prosody:xmpp-secret").decode()}
    bad = {"Authorization": "Basic " + base64.b64encode(b"prosody:wrong").decode()}
    name = f"{user['id']}-1"
    resp = await api.client.get("/xmpp-auth/check_password", params={"user": name, "pass": user["token"]}, headers=good)
    assert resp.status == 200 and await resp.text() == "true"
    resp = await api.client.get("/xmpp-auth/check_password", params={"user": name, "pass": "password123"}, headers=good)
    assert resp.status == 200 and await resp.text() == "true"
    resp = await api.client.get("/xmpp-auth/check_password", params={"user": name, "pass": "nope"}, headers=good)
    assert resp.status != 200 and await resp.text() == "false"
    resp = await api.client.get("/xmpp-auth/check_password", params={"user": f"{user['id']}-2", "pass": user["token"]}, headers=good)
    assert resp.status != 200
    resp = await api.client.get("/xmpp-auth/check_password", params={"user": name, "pass": user["token"]}, headers=bad)
    assert resp.status == 401
    resp = await api.client.get("/xmpp-auth/check_password", params={"user": "garbage", "pass": "x"}, headers=good)
    assert resp.status != 200
