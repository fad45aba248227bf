"""TLS on c2s as stock clients meet it: STARTTLS on the client port, direct TLS on its own port,
the self-signed certificate refused until the client trusts it, or not checked at all."""
from __future__ import annotations

import asyncio
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from bridge.certificates import self_signed_files
from tests.bridge.conftest import Client, is_message, new_id


async def test_a_verifying_client_logs_in_once_it_trusts_the_certificate(server, rest, xmpp):
    user = await rest.new_user()
    stranger = Client(user, server.settings)
    stranger.xmpp.ca_certs = None  # only the system's CAs: the self-signed certificate is unknown
    with pytest.raises(ConnectionRefusedError):
        await stranger.connect()
    assert isinstance(stranger.tls_failure, ssl.SSLCertVerificationError)
    assert not stranger.xmpp.authenticated
    # "trust this certificate": the same client with the server's certificate as its anchor
    client = await xmpp(user)
    assert client.xmpp.boundjid.bare == user["jid"] and "starttls" in client.xmpp.features
    assert client.xmpp.transport.get_extra_info("ssl_object").version().startswith("TLSv1.")


async def test_a_client_told_not_to_verify_logs_in_at_once(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice = await xmpp(a, verify=False)
    bob = await xmpp(b)
    mid = new_id()
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{mid}"><body>over TLS</body></message>')
    await bob.wait_for(lambda s: is_message(s, id=mid))


async def test_direct_tls_on_its_own_port(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice = await xmpp(a, direct_tls=True)
    bob = await xmpp(b, direct_tls=True, verify=False)
    assert alice.xmpp.transport.get_extra_info("ssl_object") is not None
    assert "starttls" not in alice.xmpp.features  # TLS from the first byte
    mid = new_id()
    bob.send(f'<message to="{a["jid"]}" type="chat" id="{mid}"><body>direct</body></message>')
    await alice.wait_for(lambda s: is_message(s, id=mid))


async def test_prosody_serves_the_certificate_kept_under_the_data_directory(server):
    path = self_signed_files(server.settings.data_dir).certificate
    context = ssl.create_default_context(cafile=str(path))
    _, writer = await asyncio.wait_for(asyncio.open_connection(
        "127.0.0.1", server.settings.xmpp.c2s_direct_tls_port, ssl=context,
        server_hostname="localhost"), 5)
    served = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    kept = x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)
    assert served == kept
