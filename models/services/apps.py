"""Applications: the default one is created at start-up so a fresh install can be used at once.

Each application has one admin API key (`CB-Administration-API-Key`, the admin API of
rest/views/admin.py). Keys are random 32-byte tokens, so the store keeps their sha256 (a slow
password hash buys nothing against a search of 2^256) and lookups go by that hash. A key is
shown once, when it is made (`create`, `rotate_admin_key`); it is never logged. The default
application's key is the setting `app.admin_api_key` when given (hashed at each start), else one
made at its first start, which `Services.start` writes to `{data_dir}/admin-api-key` (mode 0600).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import time
from pathlib import Path

from config.settings import AppSettings
from models.clock import Clock
from models.errors import NotFoundError, UnauthenticatedError
from models.requester import Requester, admin
from models.services.rate_limits import RateLimitService
from models.storage.apps import AppStore

logger = logging.getLogger(__name__)

# How long a resolved admin key is trusted from this process's memory (as SessionService does for
# tokens): a rotation on another process takes effect here within this time, at once on this one.
CACHE_SECONDS = 10.0
WRONG_KEY = "Unexpected admin API key"


def hash_admin_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_admin_key() -> str:
    return secrets.token_urlsafe(32)


def write_key_file(path: Path, key: str) -> None:
    """Writes `key` to `path`, readable by this user only (created with mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT


class AppService:
    def __init__(self, apps: AppStore, clock: Clock,
                 rate_limits: RateLimitService | None = None) -> None:
        self._apps = apps
        self._clock = clock
        self._rate_limits = rate_limits
        self._cache: dict[str, tuple[int, float]] = {}  # key hash -> (app id, when resolved)

    async def create(self, app_id: int, title: str, auth_key: str, auth_secret: str) -> str | None:
        """Creates the application with a new admin key and returns the key (shown only now);
        None when the application exists already."""
        key = new_admin_key()
        created = await self._apps.ensure({
            "_id": app_id, "title": title, "auth_key": auth_key, "auth_secret": auth_secret,
            "admin_key_hash": hash_admin_key(key), "created_at": self._clock.now()})
        return key if created else None

    async def ensure_default(self, settings: AppSettings) -> str | None:
        """Creates the default application if missing. Returns its admin key when one was made
        now (to be handed to the operator once), None when the settings give it or it exists."""
        key = await self.create(settings.id, settings.title, settings.auth_key.get_secret_value(),
                                settings.auth_secret.get_secret_value())
        if key is not None:
            logger.info("created the default application id=%s", settings.id)
        if settings.admin_api_key is not None:
            await self._apps.set_admin_key_hash(
                settings.id, hash_admin_key(settings.admin_api_key.get_secret_value()))
            self._cache.clear()
            return None
        if key is None:  # an application made before admin keys existed gets one now
            key = new_admin_key()
            if not await self._apps.set_admin_key_hash(settings.id, hash_admin_key(key),
                                                       if_missing=True):
                return None
        return key

    async def rotate_admin_key(self, app_id: int) -> str:
        """A new admin key for the application, returned once; the old one stops working at once
        on this process (within `CACHE_SECONDS` on others)."""
        if await self._apps.get(app_id) is None:
            raise NotFoundError("Application not found")
        key = new_admin_key()
        await self._apps.set_admin_key_hash(app_id, hash_admin_key(key))
        self._cache.clear()
        logger.info("admin API key of application %s rotated", app_id)
        return key

    async def resolve_admin_key(self, key: str | None, address: str | None = None) -> Requester:
        """The application admin the key belongs to, or UnauthenticatedError (401). Wrong keys
        count against `address`; past its limit the address is refused (429) before any lookup."""
        if self._rate_limits is not None:
            self._rate_limits.check_admin_key(address)
        if not key or len(key) > 512:
            return self._refuse(address)
        key_hash = hash_admin_key(key)
        cached = self._cache.get(key_hash)
        if cached is not None and time.monotonic() - cached[1] < CACHE_SECONDS:
            return admin(cached[0])
        doc = await self._apps.find_by_admin_key_hash(key_hash)
        if doc is None or not hmac.compare_digest(str(doc.get("admin_key_hash") or ""), key_hash):
            self._cache.pop(key_hash, None)
            return self._refuse(address)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key_hash] = (int(doc["_id"]), time.monotonic())
        return admin(int(doc["_id"]))

    def _refuse(self, address: str | None) -> Requester:
        if self._rate_limits is not None:
            self._rate_limits.admin_key_failed(address)
        raise UnauthenticatedError(WRONG_KEY)
