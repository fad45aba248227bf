"""The `reports` collection: users' reports of messages, users and dialogs, and the moderators'
reviews of them. See SCHEMA.md.

An open report carries `open_key` (`"{type}:{object_id}"`); a unique index on (app, reporter,
open_key), partial on its presence, keeps one open report per reporter and object on MongoDB
(the service checks first as well, for the embedded store). Closing a report removes the key.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import DESCENDING, ReturnDocument

from models.reports import Report, ReportQuery, ReportStatus
from models.storage.errors import duplicates_as_conflict

Doc = dict[str, Any]
ALREADY_OPEN = "You have already reported this; your report is open"


class ReportStore:
    def __init__(self, db) -> None:
        self._col = db["reports"]

    async def insert(self, report: Report) -> None:
        with duplicates_as_conflict(ALREADY_OPEN):
            await self._col.insert_one(report.to_doc())

    async def get(self, app_id: int, report_id: int) -> Report | None:
        doc = await self._col.find_one({"_id": report_id, "app_id": app_id})
        return None if doc is None else Report.from_doc(doc)

    async def find_open(self, app_id: int, reporter_id: int, open_key: str,
                        except_id: int | None = None) -> Report | None:
        query: Doc = {"app_id": app_id, "reporter_id": reporter_id, "open_key": open_key}
        if except_id is not None:
            query["_id"] = {"$ne": except_id}
        doc = await self._col.find_one(query)
        return None if doc is None else Report.from_doc(doc)

    async def page_of_reporter(self, app_id: int, reporter_id: int, skip: int,
                               limit: int) -> list[Report]:
        return await self._page({"app_id": app_id, "reporter_id": reporter_id}, skip, limit)

    async def count_of_reporter(self, app_id: int, reporter_id: int) -> int:
        return await self._col.count_documents({"app_id": app_id, "reporter_id": reporter_id})

    async def page_app(self, app_id: int, query: ReportQuery) -> list[Report]:
        return await self._page(_matching(app_id, query), query.skip, query.limit)

    async def count_app(self, app_id: int, query: ReportQuery) -> int:
        return await self._col.count_documents(_matching(app_id, query))

    async def review(self, app_id: int, report: Report, status: ReportStatus, note: str | None,
                     now: datetime) -> Report | None:
        """Sets the status and note; an open report gets its `open_key` back, a closed one loses
        it. Returns the changed report (None: it is gone)."""
        sets: Doc = {"status": status.value, "note": note, "updated_at": now}
        update: Doc = {"$set": sets}
        if status == ReportStatus.OPEN:
            sets["open_key"] = report.open_key
        else:
            update["$unset"] = {"open_key": ""}
        if status != report.status:
            sets["reviewed_at"] = now
        with duplicates_as_conflict(ALREADY_OPEN):
            doc = await self._col.find_one_and_update({"_id": report.id, "app_id": app_id}, update,
                                                      return_document=ReturnDocument.AFTER)
        return None if doc is None else Report.from_doc(doc)

    async def _page(self, query: Doc, skip: int, limit: int) -> list[Report]:
        if limit <= 0:
            return []
        cursor = self._col.find(query).sort([("_id", DESCENDING)]).skip(skip).limit(limit)
        return [Report.from_doc(d) for d in await cursor.to_list(length=limit)]


def _matching(app_id: int, query: ReportQuery) -> Doc:
    out: Doc = {"app_id": app_id}
    if query.statuses:
        out["status"] = {"$in": [s.value for s in query.statuses]}
    if query.types:
        out["type"] = {"$in": [t.value for t in query.types]}
    if query.reporter_id is not None:
        out["reporter_id"] = query.reporter_id
    bounds = {op: value for op, value in (("$gte", query.created_from),
                                          ("$lt", query.created_before)) if value is not None}
    if bounds:
        out["created_at"] = bounds
    return out
