"""/contacts: list, add (with the presence subscription it asks for), the owner's overrides,
remove; who may read and change a list; limits; the answers validate against the document."""
from __future__ import annotations

import pytest

from tests.rest.test_openapi_answers import checked  # noqa: F401 - the fixture


async def contacts(api, user):
    status, body = await api.call("GET", "/contacts.json", user["token"])
    assert status == 200, body
    return body


async def test_add_asks_and_the_other_side_sees_a_request(api):
    ann, bob = await api.new_user("ann"), await api.new_user("bob")
    status, body = await api.call("POST", "/contacts", ann["token"], json={"user_ids": [bob["id"]]})
    assert status == 200, body
    assert body["not_found"] == []
    [added] = body["added"]
    assert added["user_id"] == bob["id"] and added["user"]["login"] == "bob"
    assert added["subscription"] == "none" and added["ask"] == "subscribe"
    assert added["online"] is None and added["last_seen"] is None  # not subscribed yet
    listed = await contacts(api, ann)
    assert [c["user_id"] for c in listed["items"]] == [bob["id"]] and listed["requests"] == []
    # bob: not in his list, but a request
    theirs = await contacts(api, bob)
    assert theirs["items"] == []
    [request] = theirs["requests"]
    assert request["user_id"] == ann["id"] and request["pending_in"] is True
    assert request["subscription"] == "none" and request["user"]["login"] == "ann"


async def test_adding_back_approves_both_ways(api):
    ann, bob = await api.new_user("ann2"), await api.new_user("bob2")
    await api.call("POST", "/contacts", ann["token"], json={"user_ids": [bob["id"]]})
    status, body = await api.call("POST", "/contacts", bob["token"], json={"user_ids": str(ann["id"])})
    assert status == 200
    [mine] = body["added"]
    # bob approved ann (from) and asked in turn, and ann had approved nothing yet
    assert mine["subscription"] == "from" and mine["ask"] == "subscribe"
    [of_ann] = (await contacts(api, ann))["items"]
    assert of_ann["subscription"] == "to" and of_ann["ask"] is None
    assert of_ann["pending_in"] is True  # bob asks to see ann
    # ann adds bob again: approves him; both see each other now
    await api.call("POST", "/contacts", ann["token"], json={"user_ids": [bob["id"]]})
    [of_ann] = (await contacts(api, ann))["items"]
    [of_bob] = (await contacts(api, bob))["items"]
    assert (of_ann["subscription"], of_bob["subscription"]) == ("both", "both")
    assert of_ann["ask"] is None and of_bob["ask"] is None
    assert of_ann["online"] is False and of_ann["last_seen"] is not None  # seen at login (REST)
    assert (await contacts(api, ann))["requests"] == []


async def test_not_found_ids_other_apps_and_self(api):
    ann = await api.new_user("ann3")
    stranger = await api.new_user("stranger", app_id=2, auth_key="other-key")
    status, body = await api.call("POST", "/contacts", ann["token"],
                                  json={"user_ids": [stranger["id"], 999999, ann["id"]]})
    assert status == 200
    assert body == {"added": [], "not_found": [stranger["id"], 999999, ann["id"]]}
    assert (await contacts(api, ann)) == {"items": [], "requests": []}
    # and the stranger's own list is untouched and says nothing of ann
    assert (await contacts(api, stranger)) == {"items": [], "requests": []}
    for method, kwargs in (("PUT", {"json": {"display_name": "x"}}), ("DELETE", {})):
        status, body = await api.call(method, f"/contacts/{stranger['id']}", ann["token"], **kwargs)
        assert status == 404 and body == {"errors": {"base": ["Contact not found"]}}


async def test_nobody_reads_or_changes_another_users_list(api):
    ann, bob, eve = (await api.new_user("ann4"), await api.new_user("bob4"),
                     await api.new_user("eve4"))
    await api.call("POST", "/contacts", ann["token"], json={"user_ids": [bob["id"]]})
    # eve's list is her own: ann's contact is not hers to rename or remove
    status, _ = await api.call("PUT", f"/contacts/{bob['id']}", eve["token"],
                               json={"display_name": "mine"})
    assert status == 404
    status, _ = await api.call("DELETE", f"/contacts/{bob['id']}", eve["token"])
    assert status == 404
    [entry] = (await contacts(api, ann))["items"]
    assert entry["display_name"] is None and entry["user_id"] == bob["id"]
    assert (await contacts(api, eve)) == {"items": [], "requests": []}
    # no session, an application session: refused
    status, body = await api.call("GET", "/contacts")
    assert status == 401
    status, body = await api.call("GET", "/contacts", await api.app_token())
    assert status == 403 and body == {"errors": {"base": ["A user session is required"]}}
    status, _ = await api.call("POST", "/contacts", await api.app_token(),
                               json={"user_ids": [bob["id"]]})
    assert status == 403


