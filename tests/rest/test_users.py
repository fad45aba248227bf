from __future__ import annotations

from tests.conftest import AUTH_KEY


async def test_signup_with_auth_key_header_and_get(api):
    status, body = await api.call("POST", "/users.json", headers={"CB-AuthKey": AUTH_KEY},
                                  json={"user": {"login": "neo", "password": "password123", "full_name": "Neo",
                                                 "tag_list": ["a", "b"], "custom_data": "{\"x\":1}"}})
    assert status == 201
    user = body["user"]
    assert user["login"] == "neo" and user["full_name"] == "Neo" and user["user_tags"] == "a,b"
    assert "password" not in str(body) and "password_hash" not in user
    me = await api.new_user("trinity")
    status, body = await api.call("GET", f"/users/{user['id']}.json", me["token"])
    assert status == 200 and body["user"]["login"] == "neo"


async def test_signup_validation(api):
    token = await api.app_token()
    cases = [
        ({"user": {"login": "ab", "password": "password123"}}, "login"),
        ({"user": {"login": "okname", "password": "short"}}, "password"),
        ({"user": {"email": "not-an-email", "password": "password123"}}, "email"),
        ({"user": {"password": "password123"}}, "base"),
        ({"user": "nope"}, "user"),
        ({}, "user"),
        ({"user": {"login": "okname2", "password": "password123", "external_user_id": "x"}}, "external_user_id"),
    ]
    for payload, field in cases:
        status, body = await api.call("POST", "/users.json", token, json=payload)
        assert status == 422, (payload, body)
        assert field in body["errors"], (payload, body)
    await api.new_user("taken")
    status, body = await api.call("POST", "/users.json", token,
                                  json={"user": {"login": "taken", "password": "password123"}})
    assert status == 422 and body == {"errors": {"login": ["has already been taken"]}}
    status, body = await api.call("POST", "/users.json", json={"user": {"login": "zzz", "password": "password123"}})
    assert status == 401
    status, body = await api.call("POST", "/users.json", headers={"CB-AuthKey": "wrong"},
                                  json={"user": {"login": "zzz", "password": "password123"}})
    assert status == 401


async def test_list_v2_filters_and_paging(api):
    users = [await api.new_user(f"member{i}", full_name=f"Member {i}", user_tags=["vip"] if i % 2 else []) for i in range(5)]
    token = users[0]["token"]
    ids = [u["id"] for u in users]
    # repeated-key array encoding, as getV2 sends it
    status, body = await api.call("GET", f"/users/v2.json?id[in][]={ids[1]}&id[in][]={ids[3]}", token)
    assert status == 200 and sorted(u["id"] for u in body["items"]) == [ids[1], ids[3]]
    assert body["total_entries"] == 2
    # comma encoding
    status, body = await api.call("GET", f"/users/v2.json?id[in]={ids[0]}%2C{ids[2]}", token)
    assert sorted(u["id"] for u in body["items"]) == [ids[0], ids[2]]
    status, body = await api.call("GET", "/users/v2.json?full_name[start_with]=member&limit=2&offset=1&sort_desc=id", token)
    assert body["limit"] == 2 and body["skip"] == 1 and body["total_entries"] == 5
    assert [u["id"] for u in body["items"]] == [ids[3], ids[2]]
    status, body = await api.call("GET", "/users/v2.json?login=member4", token)
    assert [u["login"] for u in body["items"]] == ["member4"]
    status, body = await api.call("GET", f"/users/v2.json?id[gt]={ids[3]}", token)
    assert [u["id"] for u in body["items"]] == [ids[4]]
    status, body = await api.call("GET", "/users/v2.json?id[gt]=abc", token)
    assert status == 422 and "id" in body["errors"]
    status, body = await api.call("GET", "/users/v2.json?sort_desc=password_hash", token)
    assert status == 422
    status, body = await api.call("GET", "/users/v2.json?limit=100000", token)
    assert status == 200 and body["limit"] == 100


