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


# -- refresh tokens and the list of sessions (issue 14 §6, §7) --------------------------------------
INVALID_REFRESH = {"errors": {"base": ["Invalid refresh token"]}}


async def user_session(api, login: str, headers: dict | None = None, **extra):
    status, body = await api.call("POST", "/session.json", headers=headers or {}, json={
        "application_id": 1, "auth_key": AUTH_KEY,
        "user": {"login": login, "password": "password123"}, **extra})
    assert status == 201, body
    return body["session"]


async def test_a_user_session_answers_a_refresh_token_and_its_expiration(api, clock):
    await api.new_user("grace")
    session = await user_session(api, "grace")
    assert len(session["refresh_token"]) > 30 and session["refresh_token"] != session["token"]
    assert session["token_expiration"] > session["created_at"]
    status, body = await api.call("GET", "/session.json", session["token"])
    assert "refresh_token" not in body["session"] and body["session"]["token_expiration"]
    status, body = await api.call("POST", "/session.json", json={"application_id": 1, "auth_key": AUTH_KEY})
    assert "refresh_token" not in body["session"]  # an application session has none


async def test_refresh_answers_a_new_session_once(api):
    user = await api.new_user("heidi")
    first = await user_session(api, "heidi")
    # no CB-Token needed; a stale one sent along is ignored
    status, body = await api.call("POST", "/session/refresh.json", "stale",
                                  json={"refresh_token": first["refresh_token"]})
    assert status == 201
    second = body["session"]
    assert second["id"] == first["id"] and second["user_id"] == user["id"]
    assert second["user"]["login"] == "heidi"
    assert second["token"] != first["token"] and second["refresh_token"] != first["refresh_token"]
    status, _ = await api.call("GET", "/session.json", second["token"])
    assert status == 200
    status, body = await api.call("GET", "/session.json", first["token"])
    assert status == 401 and body == MISSING  # the rotated session's access token ended
    # the used token again: 401, and the whole login ends (the new session too)
    status, body = await api.call("POST", "/session/refresh", json={"refresh_token": first["refresh_token"]})
    assert status == 401 and body == INVALID_REFRESH
    status, body = await api.call("POST", "/session/refresh", json={"refresh_token": second["refresh_token"]})
    assert status == 401 and body == INVALID_REFRESH
    for junk in ({}, {"refresh_token": 5}, {"refresh_token": "x" * 600}):
        status, body = await api.call("POST", "/session/refresh", json=junk)
        assert status == 401 and body == INVALID_REFRESH


async def test_refresh_tokens_are_not_stored_or_logged(api, services, caplog):
    await api.new_user("ivan")
    session = await user_session(api, "ivan")
    await api.call("POST", "/session/refresh", json={"refresh_token": session["refresh_token"]})
    await api.call("POST", "/session/refresh", json={"refresh_token": session["refresh_token"]})
    docs = await services.database.db["refresh_tokens"].find({}).to_list(None)
    assert docs and all(session["refresh_token"] not in str(d) for d in docs)
    assert session["refresh_token"] not in caplog.text
    assert "was used again" in caplog.text


async def test_get_sessions_lists_devices_and_the_current_one(api):
    await api.new_user("judy")
    phone = await user_session(api, "judy", {"User-Agent": "Phone/1.0"},
                               device={"udid": "phone-1", "platform": "ios"})
    laptop = await user_session(api, "judy", {"User-Agent": "Firefox/130"},
                                device_id="laptop-1", platform="web")
    status, body = await api.call("GET", "/sessions.json", laptop["token"])
    assert status == 200
    items = {item["id"]: item for item in body["items"]}
    assert set(items) >= {phone["id"], laptop["id"]}
    assert items[laptop["id"]]["current"] is True and items[phone["id"]]["current"] is False
    assert items[phone["id"]]["device"] == {"udid": "phone-1", "platform": "ios", "user_agent": "Phone/1.0"}
    assert items[laptop["id"]]["device"] == {"udid": "laptop-1", "platform": "web",
                                             "user_agent": "Firefox/130"}
    assert all("token" not in key for item in body["items"] for key in item)
    assert phone["token"] not in str(body) and phone["refresh_token"] not in str(body)


async def test_delete_one_session_and_all_the_others(api):
    await api.new_user("ken")
    a, b, c = [await user_session(api, "ken", udid=f"d{i}") for i in range(3)]
    status, body = await api.call("DELETE", f"/sessions/{a['id']}.json", c["token"])
    assert status == 200 and body == {}
    status, _ = await api.call("GET", "/session.json", a["token"])
    assert status == 401
    status, _ = await api.call("POST", "/session/refresh", json={"refresh_token": a["refresh_token"]})
    assert status == 401
    status, body = await api.call("DELETE", f"/sessions/{a['id']}", c["token"])
    assert status == 404 and body == {"errors": {"base": ["Session not found"]}}
    status, body = await api.call("DELETE", "/sessions.json", c["token"])
    assert status == 200 and body["ended"] >= 1
    status, _ = await api.call("GET", "/session.json", b["token"])
    assert status == 401
    status, body = await api.call("GET", "/sessions", c["token"])
    assert [item["id"] for item in body["items"]] == [c["id"]]
    # ending the current session by id works like DELETE /session
    status, _ = await api.call("DELETE", f"/sessions/{c['id']}", c["token"])
    assert status == 200
    status, body = await api.call("GET", "/session.json", c["token"])
    assert status == 401 and body == MISSING


