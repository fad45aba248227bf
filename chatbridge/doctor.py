"""`chatbridge doctor`: what is missing or wrong in a deployment, said plainly (README
"Operating"). Each check answers ok, warn (works, but an operator should know) or error (a part
will not start or not work); the exit code is 1 when any error was found. Nothing is changed:
no file is made, no key is written."""
from __future__ import annotations

import asyncio
import datetime
import json
import os
import shutil
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import click

from config.settings import Settings

OK, WARN, ERROR = "ok", "warn", "error"
DEV_AUTH_KEY = "chatbridge-dev-auth-key"
RENEW_SOON = datetime.timedelta(days=30)


@dataclass(frozen=True)
class Check:
    area: str
    status: str
    message: str


def _settings_checks(settings: Settings) -> list[Check]:
    out = []
    if settings.app.auth_key.get_secret_value() == DEV_AUTH_KEY:
        out.append(Check("settings", WARN, "CHAT_APP__AUTH_KEY is the development default: set "
                                           "your own before clients use this server"))
    if not settings.xmpp.embedded and settings.xmpp.enabled:
        if "component_secret" not in settings.xmpp.model_fields_set:
            out.append(Check("settings", ERROR, "CHAT_XMPP__COMPONENT_SECRET is not set: an "
                                                "external XMPP server needs the same secret"))
        if "auth_password" not in settings.xmpp.model_fields_set:
            out.append(Check("settings", ERROR, "CHAT_XMPP__AUTH_PASSWORD is not set: an external "
                                                "XMPP server's auth module needs it"))
    data_dir = settings.data_dir
    probe = data_dir if data_dir.exists() else next((p for p in data_dir.resolve().parents
                                                     if p.exists()), Path("/"))
    if not os.access(probe, os.W_OK):
        out.append(Check("settings", ERROR, f"CHAT_DATA_DIR {data_dir} is not writable by this "
                                            "user (keys, TLS, Prosody's state live there)"))
    if not out:
        out.append(Check("settings", OK, "settings load"))
    return out


def _store_checks(settings: Settings) -> list[Check]:
    url = settings.mongo.url.get_secret_value() if settings.mongo.url else ""
    if not url:
        checks = [Check("store", WARN, "no CHAT_MONGO__URL: the embedded in-memory store, whose "
                                       "data is lost when `chatbridge serve` stops")]
        base = f"http://127.0.0.1:{settings.http.port}"
        try:
            with urllib.request.urlopen(base + "/health", timeout=3) as resp:
                checks.append(Check("store", OK, f"`chatbridge serve` answers at {base} "
                                                 f"(/health {resp.status})"))
        except urllib.error.HTTPError as exc:
            checks.append(Check("store", WARN, f"{base}/health answers {exc.code}"))
        except OSError:
            checks.append(Check("store", WARN, f"nothing answers at {base}: `chatbridge serve` is "
                                               "not running (the operator commands need it)"))
        return checks
    from chatbridge import wiring

    error = asyncio.run(wiring.check_store(settings))
    if error:
        return [Check("store", ERROR, f"MongoDB (CHAT_MONGO__URL, database "
                                      f"{settings.mongo.database!r}) does not answer: {error}")]
    return [Check("store", OK, f"MongoDB answers (database {settings.mongo.database!r})")]


def _prosody_checks(settings: Settings) -> list[Check]:
    xmpp = settings.xmpp
    if not xmpp.enabled:
        return [Check("prosody", OK, "the XMPP bridge is off (CHAT_XMPP__ENABLED=false)")]
    if xmpp.embedded:
        found = shutil.which(xmpp.prosody_command)
        if found is None:
            return [Check("prosody", ERROR, f"{xmpp.prosody_command!r} not found: install Prosody "
                                            "(e.g. apt-get install prosody), set "
                                            "CHAT_XMPP__PROSODY_COMMAND to its path, or turn the "
                                            "bridge off with CHAT_XMPP__ENABLED=false")]
        return [Check("prosody", OK, f"Prosody: {found} (started by `chatbridge serve`)")]
    try:
        with socket.create_connection((xmpp.host, xmpp.component_port), timeout=3):
            pass
    except OSError as exc:
        return [Check("prosody", ERROR, f"the external XMPP server does not answer at "
                                        f"{xmpp.host}:{xmpp.component_port} (component port): "
                                        f"{exc.strerror or exc}")]
    return [Check("prosody", OK, f"the external XMPP server answers at {xmpp.host}:"
                                 f"{xmpp.component_port}")]


