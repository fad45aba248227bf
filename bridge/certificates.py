"""The certificate Prosody offers on c2s (STARTTLS and direct TLS).

An operator's own certificate and key (`CHAT_XMPP__TLS_CERTIFICATE` / `__TLS_KEY`, e.g. from an
ACME client) are used as they are, after a check that both can be read. Without them a self-signed
certificate is made on first start in `{data_dir}/tls/` (not in Prosody's per-store state, which
an embedded start deletes) and reused after, so a client that was told to trust it once keeps
trusting it; it is made again only when it no longer covers the XMPP names (another
`CHAT_XMPP__DOMAIN`) or is about to expire. The key is written owner-only (0600).
"""
from __future__ import annotations

import datetime
import ipaddress
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from config.settings import Settings, XmppSettings

logger = logging.getLogger(__name__)

VALID_DAYS = 10 * 365
RENEW_BEFORE = datetime.timedelta(days=30)


class CertificateError(ValueError):
    pass


@dataclass(frozen=True)
class TlsFiles:
    certificate: Path
    key: Path
    self_signed: bool


def certificate_names(xmpp: XmppSettings) -> list[str]:
    """The DNS names the certificate covers: the domain, our component domains and a wildcard
    for other subdomains (services an operator adds)."""
    names = [xmpp.domain, xmpp.muc_domain, xmpp.proxy65_domain]
    if not _is_ip(xmpp.domain):
        names.append(f"*.{xmpp.domain}")
    return list(dict.fromkeys(names))


def tls_files(settings: Settings) -> TlsFiles:
    xmpp = settings.xmpp
    if xmpp.tls_certificate or xmpp.tls_key:
        if not (xmpp.tls_certificate and xmpp.tls_key):
            raise CertificateError("set both CHAT_XMPP__TLS_CERTIFICATE and CHAT_XMPP__TLS_KEY "
                                   "(or neither, for a self-signed certificate)")
        return TlsFiles(_readable("CHAT_XMPP__TLS_CERTIFICATE", xmpp.tls_certificate),
                        _readable("CHAT_XMPP__TLS_KEY", xmpp.tls_key), self_signed=False)
    return self_signed(self_signed_files(settings.data_dir), certificate_names(xmpp))


def self_signed_files(data_dir: Path) -> TlsFiles:
    """Where the self-signed certificate of a data directory is kept."""
    directory = (data_dir / "tls").resolve()
    return TlsFiles(directory / "xmpp.crt", directory / "xmpp.key", self_signed=True)


def _readable(setting: str, value: str) -> Path:
    path = Path(value).expanduser().resolve()
    try:
        with path.open("rb") as handle:
            if not handle.read(1):
                raise CertificateError(f"{setting}: {path} is empty")
    except OSError as exc:
        raise CertificateError(f"{setting}: cannot read {path}: {exc.strerror}") from None
    return path


def self_signed(files: TlsFiles, names: list[str]) -> TlsFiles:
    """The certificate and key at `files`, made (again) unless they are there and cover `names`."""
    if _reusable(files, names):
        return files
    files.key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alt_names = [x509.IPAddress(ipaddress.ip_address(n)) if _is_ip(n) else x509.DNSName(n)
                 for n in names]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    _write(files.key, key_pem, 0o600)
    _write(files.certificate, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    logger.info("made a self-signed XMPP certificate for %s: %s (SHA-256 %s)", ", ".join(names),
                files.certificate, fingerprint(files.certificate))
    return files


def fingerprint(path: Path) -> str:
    """The SHA-256 fingerprint clients show in their "trust this certificate" dialogs."""
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def _reusable(files: TlsFiles, names: list[str]) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(files.certificate.read_bytes())
        key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    except (OSError, ValueError):
        return False
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*spki) != certificate.public_key().public_bytes(*spki):
        return False
    if certificate.not_valid_after_utc - RENEW_BEFORE < datetime.datetime.now(datetime.timezone.utc):
        return False
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    covered = {str(n) for n in san.get_values_for_type(x509.DNSName)}
    covered |= {str(n) for n in san.get_values_for_type(x509.IPAddress)}
    return all(name in covered for name in names)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Written whole to a temporary file and renamed: a reader never sees half a key."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
