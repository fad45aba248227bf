"""The request forms of ConnectyCube's own documentation (the seed's curl examples): GET
parameters in a form body, a JSON body sent as a form, a form sent as JSON, the lower-case
`/chat/dialog/...` paths, and `GET /users/by_tags` (the SDK's `users.get({tags})`)."""
from __future__ import annotations

from tests.rest.test_messages import make_dialog, post

FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # what `curl -d` sends
JSON = {"Content-Type": "application/json"}


async def test_history_and_unread_read_a_get_form_body(api):
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    dialog_id = await make_dialog(api, alice, bob)
    other_id = await make_dialog(api, alice, bob)
    status, sent = await post(api, alice, chat_dialog_id=dialog_id, message="where are you?")
    assert status == 201
    # curl -X GET -d 'chat_dialog_id=...' /chat/Message
    status, page = await api.call("GET", "/chat/Message", bob["token"],
                                  data=f"chat_dialog_id={dialog_id}&mark_as_read=0", headers=FORM)
    assert status == 200, page
    assert [m["_id"] for m in page["items"]] == [sent["_id"]] and page["items"][0]["read"] == 0
    # curl -X GET -d 'chat_dialog_ids=a,b' /chat/Message/unread
    status, counts = await api.call("GET", "/chat/Message/unread", bob["token"],
                                    data=f"chat_dialog_ids={dialog_id},{other_id}", headers=FORM)
    assert status == 200, counts
    assert counts == {"total": 1, dialog_id: 1, other_id: 0}
    # without a form body the history still needs its dialog
    status, body = await api.call("GET", "/chat/Message", bob["token"])
    assert status == 422, body
    # the body wins over the query string, as for the other verbs
    status, page = await api.call("GET", f"/chat/Message?chat_dialog_id={other_id}", bob["token"],
                                  data=f"chat_dialog_id={dialog_id}", headers=FORM)
    assert status == 200 and [m["_id"] for m in page["items"]] == [sent["_id"]]


async def test_dialog_filters_in_a_form_body_sent_as_json(api):
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    bar = await make_dialog(api, alice, bob, extensions={"location": "Sunbar"})
    await make_dialog(api, alice, bob, extensions={"location": "Moonbar"})
    # curl -X GET -H "Content-Type: application/json" -d 'extensions[location]=Sunbar' /chat/Dialog
    status, page = await api.call("GET", "/chat/Dialog", alice["token"],
                                  data="extensions[location]=Sunbar", headers=JSON)
    assert status == 200, page
    assert [d["_id"] for d in page["items"]] == [bar]
    # a real JSON object in a GET body is read as JSON
    status, page = await api.call("GET", "/chat/Dialog", alice["token"],
                                  data=b'{"extensions": {"location": "Moonbar"}}', headers=JSON)
    assert status == 200 and [d["extensions"]["location"] for d in page["items"]] == ["Moonbar"]
    # a malformed JSON body still is a 400, on a POST as before
    status, body = await api.call("POST", "/chat/Dialog", alice["token"], data=b"{oops", headers=JSON)
    assert status == 400 and body == {"errors": {"base": ["Malformed JSON body"]}}


async def test_json_body_sent_as_a_form(api):
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    dialog_id = await make_dialog(api, alice, bob)
    _, sent = await post(api, alice, chat_dialog_id=dialog_id, message="hi")
    # curl -X PUT -d '{"add": "👍"}' /chat/Message/{id}/reactions (no content type: a form)
    status, body = await api.call("PUT", f"/chat/Message/{sent['_id']}/reactions", bob["token"],
                                  data='{"add": "👍"}'.encode(), headers=FORM)
    assert status == 200, body
    status, body = await api.call("GET", f"/chat/Message/{sent['_id']}/reactions", bob["token"])
    assert status == 200 and body == {"👍": [bob["id"]]}, body
    # a JSON message create sent as a form
    status, msg = await api.call("POST", "/chat/Message", alice["token"], headers=FORM,
                                 data=f'{{"chat_dialog_id": "{dialog_id}", "message": "x"}}'.encode())
    assert status == 201 and msg["message"] == "x", msg
    # ... and a real form still is a form
    status, msg = await api.call("POST", "/chat/Message", alice["token"], headers=FORM,
                                 data=f"chat_dialog_id={dialog_id}&message=formed")
    assert status == 201 and msg["message"] == "formed", msg


async def test_body_limit_applies_to_get_bodies(api, services):
    alice = await api.new_user("alice")
    size = services.settings.http.max_body_bytes + 1
    status, body = await api.call("GET", "/chat/Dialog", alice["token"],
                                  data=b"a=" + b"x" * size, headers=FORM)
    assert status == 413, body


async def test_lower_case_dialog_paths(api):
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    public = await make_dialog(api, alice, dtype=4, name="lobby")  # public
    status, body = await api.call("POST", f"/chat/dialog/{public}/subscribe", bob["token"])
    assert status == 200 and body["occupants_count"] == 2, body
    # curl -X DELETE /chat/dialog/{id}/subscribe
    status, _ = await api.call("DELETE", f"/chat/dialog/{public}/subscribe", bob["token"])
    assert status == 200
    status, page = await api.call("GET", f"/chat/Dialog/{public}/occupants", alice["token"])
    assert status == 200 and bob["id"] not in [u["id"] for u in page["items"]], page


async def test_users_by_tags(api):
    users = [await api.new_user(f"tagged{i}", user_tags=tags)
             for i, tags in enumerate([["vip"], ["vip", "team"], ["team"], []])]
    token = users[0]["token"]
    ids = [u["id"] for u in users]
    # the SDK's users.get({tags: [...]}) -> GET /users/by_tags.json?tags[]=...
    status, page = await api.call("GET", "/users/by_tags.json?tags[]=vip", token)
    assert status == 200, page
    assert [item["user"]["id"] for item in page["items"]] == ids[:2]
    assert page["total_entries"] == 2 and page["current_page"] == 1
    status, page = await api.call("GET", "/users/by_tags?tags[]=vip&tags[]=team&per_page=2&page=2", token)
    assert status == 200 and [item["user"]["id"] for item in page["items"]] == [ids[2]]
    assert page["total_entries"] == 3 and page["per_page"] == 2 and page["current_page"] == 2
    status, page = await api.call("GET", "/users/by_tags?tags=team,vip", token)
    assert [item["user"]["id"] for item in page["items"]] == ids[:3]
    status, page = await api.call("GET", "/users/by_tags?tags[]=nobody", token)
    assert status == 200 and page["items"] == [] and page["total_entries"] == 0
    status, body = await api.call("GET", "/users/by_tags", token)
    assert status == 422 and "tags" in body["errors"], body
    status, _ = await api.call("GET", "/users/by_tags?tags[]=vip")
    assert status == 401