def _certificate(path: Path, what: str, names: list[str] | None = None) -> list[Check]:
    from cryptography import x509

    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as exc:
        return [Check("certificates", ERROR, f"{what}: cannot read {path}: {exc.strerror}")]
    except ValueError:
        return [Check("certificates", ERROR, f"{what}: {path} is not a PEM certificate")]
    now = datetime.datetime.now(datetime.timezone.utc)
    until = certificate.not_valid_after_utc
    if until <= now:
        return [Check("certificates", ERROR, f"{what}: {path} expired on {until:%Y-%m-%d}")]
    out = []
    if until - now < RENEW_SOON:
        out.append(Check("certificates", WARN, f"{what}: {path} expires on {until:%Y-%m-%d}"))
    if names:
        try:
            covered = certificate.extensions.get_extension_for_class(
                x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
        except x509.ExtensionNotFound:
            covered = []
        missing = [n for n in names if not n.startswith("*.") and n not in covered
                   and f"*.{n.split('.', 1)[-1]}" not in covered]
        if missing:
            out.append(Check("certificates", WARN, f"{what}: {path} does not name "
                                                   f"{', '.join(missing)}"))
    return out or [Check("certificates", OK, f"{what}: {path} valid until {until:%Y-%m-%d}")]


def _key_matches(cert_path: Path, key_path: Path, what: str) -> list[Check]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except OSError as exc:
        return [Check("certificates", ERROR, f"{what}: cannot read {key_path}: {exc.strerror}")]
    except (ValueError, TypeError):
        return [Check("certificates", ERROR, f"{what}: {key_path} is not an unencrypted PEM "
                                             "private key")]
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return []  # said by _certificate
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*spki) != certificate.public_key().public_bytes(*spki):
        return [Check("certificates", ERROR, f"{what}: {key_path} is not the key of {cert_path}")]
    return []


def _certificate_checks(settings: Settings) -> list[Check]:
    xmpp = settings.xmpp
    if not xmpp.enabled or not xmpp.embedded:
        return [Check("certificates", OK, "no XMPP certificate of ours to check (the bridge is off "
                                          "or the XMPP server is external)")]
    from bridge.certificates import certificate_names, self_signed_files

    names = certificate_names(xmpp)
    if xmpp.tls_certificate or xmpp.tls_key:
        if not (xmpp.tls_certificate and xmpp.tls_key):
            return [Check("certificates", ERROR, "set both CHAT_XMPP__TLS_CERTIFICATE and "
                                                 "CHAT_XMPP__TLS_KEY (or neither: a self-signed "
                                                 "certificate is made)")]
        cert = Path(xmpp.tls_certificate).expanduser()
        key = Path(xmpp.tls_key).expanduser()
        return (_certificate(cert, "CHAT_XMPP__TLS_CERTIFICATE", names)
                + _key_matches(cert, key, "CHAT_XMPP__TLS_KEY"))
    files = self_signed_files(settings.data_dir)
    if not files.certificate.exists():
        return [Check("certificates", WARN, f"no CHAT_XMPP__TLS_CERTIFICATE: a self-signed "
                                            f"certificate will be made in {files.certificate.parent}"
                                            " at the first start (clients must be told to trust "
                                            "it)")]
    checks = _certificate(files.certificate, "self-signed XMPP certificate", names)
    checks += _key_matches(files.certificate, files.key, "self-signed XMPP key")
    return checks + [Check("certificates", WARN, "the XMPP certificate is self-signed: set "
                                                 "CHAT_XMPP__TLS_CERTIFICATE / __TLS_KEY for "
                                                 "clients that verify certificates")]


def _apns_checks(settings: Settings) -> list[Check]:
    from cryptography.hazmat.primitives import serialization

    apns = settings.push.apns
    given = [n for n in ("key_file", "key", "key_id", "team_id", "cert_file", "topic")
             if getattr(apns, n)]
    if not given:
        return [Check("push", OK, "APNs: not configured (iOS pushes are not sent)")]
    if not apns.configured():
        missing = [n for n in ("key_id", "team_id", "topic") if not getattr(apns, n)]
        return [Check("push", ERROR, "APNs is half configured: set "
                                     + ", ".join(f"CHAT_PUSH__APNS__{n.upper()}" for n in missing
                                                 or ["KEY_FILE"]))]
    if apns.cert_file:
        try:
            data = apns.cert_file.read_bytes()
            serialization.load_pem_private_key(data, password=None)
            from cryptography import x509

            x509.load_pem_x509_certificate(data)
        except OSError as exc:
            return [Check("push", ERROR, f"APNs: cannot read {apns.cert_file}: {exc.strerror}")]
        except (ValueError, TypeError):
            return [Check("push", ERROR, f"APNs: {apns.cert_file} must hold a PEM certificate "
                                         "and its unencrypted private key")]
        return [Check("push", c.status, c.message)
                for c in _certificate(apns.cert_file, "APNs certificate")]
    try:
        pem = apns.key_file.read_bytes() if apns.key_file else apns.key.get_secret_value().encode()
        serialization.load_pem_private_key(pem, password=None)
    except OSError as exc:
        return [Check("push", ERROR, f"APNs: cannot read {apns.key_file}: {exc.strerror}")]
    except (ValueError, TypeError):
        return [Check("push", ERROR, "APNs: the signing key (CHAT_PUSH__APNS__KEY_FILE / __KEY) "
                                     "is not a .p8 PEM private key")]
    return [Check("push", OK, f"APNs: token auth for {apns.topic}")]


