"""Our Prosody modules on their own: loaded by lua5.4 with Prosody's util.stanza in a stand-in module
environment (tests/bridge/lua/prosody_env.lua), so failures that a running server hides (a copy that
breaks, a bridge that stops reading, a block list cache that drifts) are checked directly. The end-to-end paths are in
test_prosody.py, test_private.py and test_reconnect.py."""
from __future__ import annotations

import re
import shutil
import subprocess
from xml.etree import ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).resolve().parent / "lua"


def run_lua(script: str, module: str, *args: str) -> list[list[str]]:
    lua = shutil.which("lua5.4")
    assert lua, "lua5.4 comes with Debian's prosody package: run `make system-deps`"
    done = subprocess.run([lua, str(HARNESS / script), str(ROOT / "config" / module), *args],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return [line.split("\t") for line in done.stdout.splitlines()]


def test_copies_are_one_serialisation_and_never_change_the_original():
    lines = run_lua("copies.lua", "mod_chatbridge_copies.lua", "ok")
    handed = [line for line in lines if line[0] == "handed"]
    assert [line[1:3] for line in handed] == [["chatbridge-copy", "localhost"]] * 5
    first = handed[0][3]
    assert first.startswith("<message ") and "xmlns='jabber:client'" in first
    assert "<body>hi &lt;&amp;&gt;</body>" in first and "<save_to_history>1</save_to_history>" in first
    # typing alone (m2), groupchat (m3) and the bridge's own (m6) are not copied; a body with a chat
    # state and a marker are
    assert ["id='m4'" in handed[1][3], "id='m5'" in handed[2][3]] == [True, True]
    # the handler never stops delivery and leaves the original's namespace as it was
    assert [line for line in lines if line[0] == "returned"] == [["returned", "nil", "xmlns", "nil"]] * 8
    # XEP-0359: what the bridge stores carries its stored id before delivery (the copy shows it)
    def stanza_id(xml: str) -> str | None:
        message = ET.fromstring(xml)
        found = message.find("{urn:xmpp:sid:0}stanza-id")  # a direct child of the message
        assert found is None or found.get("by") == "2-1@localhost"
        return None if found is None else found.get("id")

    assert re.fullmatch(r"[0-9a-f]{24}", stanza_id(first))  # save_to_history=1, not an ObjectId id
    assert re.fullmatch(r"[0-9a-f]{24}", stanza_id(handed[1][3]))  # a plain client's (no extraParams)
    assert stanza_id(handed[2][3]) is None  # a marker
    assert "stanza-id" not in handed[3][3] and "forged" in handed[3][3]  # the client's removed
    assert stanza_id(handed[4][3]) == "65a1b2c3d4e5f60718293a4b"
    assert ["priorities", "0.1", "0.1"] in lines  # after privacy lists (500), before delivery (0)
    assert not [line for line in lines if line[0] == "log"]


@pytest.mark.parametrize("mode, logged", [
    ("failing", "error 1:1 copy failed (1 so far; the message itself is delivered): "),
    ("missing", "error no mod_chatbridge_spool on muc.localhost: 1:1 copies are not reaching the bridge"),
])
def test_a_copy_that_fails_is_logged_once_and_delivery_goes_on(mode, logged):
    lines = run_lua("copies.lua", "mod_chatbridge_copies.lua", mode)
    assert [line for line in lines if line[0] == "returned"] == [["returned", "nil", "xmlns", "nil"]] * 8
    logs = [line[1] for line in lines if line[0] == "log"]
    assert len(logs) == 1 and logs[0].startswith(logged)


def test_spool_numbers_keeps_writes_early_and_sends_again_after_a_reconnect():
    lines = {line[0]: line[1:] for line in run_lua("spool.lua", "mod_chatbridge_spool.lua")}
    assert lines["handled"] == ["true", "true"]
    assert lines["sent"][0] == "2"
    assert re.fullmatch(r"<message to='chat@muc\.localhost' from='localhost' id='cbs-1' boot='[0-9a-f]{14,}' "
                        r"stamp='\d+'><forwarded xmlns='urn:xmpp:forward:0'><message id='m1'/></forwarded>"
                        r"</message>", lines["sent"][1]), lines["sent"][1]
    assert lines["writes"] == ["1"]  # every 2nd copy (chatbridge_spool_flush_every = 2) is written now
    assert lines["writes while blocked"] == ["2"]  # a write left data behind: no more tries
    assert lines["forged copy"] == ["true"]  # routed to chat@ by anyone: dropped
    assert lines["room message"] == ["nil"]  # mod_component's
    assert lines["ack from a user"] == ["true"]  # swallowed, acknowledges nothing
    # at most chatbridge_spool_max = 3 kept (m4..m6); an ack of 4 leaves m5 and m6
    assert lines["resent before ack"][0] == "3" and "id='cbs-4'" in lines["resent before ack"][1]
    assert lines["resent after ack"][0] == "2"
    assert "id='cbs-5'" in lines["resent after ack"][1] and "id='cbs-6'" in lines["resent after ack"][2]
    assert lines["sent while disconnected"] == ["0"]


def test_blocklist_cache_refusals_updates_and_pushes():
    lines = [line for line in run_lua("blocklist.lua", "mod_chatbridge_blocklist.lua")]
    tries = [line[1:] for line in lines if line[0] == "try"]
    assert lines[0] == ["asked", "muc.localhost", "peers", "1-1@localhost"]
    assert tries == [
        # (sender, kind, to, stopped, condition, legacy code, XEP-0191 <blocked/>)
        ["1-1", "message", "2-1@localhost", "true", "service-unavailable", "503", "-"],
        ["1-1", "message", "3-1@localhost", "true", "not-acceptable", "406", "blocked"],
        ["1-1", "iq", "2-1@localhost", "true", "service-unavailable", "503", "-"],
        ["1-1", "presence", "3-1@localhost", "true", "-", "-", "-"],
        ["1-1", "message", "4-1@localhost", "nil", "-", "-", "-"],
        # after the update: dave blocked (both sides know), carol unblocked
        ["1-1", "message", "4-1@localhost", "true", "not-acceptable", "406", "blocked"],
        ["1-1", "message", "3-1@localhost", "nil", "-", "-", "-"],
        ["4-1", "message", "1-1@localhost", "true", "service-unavailable", "503", "-"],
        # a forged update changed nothing
        ["1-1", "message", "2-1@localhost", "true", "service-unavailable", "503", "-"],
    ]
    # an update during dave's load: his relations were asked again
    assert ["asked again", "3", "4-1@localhost"] in lines
    assert [line[1:] for line in lines if line[0] == "push"] == [
        ["set", "1-1@localhost/a", "block", "4-1@localhost"],
        ["set", "1-1@localhost/a", "unblock", "3-1@localhost"]]
    assert ["forged", "true"] in lines and ["update", "true"] in lines
