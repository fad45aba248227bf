"""Reports through the production app: filing (what the reporter may see, one open report per
object, rate limit), a user's own list, and the moderators' admin API (filters, review); nobody
reads or changes another user's reports, other applications' ids answer 404."""
from __future__ import annotations

import pytest

from models.services.access import GROUP, PUBLIC
from tests.rest.admin_helpers import WRONG_KEY, admin_call, admin_keys
from tests.rest.test_dialogs import create, guest
from tests.rest.test_openapi_answers import checked  # noqa: F401 - the fixture

ALREADY = {"errors": {"base": ["You have already reported this; your report is open"]}}


@pytest.fixture
async def people(api):
    out = {name: await guest(api, name) for name in ("alice", "bob", "carol", "eve")}
    out["xeno"] = await guest(api, "xeno", 2, "other-key")
    return out


@pytest.fixture
async def keys(services, settings):
    return await admin_keys(services, settings)


async def report(api, who, **body):
    return await api.call("POST", "/reports.json", who["token"], json=body)


async def room_with_message(api, people):
    """A group of alice, bob and carol (not eve) with bob's message in it."""
    ids = f"{people['bob']['id']}, {people['carol']['id']}"
    dialog = await create(api, people["alice"], type=GROUP, name="Room", occupants_ids=ids)
    status, message = await api.call("POST", "/chat/Message.json", people["bob"]["token"], json={
        "chat_dialog_id": dialog["_id"], "message": "buy cheap pills",
        "attachments": [{"type": "image", "uid": "u1"}]})
    assert status == 201
    return dialog, message


async def test_reporting_a_message_keeps_what_it_said(api, people, keys, checked):  # noqa: F811
    dialog, message = await room_with_message(api, people)
    status, body = await checked("POST", "/reports.json", people["alice"]["token"], json={
        "type": "message", "id": message["_id"], "reason": "spam", "comment": "a scam"})
    assert status == 201
    assert {k: body[k] for k in ("type", "object_id", "reason", "comment", "status")} == {
        "type": "message", "object_id": message["_id"], "reason": "spam", "comment": "a scam",
        "status": "open"}
    assert "reporter_id" not in body and "note" not in body and "snapshot" not in body
    # the message is edited, then deleted: the moderators still see what was reported
    status, _ = await api.call("PUT", f"/chat/Message/{message['_id']}.json", people["bob"]["token"],
                               json={"message": "hello"})
    assert status == 200
    status, _ = await api.call("DELETE", f"/chat/Message/{message['_id']}.json",
                               people["bob"]["token"], data="force=1")
    assert status == 200
    status, page = await admin_call(api, keys[1], "GET", "/admin/reports.json")
    assert status == 200 and page["total_entries"] == 1
    [seen] = page["items"]
    assert seen["reporter_id"] == people["alice"]["id"] and seen["dialog_id"] == dialog["_id"]
    assert seen["snapshot"] == {"sender_id": people["bob"]["id"], "message": "buy cheap pills",
                                "date_sent": message["date_sent"],
                                "attachments": [{"type": "image", "uid": "u1"}]}
    assert seen["note"] is None and seen["reviewed_at"] is None


async def test_the_reporter_must_see_what_they_report(api, people):
    dialog, message = await room_with_message(api, people)
    eve, xeno = people["eve"], people["xeno"]
    not_found = 404
    # eve is not in the group: neither the message nor the dialog exists for her
    assert (await report(api, eve, type="message", id=message["_id"], reason="x"))[0] == not_found
    assert (await report(api, eve, type="dialog", id=dialog["_id"], reason="x"))[0] == not_found
    # another application's user sees none of app 1's objects, users included
    for kind, object_id in (("message", message["_id"]), ("dialog", dialog["_id"]),
                            ("user", people["bob"]["id"])):
        assert (await report(api, xeno, type=kind, id=object_id, reason="x"))[0] == not_found
    assert (await report(api, eve, type="user", id=xeno["id"], reason="x"))[0] == not_found
    assert (await report(api, eve, type="user", id=999999, reason="x"))[0] == not_found
    assert (await report(api, eve, type="message", id="not-an-id", reason="x"))[0] == not_found
    # a message deleted for the reporter is gone for them
    carol = people["carol"]
    status, _ = await api.call("DELETE", f"/chat/Message/{message['_id']}.json", carol["token"])
    assert status == 200
    assert (await report(api, carol, type="message", id=message["_id"], reason="x"))[0] == not_found
    # a public dialog: every user of the app may see (and report) it
    public = await create(api, people["alice"], type=PUBLIC, name="Open")
    assert (await report(api, eve, type="dialog", id=public["_id"], reason="x"))[0] == 201
    assert (await report(api, xeno, type="dialog", id=public["_id"], reason="x"))[0] == not_found
    # nobody reports themselves or their own message
    status, body = await report(api, people["bob"], type="message", id=message["_id"], reason="x")
    assert status == 422 and "id" in body["errors"]
    status, body = await report(api, eve, type="user", id=str(eve["id"]), reason="x")
    assert status == 422 and "id" in body["errors"]


