"""`chatbridge doctor`: a healthy setup has no error (exit 0), and each wrong thing it looks for is
named with what to do (exit 1): a missing or wrong certificate, bad push credentials, an
unreachable store, no Prosody, unreadable settings."""
from __future__ import annotations

import datetime
import json
import os
import stat

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from bridge.certificates import TlsFiles, self_signed
from chatbridge.cli import main
from push.vapid import generate_key_file
from tests.e2e.conftest import free_port


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture
def healthy(tmp_path, monkeypatch):
    """Every part configured and right; returns a setter for the environment."""
    for name in list(os.environ):
        if name.startswith("CHAT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    prosody = tmp_path / "bin" / "prosody"
    prosody.parent.mkdir()
    prosody.write_text("#!/bin/sh\nexit 0\n")
    prosody.chmod(prosody.stat().st_mode | stat.S_IXUSR)
    tls = self_signed(TlsFiles(tmp_path / "tls" / "c.pem", tmp_path / "tls" / "k.pem", False),
                      ["chat.example.com", "muc.chat.example.com", "proxy.chat.example.com",
                       "*.chat.example.com"])
    p8 = tmp_path / "AuthKey.p8"
    p8.write_bytes(_pem_key(ec.generate_private_key(ec.SECP256R1())))
    account = tmp_path / "fcm.json"
    account.write_text(json.dumps({
        "type": "service_account", "project_id": "demo", "client_email": "x@demo.iam.example",
        "token_uri": "https://oauth2.example/token",
        "private_key": _pem_key(rsa.generate_private_key(65537, 2048)).decode()}))
    vapid = tmp_path / "vapid.pem"
    generate_key_file(vapid)
    env = {
        "CHAT_DATA_DIR": str(tmp_path / "data"), "CHAT_HTTP__PORT": str(free_port()),
        "CHAT_APP__AUTH_KEY": "my-own-auth-key", "CHAT_XMPP__DOMAIN": "chat.example.com",
        "CHAT_XMPP__PROSODY_COMMAND": str(prosody),
        "CHAT_XMPP__TLS_CERTIFICATE": str(tls.certificate), "CHAT_XMPP__TLS_KEY": str(tls.key),
        "CHAT_PUSH__APNS__KEY_FILE": str(p8), "CHAT_PUSH__APNS__KEY_ID": "ABC123DEFG",
        "CHAT_PUSH__APNS__TEAM_ID": "TEAM123456", "CHAT_PUSH__APNS__TOPIC": "com.example.chat",
        "CHAT_PUSH__FCM__SERVICE_ACCOUNT_FILE": str(account),
        "CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY_FILE": str(vapid),
    }
    if os.environ.get("CHAT_TEST_MONGO_URL"):
        env["CHAT_MONGO__URL"] = os.environ["CHAT_TEST_MONGO_URL"]
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def doctor(**changes: str):
        for name, value in changes.items():
            monkeypatch.setenv(name, value)
        return CliRunner().invoke(main, ["doctor"], catch_exceptions=False)

    doctor.tmp = tmp_path
    return doctor


def _lines(result, mark: str) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith(mark)]


def test_a_healthy_setup(healthy):
    result = healthy()
    assert result.exit_code == 0, result.output
    assert _lines(result, "✗") == []
    assert "0 errors" in result.output
    for said in ("Prosody: ", "CHAT_XMPP__TLS_CERTIFICATE: ", "APNs: token auth for com.example.chat",
                 "FCM: service account x@demo.iam.example", "WebPush: VAPID key from the settings"):
        assert any(said in line for line in _lines(result, "✓")), (said, result.output)
    if not os.environ.get("CHAT_TEST_MONGO_URL"):  # the embedded store is said, not an error
        assert any("embedded in-memory store" in line for line in _lines(result, "!"))
    else:
        assert any("MongoDB answers" in line for line in _lines(result, "✓"))


def _error(result, *words: str) -> str:
    assert result.exit_code == 1, result.output
    errors = _lines(result, "✗")
    found = [line for line in errors if all(w in line for w in words)]
    assert found, (words, result.output)
    return found[0]


def test_a_missing_certificate(healthy):
    _error(healthy(CHAT_XMPP__TLS_CERTIFICATE=str(healthy.tmp / "nope.pem")),
           "certificates", "cannot read", "nope.pem")


def test_a_certificate_without_its_key_or_with_another(healthy):
    _error(healthy(CHAT_XMPP__TLS_KEY=""), "set both CHAT_XMPP__TLS_CERTIFICATE")
    other = healthy.tmp / "other.pem"
    other.write_bytes(_pem_key(ec.generate_private_key(ec.SECP256R1())))
    _error(healthy(CHAT_XMPP__TLS_KEY=str(other)), "is not the key of")


def test_an_expired_certificate(healthy):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chat.example.com")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=400))
            .not_valid_after(now - datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    (healthy.tmp / "old.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (healthy.tmp / "old.key").write_bytes(_pem_key(key))
    _error(healthy(CHAT_XMPP__TLS_CERTIFICATE=str(healthy.tmp / "old.pem"),
                   CHAT_XMPP__TLS_KEY=str(healthy.tmp / "old.key")), "expired on")


def test_bad_push_credentials(healthy):
    bad = healthy.tmp / "bad.json"
    bad.write_text("{not json")
    _error(healthy(CHAT_PUSH__FCM__SERVICE_ACCOUNT_FILE=str(bad)), "FCM", "is not JSON")
    bad.write_text(json.dumps({"type": "authorized_user"}))
    _error(healthy(CHAT_PUSH__FCM__SERVICE_ACCOUNT_FILE=str(bad)), "FCM", "not a service account")
    bad.write_text(json.dumps({"type": "service_account", "project_id": "p"}))
    _error(healthy(CHAT_PUSH__FCM__SERVICE_ACCOUNT_FILE=str(bad)), "FCM", "lacks private_key")


def test_bad_apns_and_webpush_keys(healthy):
    garbage = healthy.tmp / "garbage.p8"
    garbage.write_text("not a key")
    _error(healthy(CHAT_PUSH__APNS__KEY_FILE=str(garbage)), "APNs", "not a .p8 PEM private key")
    _error(healthy(CHAT_PUSH__APNS__KEY_FILE=str(garbage), CHAT_PUSH__APNS__TEAM_ID=""),
           "APNs is half configured", "CHAT_PUSH__APNS__TEAM_ID")
    _error(healthy(CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY_FILE=str(garbage)), "WebPush", "VAPID")


def test_an_unreachable_store(healthy):
    line = _error(healthy(CHAT_MONGO__URL=f"mongodb://127.0.0.1:{free_port()}/",
                          CHAT_MONGO__TIMEOUT_MS="300"), "store", "does not answer")
    assert "CHAT_MONGO__URL" in line


def test_prosody_missing(healthy):
    _error(healthy(CHAT_XMPP__PROSODY_COMMAND=str(healthy.tmp / "no-prosody")), "prosody",
           "not found", "apt-get install prosody")


def test_an_external_xmpp_server_that_does_not_answer(healthy):
    result = healthy(CHAT_XMPP__EMBEDDED="false", CHAT_XMPP__COMPONENT_PORT=str(free_port()))
    _error(result, "prosody", "does not answer")
    _error(result, "CHAT_XMPP__COMPONENT_SECRET is not set")


def test_unreadable_settings(healthy):
    result = healthy(CHAT_HTTP__PORT="eighty")
    assert result.exit_code == 1 and "CHAT_HTTP__PORT" in result.output
    assert "Traceback" not in result.output
