"""The REAL `connectycube@6.1.2` npm SDK, unmodified, against the REAL `chatbridge serve` process.

Each test runs one independent scenario of `sdk_driver.cjs` (fresh users, fresh dialogs) and asserts
on what the SDK handed back to the "app": ids, bodies, counts, error codes and bodies.
"""
from __future__ import annotations

import json
import re

import pytest

from tests.e2e.conftest import APP_ID

pytestmark = pytest.mark.e2e

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
SESSION_MISSING = {"errors": {"base": ["Required session does not exist"]}}


def ids(items: list[dict]) -> list:
    return [item.get("_id", item.get("id")) for item in items]


def by_id(items: list[dict]) -> dict:
    return {item["_id"]: item for item in items}


def parse_text(body):
    """TEXT endpoints resolve to the raw body string; parse it when it is JSON."""
    if isinstance(body, str) and body.strip():
        return json.loads(body)
    return body


# --- sessions and users ------------------------------------------------------------------------

def test_sessions_and_users(sdk):
    r = sdk("users")
    app = r["appSession"]
    assert app["application_id"] == APP_ID and app["user_id"] == 0 and len(app["token"]) >= 20
    assert "user" not in app

    alice = r["aliceSignup"]["user"]
    assert alice["login"] == r["aliceLogin"] and alice["full_name"] == "Alice E2E" and alice["id"] > 0
    assert alice["custom_data"] == '{"color":"red"}'
    assert alice["user_tags"] in ("e2e,red", ["e2e", "red"])
    assert not {"password", "password_hash"} & set(alice), "no password material goes back"
    bob = r["bobSignup"]["user"]  # signed up with CB-AuthKey, no session at all
    assert bob["login"] == r["bobLogin"] and bob["id"] not in (0, alice["id"])

    session = r["session"]
    assert session["user_id"] == alice["id"] and session["application_id"] == APP_ID
    assert session["token"] != app["token"] and session["user"]["login"] == r["aliceLogin"]
    assert ISO.match(session["created_at"])
    assert r["gotSession"]["user_id"] == alice["id"] and r["gotSession"]["id"] == session["id"]

    v2 = r["v2ByIds"]
    assert v2["total_entries"] == 2 and sorted(ids(v2["items"])) == sorted([alice["id"], bob["id"]])
    assert {u["login"] for u in v2["items"]} == {r["aliceLogin"], r["bobLogin"]}
    assert r["v2ByLogin"]["total_entries"] == 1 and ids(r["v2ByLogin"]["items"]) == [bob["id"]]
    by_tags = r["legacyByTags"]  # GET /users/by_tags.json?tags[]=red (issue 15 §9c)
    tagged = [item["user"] for item in by_tags["items"]]
    assert alice["id"] in [u["id"] for u in tagged] and bob["id"] not in [u["id"] for u in tagged]
    assert all("red" in u["user_tags"].split(",") for u in tagged)
    assert by_tags["total_entries"] >= 1 and by_tags["current_page"] == 1

    assert r["legacyById"]["user"]["id"] == bob["id"] and r["legacyById"]["user"]["login"] == r["bobLogin"]
    assert r["legacyByLogin"]["user"]["id"] == bob["id"]

    updated = r["updated"]["user"]
    assert updated["id"] == alice["id"] and updated["full_name"] == "Alice Renamed"
    assert updated["custom_data"] == '{"color":"blue"}'
    persisted = r["afterUpdate"]["items"]
    assert ids(persisted) == [alice["id"]] and persisted[0]["full_name"] == "Alice Renamed"

    assert r["localSessionAfterDestroy"] is None
    assert r["destroyedTokenError"] == {"code": 401, "info": SESSION_MISSING}


