"""The `push_jobs` collection: the push delivery queue, with leases (visibility timeouts).

A job is `pending` until it is delivered (then deleted) or given up (`dead`, kept for inspection
until `purge_at`). `due_at` is when it may be claimed next: its first try, its next retry, or the
end of the lease of the worker holding it. Claiming sets a fresh `lease` token and pushes `due_at`
forward by the lease time in the same atomic update, whose filter re-checks `due_at`: of several
workers only one can win a job, and a job held by a worker that died is claimed again once its
lease has run out. Only the holder of the current lease may reschedule, bury or finish a job.

Jobs are claimed in batches: the `_id`s of the first ready jobs are read, then one `update_many`
over those `_id`s stamps this claim's token on the ones still ready, then the stamped ones are read
back. The update re-checks readiness document by document, so of two workers reading the same ids
each job goes to one of them. On MongoDB every step is an index walk; on the embedded store only
the first read scans the collection (lookups by `_id` are direct there), so the cost is per batch
rather than per job.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.errors import BulkWriteError

Doc = dict[str, Any]

PENDING, DEAD = "pending", "dead"
DUPLICATE_KEY = 11000


class PushJobStore:
    def __init__(self, db, embedded: bool = False) -> None:
        self._col = db["push_jobs"]
        # mongomock sorts in Python over the whole collection; its natural order is insertion
        # order, which is `_id` order for ids made in this process (the only writer it has).
        self._sort = None if embedded else [("_id", 1)]

    async def insert_many(self, docs: list[Doc]) -> int:
        """Inserts new jobs; a job whose `key` is already queued is skipped (unique index on
        MongoDB), so replaying the same source event queues nothing twice. Returns the count."""
        if not docs:
            return 0
        for doc in docs:
            doc.setdefault("_id", ObjectId())
        try:
            result = await self._col.insert_many(docs, ordered=False)
            return len(result.inserted_ids)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return exc.details.get("nInserted", len(docs) - len(errors))

    async def claim(self, token: str, now: datetime, lease_until: datetime, limit: int) -> list[Doc]:
        """Leases up to about `limit` ready jobs to `token` and returns them."""
        ready: Doc = {"state": PENDING, "due_at": {"$lte": now}}
        cursor = self._col.find(ready, {"_id": 1})
        if self._sort:
            cursor = cursor.sort(self._sort)
        ids = [d["_id"] for d in await cursor.limit(limit).to_list(length=limit)]
        if not ids:
            return []
        await self._col.update_many(
            {"_id": {"$in": ids}, **ready},
            {"$set": {"lease": token, "due_at": lease_until, "leased_at": now},
             "$inc": {"attempts": 1}})
        docs = await self._col.find({"_id": {"$in": ids}, "lease": token}).to_list(length=None)
        return [_out(d) for d in docs]

    async def finish(self, token: str, job_ids: list[str]) -> int:
        """Deletes those of the jobs still leased to `token` (delivered, or dropped on purpose);
        retried and dead ones no longer carry the lease."""
        if not job_ids:
            return 0
        result = await self._col.delete_many(
            {"_id": {"$in": [ObjectId(j) for j in job_ids]}, "lease": token})
        return result.deleted_count

    async def reschedule(self, job_id: str, token: str, due_at: datetime, error: str) -> bool:
        result = await self._col.update_one(
            {"_id": ObjectId(job_id), "lease": token},
            {"$set": {"due_at": due_at, "lease": None, "last_error": error}})
        return result.modified_count == 1

    async def bury(self, job_id: str, token: str, now: datetime, purge_at: datetime,
                   error: str) -> bool:
        """Moves the job to the dead letters with its last error."""
        result = await self._col.update_one(
            {"_id": ObjectId(job_id), "lease": token},
            {"$set": {"state": DEAD, "lease": None, "due_at": None, "dead_at": now,
                      "purge_at": purge_at, "last_error": error}})
        return result.modified_count == 1

    async def release(self, token: str, job_ids: list[str], now: datetime) -> int:
        """Gives those of the jobs still leased to `token` back to the queue at once (orderly
        shutdown): not counted as an attempt."""
        if not job_ids:
            return 0
        result = await self._col.update_many(
            {"_id": {"$in": [ObjectId(j) for j in job_ids]}, "lease": token},
            {"$set": {"lease": None, "due_at": now}, "$inc": {"attempts": -1}})
        return result.modified_count

    async def delete_for_user(self, app_id: int, user_id: int) -> int:
        result = await self._col.delete_many(
            {"app_id": app_id, "user_id": user_id, "state": PENDING})
        return result.deleted_count

    async def count(self, query: Doc | None = None) -> int:
        return await self._col.count_documents(query or {})

    async def find(self, query: Doc, limit: int = 1000) -> list[Doc]:
        cursor = self._col.find(query).sort("_id", 1).limit(limit)
        return [_out(d) for d in await cursor.to_list(length=limit)]


def _out(doc: Doc) -> Doc:
    doc["_id"] = str(doc["_id"])
    return doc