async def test_legacy_lookups(api):
    alice = await api.new_user("alice", email="alice@example.com", phone="+123", external_user_id=77)
    token = alice["token"]
    status, body = await api.call("GET", "/users/by_login.json?login=alice", token)
    assert status == 200 and body["user"]["id"] == alice["id"]
    status, body = await api.call("GET", "/users/by_email.json?email=ALICE@example.com", token)
    assert body["user"]["id"] == alice["id"]
    status, body = await api.call("GET", "/users/external/77.json", token)
    assert body["user"]["id"] == alice["id"]
    status, body = await api.call("GET", "/users/by_login.json?login=nobody", token)
    assert status == 404 and body == {"errors": {"base": ["User not found"]}}
    status, body = await api.call("GET", f"/users.json?filter[]=number%20id%20in%20{alice['id']}", token)
    assert status == 200 and body["items"][0]["user"]["id"] == alice["id"]
    status, body = await api.call("GET", "/users.json?filter[]=garbage", token)
    assert status == 422


async def test_other_app_users_are_invisible(api):
    mine = await api.new_user("mine")
    theirs = await api.new_user("theirs", app_id=2, auth_key="other-key")
    status, body = await api.call("GET", f"/users/{mine['id']}.json", theirs["token"])
    assert status == 404
    status, body = await api.call("GET", "/users/v2.json", theirs["token"])
    assert [u["id"] for u in body["items"]] == [theirs["id"]]
    # same login may exist in both apps
    other = await api.new_user("mine", app_id=2, auth_key="other-key")
    assert other["id"] != mine["id"]


async def test_update_self_only(api):
    a = await api.new_user("updater")
    b = await api.new_user("victim")
    status, body = await api.call("PUT", f"/users/{a['id']}.json", a["token"],
                                  json={"user": {"full_name": "New Name", "website": "https://x.y"}})
    assert status == 200 and body["user"]["full_name"] == "New Name" and body["user"]["website"] == "https://x.y"
    status, body = await api.call("PUT", f"/users/{b['id']}.json", a["token"], json={"user": {"full_name": "Hacked"}})
    assert status == 403
    status, body = await api.call("GET", f"/users/{b['id']}.json", a["token"])
    assert body["user"]["full_name"] is None
    # password change needs the old one
    status, body = await api.call("PUT", f"/users/{a['id']}.json", a["token"],
                                  json={"user": {"password": "newpassword1", "old_password": "wrong"}})
    assert status == 422 and "old_password" in body["errors"]
    status, body = await api.call("PUT", f"/users/{a['id']}.json", a["token"],
                                  json={"user": {"password": "newpassword1", "old_password": "password123"}})
    assert status == 200
    status, _ = await api.call("POST", "/session.json", json={
        "application_id": 1, "auth_key": AUTH_KEY, "user": {"login": "updater", "password": "newpassword1"}})
    assert status == 201
    status, body = await api.call("PUT", f"/users/{a['id']}.json", a["token"], json={"user": {"login": "victim"}})
    assert status == 422 and body["errors"] == {"login": ["has already been taken"]}
    app_token = await api.app_token()
    status, body = await api.call("PUT", f"/users/{a['id']}.json", app_token, json={"user": {"full_name": "x"}})
    assert status == 403


