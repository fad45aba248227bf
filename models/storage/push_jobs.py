"""The `push_jobs` collection: the push delivery queue, with leases (visibility timeouts).

A job's `_id` is its idempotency key (`"m{messageId}:{subscriptionId}"`, `"e{eventId}:{...}"`), so
replaying the event that made it queues nothing twice. A job is `pending` until it is delivered
(then deleted) or given up (`dead`, kept for inspection until `purge_at`). `due_at` is when it may
be claimed next: its first try, its next retry, or the end of the lease of the worker holding it.

Claiming reads the ids of the first ready jobs, then one `update_many` over those ids sets a fresh
`lease` token and moves `due_at` to the end of the lease. Its filter re-checks readiness document
by document, atomically, so of several workers reading the same ids each job goes to exactly one,
and a job held by a worker that died is claimed again once its lease has run out. Only the holder
of the current lease may finish, reschedule, bury or release a job (every write filters on it).

The first read is `_ready_ids`; the embedded store's `EmbeddedPushJobStore`
(models/storage/embedded/push_jobs.py) answers it without a query.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.errors import BulkWriteError

Doc = dict[str, Any]

PENDING, DEAD = "pending", "dead"
DUPLICATE_KEY = 11000
# ids per `$in` statement: mongomock re-checks `$in` on each document in O(len) (so a statement
# costs O(n²)) and the embedded store re-orders `$in` answers with a walk over the collection (so
# each statement also costs O(collection)); 100 balances the two.
CHUNK = 100

CLAIM_ROUNDS = 16  # a claim that lost jobs it read to other workers looks again (one round each)


class PushJobStore:
    def __init__(self, db) -> None:
        self._col = db["push_jobs"]

    async def insert_many(self, docs: list[Doc]) -> int:
        """Inserts new jobs; a job whose `_id` is already queued is skipped. Returns the count."""
        return len(await self.insert_new(docs))

    async def insert_new(self, docs: list[Doc]) -> list[Doc]:
        """Inserts new jobs, skipping those whose `_id` is already queued; returns the inserted."""
        if not docs:
            return []
        try:
            await self._col.insert_many(docs, ordered=False)
            return docs
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            skipped = {e.get("index") for e in errors}
            return [doc for index, doc in enumerate(docs) if index not in skipped]

    async def claim(self, token: str, now: datetime, lease_until: datetime, limit: int) -> list[Doc]:
        """Leases up to `limit` ready jobs to `token` and returns them. Workers claiming at the same
        time read the same first ready jobs and only one lease each wins: the others look again
        (what they lost is no longer ready), a few rounds at most."""
        ready: Doc = {"state": PENDING, "due_at": {"$lte": now}}
        claimed: list[Doc] = []
        for _ in range(CLAIM_ROUNDS):
            want = limit - len(claimed)
            if want <= 0:
                break
            ids = await self._ready_ids(ready, now, want)
            if not ids:
                break
            won = 0
            for part in _chunks(ids):
                result = await self._col.update_many(
                    {"_id": {"$in": part}, **ready},
                    {"$set": {"lease": token, "due_at": lease_until, "leased_at": now},
                     "$inc": {"attempts": 1}})
                if result.modified_count:
                    won += result.modified_count
                    claimed += await self._col.find({"_id": {"$in": part}, "lease": token}).to_list(length=None)
            if won == len(ids):  # no other worker took any: what was ready is ours
                break
        return claimed

    async def _ready_ids(self, ready: Doc, now: datetime, limit: int) -> list[Any]:
        """Ids of up to `limit` ready jobs, the longest due first."""
        cursor = self._col.find(ready, {"_id": 1}).sort("due_at", 1).limit(limit)
        return [d["_id"] for d in await cursor.to_list(length=limit)]

    async def finish(self, token: str, job_ids: list[str]) -> int:
        """Deletes those of the jobs still leased to `token` (delivered, or dropped on purpose);
        retried and dead ones no longer carry the lease."""
        deleted = 0
        for part in _chunks(job_ids):
            result = await self._col.delete_many({"_id": {"$in": part}, "lease": token})
            deleted += result.deleted_count
        return deleted

    async def reschedule(self, job_id: str, token: str, due_at: datetime, error: str) -> bool:
        result = await self._col.update_one(
            {"_id": job_id, "lease": token},
            {"$set": {"due_at": due_at, "lease": None, "last_error": error}})
        return result.modified_count == 1

    async def bury(self, job_id: str, token: str, now: datetime, purge_at: datetime,
                   error: str) -> bool:
        """Moves the job to the dead letters with its last error."""
        result = await self._col.update_one(
            {"_id": job_id, "lease": token},
            {"$set": {"state": DEAD, "lease": None, "due_at": None, "dead_at": now,
                      "purge_at": purge_at, "last_error": error}})
        return result.modified_count == 1

    async def release(self, token: str, job_ids: list[str], now: datetime) -> int:
        """Gives those of the jobs still leased to `token` back to the queue at once (orderly
        shutdown): not counted as an attempt."""
        if not job_ids:
            return 0
        result = await self._col.update_many(
            {"_id": {"$in": job_ids}, "lease": token},
            {"$set": {"lease": None, "due_at": now}, "$inc": {"attempts": -1}})
        return result.modified_count

    async def delete_for_user(self, app_id: int, user_id: int) -> int:
        result = await self._col.delete_many(
            {"app_id": app_id, "user_id": user_id, "state": PENDING})
        return result.deleted_count

    async def count(self, query: Doc | None = None) -> int:
        return await self._col.count_documents(query or {})

    async def find(self, query: Doc, limit: int = 1000) -> list[Doc]:
        cursor = self._col.find(query).sort("created_at", 1).limit(limit)
        return await cursor.to_list(length=limit)


def _chunks(ids: list[Any], size: int = CHUNK) -> list[list[Any]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]
