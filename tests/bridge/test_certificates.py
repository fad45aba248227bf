"""The c2s certificate: a self-signed one made once under the data directory and reused, or the
operator's own files, checked before Prosody starts."""
from __future__ import annotations

import os
import stat

import pytest
from cryptography import x509

from bridge.certificates import (CertificateError, certificate_names, self_signed_files,
                                 tls_files)
from bridge.prosody import ProsodyFiles, render_config
from tests.bridge.conftest import make_settings


def _dns_names(path) -> set[str]:
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName))


def test_a_self_signed_certificate_is_made_once_and_reused(tmp_path):
    settings = make_settings(tmp_path)
    files = tls_files(settings)
    assert files.self_signed and files == self_signed_files(tmp_path)
    assert files.certificate.parent == (tmp_path / "tls").resolve()
    # not in Prosody's per-store state, which an embedded start deletes
    assert not files.certificate.is_relative_to(ProsodyFiles.under(tmp_path).data.parent)
    assert stat.S_IMODE(os.stat(files.key).st_mode) == 0o600
    assert _dns_names(files.certificate) == {"localhost", "muc.localhost", "proxy.localhost",
                                             "*.localhost"}
    before = files.certificate.read_bytes(), files.key.read_bytes()
    again = tls_files(make_settings(tmp_path))  # the next start
    assert (again.certificate.read_bytes(), again.key.read_bytes()) == before


def test_another_domain_gets_a_new_certificate(tmp_path):
    first = tls_files(make_settings(tmp_path)).certificate.read_bytes()
    settings = make_settings(tmp_path, domain="chat.example.com")
    files = tls_files(settings)
    assert files.certificate.read_bytes() != first
    assert _dns_names(files.certificate) == set(certificate_names(settings.xmpp)) == {
        "chat.example.com", "muc.chat.example.com", "proxy.chat.example.com", "*.chat.example.com"}


def test_a_damaged_key_is_replaced(tmp_path):
    files = tls_files(make_settings(tmp_path))
    files.key.write_text("not a key")
    again = tls_files(make_settings(tmp_path))
    assert b"PRIVATE KEY" in again.key.read_bytes()
    assert stat.S_IMODE(os.stat(again.key).st_mode) == 0o600


def test_the_operators_certificate_is_used_as_it_is(tmp_path):
    own = tls_files(make_settings(tmp_path / "elsewhere"))  # any valid pair
    settings = make_settings(tmp_path, tls_certificate=str(own.certificate), tls_key=str(own.key))
    text = render_config(settings).config.read_text()
    assert f'ssl = {{ certificate = "{own.certificate}"; key = "{own.key}"; }}' in text
    assert not (tmp_path / "tls").exists()  # no self-signed one is made


def test_missing_or_half_configured_operator_files_are_a_clear_error(tmp_path):
    own = tls_files(make_settings(tmp_path / "elsewhere"))
    missing = tmp_path / "missing.pem"
    with pytest.raises(CertificateError, match="CHAT_XMPP__TLS_KEY: cannot read .*missing.pem"):
        render_config(make_settings(tmp_path, tls_certificate=str(own.certificate),
                                    tls_key=str(missing)))
    with pytest.raises(CertificateError, match="CHAT_XMPP__TLS_CERTIFICATE: cannot read"):
        render_config(make_settings(tmp_path, tls_certificate=str(missing), tls_key=str(own.key)))
    with pytest.raises(CertificateError, match="set both"):
        render_config(make_settings(tmp_path, tls_certificate=str(own.certificate)))
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    with pytest.raises(CertificateError, match="is empty"):
        render_config(make_settings(tmp_path, tls_certificate=str(empty), tls_key=str(own.key)))
