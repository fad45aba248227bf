"""The hot-path histogram (models/metrics.py) against prometheus_client's own, and the timed
database of the stores (models/storage/timing.py) on the embedded store."""
from __future__ import annotations

import random
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from models.metrics import LATENCY_BUCKETS, LatencyHistogram, Metrics
from models.storage.embedded.tables import document_table
from models.storage.mongo import memory_database
from models.storage.timing import TimedCollection


def _samples(registry: CollectorRegistry) -> list[tuple[str, dict, float]]:
    text = generate_latest(registry).decode()
    return sorted((s.name, tuple(sorted(s.labels.items())), round(s.value, 9))
                  for family in text_string_to_metric_families(text) for s in family.samples
                  if not s.name.endswith("_created"))


def test_latency_histogram_exposes_what_prometheus_client_would():
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    lean = LatencyHistogram("op_seconds", "doc", ("route", "status"))
    ours.register(lean)
    reference = Histogram("op_seconds", "doc", ["route", "status"], buckets=LATENCY_BUCKETS,
                          registry=theirs)
    rng = random.Random(7)
    values = [rng.choice([0.0, 0.0005, 0.001, 10.0, 11.0]) for _ in range(50)]
    values += [rng.expovariate(200) for _ in range(500)]
    for i, value in enumerate(values):
        labels = ("/a/{id}", "200") if i % 3 else ("/b", "404")
        lean.series(*labels).observe(value)
        reference.labels(*labels).observe(value)
    assert _samples(ours) == _samples(theirs)


def test_unobserved_series_are_not_exposed():
    registry = CollectorRegistry()
    lean = LatencyHistogram("op_seconds", "doc", ("collection",))
    registry.register(lean)
    lean.series("users")
    lean.series("dialogs").observe(0.002)
    names = {labels for _, labels, _ in _samples(registry)}
    assert all(("collection", "users") not in labels for labels in names)
    assert any(("collection", "dialogs") in labels for labels in names)


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
