"""The timed database of the stores (models/storage/timing.py) on the embedded store: operations
and cursors are timed, everything else passes through, the embedded fast paths still apply."""
from __future__ import annotations

from datetime import datetime, timezone

from models.metrics import Metrics
from models.storage.embedded.tables import document_table
from models.storage.mongo import memory_database
from models.storage.timing import TimedCollection


async def test_timed_database_times_operations_and_cursors():
    metrics = Metrics()
    database = memory_database().timed(metrics.store)
    users = database.db["users"]
    assert isinstance(users, TimedCollection) and database.db["users"] is users
    await users.insert_one({"_id": 1, "login": "a"})
    await users.insert_many([{"_id": 2, "login": "b"}, {"_id": 3, "login": "c"}])
    assert await users.count_documents({}) == 3
    assert [d["_id"] for d in await users.find({}).sort("_id", -1).limit(2).to_list(None)] == [3, 2]
    assert [d["_id"] async for d in users.find({"_id": {"$gte": 2}}).sort("_id", 1)] == [2, 3]
    assert (await users.find_one({"_id": 2}))["login"] == "b"
    assert database.db.name == "test"  # the rest passes through
    counts = {labels: series.count for labels, series in metrics.store._series.items()}
    assert counts[("users", "insert_one")] == 1
    assert counts[("users", "insert_many")] == 1
    assert counts[("users", "count_documents")] == 1
    assert counts[("users", "find")] == 2
    assert counts[("users", "find_one")] == 1


async def test_the_embedded_fast_paths_still_see_mongomock_tables():
    database = memory_database().timed(Metrics().store)
    jobs = database.push_job_store()
    now = datetime.now(timezone.utc)
    await database.db["push_jobs"].insert_one({"_id": "j1", "state": "pending", "due_at": now})
    table = document_table(database.db["push_jobs"])
    assert table is not None and len(table) == 1
    assert jobs._peek_ready(now, 10) == ["j1"]  # read from the table, not by a query