def _fcm_checks(settings: Settings) -> list[Check]:
    fcm = settings.push.fcm
    if not fcm.configured():
        return [Check("push", OK, "FCM: not configured (Android pushes are not sent)")]
    source = str(fcm.service_account_file) if fcm.service_account_file else \
        "CHAT_PUSH__FCM__SERVICE_ACCOUNT_JSON"
    try:
        text = fcm.service_account_file.read_text() if fcm.service_account_file else \
            fcm.service_account_json.get_secret_value()
        account = json.loads(text)
    except OSError as exc:
        return [Check("push", ERROR, f"FCM: cannot read {source}: {exc.strerror}")]
    except ValueError:
        return [Check("push", ERROR, f"FCM: {source} is not JSON (a service account key file)")]
    if not isinstance(account, dict) or account.get("type") != "service_account":
        return [Check("push", ERROR, f"FCM: {source} is not a service account key "
                                     "(\"type\": \"service_account\")")]
    missing = [k for k in ("private_key", "client_email", "token_uri") if not account.get(k)]
    if not (fcm.project_id or account.get("project_id")):
        missing.append("project_id")
    if missing:
        return [Check("push", ERROR, f"FCM: {source} lacks {', '.join(missing)}")]
    from cryptography.hazmat.primitives import serialization

    try:
        serialization.load_pem_private_key(account["private_key"].encode(), password=None)
    except (ValueError, TypeError):
        return [Check("push", ERROR, f"FCM: the private_key of {source} is not a PEM key")]
    return [Check("push", OK, f"FCM: service account {account['client_email']}")]


def _webpush_checks(settings: Settings) -> list[Check]:
    from push.vapid import load_vapid

    webpush = settings.push.webpush
    out = []
    if not webpush.subject.startswith(("mailto:", "https:")):
        out.append(Check("push", ERROR, "CHAT_PUSH__WEBPUSH__SUBJECT must be a mailto: or "
                                        "https: contact"))
    if not webpush.configured():
        return out + [Check("push", OK, "WebPush: the VAPID key is kept in the store (made at "
                                        "the first start)")]
    try:
        load_vapid(webpush)
    except OSError as exc:
        return out + [Check("push", ERROR, f"WebPush: cannot read {webpush.vapid_private_key_file}: "
                                           f"{exc.strerror}")]
    except Exception:  # noqa: BLE001 - py_vapid raises several kinds for a bad key
        return out + [Check("push", ERROR, "WebPush: the VAPID private key "
                                           "(CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY(_FILE)) cannot "
                                           "be read as a key")]
    return out + [Check("push", OK, "WebPush: VAPID key from the settings")]


def run_checks(settings: Settings) -> list[Check]:
    checks = _settings_checks(settings) + _store_checks(settings) + _prosody_checks(settings)
    checks += _certificate_checks(settings)
    if settings.push.enabled:
        checks += _apns_checks(settings) + _fcm_checks(settings) + _webpush_checks(settings)
    else:
        checks.append(Check("push", OK, "push is off (CHAT_PUSH__ENABLED=false)"))
    return checks


@click.command()
def doctor() -> None:
    """Check the settings, the store, Prosody, certificates and push credentials; say what is
    missing or wrong. Exit code 1 when something would not work."""
    from pydantic import ValidationError
    from rich.console import Console

    from rich.text import Text

    console = Console(highlight=False, soft_wrap=True, markup=False)
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            console.print(Text.assemble(("✗", "red"), f" settings     CHAT_"
                                        f"{where.upper().replace('.', '__')}: {error['msg']}"))
        console.print("1 problem area: the settings (nothing else was checked)")
        raise SystemExit(1)
    marks = {OK: ("✓", "green"), WARN: ("!", "yellow"), ERROR: ("✗", "red")}
    checks = run_checks(settings)
    for check in checks:
        console.print(Text.assemble(marks[check.status], f" {check.area:<12} {check.message}"))
    errors = sum(c.status == ERROR for c in checks)
    warnings = sum(c.status == WARN for c in checks)
    console.print(f"{errors} errors, {warnings} warnings")
    if errors:
        raise SystemExit(1)