async def test_bad_requests_name_the_field(api, people):
    bob = people["bob"]
    alice = people["alice"]["id"]
    for body, field in (({"id": alice, "reason": "x"}, "type"),
                        ({"type": "photo", "id": alice, "reason": "x"}, "type"),
                        ({"type": "user", "reason": "x"}, "id"),
                        ({"type": "user", "id": "abc", "reason": "x"}, "id"),
                        ({"type": "user", "id": alice}, "reason"),
                        ({"type": "user", "id": alice, "reason": "  "}, "reason"),
                        ({"type": "user", "id": alice, "reason": "x" * 201}, "reason"),
                        ({"type": "user", "id": alice, "reason": "x", "comment": "c" * 2001},
                         "comment")):
        status, answer = await report(api, bob, **body)
        assert status == 422 and list(answer["errors"]) == [field], (body, answer)


async def test_one_open_report_per_reporter_and_object(api, people, keys):
    bob, carol = people["bob"], people["carol"]
    alice = people["alice"]["id"]
    status, first = await report(api, bob, type="user", id=alice, reason="rude")
    assert status == 201
    assert await report(api, bob, type="user", id=str(alice), reason="again") == (422, ALREADY)
    assert (await report(api, carol, type="user", id=alice, reason="rude"))[0] == 201  # another reporter
    # closed by a moderator: bob may report alice again, and the old one can't reopen meanwhile
    status, reviewed = await admin_call(api, keys[1], "PUT", f"/admin/reports/{first['id']}.json",
                                        json={"status": "dismissed", "note": "banter"})
    assert status == 200 and reviewed["status"] == "dismissed" and reviewed["note"] == "banter"
    assert reviewed["reviewed_at"] is not None
    status, second = await report(api, bob, type="user", id=alice, reason="rude again")
    assert status == 201 and second["id"] != first["id"]
    status, body = await admin_call(api, keys[1], "PUT", f"/admin/reports/{first['id']}",
                                    json={"status": "open"})
    assert status == 422
    status, page = await api.call("GET", "/reports.json", bob["token"])
    assert [(r["id"], r["status"]) for r in page["items"]] == [(second["id"], "open"),
                                                              (first["id"], "dismissed")]
    assert "note" not in page["items"][1]  # the moderators' note is theirs


async def test_reports_are_rate_limited(api, people, services):
    services.settings.rate_limits.reports_per_user = "3/minute"
    from models.services.rate_limits import RateLimitService

    services.reports._rate_limits = RateLimitService(services.settings.rate_limits)  # noqa: SLF001
    eve = people["eve"]
    for n in range(3):  # refused attempts count too: probing ids costs
        assert (await report(api, eve, type="user", id=900000 + n, reason="x"))[0] == 404
    resp = await api.client.post("/reports.json", headers={"CB-Token": eve["token"]},
                                 json={"type": "user", "id": people["alice"]["id"], "reason": "x"})
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    assert (await report(api, people["bob"], type="user", id=people["alice"]["id"],
                         reason="x"))[0] == 201  # per user


