"""Job claims when workers race: the leases another worker won between our read and our update
are not ours, and the claim looks again instead of coming back short (a real MongoDB showed it:
six concurrent claims of 7 got 7 jobs in all, not 30)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from models.storage.embedded.push_jobs import EmbeddedPushJobStore
from models.storage.mongo import memory_database
from models.storage.push_jobs import PushJobStore

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def job(n: int) -> dict:
    return {"_id": f"job-{n:02d}", "app_id": 1, "user_id": n, "state": "pending", "due_at": NOW,
            "created_at": NOW, "lease": None, "attempts": 0}


@pytest.mark.parametrize("kind", [EmbeddedPushJobStore, PushJobStore], ids=["table-walk", "query"])
async def test_a_claim_that_loses_a_race_looks_again(kind):
    store = kind(memory_database(f"claims-{kind.__name__}").db)
    await store.insert_many([job(n) for n in range(12)])
    rival = kind(store._col.database)
    original = store._col.update_many
    raced = []

    async def update_many(query, update, *args, **kwargs):
        if not raced:  # another worker leases what we just read, before our update lands
            raced.append(await rival.claim("rival", NOW, NOW + timedelta(seconds=30), 5))
        return await original(query, update, *args, **kwargs)

    store._col.update_many = update_many
    mine = await store.claim("me", NOW, NOW + timedelta(seconds=30), 5)
    theirs = {j["_id"] for j in raced[0]}
    assert len(theirs) == 5 and len(mine) == 5
    assert not theirs & {j["_id"] for j in mine}
    assert all(j["lease"] == "me" and j["attempts"] == 1 for j in mine)


async def test_a_claim_stops_when_nothing_more_is_ready():
    store = PushJobStore(memory_database("claims-few").db)
    await store.insert_many([job(n) for n in range(3)])
    assert len(await store.claim("me", NOW, NOW + timedelta(seconds=30), 10)) == 3
    assert await store.claim("me", NOW, NOW + timedelta(seconds=30), 10) == []
