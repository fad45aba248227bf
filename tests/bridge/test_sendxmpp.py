"""Debian's go-sendxmpp, a stock client that refuses to authenticate without TLS, against the
embedded Prosody: STARTTLS (verifying the self-signed certificate once it is trusted) and direct
TLS, a 1:1 message to a slixmpp client, a message to a room."""
from __future__ import annotations

import asyncio
import os
import shutil

import pytest

from bridge.certificates import self_signed_files
from tests.bridge.conftest import is_message, sub

pytestmark = pytest.mark.skipif(shutil.which("go-sendxmpp") is None,
                                reason="go-sendxmpp is not installed: run `make system-deps`")


async def sendxmpp(server, user: dict, *args: str, message: str, trust: bool = True,
                   port: int | None = None) -> tuple[int, str]:
    """Runs go-sendxmpp as `user` (JID `{id}-{app}@domain`, the session token as password);
    `trust`: the server's certificate is a CA of the process (Go reads SSL_CERT_FILE)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    env["HOME"] = str(server.settings.data_dir)  # no ~/.config/go-sendxmpp/sendxmpprc of ours
    if trust:
        env["SSL_CERT_FILE"] = str(self_signed_files(server.settings.data_dir).certificate)
    port = port or server.settings.xmpp.c2s_port
    proc = await asyncio.create_subprocess_exec(
        "go-sendxmpp", "-u", user["jid"], "-p", user["token"], "-j", f"localhost:{port}",
        "--timeout", "5", *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env=env)
    out, _ = await asyncio.wait_for(proc.communicate(message.encode()), 30)
    return proc.returncode, out.decode(errors="replace")


async def test_starttls_login_and_a_message_to_a_slixmpp_client(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    bob = await xmpp(b)
    code, out = await sendxmpp(server, a, b["jid"], message="hello from go-sendxmpp")
    assert code == 0, out
    [got] = await bob.wait_for(lambda s: is_message(s) and sub(s, "body") is not None
                               and sub(s, "body").text == "hello from go-sendxmpp")
    assert got.get("from", "").startswith(a["jid"] + "/")


async def test_an_untrusted_certificate_is_refused_unless_verification_is_off(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    bob = await xmpp(b)
    code, out = await sendxmpp(server, a, b["jid"], message="never sent", trust=False)
    assert code != 0 and "certificate" in out, out
    code, out = await sendxmpp(server, a, "-n", b["jid"], message="not verified", trust=False)
    assert code == 0, out
    await bob.wait_for(lambda s: sub(s, "body") is not None and sub(s, "body").text == "not verified")
    await bob.absent(lambda s: sub(s, "body") is not None and sub(s, "body").text == "never sent",
                     wait=0.1)


async def test_direct_tls(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    bob = await xmpp(b)
    code, out = await sendxmpp(server, a, "--tls", b["jid"], message="direct TLS",
                               port=server.settings.xmpp.c2s_direct_tls_port)
    assert code == 0, out
    await bob.wait_for(lambda s: sub(s, "body") is not None and sub(s, "body").text == "direct TLS")


async def test_a_message_to_a_room(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await rest.dialog(a["token"], [b["id"]])
    room = f"1_{dialog['_id']}@muc.localhost"
    bob = await xmpp(b)
    code, out = await sendxmpp(server, a, "-c", room, message="to the room")
    assert code == 0, out

    def in_room(s) -> bool:
        return (is_message(s, type="groupchat") and sub(s, "body") is not None
                and sub(s, "body").text == "to the room")

    [got] = await bob.wait_for(in_room)  # joined as an occupant, fanned out by the bridge
    assert got.get("from") == f"{room}/{a['id']}"  # the numeric user id is the nickname
