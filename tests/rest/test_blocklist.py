"""/blocklist over REST: list, block, unblock; errors; enforcement on private dialogs and 1:1
messages (403) while group dialogs keep working; answers validate against the document."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.rest.test_messages import make_dialog, post
from tests.rest.test_openapi_answers import checked  # noqa: F401 - the fixture


async def _list(api, who):
    status, body = await api.call("GET", "/blocklist.json", who["token"])
    assert status == 200, body
    return [u["id"] for u in body["items"]], body


async def test_block_list_and_unblock(api):
    alice, bob, carol = await api.new_user(), await api.new_user(), await api.new_user()
    assert (await _list(api, alice))[0] == []
    status, body = await api.call("POST", "/blocklist.json", alice["token"],
                                  json={"user_ids": [bob["id"]]})
    assert status == 200, body
    assert [u["id"] for u in body["items"]] == [bob["id"]]
    assert body["items"][0]["login"] == bob["login"] and body["total_entries"] == 1
    # a comma list, a repeat and an already blocked user: one entry each, in blocking order
    status, body = await api.call("POST", "/blocklist", alice["token"],
                                  data={"user_ids": f"{carol['id']}, {bob['id']},{carol['id']}"})
    assert status == 200, body
    ids, page = await _list(api, alice)
    assert ids == [bob["id"], carol["id"]] and page["limit"] == 1000 and page["skip"] == 0
    assert (await _list(api, bob))[0] == []  # one's own list only
    status, _ = await api.call("DELETE", f"/blocklist/{bob['id']}.json", alice["token"])
    assert status == 200
    assert (await _list(api, alice))[0] == [carol["id"]]
    status, _ = await api.call("DELETE", f"/blocklist/{bob['id']}", alice["token"])
    assert status == 200  # not on the list: nothing to do
    assert (await _list(api, alice))[0] == [carol["id"]]


async def test_errors(api):
    alice, bob = await api.new_user(), await api.new_user()
    other_app = await api.new_user(app_id=2, auth_key="other-key")
    cases = [
        ({"user_ids": [999999]}, 404), ({"user_ids": [bob["id"], 999999]}, 404),
        ({"user_ids": [other_app["id"]]}, 404),  # another application's user: unknown here
        ({"user_ids": [alice["id"]]}, 422), ({"user_ids": "x"}, 422), ({"user_ids": []}, 422),
        ({}, 422), ({"user_ids": [0]}, 422),
    ]
    for body, expected in cases:
        status, answer = await api.call("POST", "/blocklist.json", alice["token"], json=body)
        assert status == expected, (body, answer)
        assert isinstance(answer["errors"], (dict, list)), answer
    assert (await _list(api, alice))[0] == []  # all or nothing: bob was not blocked
    status, answer = await api.call("GET", "/blocklist.json")
    assert status == 401 and "errors" in answer
    status, answer = await api.call("GET", "/blocklist.json", await api.app_token())
    assert status == 403 and "errors" in answer  # a user session is required
    status, answer = await api.call("DELETE", "/blocklist/abc", alice["token"])
    assert status == 422 and "errors" in answer


async def test_limit(api, services):
    services.settings.limits.max_blocked_users = 2
    alice = await api.new_user()
    others = [await api.new_user() for _ in range(3)]
    status, _ = await api.call("POST", "/blocklist.json", alice["token"],
                               json={"user_ids": [others[0]["id"], others[1]["id"]]})
    assert status == 200
    status, answer = await api.call("POST", "/blocklist.json", alice["token"],
                                    json={"user_ids": [others[2]["id"]]})
    assert status == 422 and "at most 2" in str(answer["errors"])
    assert (await _list(api, alice))[0] == [others[0]["id"], others[1]["id"]]


async def test_blocked_pair_has_no_private_dialog_or_messages(api):
    alice, bob, carol = await api.new_user(), await api.new_user(), await api.new_user()
    status, msg = await post(api, bob, recipient_id=alice["id"], message="before")
    assert status == 201
    private_id = msg["chat_dialog_id"]
    group_id = await make_dialog(api, alice, bob, carol)
    await api.call("POST", "/blocklist.json", alice["token"], json={"user_ids": [bob["id"]]})

    # the blocked user: no new private dialog, no 1:1 message, by dialog or by recipient
    for who, other in ((bob, alice), (alice, bob)):  # and the blocker neither, until unblocking
        status, body = await api.call("POST", "/chat/Dialog.json", who["token"],
                                      json={"type": 3, "occupants_ids": [other["id"]]})
        assert status == 403 and "errors" in body, body
        status, body = await post(api, who, chat_dialog_id=private_id, message="hey")
        assert status == 403 and body["errors"], body
        status, body = await post(api, who, recipient_id=other["id"], message="hey")
        assert status == 403, body
    status, body = await post(api, bob, chat_dialog_id=private_id, message="hey")
    assert body == {"errors": {"base": ["You can't chat with this user"]}}
    status, body = await post(api, alice, chat_dialog_id=private_id, message="hey")
    assert body == {"errors": {"base": ["You blocked this user: unblock them to chat"]}}
    # groups go on; history is unchanged
    status, _ = await post(api, bob, chat_dialog_id=group_id, message="in the group")
    assert status == 201
    status, page = await api.call("GET", f"/chat/Message.json?chat_dialog_id={private_id}",
                                  alice["token"])
    assert status == 200 and [m["message"] for m in page["items"]] == ["before"]
    # carol is not concerned
    status, _ = await post(api, carol, recipient_id=alice["id"], message="hi")
    assert status == 201

    await api.call("DELETE", f"/blocklist/{bob['id']}.json", alice["token"])
    status, _ = await post(api, bob, chat_dialog_id=private_id, message="again")
    assert status == 201
    status, body = await api.call("POST", "/chat/Dialog.json", bob["token"],
                                  json={"type": 3, "occupants_ids": [alice["id"]]})
    assert status == 200 and body["_id"] == private_id


async def test_answers_validate(api, checked):  # noqa: F811
    alice, bob = await api.new_user(), await api.new_user()
    assert (await checked("POST", "/blocklist.json", alice["token"],
                          json={"user_ids": [bob["id"]]}))[0] == 200
    assert (await checked("GET", "/blocklist.json", alice["token"]))[0] == 200
    assert (await checked("GET", "/blocklist", alice["token"]))[0] == 200
    assert (await checked("POST", "/blocklist.json", alice["token"],
                          json={"user_ids": [99999]}))[0] == 404
    assert (await checked("POST", "/blocklist.json", alice["token"], json={}))[0] == 422
    status, body = await api.call("DELETE", f"/blocklist/{bob['id']}.json", alice["token"])
    assert status == 200 and body is None  # documented without content


@given(st.lists(st.integers(min_value=1, max_value=10**12), min_size=1, max_size=30),
       st.sampled_from(["list", "strings", "comma", "dict"]))
def test_user_ids_are_read_in_every_shape_the_sdk_sends(ids, shape):
    from rest.schemas.blocklist import user_ids_from_body

    value = {"list": ids, "strings": [str(i) for i in ids], "comma": ", ".join(map(str, ids)),
             "dict": {str(n): i for n, i in enumerate(ids)}}[shape]
    assert user_ids_from_body({"user_ids": value}, 100) == list(dict.fromkeys(ids))


async def test_online_list_hides_a_blocked_pair(api, services):
    alice, bob, carol = await api.new_user(), await api.new_user(), await api.new_user()
    for who in (alice, bob, carol):
        services.presence.connected(1, who["id"], f"conn-{who['id']}")
    await api.call("POST", "/blocklist.json", alice["token"], json={"user_ids": [bob["id"]]})
    for who, hidden in ((alice, bob), (bob, alice)):
        status, body = await api.call("GET", "/users/online.json", who["token"])
        assert status == 200 and hidden["id"] not in [u["id"] for u in body["users"]]
        assert carol["id"] in [u["id"] for u in body["users"]]
        status, body = await api.call("GET", "/users/online.json?count=1", who["token"])
        assert body == {"count": 2}  # themselves and carol
    status, body = await api.call("GET", "/users/online.json", carol["token"])
    assert {alice["id"], bob["id"]} <= {u["id"] for u in body["users"]}


async def test_a_blocked_pair_does_not_see_each_others_last_activity(api):
    """In REST user objects too (issue 14 §3: neither sees the other's last activity), either
    way, in single users and lists; unblocking shows it again; others still see it."""
    alice, bob, carol = await api.new_user(), await api.new_user(), await api.new_user()
    status, _ = await api.call("POST", "/blocklist.json", alice["token"],
                               json={"user_ids": [bob["id"]]})
    assert status == 200

    async def activity(viewer, user_id):
        status, one = await api.call("GET", f"/users/{user_id}.json", viewer["token"])
        assert status == 200
        status, page = await api.call("GET", f"/users/v2.json?id[in]={user_id}", viewer["token"])
        assert status == 200 and len(page["items"]) == 1
        listed = page["items"][0]["last_request_at"]
        assert listed == one["user"]["last_request_at"]
        return one["user"]["last_request_at"]

    assert await activity(alice, bob["id"]) is None  # the blocker
    assert await activity(bob, alice["id"]) is None  # the blocked
    assert await activity(carol, bob["id"]) is not None and await activity(carol, alice["id"])
    status, _ = await api.call("DELETE", f"/blocklist/{bob['id']}.json", alice["token"])
    assert status == 200
    assert await activity(alice, bob["id"]) is not None and await activity(bob, alice["id"])


async def test_a_deleted_account_leaves_no_block_list_behind(api, services):
    alice, bob, carol = await api.new_user(), await api.new_user(), await api.new_user()
    for blocker, blocked in ((alice, bob), (carol, bob), (bob, alice)):
        status, _ = await api.call("POST", "/blocklist.json", blocker["token"],
                                   json={"user_ids": [blocked["id"]]})
        assert status == 200
    status, _ = await api.call("DELETE", f"/users/{bob['id']}.json", bob["token"])
    assert status == 200
    db = services.database.db["blocklists"]
    assert await db.find_one({"user_id": bob["id"]}) is None  # bob's own list
    assert await db.count_documents({"blocked_ids": bob["id"]}) == 0  # nobody's lists name him
    status, listed = await api.call("GET", "/blocklist.json", alice["token"])
    assert status == 200 and listed["items"] == []
