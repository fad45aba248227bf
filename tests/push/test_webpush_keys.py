"""WebPush without a key in the settings: the key is created at the first start, kept in the store,
shared by every process on that store, used to sign real deliveries, and rotated on request."""
from __future__ import annotations

import pytest

from models.services.container import build_services
from push.senders import close_senders, start_senders
from push.vapid import application_server_key, load_vapid


@pytest.fixture
def vapid_file(tmp_path):
    return tmp_path / "no-such-key.pem", "unknown until the store has a key"


@pytest.fixture
async def senders(services, webpush):
    # the fake push service checks signatures against the store's key
    webpush.vapid_public_key = application_server_key(
        load_vapid(services.settings.push.webpush, services.webpush_key))
    started = await start_senders(services.settings.push, services.webpush_key)
    yield started
    await close_senders(started)


async def test_a_delivery_is_signed_with_the_key_kept_in_the_store(env, webpush, services):
    assert not services.settings.push.webpush.configured()
    assert services.webpush_key and "PRIVATE KEY" in services.webpush_key
    alice, bob = await env.user("Alice"), await env.user("Bob")
    await env.subscribe_web(bob, "bob-laptop")
    dialog = await env.dialog(alice, [alice, bob])
    await env.message(dialog, alice, "hello")
    assert await env.drain() == 1
    assert webpush.rejected_auth == [] and [r["name"] for r in webpush.received] == ["bob-laptop"]


async def test_every_process_on_the_store_shares_the_key_until_it_is_rotated(services, settings, database):
    first = services.webpush_key
    other = build_services(settings, database)  # a second process on the same store
    await other.start()
    assert other.webpush_key == first
    rotated = await other.webpush_keys().rotate()
    assert rotated != first
    again = build_services(settings, database)
    await again.start()
    assert again.webpush_key == rotated
    assert application_server_key(load_vapid(settings.push.webpush, rotated)) != \
        application_server_key(load_vapid(settings.push.webpush, first))


async def test_a_key_in_the_settings_wins(settings, database, tmp_path):
    from push.vapid import generate_key_file

    path = tmp_path / "own.pem"
    generate_key_file(path)
    settings.push.webpush.vapid_private_key_file = path
    own = build_services(settings, database)
    await own.start()
    assert own.webpush_key is None
    senders = await start_senders(settings.push, own.webpush_key)
    try:
        assert "web" in senders
    finally:
        await close_senders(senders)