def test_refresh_token_through_the_sdk(sdk):
    r = sdk("refresh")
    session = r["session"]
    assert len(session["refresh_token"]) > 30 and ISO.match(session["token_expiration"])
    assert r["stored"] == {"refresh_token": session["refresh_token"],
                           "token_expiration": session["token_expiration"]}  # the SDK keeps them
    assert r["answer"]["status"] == 201
    refreshed = r["answer"]["body"]["session"]
    assert refreshed["id"] == session["id"] and refreshed["refresh_token"] != session["refresh_token"]
    assert r["gotSession"]["user_id"] == session["user_id"] and r["gotSession"]["id"] == session["id"]
    assert r["oldTokenError"] == {"code": 401, "info": SESSION_MISSING}
    devices = {item["device"]["udid"]: item for item in r["listed"]["items"]}
    assert devices["e2e-tablet"]["current"] is True and devices["e2e-tablet"]["device"]["platform"] == "web"
    assert session["id"] in {item["id"] for item in r["listed"]["items"]}


def test_session_expired_hook_retries_then_gives_up(sdk):
    r = sdk("session_expired")
    user = r["signup"]["user"]
    # the hook fired on the unknown token, opened a new session and replayed the request
    assert r["callsAfterRetry"] == 1
    assert ids(r["retried"]["items"]) == [user["id"]]
    assert r["tokenAfterRetry"] != r["bogusToken"]
    # second time the hook calls handleResponse(): the original 401 reaches the app
    assert r["calls"] == [{"giveUp": False}, {"giveUp": True}]
    assert r["rejected"] == {"code": 401, "info": SESSION_MISSING}


def test_error_shapes_seen_by_the_sdk(sdk):
    r = sdk("errors")
    assert r["badToken"] == {"code": 401, "info": SESSION_MISSING}
    assert r["wrongPassword"]["code"] == 401 and r["wrongPassword"]["info"]["errors"]["base"]
    assert r["wrongAuthKey"]["code"] == 401 and r["wrongAuthKey"]["info"]["errors"]["base"]
    assert r["duplicateLogin"]["code"] == 422 and "login" in r["duplicateLogin"]["info"]["errors"]
    assert r["missingDialog"]["code"] == 404 and r["missingDialog"]["info"]["errors"]
    assert r["badDialogId"]["code"] in (400, 404, 422) and r["badDialogId"]["info"]["errors"]


def test_server_log_has_no_secrets(sdk, e2e_server):
    r = sdk("log_probe")
    assert r["message"]["message"].startswith("secret-body-")
    assert r["wrong"]["code"] == 401
    log = e2e_server.log()
    assert "REST API listening" in log  # the log really is the server's
    leaked = [secret for secret in r["secrets"] if secret in log]
    assert not leaked, f"the server log (INFO) contains {len(leaked)} secret(s): tokens/passwords/bodies"


# --- dialogs -------------------------------------------------------------------------------------