async def test_nobody_reads_or_changes_anothers_reports(api, people, keys):
    bob, carol, xeno = people["bob"], people["carol"], people["xeno"]
    status, mine = await report(api, bob, type="user", id=people["alice"]["id"], reason="rude")
    assert status == 201
    for who in (carol, xeno):
        status, page = await api.call("GET", "/reports.json", who["token"])
        assert status == 200 and page["items"] == [] and page["total_entries"] == 0
    # a user's session opens no admin route, and another application's key sees none of app 1's
    status, _ = await api.call("GET", "/admin/reports.json", bob["token"])
    assert status == 401
    status, _ = await api.call("PUT", f"/admin/reports/{mine['id']}.json", bob["token"],
                               json={"status": "dismissed"})
    assert status == 401
    assert await admin_call(api, "wrong" * 8, "GET", "/admin/reports") == (401, WRONG_KEY)
    status, page = await admin_call(api, keys[2], "GET", "/admin/reports")
    assert status == 200 and page["items"] == []
    status, body = await admin_call(api, keys[2], "PUT", f"/admin/reports/{mine['id']}",
                                    json={"status": "dismissed"})
    assert (status, body) == (404, {"errors": {"base": ["Report not found"]}})
    status, page = await api.call("GET", "/reports.json", bob["token"])
    assert page["items"][0]["status"] == "open"


async def test_moderators_filter_and_review(api, people, keys, clock, checked):  # noqa: F811
    dialog, message = await room_with_message(api, people)
    alice, carol = people["alice"], people["carol"]
    before = int(clock.now().timestamp())
    _, on_message = await report(api, alice, type="message", id=message["_id"], reason="spam")
    clock.advance(60)
    middle = int(clock.now().timestamp())
    _, on_user = await report(api, carol, type="user", id=people["bob"]["id"], reason="spam")
    _, on_dialog = await report(api, people["bob"], type="dialog", id=dialog["_id"], reason="off topic")
    key = keys[1]

    async def ids(query: str) -> list[int]:
        status, page = await admin_call(api, key, "GET", f"/admin/reports.json?{query}")
        assert status == 200, page
        return [r["id"] for r in page["items"]]

    assert await ids("") == [on_dialog["id"], on_user["id"], on_message["id"]]  # newest first
    assert await ids("type=message") == [on_message["id"]]
    assert await ids("type=user,dialog") == [on_dialog["id"], on_user["id"]]
    assert await ids(f"reporter_id={carol['id']}") == [on_user["id"]]
    assert await ids(f"created_at[gte]={before}&created_at[lt]={middle}") == [on_message["id"]]
    assert await ids(f"created_at[gte]={middle}") == [on_dialog["id"], on_user["id"]]
    assert await ids("limit=1&skip=1") == [on_user["id"]]
    status, body = await checked("PUT", f"/admin/reports/{on_user['id']}.json",
                                 headers={"CB-Administration-API-Key": key},
                                 json={"status": "resolved", "note": "warned"})
    assert status == 200 and body["status"] == "resolved"
    assert await ids("status=open") == [on_dialog["id"], on_message["id"]]
    assert await ids("status=resolved,dismissed") == [on_user["id"]]
    status, page = await checked("GET", "/admin/reports.json?status=resolved",
                                 headers={"CB-Administration-API-Key": key})
    assert status == 200 and page["items"][0]["note"] == "warned"
    # a note alone; null clears it; the status stays
    status, body = await admin_call(api, key, "PUT", f"/admin/reports/{on_user['id']}",
                                    json={"note": None})
    assert status == 200 and body["note"] is None and body["status"] == "resolved"
    for bad, field in (({"status": "closed"}, "status"), ({}, "base"),
                       ({"note": "n" * 2001}, "note")):
        status, body = await admin_call(api, key, "PUT", f"/admin/reports/{on_user['id']}", json=bad)
        assert status == 422 and list(body["errors"]) == [field], body
    for bad in ("status=closed", "type=photo", "created_at[eq]=1", "reporter_id=x"):
        status, _ = await admin_call(api, key, "GET", f"/admin/reports?{bad}")
        assert status == 422, bad
    assert (await admin_call(api, key, "PUT", "/admin/reports/999999", json={"note": "x"}))[0] == 404
    assert (await admin_call(api, key, "PUT", "/admin/reports/abc", json={"note": "x"}))[0] == 404
    status, mine = await checked("GET", "/reports.json", alice["token"])
    assert status == 200 and [r["id"] for r in mine["items"]] == [on_message["id"]]
