"""VAPID keys for WebPush: from the settings (inline or a key file), else the key kept in the
store (models/services/webpush_keys.py, created at the first start). Browsers subscribe with the
public key as `applicationServerKey`."""
from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid

from config.settings import WebPushSettings


def load_vapid(settings: WebPushSettings, stored_pem: str | None = None) -> Vapid | None:
    """The configured key (inline, else the key file), else the store's, or None."""
    inline = settings.vapid_private_key.get_secret_value() if settings.vapid_private_key else ""
    if inline.strip():
        if "-----BEGIN" in inline:
            return Vapid.from_pem(inline.strip().encode())
        return Vapid.from_string(inline.strip())
    path = settings.vapid_private_key_file
    if path.is_file():
        return Vapid.from_pem(path.read_bytes().strip())
    if stored_pem:
        return Vapid.from_pem(stored_pem.strip().encode())
    return None


def application_server_key(vapid: Vapid) -> str:
    """The public key as browsers want it: base64url of the uncompressed point, no padding."""
    raw = vapid.public_key.public_bytes(serialization.Encoding.X962,
                                        serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def generate_key_file(path: Path, force: bool = False) -> tuple[Vapid, bool]:
    """Creates the key file (mode 0600) unless it exists; returns (key, created)."""
    if path.is_file() and not force:
        return Vapid.from_pem(path.read_bytes().strip()), False
    vapid = Vapid()
    vapid.generate_keys()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(vapid.private_pem())
    os.replace(tmp, path)
    return vapid, True