def test_dialogs(sdk):
    r = sdk("dialogs")
    u = r["ids"]
    priv, group = r["priv"], r["group"]

    assert OBJECT_ID.match(priv["_id"]) and priv["type"] == 3 and priv["user_id"] == u["alice"]
    assert sorted(priv["occupants_ids"]) == sorted([u["alice"], u["bob"]])
    assert priv["xmpp_room_jid"] is None
    assert r["privAgain"]["_id"] == priv["_id"], "a private dialog is unique per pair of users"

    assert OBJECT_ID.match(group["_id"]) and group["type"] == 2 and group["name"] == "E2E group"
    assert group["description"] == "made by the SDK" and group["user_id"] == u["alice"]
    assert sorted(group["occupants_ids"]) == sorted([u["alice"], u["bob"], u["carol"]])
    assert group["xmpp_room_jid"] == f"{APP_ID}_{group['_id']}@muc.localhost"
    assert group["admins_ids"] == [] and group["unread_messages_count"] == 0
    assert ISO.match(group["created_at"])

    listing = r["aliceList"]
    assert listing["total_entries"] == 2 and ids(listing["items"]) == [group["_id"], priv["_id"]]
    assert ids(r["aliceGroups"]["items"]) == [group["_id"]]
    assert sorted(ids(r["aliceTypeIn"]["items"])) == sorted([group["_id"], priv["_id"]])
    count = r["aliceCount"]  # the docs leave the count=1 shape open; the SDK passes it through
    assert 2 in (count.get("items_count"), count.get("total_entries"), (count.get("items") or {}).get("count")), count
    page = r["alicePage"]
    assert page["limit"] == 1 and page["total_entries"] == 2 and ids(page["items"]) == [group["_id"]]

    renamed = r["renamed"]
    assert renamed["name"] == "E2E renamed"
    assert sorted(renamed["occupants_ids"]) == sorted([u["alice"], u["bob"], u["carol"], u["dave"]])
    assert sorted(r["pulled"]["occupants_ids"]) == sorted([u["alice"], u["bob"], u["dave"]])
    assert r["withAdmin"]["admins_ids"] == [u["bob"]]
    assert r["byAdmin"]["description"] == "edited by admin bob" and r["byAdmin"]["name"] == "E2E renamed"

    assert r["notifOff"] == {"notifications": {"enabled": 0}}
    assert r["notifBob"] == {"notifications": {"enabled": 0}}
    assert r["notifAlice"] == {"notifications": {"enabled": 1}}

    assert sorted(ids(r["bobList"]["items"])) == sorted([group["_id"], priv["_id"]])
    assert ids(r["carolList"]["items"]) == [] and r["carolList"]["total_entries"] == 0
    assert ids(r["daveList"]["items"]) == [group["_id"]]
    assert r["carolUpdate"]["code"] in (403, 404) and r["carolUpdate"]["info"]["errors"]
    assert r["daveUpdate"]["code"] == 403 and r["daveUpdate"]["info"]["errors"]

    bulk = r["bulkDeleted"]  # several ids: the SDK parses JSON
    assert sorted(bulk["SuccessfullyDeleted"]["ids"]) == sorted([r["spareA"]["_id"], r["spareB"]["_id"]])
    assert bulk["NotFound"]["ids"] == ["0123456789abcdef01234567"] and bulk["WrongPermissions"]["ids"] == []
    assert not {r["spareA"]["_id"], r["spareB"]["_id"]} & set(ids(r["bobAfterBulk"]["items"])), \
        "force=1 by the owner deletes the dialog for everyone"
    assert r["withoutAdmin"]["admins_ids"] == []

    assert isinstance(r["deleted"], str)  # one id: the SDK reads the body as text
    assert ids(r["aliceListAfter"]["items"]) == [group["_id"]]
    assert priv["_id"] in ids(r["bobListAfterDelete"]["items"]), "delete without force is for the caller only"


# --- messages, reactions, search ---------------------------------------------------------------

