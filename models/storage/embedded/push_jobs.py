"""The embedded store's push job queue: claims pick ready jobs without a query.

On mongomock every query is a full scan that copies each document, which would make the first read
of a claim cost per job what it should cost per batch. Here the ids of ready jobs are picked by
walking mongomock's own document table in insertion order and stopping at the limit (read-only;
the claiming `update_many` of `PushJobStore.claim` still decides, so a stale pick is harmless).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from models.storage.embedded.tables import document_table
from models.storage.push_jobs import PENDING, Doc, PushJobStore


class EmbeddedPushJobStore(PushJobStore):
    async def _ready_ids(self, ready: Doc, now: datetime, limit: int) -> list[Any]:
        ids = self._peek_ready(now, limit)
        if ids is None:  # mongomock's table is not reachable: a query, in insertion order too
            cursor = self._col.find(ready, {"_id": 1}).limit(limit)
            ids = [d["_id"] for d in await cursor.to_list(length=limit)]
        return ids

    def _peek_ready(self, now: datetime, limit: int) -> list[Any] | None:
        """Ids of the first `limit` ready jobs in insertion order, read straight from mongomock's
        table; None when that table is not reachable."""
        table = document_table(self._col)
        if table is None:
            return None
        documents = table.values()  # nothing awaits below, so nothing changes it meanwhile
        cutoff = now.astimezone(timezone.utc).replace(tzinfo=None)  # mongomock keeps naive UTC
        ids: list[Any] = []
        try:
            for doc in documents:
                due = doc.get("due_at")
                if doc.get("state") != PENDING or due is None:
                    continue
                if due.tzinfo is not None:
                    due = due.astimezone(timezone.utc).replace(tzinfo=None)
                if due <= cutoff:
                    ids.append(doc["_id"])
                    if len(ids) >= limit:
                        break
        except (TypeError, AttributeError, RuntimeError):
            return None
        return ids
