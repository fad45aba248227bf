"""/chat/search: dialogs, messages and users within the caller's own dialogs only."""
from __future__ import annotations

from tests.rest.test_messages import make_dialog, post


async def search(api, who, **params):
    return await api.call("GET", "/chat/search.json", who["token"], params=params)


async def test_search_is_limited_to_my_dialogs(api, clock):
    alice, bob, carol = [await api.new_user(n, full_name=f"{n.title()} Lorem")
                         for n in ("alice", "bob", "carol")]
    stranger = await api.new_user("loremstranger")
    mine = await make_dialog(api, alice, bob, name="Lorem club")
    theirs = await make_dialog(api, bob, carol, name="Lorem secret")
    await post(api, alice, chat_dialog_id=mine, message="Ipsa LOREM tempore", date_sent=1700000000)
    await post(api, bob, chat_dialog_id=mine, message="nothing here", date_sent=1700000100)
    await post(api, bob, chat_dialog_id=mine, message="dolor lorem", date_sent=1700000200)
    await post(api, bob, chat_dialog_id=theirs, message="lorem for carol only")
    mallory = await api.new_user("mallory", app_id=2, auth_key="other-key")
    other_app = await make_dialog(api, mallory, await api.new_user("mallory2", app_id=2, auth_key="other-key"),
                                  name="Lorem elsewhere")
    await post(api, mallory, chat_dialog_id=other_app, message="lorem in app 2")

    status, body = await search(api, alice, search_text="lorem")
    assert status == 200, body
    results = body["results"]
    assert [d["_id"] for d in results["dialogs"]] == [mine]
    assert results["dialogs"][0]["name"] == "Lorem club"
    assert "unread_messages_count" in results["dialogs"][0]
    assert [m["message"] for m in results["messages"]] == ["dolor lorem", "Ipsa LOREM tempore"]
    assert all(m["chat_dialog_id"] == mine for m in results["messages"])
    assert sorted(u["id"] for u in results["users"]) == sorted([alice["id"], bob["id"]])
    assert stranger["id"] not in [u["id"] for u in results["users"]]

    status, body = await search(api, mallory, search_text="lorem")
    assert [m["message"] for m in body["results"]["messages"]] == ["lorem in app 2"]
    assert [d["_id"] for d in body["results"]["dialogs"]] == [other_app]

    # dates: start_date is the later bound, end_date the earlier one (ISO with milliseconds)
    status, body = await search(api, alice, search_text="lorem",
                                start_date="2023-11-14T22:15:00.000Z", end_date="2023-11-14T22:00:00.000Z")
    assert [m["message"] for m in body["results"]["messages"]] == ["Ipsa LOREM tempore"]
    # dialog ids narrow the search; foreign ones add nothing
    status, body = await search(api, bob, search_text="lorem", chat_dialog_ids=f"{theirs},{other_app}",
                                limit="1")
    assert [m["message"] for m in body["results"]["messages"]] == ["lorem for carol only"]
    assert [d["_id"] for d in body["results"]["dialogs"]] == [theirs]
    # deleted for me: not found any more
    _, page = await api.call("GET", "/chat/Message.json", alice["token"], params={"chat_dialog_id": mine})
    dolor = [m for m in page["items"] if m["message"] == "dolor lorem"][0]
    await api.call("DELETE", f"/chat/Message/{dolor['_id']}.json", alice["token"])
    status, body = await search(api, alice, search_text="LOREM")
    assert [m["message"] for m in body["results"]["messages"]] == ["Ipsa LOREM tempore"]
    # regex characters are searched literally
    status, body = await search(api, alice, search_text=".*.")
    assert body["results"]["messages"] == [] and body["results"]["dialogs"] == []


async def test_search_bad_input(api):
    alice = await api.new_user("alice")
    for params, field in (({}, "search_text"), ({"search_text": "ab"}, "search_text"),
                          ({"search_text": "x" * 201}, "search_text"),
                          ({"search_text": "abc", "limit": "x"}, "limit"),
                          ({"search_text": "abc", "limit": "0"}, "limit"),
                          ({"search_text": "abc", "start_date": "yesterday"}, "start_date"),
                          ({"search_text": "abc", "start_date": "2020-01-01T00:00:00Z",
                            "end_date": "2021-01-01T00:00:00Z"}, "end_date"),
                          ({"search_text": "abc", "chat_dialog_ids": ",".join(["a"] * 11)}, "chat_dialog_ids")):
        status, body = await search(api, alice, **params)
        assert status == 422 and field in body["errors"], (params, body)
    status, body = await api.call("GET", "/chat/search.json?search_text=abc")
    assert status == 401
    status, body = await search(api, alice, search_text="abc")
    assert status == 200 and body == {"results": {"dialogs": [], "messages": [], "users": []}}