async def test_sessions_authorization_table(api):
    """Nobody lists or ends another user's sessions; another application's ids answer 404; an
    application session or no session gets 403 / 401."""
    async def session_of(user):
        status, body = await api.call("GET", "/session.json", user["token"])
        return {"id": body["session"]["id"], "token": user["token"]}

    leo = await session_of(await api.new_user("leo"))
    mia = await session_of(await api.new_user("mia"))
    other_app = await session_of(await api.new_user("leo", app_id=2, auth_key="other-key"))
    app_token = await api.app_token()
    cases = [
        # (caller token, method, path, status)
        (mia["token"], "DELETE", f"/sessions/{leo['id']}", 404),
        (leo["token"], "DELETE", f"/sessions/{mia['id']}", 404),
        (leo["token"], "DELETE", f"/sessions/{other_app['id']}", 404),
        (other_app["token"], "DELETE", f"/sessions/{leo['id']}", 404),
        (leo["token"], "DELETE", "/sessions/not-a-number", 404),
        (app_token, "GET", "/sessions", 403),
        (app_token, "DELETE", f"/sessions/{leo['id']}", 403),
        (app_token, "DELETE", "/sessions", 403),
        (None, "GET", "/sessions", 401),
        (None, "DELETE", f"/sessions/{leo['id']}", 401),
        (None, "DELETE", "/sessions", 401),
    ]
    for token, method, path, expected in cases:
        status, _ = await api.call(method, path, token)
        assert status == expected, (method, path, status)
    for token, session in ((leo["token"], leo), (mia["token"], mia), (other_app["token"], other_app)):
        status, body = await api.call("GET", "/sessions", token)
        assert [item["id"] for item in body["items"]] == [session["id"]]
        status, _ = await api.call("GET", "/session.json", token)
        assert status == 200  # nobody's session was ended
    # another user's "end all others" leaves leo alone
    status, body = await api.call("DELETE", "/sessions", mia["token"])
    assert status == 200 and body == {"ended": 0}
    status, _ = await api.call("GET", "/session.json", leo["token"])
    assert status == 200


async def test_logout_and_password_change_revoke_refresh_tokens(api):
    await api.new_user("nina")
    logged_out = await user_session(api, "nina")
    status, _ = await api.call("DELETE", "/login.json", logged_out["token"])
    assert status == 200
    status, _ = await api.call("POST", "/session/refresh", json={"refresh_token": logged_out["refresh_token"]})
    assert status == 401
    destroyed = await user_session(api, "nina")
    await api.call("DELETE", "/session.json", destroyed["token"])
    status, _ = await api.call("POST", "/session/refresh", json={"refresh_token": destroyed["refresh_token"]})
    assert status == 401
    other, current = await user_session(api, "nina"), await user_session(api, "nina")
    status, body = await api.call("PUT", "/users.json", current["token"], json={
        "user": {"password": "new-password1", "old_password": "password123"}})
    assert status == 200, body
    status, _ = await api.call("POST", "/session/refresh", json={"refresh_token": other["refresh_token"]})
    assert status == 401
    status, _ = await api.call("GET", "/session.json", other["token"])
    assert status == 401
    status, body = await api.call("POST", "/session/refresh", json={"refresh_token": current["refresh_token"]})
    assert status == 201  # the session that changed the password stays


async def test_post_login_records_the_device(api):
    await api.new_user("omar")
    token = await api.app_token()
    status, _ = await api.call("POST", "/login.json", token, headers={"User-Agent": "Tablet/3"},
                               json={"login": "omar", "password": "password123", "udid": "tab-1"})
    assert status == 202
    status, body = await api.call("GET", "/sessions", token)
    [item] = [i for i in body["items"] if i["current"]]
    assert item["device"] == {"udid": "tab-1", "platform": None, "user_agent": "Tablet/3"}


async def test_xmpp_auth_names_the_session_of_a_token(api):
    import base64

    user = await api.new_user("pia")
    session = await user_session(api, "pia")
    good = {"Authorization": "Basic " + base64.b64encode(b"prosody:xmpp-secret").decode()}
    name = f"{user['id']}-1"
    resp = await api.client.get("/xmpp-auth/check_password", params={"user": name, "pass": session["token"]},
                                headers=good)
    assert resp.status == 200 and resp.headers["X-Chatbridge-Session"] == str(session["id"])
    resp = await api.client.get("/xmpp-auth/check_password", params={"user": name, "pass": "password123"},
                                headers=good)
    assert resp.status == 200 and "X-Chatbridge-Session" not in resp.headers


async def test_wrong_refresh_tokens_are_limited_per_address(api, services):
    await api.new_user("quinn")
    session = await user_session(api, "quinn")
    limit = int(services.settings.rate_limits.refresh_failures_per_address.split("/")[0])
    for i in range(limit):
        status, _ = await api.call("POST", "/session/refresh", json={"refresh_token": f"guess-{i}"})
        assert status == 401
    resp = await api.client.post("/session/refresh", json={"refresh_token": session["refresh_token"]})
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    assert await resp.json() == {"errors": {"base": ["Too many requests, retry later"]}}
