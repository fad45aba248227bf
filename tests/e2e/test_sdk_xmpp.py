"""The REAL `connectycube@6.1.2` SDK's chat over websocket, against the REAL `chatbridge serve`
(embedded Prosody + the bridge): 1:1 and group messages, receipts, typing, edits, deletes,
reactions and REST messages arriving in real time, system messages, last activity, MUC join/leave.
"""
from __future__ import annotations

import json
import re
import subprocess
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import APP_ID, AUTH_KEY, E2E_DIR, SCENARIO_TIMEOUT

pytestmark = pytest.mark.e2e

DRIVER = E2E_DIR / "sdk_chat_driver.cjs"


@pytest.fixture
def chat(node_ready, e2e_server):
    # The SDK takes the XMPP domain from chat_url's host: it must be the VirtualHost (localhost).
    chat_url = f"ws://localhost:{e2e_server.env['CHAT_XMPP__HTTP_PORT']}/xmpp-websocket"

    def run(scenario: str) -> dict[str, Any]:
        config = {"scenario": scenario, "api_url": e2e_server.base_url, "app_id": APP_ID,
                  "auth_key": AUTH_KEY, "chat_url": chat_url, "run_id": f"x{uuid.uuid4().hex[:8]}"}
        done = subprocess.run([node_ready, str(DRIVER)], input=json.dumps(config), cwd=E2E_DIR,
                              capture_output=True, text=True, timeout=SCENARIO_TIMEOUT)
        try:
            report = json.loads(done.stdout)
        except ValueError:
            pytest.fail(f"driver printed no JSON (exit {done.returncode}):\n{done.stdout[-2000:]}\n"
                        f"{done.stderr[-2000:]}")
        if not report.get("ok"):
            events = "\n".join(json.dumps(e, ensure_ascii=False) for e in report.get("events", []))
            pytest.fail(f"SDK chat scenario {scenario!r} failed at {report.get('step')!r}: "
                        f"{json.dumps(report.get('error'))}\nlistener events:\n{events}\n"
                        f"server log:\n{e2e_server.log_tail(30)}")
        return report["result"]

    return run


def test_private_chat(chat):
    r = chat("private_chat")
    alice, bob, dialog_id = r["alice"], r["bob"], r["dialog"]["_id"]
    assert r["fromId"] == alice
    received = r["received"]
    assert received["body"] == "hello bob" and received["dialog_id"] == dialog_id
    assert received["extension"]["color"] == "red"
    assert r["delivered"] == [r["messageId"], dialog_id, bob]
    assert r["read"] == [r["messageId"], dialog_id, bob]
    assert r["typing"][:2] == [True, alice]
    assert r["edited"][:5] == [r["messageId"], True, "hello bob (edited)", dialog_id, alice]
    assert r["system"]["userId"] == alice and r["system"]["body"] == "sys"
    assert r["system"]["extension"] == {"param1": "v1"}
    assert r["reaction"][:4] == [r["messageId"], bob, dialog_id, "👍"]
    assert r["viaRest"]["body"] == "via rest" and r["viaRest"]["dialog_id"] == dialog_id
    assert r["lastActivity"] == {"userId": bob, "seconds": 0}
    assert r["deleted"] == [r["restMessage"]["_id"], dialog_id, alice]
    [stored] = r["history"]["items"]  # the REST message was deleted for everyone
    assert stored["_id"] == r["messageId"] and stored["message"] == "hello bob (edited)"
    assert bob in stored["read_ids"] and bob in stored["delivered_ids"]
    assert stored["reactions"]["total"] == {"👍": 1}
    [listed] = r["dialogs"]["items"]
    assert listed["unread_messages_count"] == 0


def test_group_chat(chat):
    r = chat("group_chat")
    alice, bob, dialog_id = r["alice"], r["bob"], r["dialog"]["_id"]
    assert sorted(r["online"]) == sorted([alice, bob])
    assert r["fromId"] == alice and r["echoFrom"] == alice
    assert r["received"]["body"] == "hello group" and r["received"]["dialog_id"] == dialog_id
    assert r["delivered"] == [r["messageId"], dialog_id, bob]
    assert r["typing"] == [True, bob, dialog_id]
    assert r["viaRest"]["body"] == "group via rest"
    ids = [m["_id"] for m in r["history"]["items"]]
    assert ids == [r["messageId"], r["restMessage"]["_id"]]


def test_new_login_notice_and_ending_a_session_disconnect_the_sdk(chat):
    r = chat("sessions")
    notice = r["notice"]
    assert notice["userId"] == r["phone"] and notice["body"] == "New login to your account"
    assert notice["extension"]["notification_type"] == "new_login"
    assert notice["extension"]["udid"] == "e2e-laptop"
    assert int(notice["extension"]["session_id"]) in {item["id"] for item in r["listed"]["items"]}
    assert r["ended"] == 200 and r["connectedAfter"] is False


def test_conversation_events_edits_and_archive(chat):
    r = chat("conversation_events")
    dialog_id = r["dialog"]["_id"]
    added, added_dave = r["added"], r["addedDave"]
    # onSystemMessageListener({id, userId (the actor, from "from"), body, extension})
    assert added["userId"] == r["alice"] and added["id"] == added_dave["id"]
    assert added["extension"]["user_ids"] == str(r["dave"])
    assert added["extension"]["actor_id"] == str(r["alice"])
    assert added["extension"]["dialog_type"] == "2" and "moduleIdentifier" not in added["extension"]
    # "{alice's login} added {dave's login}" (logins are `{run}_{tag}_{hex}`)
    assert re.fullmatch(r"x[0-9a-f]{8}_alice_[0-9a-f]{6} added x[0-9a-f]{8}_dave_[0-9a-f]{6}",
                        added["body"]), added["body"]
    assert r["renamed"]["extension"]["name"] == "e2e renamed"
    assert r["removed"]["extension"]["user_ids"] == str(r["carol"])
    assert r["removed"]["extension"]["dialog_id"] == dialog_id
    assert r["carolRenames"] == 0  # the removed member learns only of the removal
    # onMessageUpdateListener(id, last, body, dialogId, userId, extension)
    message_id, last, body, edited_dialog, user_id, extension = r["edited"]
    assert message_id == r["sent"]["_id"] and last is True and body == "look"
    assert edited_dialog == dialog_id and user_id == r["alice"]
    assert extension["topic"] == "new"
    assert extension["attachments"] == [{"type": "image", "uid": "u1", "size": 7}]
    assert r["archived"]["archived"] == 1 and r["archived"]["_id"] == dialog_id
    assert [d["_id"] for d in r["inArchive"]["items"]] == [dialog_id]
    assert dialog_id not in [d["_id"] for d in r["outside"]["items"]]


def test_privacy_list_is_the_block_list(chat):
    """The SDK's `chat.privacylist` (create, setAsDefault, getList, getNames, update) on the one
    block list: REST sees it once it is the default, the blocked user's 1:1 message comes back as
    the error the SDK reports (code 503), the SDK's update lifts it."""
    r = chat("privacy_list")
    bob = r["bob"]
    assert r["beforeDefault"] == [] and r["blocked"] == [bob]
    assert r["list"] == {"name": "blocklist", "items": [{"user_id": bob, "action": "deny"}]}
    assert r["names"]["default"] == "blocklist" and "blocklist" in r["names"]["names"]
    assert r["error"]["code"] == 503 and r["refusedSeen"] is False
    assert r["after"] == [] and r["fromId"] == bob