def test_messages_reactions_search(sdk):
    r = sdk("messages")
    u, tag, d = r["ids"], r["tag"], r["dialog"]["_id"]
    m1, m2, m3, reply = r["m1"], r["m2"], r["m3"], r["bobReply"]

    for m in (m1, m2, m3, reply):
        assert OBJECT_ID.match(m["_id"]) and m["chat_dialog_id"] == d
        assert isinstance(m["date_sent"], int)
    assert m1["message"] == f"hello {tag} one" and m1["sender_id"] == u["alice"]
    assert m2["mood"] == "happy", "custom keys come back at the top level"
    assert m3["attachments"][0]["type"] == "image" and m3["attachments"][0]["uid"] == "abc123"
    assert reply["sender_id"] == u["bob"]

    direct = r["direct"]  # no dialog given: the private dialog of the pair is created on the fly
    assert OBJECT_ID.match(direct["chat_dialog_id"]) and direct["chat_dialog_id"] != d
    assert direct["recipient_id"] == u["bob"] and direct["sender_id"] == u["alice"]
    assert ids(r["bobDirect"]["items"]) == [direct["_id"]]
    assert r["bobDirect"]["items"][0]["message"] == f"direct {tag}"

    history = r["bobHistory"]["items"]
    assert ids(history) == [m1["_id"], m2["_id"], m3["_id"], reply["_id"]]
    assert [m["message"] for m in history] == [m1["message"], m2["message"], m3["message"], reply["message"]]
    assert history[1]["mood"] == "happy"
    assert ids(r["bobHistoryDesc"]["items"]) == [reply["_id"], m3["_id"]]

    assert r["unreadBefore"] == {"total": 3, d: 3}
    dialog = by_id(r["bobDialogBefore"]["items"])[d]
    assert dialog["unread_messages_count"] == 3
    assert dialog["last_message"] == reply["message"] and dialog["last_message_user_id"] == u["bob"]
    assert dialog["last_message_id"] == reply["_id"] and isinstance(dialog["last_message_date_sent"], int)

    assert r["unreadAfter"] == {"total": 2, d: 2}
    assert r["unreadAll"]["total"] == 3 and r["unreadAll"].get(d, 2) == 2  # + the unread direct message

    assert r["reactionsM1"] == {"🔥": [u["alice"]]}
    assert r["reactionsM1After"] == {}, "alice removed her only reaction on m1"
    assert {k: sorted(v) for k, v in r["reactions"].items()} == {"👍": sorted([u["alice"], u["bob"]])}

    found = r["search"]["results"]
    assert ids(found["messages"]) == [m3["_id"]], found
    assert "zebra" in found["messages"][0]["message"]

    # DELETE /chat/Message is a TEXT endpoint for the SDK: the app gets the JSON as a string
    assert parse_text(r["deleteForce"])["SuccessfullyDeleted"]["ids"] == [m3["_id"]]
    assert parse_text(r["deleteOwn"])["SuccessfullyDeleted"]["ids"] == [m1["_id"]]
    bob_force = parse_text(r["bobForceOther"])

    alice_after = by_id(r["aliceAfter"]["items"])
    assert list(alice_after) == [m1["_id"], m2["_id"], reply["_id"]], "m3 is gone for everyone"
    assert alice_after[m1["_id"]]["message"] == f"hello {tag} edited"
    assert alice_after[m2["_id"]]["reactions"] == {"own": ["👍"], "total": {"👍": 2}}
    assert u["bob"] in alice_after[m1["_id"]]["read_ids"]

    bob_after = by_id(r["bobAfter"]["items"])
    assert m1["_id"] not in bob_after, "bob deleted m1 for himself"
    assert m3["_id"] not in bob_after and reply["_id"] in bob_after
    # bob may not remove alice's m2 for everyone: it is refused, or removed for bob only
    assert m2["_id"] in alice_after
    if m2["_id"] in bob_force["WrongPermissions"]["ids"]:
        assert m2["_id"] in bob_after
    else:
        assert bob_force["SuccessfullyDeleted"]["ids"] == [m2["_id"]] and m2["_id"] not in bob_after
    assert r["unreadFinal"] == {"total": 0, d: 0}


# --- blobs ---------------------------------------------------------------------------------------

def test_blob_upload_info_and_download(sdk):
    r = sdk("blobs")
    payload, blob = r["payload"], r["blob"]
    assert blob["name"] == "e2e.bin" and blob["size"] == payload["length"] and blob["public"] is False
    assert blob["content_type"] == "application/octet-stream" and blob["uid"]

    info = r["info"]["blob"]
    assert info["id"] == blob["id"] and info["uid"] == blob["uid"] and info["size"] == payload["length"]

    assert r["privateUrl"].endswith(f"/blobs/{blob['uid']}?token={r['token']}")
    got = r["viaPrivateUrl"]
    assert got["status"] == 200 and got["length"] == payload["length"] and got["sha256"] == payload["sha256"]
    no_token = r["withoutToken"]
    assert no_token["status"] in (401, 403, 404) and no_token["sha256"] != payload["sha256"]

    text, pub = r["text"], r["pub"]
    assert pub["public"] is True and pub["size"] == text["length"] and pub["uid"] != blob["uid"]
    assert r["pubInfo"]["blob"]["id"] == pub["id"]
    public = r["viaPublicUrl"]
    assert public["status"] == 200 and public["sha256"] == text["sha256"]

    assert r["byUid"]["blob"]["id"] == blob["id"] and r["byUid"]["blob"]["uid"] == blob["uid"]
    listed = [item.get("blob", item) for item in r["listed"]["items"]]
    assert sorted(b["id"] for b in listed) == sorted([blob["id"], pub["id"]])
    assert r["listed"]["total_entries"] == 2
    assert r["infoAfterDelete"]["code"] == 404 and r["infoAfterDelete"]["info"]["errors"]
    assert r["downloadAfterDelete"]["status"] == 404