async def test_overrides_and_remove(api):
    ann, bob = await api.new_user("ann5"), await api.new_user("bob5")
    await api.call("POST", "/contacts", ann["token"], json={"user_ids": [bob["id"]]})
    status, body = await api.call("PUT", f"/contacts/{bob['id']}.json", ann["token"],
                                  json={"display_name": "  Bobby ", "avatar": "https://x/b.png"})
    assert status == 200
    assert body["contact"]["display_name"] == "Bobby"
    assert body["contact"]["avatar"] == "https://x/b.png"
    status, body = await api.call("PUT", f"/contacts/{bob['id']}", ann["token"], json={"avatar": None})
    assert body["contact"]["avatar"] is None and body["contact"]["display_name"] == "Bobby"
    status, body = await api.call("PUT", f"/contacts/{bob['id']}", ann["token"], json={})
    assert status == 400
    status, body = await api.call("PUT", f"/contacts/{bob['id']}", ann["token"],
                                  json={"display_name": "x" * 300})
    assert status == 422
    status, _ = await api.call("DELETE", f"/contacts/{bob['id']}", ann["token"])
    assert status == 200
    assert (await contacts(api, ann))["items"] == []
    # the request ann sent is withdrawn with her entry
    assert (await contacts(api, bob))["requests"] == []
    status, _ = await api.call("DELETE", f"/contacts/{bob['id']}", ann["token"])
    assert status == 404


async def test_remove_keeps_the_other_list_and_ends_both_subscriptions(api):
    ann, bob = await api.new_user("ann6"), await api.new_user("bob6")
    await api.call("POST", "/contacts", ann["token"], json={"user_ids": [bob["id"]]})
    await api.call("POST", "/contacts", bob["token"], json={"user_ids": [ann["id"]]})
    await api.call("POST", "/contacts", ann["token"], json={"user_ids": [bob["id"]]})
    assert (await api.call("DELETE", f"/contacts/{ann['id']}", bob["token"]))[0] == 200
    [of_ann] = (await contacts(api, ann))["items"]
    assert of_ann["subscription"] == "none" and of_ann["ask"] is None
    assert (await contacts(api, bob)) == {"items": [], "requests": []}


async def test_declining_a_request(api):
    ann, bob = await api.new_user("ann7"), await api.new_user("bob7")
    await api.call("POST", "/contacts", ann["token"], json={"user_ids": [bob["id"]]})
    assert (await api.call("DELETE", f"/contacts/{ann['id']}", bob["token"]))[0] == 200
    assert (await contacts(api, bob))["requests"] == []
    [of_ann] = (await contacts(api, ann))["items"]
    assert of_ann["ask"] is None and of_ann["subscription"] == "none"


@pytest.fixture
def settings(settings):
    settings.limits.max_contacts = 2
    settings.limits.max_contact_ids_per_request = 3
    return settings


async def test_limits(api):
    ann = await api.new_user("ann8")
    others = [await api.new_user(f"o8{i}") for i in range(4)]
    status, body = await api.call("POST", "/contacts", ann["token"],
                                  json={"user_ids": [o["id"] for o in others]})
    assert status == 400 and "At most 3" in body["errors"]["user_ids"][0]
    status, body = await api.call("POST", "/contacts", ann["token"],
                                  json={"user_ids": [o["id"] for o in others[:3]]})
    assert status == 422 and "At most 2 contacts" in body["errors"]["user_ids"][0]
    assert (await contacts(api, ann))["items"] == []
    status, _ = await api.call("POST", "/contacts", ann["token"],
                               json={"user_ids": [o["id"] for o in others[:2]]})
    assert status == 200
    # already in the list: not counted again
    status, body = await api.call("POST", "/contacts", ann["token"], json={"user_ids": [others[0]["id"]]})
    assert status == 200 and len(body["added"]) == 1
    for bad in ({}, {"user_ids": []}, {"user_ids": "a,b"}):
        status, _ = await api.call("POST", "/contacts", ann["token"], json=bad)
        assert status == 400


async def test_answers_validate_against_the_document(api, checked):  # noqa: F811
    ann, bob = await api.new_user("ann9"), await api.new_user("bob9")
    assert (await checked("POST", "/contacts.json", ann["token"], json={"user_ids": [bob["id"]]}))[0] == 200
    assert (await checked("GET", "/contacts.json", ann["token"]))[0] == 200
    assert (await checked("GET", "/contacts", bob["token"]))[0] == 200
    assert (await checked("PUT", f"/contacts/{bob['id']}", ann["token"],
                          json={"display_name": "B"}))[0] == 200
    assert (await checked("PUT", f"/contacts/{ann['id']}", bob["token"],
                          json={"display_name": "B"}))[0] == 404
    assert (await checked("POST", "/contacts", ann["token"], json={}))[0] == 400
    assert (await api.call("DELETE", f"/contacts/{ann['id']}", bob["token"]))[0] == 200  # declined
    assert (await checked("DELETE", f"/contacts/{ann['id']}", bob["token"]))[0] == 404