async def test_lax_encodings_become_the_same_profile(api):
    """Form bodies, numbers as strings, text as numbers, comma tag lists, JSON custom_data."""
    token = await api.app_token()
    status, body = await api.call("POST", "/users.json", token, data={
        "user[login]": "formuser", "user[password]": "password123", "user[external_user_id]": "77",
        "user[tag_list]": "a, b", "user[phone]": "12345"})
    assert status == 201, body
    user = body["user"]
    assert user["external_user_id"] == 77 and user["user_tags"] == "a,b" and user["phone"] == "12345"
    me = await api.new_user("laxer", custom_data={"x": 1}, timezone="3", phone=5551234)
    assert me["user"]["custom_data"] == '{"x": 1}' and me["user"]["timezone"] == 3
    assert me["user"]["phone"] == "5551234"
    # only the given fields change; null clears one
    status, body = await api.call("PUT", f"/users/{me['id']}.json", me["token"],
                                  json={"full_name": "  Lax  ", "timezone": None, "user_tags": ["x"]})
    assert status == 200
    assert body["user"]["full_name"] == "Lax" and body["user"]["timezone"] is None
    assert body["user"]["phone"] == "5551234" and body["user"]["user_tags"] == "x"
    cases = [
        ({"phone": {"a": 1}}, {"phone": ["must be a string"]}),
        ({"blob_id": "x"}, {"blob_id": ["must be an integer"]}),
        ({"password": 123456789}, {"password": ["can't be blank"]}),
        ({"login": "ab"}, {"login": ["is too short (minimum is 3 characters)"]}),
        ({"email": "x" * 250 + "@a.b"}, {"email": ["is too long (maximum is 250 characters)"]}),
        ({"tag_list": ",".join(f"t{i}" for i in range(11))}, {"tag_list": ["too many tags (maximum is 10)"]}),
        ("nope", {"user": ["must be an object"]}),
    ]
    for change, errors in cases:
        status, body = await api.call("PUT", f"/users/{me['id']}.json", me["token"], json={"user": change})
        assert status == 422 and body["errors"] == errors, (change, body)
    status, body = await api.call("PUT", f"/users/{me['id'] + 1000}.json", me["token"],
                                  json={"user": {"full_name": "x"}})
    assert status == 403 and body == {"errors": {"base": ["You can update only your own profile"]}}


async def test_delete_self_ends_sessions(api):
    a = await api.new_user("leaver")
    b = await api.new_user("stayer")
    status, _ = await api.call("DELETE", f"/users/{b['id']}.json", a["token"])
    assert status == 403
    status, _ = await api.call("DELETE", f"/users/{a['id']}.json", a["token"])
    assert status == 200
    status, body = await api.call("GET", f"/users/{a['id']}.json", b["token"])
    assert status == 404
    from models.services import sessions as sessions_module

    sessions_module.CACHE_SECONDS = 0
    try:
        status, body = await api.call("GET", "/session.json", a["token"])
        assert status == 401
    finally:
        sessions_module.CACHE_SECONDS = 10.0


async def test_password_reset(api, services):
    a = await api.new_user("forgetful", email="forgetful@example.com")
    status, body = await api.call("POST", "/users/password/reset.json", a["token"], json={"email": "forgetful@example.com"})
    assert status == 200
    events = await services.outbox.find({"kind": "password_reset_requested"})
    assert len(events) == 1 and events[0]["recipient_ids"] == [a["id"]]
    doc = await services.database.db["users"].find_one({"_id": a["id"]})
    assert doc["password_reset"]["token_hash"] != events[0]["payload"]["token"]
    status, body = await api.call("POST", "/users/password/reset.json", a["token"], json={"email": "nobody@example.com"})
    assert status == 200  # no account enumeration
    status, body = await api.call("POST", "/users/password/reset.json", a["token"], json={"email": "bad"})
    assert status == 422


async def test_unknown_route_and_method(api):
    status, body = await api.call("GET", "/nope.json")
    assert status == 404 and body == {"errors": {"base": ["Not found"]}}
    status, body = await api.call("PATCH", "/users.json")
    assert status == 405 and "errors" in body


async def test_online_users_from_presence(api, services):
    a = await api.new_user("onlinea")
    b = await api.new_user("onlineb")
    other = await api.new_user("onlinec", app_id=2, auth_key="other-key")
    services.presence.connected(1, b["id"], "conn-1")
    services.presence.connected(2, other["id"], "conn-2")
    status, body = await api.call("GET", "/users/online.json", a["token"])
    assert status == 200 and [u["id"] for u in body["users"]] == [b["id"]]
    status, body = await api.call("GET", "/users/online.json?count=true", a["token"])
    assert body == {"count": 1}
    services.presence.set_active(1, b["id"], "conn-1", False)
    status, body = await api.call("GET", "/users/online.json", a["token"])
    assert body == {"users": []}
    status, body = await api.call("GET", "/users/online.json?limit=x", a["token"])
    assert status == 422 and "limit" in body["errors"]
    status, body = await api.call("GET", "/users/online.json")
    assert status == 401
