"""The block list store: compare-and-set writes; the embedded store's "who blocked X" (among these
users, or at all) answers what the MongoDB query answers (fast paths on and off), through every kind of change."""
from __future__ import annotations

import random
from datetime import datetime, timezone

from models.storage.embedded import switch
from models.storage.embedded.blocklist import EmbeddedBlocklistStore
from models.storage.mongo import memory_database

NOW = datetime(2026, 12, 7, tzinfo=timezone.utc)


async def test_writes_are_compare_and_set():
    store = EmbeddedBlocklistStore(memory_database().db)
    assert await store.save(1, 5, 0, [6], None, {}, NOW)
    assert not await store.save(1, 5, 0, [7], None, {}, NOW)  # someone stored it first
    assert await store.save(1, 5, 1, [6, 7], "mine", {"other": [8]}, NOW)
    assert not await store.save(1, 5, 1, [9], None, {}, NOW)  # stale version
    doc = await store.get(1, 5)
    assert (doc["blocked_ids"], doc["default_list"], doc["lists"], doc["version"]) == (
        [6, 7], "mine", {"other": [8]}, 2)


async def test_embedded_blockers_match_the_query():
    store = EmbeddedBlocklistStore(memory_database().db)
    rng = random.Random(11)
    versions: dict[tuple[int, int], int] = {}
    for _ in range(400):
        app_id, user_id = rng.choice((1, 2)), rng.randint(1, 30)
        blocked = rng.sample(range(1, 31), rng.randint(0, 6))
        version = versions.get((app_id, user_id), 0)
        assert await store.save(app_id, user_id, version, blocked, None, {}, NOW)
        versions[(app_id, user_id)] = version + 1
        target, among = rng.randint(1, 30), rng.sample(range(1, 35), 12)
        fast = await store.blockers_among(app_id, target, among)
        fast_all = await store.blockers_of(app_id, target, 100)
        with switch.fast_paths(False):
            slow = await store.blockers_among(app_id, target, among)
            slow_all = await store.blockers_of(app_id, target, 100)
        assert sorted(fast) == sorted(slow) and sorted(fast_all) == sorted(slow_all)
