"""Outbox pruning: only events every registered consumer handled (after the grace period) go, and
anything past the age limit; the same answers with the local ledger and with store queries."""
from __future__ import annotations

import pytest

import models.storage.outbox as outbox_module
from models.events import Event
from models.storage.mongo import memory_database
from models.storage.outbox import OutboxStore


def event(n: int) -> Event:
    return Event(kind="message_created", app_id=1, dialog_id="d" * 24, sender_id=n, payload={"n": n})


@pytest.fixture(params=[True, False], ids=["local-ledger", "store-queries"])
async def outbox(request) -> OutboxStore:
    store = OutboxStore(memory_database(f"outbox-{request.param}").db, local=request.param)
    await store.register_consumer("bridge")
    await store.register_consumer("push")
    return store


async def ids_of(outbox: OutboxStore) -> list[int]:
    return sorted(d["sender_id"] for d in await outbox.find({}, limit=10_000))


async def test_only_events_every_consumer_handled_are_pruned(outbox):
    await outbox.publish_many([event(n) for n in range(6)])
    stored = {d["sender_id"]: d["_id"] for d in await outbox.find({})}
    await outbox.mark_done_many("bridge", [stored[n] for n in (0, 1, 2, 3)])
    await outbox.mark_done_many("push", [stored[n] for n in (0, 1, 4)])
    await outbox.mark_done("push", stored[2])
    assert await outbox.prune(done_grace_seconds=3600) == 0  # too recent
    assert await outbox.prune(done_grace_seconds=-1) == 3  # 0, 1, 2: both consumers
    assert await ids_of(outbox) == [3, 4, 5]
    assert [d["sender_id"] for d in await outbox.pending("push")] == [3, 5]
    await outbox.mark_done("push", stored[3])  # the straggler is handled later: it goes then
    assert await outbox.prune(done_grace_seconds=-1) == 1
    assert await ids_of(outbox) == [4, 5]


async def test_the_age_limit_removes_unhandled_events(outbox, monkeypatch):
    monkeypatch.setattr(outbox_module, "LOCAL_FULL_PRUNE_EVERY", 1)
    await outbox.publish_many([event(n) for n in range(3)])
    assert await outbox.prune(done_grace_seconds=-1, max_age_seconds=3600) == 0
    assert await outbox.prune(done_grace_seconds=-1, max_age_seconds=-1) == 3
    assert await ids_of(outbox) == []
    await outbox.publish(event(9))  # the ledger forgot the removed ones; new events still count
    [stored] = await outbox.find({})
    await outbox.mark_done_many("bridge", [stored["_id"]])
    await outbox.mark_done_many("push", [stored["_id"]])
    assert await outbox.prune(done_grace_seconds=-1, max_age_seconds=3600) == 1


async def test_large_prunes_go_in_chunks(outbox):
    await outbox.publish_many([event(n) for n in range(1_200)])
    ids = [d["_id"] for d in await outbox.find({}, limit=10_000)]
    for consumer in ("bridge", "push"):
        await outbox.mark_done_many(consumer, ids)
    assert await outbox.prune(done_grace_seconds=-1, chunk=500) == 1_200
    assert await outbox.count() == 0
