"""The `webhooks` collection (an application's endpoints) and `webhook_deliveries` (the delivery
queue, with leases as `push_jobs` has: models/storage/push_jobs.py). See SCHEMA.md.

A delivery's `_id` is `"{body id}:{webhook id}"` (models/webhooks.py: `bodies_for`), so the outbox
event that made it, read again after a restart, queues nothing twice. A delivery is `pending`
until it is delivered (deleted) or given up (`dead`, kept until `purge_at`; a redelivery makes it
`pending` again). Claiming reads the first ready ids, then one `update_many` over them sets a
fresh `lease` and moves `due_at` to the end of the lease; its filter re-checks readiness, so of
several workers each delivery goes to one, and a dead worker's deliveries come back when their
lease ends. Only the holder of the current lease may finish, reschedule or bury a delivery.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import BulkWriteError

from models.webhooks import DEAD, PENDING

Doc = dict[str, Any]
DUPLICATE_KEY = 11000
CLAIM_ROUNDS = 8


class WebhookStore:
    def __init__(self, db) -> None:
        self._col = db["webhooks"]

    async def insert(self, doc: Doc) -> None:
        await self._col.insert_one(doc)

    async def get(self, app_id: int, webhook_id: int) -> Doc | None:
        return await self._col.find_one({"_id": webhook_id, "app_id": app_id})

    async def for_app(self, app_id: int) -> list[Doc]:
        return await self._col.find({"app_id": app_id}).sort("_id", ASCENDING).to_list(length=None)

    async def count_for_app(self, app_id: int) -> int:
        return await self._col.count_documents({"app_id": app_id})

    async def update(self, app_id: int, webhook_id: int, sets: Doc, unsets: tuple[str, ...] = ()) -> Doc | None:
        update: Doc = {"$set": sets}
        if unsets:
            update["$unset"] = {name: "" for name in unsets}
        return await self._col.find_one_and_update({"_id": webhook_id, "app_id": app_id}, update,
                                                   return_document=ReturnDocument.AFTER)

    async def delete(self, app_id: int, webhook_id: int) -> bool:
        result = await self._col.delete_one({"_id": webhook_id, "app_id": app_id})
        return result.deleted_count == 1


class WebhookDeliveryStore:
    def __init__(self, db) -> None:
        self._col = db["webhook_deliveries"]

    async def insert_new(self, docs: list[Doc]) -> int:
        """Inserts the deliveries whose `_id` is not queued yet; returns how many went in."""
        if not docs:
            return 0
        try:
            await self._col.insert_many(docs, ordered=False)
            return len(docs)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return len(docs) - len(errors)

    async def claim(self, token: str, now: datetime, lease_until: datetime, limit: int) -> list[Doc]:
        ready: Doc = {"state": PENDING, "due_at": {"$lte": now}}
        claimed: list[Doc] = []
        for _ in range(CLAIM_ROUNDS):
            want = limit - len(claimed)
            if want <= 0:
                break
            cursor = self._col.find(ready, {"_id": 1}).sort("due_at", ASCENDING).limit(want)
            ids = [d["_id"] for d in await cursor.to_list(length=want)]
            if not ids:
                break
            result = await self._col.update_many(
                {"_id": {"$in": ids}, **ready},
                {"$set": {"lease": token, "due_at": lease_until}, "$inc": {"attempts": 1}})
            if result.modified_count:
                claimed += await self._col.find({"_id": {"$in": ids}, "lease": token}).to_list(length=None)
            if result.modified_count == len(ids):
                break
        return claimed

    async def finish(self, delivery_id: str, token: str) -> bool:
        result = await self._col.delete_one({"_id": delivery_id, "lease": token})
        return result.deleted_count == 1

    async def reschedule(self, delivery_id: str, token: str, due_at: datetime, error: str,
                         status: int | None) -> bool:
        result = await self._col.update_one(
            {"_id": delivery_id, "lease": token},
            {"$set": {"due_at": due_at, "lease": None, "last_error": error, "last_status": status}})
        return result.modified_count == 1

    async def bury(self, delivery_id: str, token: str, now: datetime, purge_at: datetime,
                   error: str, status: int | None) -> bool:
        result = await self._col.update_one(
            {"_id": delivery_id, "lease": token},
            {"$set": {"state": DEAD, "lease": None, "due_at": None, "dead_at": now,
                      "purge_at": purge_at, "last_error": error, "last_status": status}})
        return result.modified_count == 1

    async def release(self, delivery_ids: list[str], token: str, now: datetime) -> int:
        """Hands deliveries still leased to `token` back at once (an orderly stop): not counted
        as an attempt."""
        if not delivery_ids:
            return 0
        result = await self._col.update_many(
            {"_id": {"$in": delivery_ids}, "lease": token},
            {"$set": {"lease": None, "due_at": now}, "$inc": {"attempts": -1}})
        return result.modified_count

    async def redeliver(self, app_id: int, webhook_id: int, delivery_id: str, now: datetime) -> Doc | None:
        """A dead delivery of this endpoint pending again, due now, with its attempts reset."""
        return await self._col.find_one_and_update(
            {"_id": delivery_id, "app_id": app_id, "webhook_id": webhook_id, "state": DEAD},
            {"$set": {"state": PENDING, "due_at": now, "attempts": 0, "lease": None,
                      "dead_at": None, "purge_at": None}},
            return_document=ReturnDocument.AFTER)

    async def get(self, app_id: int, webhook_id: int, delivery_id: str) -> Doc | None:
        return await self._col.find_one({"_id": delivery_id, "app_id": app_id,
                                         "webhook_id": webhook_id})

    async def page(self, app_id: int, webhook_id: int, state: str | None, skip: int,
                   limit: int) -> tuple[list[Doc], int]:
        query: Doc = {"app_id": app_id, "webhook_id": webhook_id}
        if state is not None:
            query["state"] = state
        total = await self._col.count_documents(query)
        cursor = self._col.find(query).sort("created_at", DESCENDING).skip(skip).limit(limit)
        return await cursor.to_list(length=limit), total

    async def delete_for_webhook(self, app_id: int, webhook_id: int) -> int:
        result = await self._col.delete_many({"app_id": app_id, "webhook_id": webhook_id})
        return result.deleted_count

    async def purge(self, now: datetime) -> int:
        """Dead letters past their `purge_at` (MongoDB's TTL index does it too; the embedded
        store has none)."""
        result = await self._col.delete_many({"state": DEAD, "purge_at": {"$lte": now}})
        return result.deleted_count

    async def counts(self) -> dict[str, int]:
        return {PENDING: await self._col.count_documents({"state": PENDING}),
                DEAD: await self._col.count_documents({"state": DEAD})}
