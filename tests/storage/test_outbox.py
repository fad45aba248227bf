"""The outbox in both stores: `OutboxStore` (a shared MongoDB: pruning by queries, after a grace
period) and `LocalOutboxStore` (the embedded store: events in memory, gone once every registered
consumer handled them). Same reads, same marks, same age limit."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from models.events import Event
from models.storage.embedded.outbox import LocalOutboxStore
from models.storage.mongo import memory_database
from models.storage.outbox import OutboxStore


def event(n: int) -> Event:
    return Event(kind="message_created", app_id=1, dialog_id="d" * 24, sender_id=n, payload={"n": n})


@pytest.fixture(params=[LocalOutboxStore, OutboxStore], ids=["local", "shared"])
async def outbox(request) -> OutboxStore:
    store = request.param(memory_database(f"outbox-{request.param.__name__}").db)
    await store.register_consumer("bridge")
    await store.register_consumer("push")
    return store


async def ids_of(outbox: OutboxStore) -> list[int]:
    return sorted(d["sender_id"] for d in await outbox.find({}, limit=10_000))


async def test_only_events_every_consumer_handled_leave(outbox):
    await outbox.publish_many([event(n) for n in range(6)])
    stored = {d["sender_id"]: d["_id"] for d in await outbox.find({})}
    await outbox.mark_done_many("bridge", [stored[n] for n in (0, 1, 2, 3)])
    await outbox.mark_done_many("push", [stored[n] for n in (0, 1, 4)])
    await outbox.mark_done("push", stored[2])
    assert [d["sender_id"] for d in await outbox.pending("push")] == [3, 5]
    assert [d["sender_id"] for d in await outbox.pending("bridge")] == [4, 5]
    if outbox.local:  # at once: nobody else can read them
        assert await ids_of(outbox) == [3, 4, 5]
    else:
        assert await outbox.prune(done_grace_seconds=3600) == 0  # too recent
        assert await ids_of(outbox) == [0, 1, 2, 3, 4, 5]
        assert await outbox.prune(done_grace_seconds=-1) == 3  # 0, 1, 2: both consumers
        assert await ids_of(outbox) == [3, 4, 5]
    await outbox.mark_done("push", stored[3])  # the straggler is handled later: it goes then
    await outbox.prune(done_grace_seconds=-1)
    assert await ids_of(outbox) == [4, 5]
    assert await outbox.count({"done_by": "push"}) == 1 and await outbox.count() == 2


async def test_the_age_limit_removes_unhandled_events(outbox):
    await outbox.publish_many([event(n) for n in range(3)])
    assert await outbox.prune(done_grace_seconds=-1, max_age_seconds=3600) == 0
    assert await outbox.prune(done_grace_seconds=-1, max_age_seconds=-1) == 3
    assert await ids_of(outbox) == []
    await outbox.publish(event(9))  # new events still count
    [stored] = await outbox.find({})
    await outbox.mark_done_many("bridge", [stored["_id"]])
    await outbox.mark_done_many("push", [stored["_id"]])
    await outbox.prune(done_grace_seconds=-1, max_age_seconds=3600)
    assert await outbox.count() == 0


async def test_large_prunes_go_in_chunks(outbox):
    await outbox.publish_many([event(n) for n in range(1_200)])
    ids = [d["_id"] for d in await outbox.find({}, limit=10_000)]
    assert len(ids) == 1_200
    for consumer in ("bridge", "push"):
        await outbox.mark_done_many(consumer, ids)
    removed = await outbox.prune(done_grace_seconds=-1, chunk=500)
    assert removed == (0 if outbox.local else 1_200)
    assert await outbox.count() == 0


async def test_taps_get_each_event_once_with_its_own_marks(outbox):
    tap = outbox.tap()
    await outbox.publish_many([event(1), event(2)])
    got = [tap.queue.get_nowait(), tap.queue.get_nowait()]
    assert [d["sender_id"] for d in got] == [1, 2] and tap.queue.empty()
    await outbox.mark_done("bridge", got[0]["_id"])
    assert got[0]["done_by"] == []  # the tap's copy is the consumer's, not the store's
    [first] = await outbox.find({"sender_id": 1})
    assert first["done_by"] == ["bridge"]
    assert (await outbox.find({"created_at": {"$lt": datetime.now(timezone.utc) + timedelta(1)}}))[0]["_id"] \
        == got[0]["_id"]
    outbox.untap(tap)
    await outbox.publish(event(3))
    assert tap.queue.empty()


async def test_without_registered_consumers_events_stay_until_the_age_limit(outbox):
    store = type(outbox)(memory_database("outbox-no-consumers").db)
    await store.publish(event(1))
    [doc] = await store.find({})
    await store.mark_done("bridge", doc["_id"])
    await store.prune(done_grace_seconds=-1)
    assert await store.count() == 1


async def test_pending_after_an_id_reads_on_from_there(outbox):
    await outbox.publish_many([event(n) for n in range(5)])
    first = await outbox.pending("bridge", 2)
    assert [d["sender_id"] for d in first] == [0, 1]
    rest = await outbox.pending("bridge", 10, after=first[-1]["_id"])
    assert [d["sender_id"] for d in rest] == [2, 3, 4]


async def test_a_reader_hands_out_an_event_once_until_it_restarts(outbox):
    """Events waiting to be marked done (a relay batch waiting for Prosody's confirmation) are
    not handed out again by a catch-up, which moves on past them; after `restart()` everything
    not done comes again, in order."""
    from models.services.outbox import OutboxReader

    reader = OutboxReader(outbox, "bridge", batch=2)
    await reader.start()
    await outbox.publish_many([event(n) for n in range(5)])
    batches = []
    for _ in range(4):
        batches.append([e["sender_id"] for e in await reader.next_batch(0.01)])
    assert batches == [[0, 1], [2, 3], [4], []]  # catch-up from the store, then the tap
    reader.restart()
    again = await reader.next_batch(0.01)
    assert [e["sender_id"] for e in again] == [0, 1]
    await reader.done(again)
    reader.restart()
    assert [e["sender_id"] for e in await reader.next_batch(0.01)] == [2, 3]
    reader.close()
