"""The `push_jobs` collection: the push delivery queue, with leases (visibility timeouts).

A job is `pending` until it is delivered (then deleted) or given up (`dead`, kept for inspection
until `purge_at`). `due_at` is when it may be claimed next: its first try, its next retry, or the
end of the lease of the worker holding it. Claiming sets a fresh `lease` token and pushes `due_at`
forward by the lease time in the same atomic update, whose filter re-checks `due_at`: of several
workers only one can win a job, and a job held by a worker that died is claimed again once its
lease has run out. Only the holder of the current lease may reschedule, bury or finish a job.

Jobs are claimed in batches: the `_id`s of the first ready jobs are read, then one `update_many`
over that `_id` range stamps this claim's token on those still ready, then the stamped ones are
read back. On MongoDB every step is an index walk; on the embedded mongomock store (no indexes,
every query a full scan) it keeps the cost per batch rather than per job.
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
            {**ready, "_id": {"$gte": ids[0], "$lte": ids[-1]}},
            {"$set": {"lease": token, "due_at": lease_until, "leased_at": now},
             "$inc": {"attempts": 1}})
        return [_out(d) for d in await self._col.find({"lease": token}).to_list(length=None)]

    async def finish(self, token: str) -> int:
        """Deletes the jobs still leased to `token` (delivered, or dropped on purpose)."""
        result = await self._col.delete_many({"lease": token})
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

    async def finish_some(self, token: str, job_ids: list[str]) -> int:
        result = await self._col.delete_many(
            {"lease": token, "_id": {"$in": [ObjectId(j) for j in job_ids]}})
        return result.deleted_count

    async def release(self, token: str, now: datetime) -> int:
        """Gives the jobs still leased to `token` back to the queue at once (orderly shutdown)."""
        result = await self._col.update_many(
            {"lease": token}, {"$set": {"lease": None, "due_at": now}, "$inc": {"attempts": -1}})
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
