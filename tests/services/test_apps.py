"""Applications' admin API keys (models/services/apps.py): made with the application and shown
once, the default application's from the setting or written to the data dir (0600, never logged),
stored as sha256 only, rotated (the old key stops at once), wrong keys counted per address."""
from __future__ import annotations

import hashlib
import logging
import stat

import pytest
from pydantic import SecretStr

from config.settings import AppSettings, RateLimitSettings
from models.errors import NotFoundError, RateLimitedError, UnauthenticatedError
from models.services.apps import AppService
from models.services.container import build_services
from models.services.rate_limits import RateLimitService
from models.storage.apps import AppStore


@pytest.fixture
def apps(database, clock) -> tuple[AppService, AppStore]:
    store = AppStore(database.db)
    limits = RateLimitService(RateLimitSettings(admin_failures_per_address="2/minute"))
    return AppService(store, clock, limits), store


async def test_a_new_application_gets_a_key_shown_once_and_stored_hashed(apps):
    service, store = apps
    key = await service.create(7, "seven", "ak", "as")
    assert key and len(key) >= 40
    doc = await store.get(7)
    assert doc["admin_key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(doc)
    assert await service.create(7, "seven", "ak", "as") is None  # exists: no new key
    requester = await service.resolve_admin_key(key)
    assert (requester.app_id, requester.user_id, requester.is_admin) == (7, 0, True)
    with pytest.raises(UnauthenticatedError):
        await service.resolve_admin_key(doc["admin_key_hash"])  # the hash is not a key


async def test_rotation_returns_the_new_key_once_and_the_old_stops_at_once(apps):
    service, store = apps
    old = await service.create(7, "seven", "ak", "as")
    assert (await service.resolve_admin_key(old)).app_id == 7  # cached now
    new = await service.rotate_admin_key(7)
    assert new != old
    with pytest.raises(UnauthenticatedError):
        await service.resolve_admin_key(old)
    assert (await service.resolve_admin_key(new)).app_id == 7
    with pytest.raises(NotFoundError):
        await service.rotate_admin_key(99)


async def test_wrong_keys_are_counted_per_address(apps):
    service, _ = apps
    key = await service.create(7, "seven", "ak", "as")
    for guess in ("a", None):
        with pytest.raises(UnauthenticatedError):
            await service.resolve_admin_key(guess, "192.0.2.1")
    with pytest.raises(RateLimitedError):
        await service.resolve_admin_key(key, "192.0.2.1")
    assert (await service.resolve_admin_key(key, "192.0.2.2")).app_id == 7


async def test_default_application_key_from_the_setting(apps):
    service, store = apps
    settings = AppSettings(id=3, admin_api_key=SecretStr("operator-chosen-key"))
    assert await service.ensure_default(settings) is None  # the operator knows it
    assert (await service.resolve_admin_key("operator-chosen-key")).app_id == 3
    # a changed setting replaces the stored key at the next start
    assert await service.ensure_default(AppSettings(id=3, admin_api_key=SecretStr("new-one-long-enough"))) is None
    with pytest.raises(UnauthenticatedError):
        await service.resolve_admin_key("operator-chosen-key")
    assert (await service.resolve_admin_key("new-one-long-enough")).app_id == 3


async def test_default_application_key_made_once(apps):
    service, store = apps
    first = await service.ensure_default(AppSettings(id=3))
    assert first is not None
    assert await service.ensure_default(AppSettings(id=3)) is None  # the next start: kept
    assert (await service.resolve_admin_key(first)).app_id == 3
    # an application stored before admin keys existed gets one at the next start
    await store.ensure({"_id": 4, "title": "old", "auth_key": "k", "auth_secret": "s"})
    made = await service.ensure_default(AppSettings(id=4))
    assert made is not None and (await service.resolve_admin_key(made)).app_id == 4


async def test_start_writes_the_default_key_to_the_data_dir_never_to_the_log(
        settings, database, clock, caplog):
    caplog.set_level(logging.DEBUG)
    services = build_services(settings, database, clock=clock)
    await services.start()
    path = settings.data_dir / "admin-api-key"
    key = path.read_text().strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (await services.apps.resolve_admin_key(key)).app_id == settings.app.id
    assert str(path) in caplog.text and key not in caplog.text
    # the next start keeps the key and leaves the file alone
    path.write_text("shown already\n")
    await services.start()
    assert path.read_text() == "shown already\n"
    assert (await services.apps.resolve_admin_key(key)).app_id == settings.app.id


async def test_start_with_the_setting_writes_no_file(settings, database, clock):
    settings.app.admin_api_key = SecretStr("from-the-environment")
    services = build_services(settings, database, clock=clock)
    await services.start()
    assert not (settings.data_dir / "admin-api-key").exists()
    assert (await services.apps.resolve_admin_key("from-the-environment")).is_admin


def test_the_admin_key_setting_empty_is_unset_and_short_is_refused():
    assert AppSettings(admin_api_key=SecretStr("")).admin_api_key is None
    with pytest.raises(ValueError, match="at least 16 characters"):
        AppSettings(admin_api_key=SecretStr("short"))
