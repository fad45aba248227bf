"""The event feed (`feed`, `feed_shares`) and message tombstones (`message_tombstones`). See
SCHEMA.md and docs/architecture.md, "The event feed".

A feed entry is stored under one `key`: `u:{appId}:{userId}` (a personal entry: the user's own
state, and every change of a small dialog, one copy per member) or `d:{dialogId}` (a shared
entry of a big, public or broadcast dialog, one for all its members). Its `_id` is the cursor: an
integer from the `feed` counter, a range taken per batch of entries. A user's page is one query
on the index `key_cursor` (`key`, `_id`): their personal key, plus the shared keys of the big
dialogs they are in (`feed_shares`, each from the cursor they joined at), merged by cursor.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from models.storage.ids import oid_or_none

Doc = dict[str, Any]
COUNTER = "feed"


def user_key(app_id: int, user_id: int) -> str:
    return f"u:{app_id}:{user_id}"


def dialog_key(dialog_id: str) -> str:
    return f"d:{dialog_id}"


def share_id(dialog_id: str, user_id: int) -> str:
    return f"{dialog_id}:{user_id}"


class FeedStore:
    def __init__(self, db) -> None:
        self._col = db["feed"]
        self._shares = db["feed_shares"]
        self._counters = db["counters"]

    # -- writes ----------------------------------------------------------------------------------
    async def take_cursors(self, count: int) -> int:
        """Reserves `count` cursors (one `$inc`); returns the last of them."""
        doc = await self._counters.find_one_and_update(
            {"_id": COUNTER}, {"$inc": {"seq": count}}, upsert=True,
            return_document=ReturnDocument.AFTER)
        return int(doc["seq"])

    async def current(self) -> int:
        """The last cursor handed out (0: none yet)."""
        doc = await self._counters.find_one({"_id": COUNTER})
        return int(doc["seq"]) if doc else 0

    async def insert_many(self, entries: list[Doc]) -> None:
        if len(entries) == 1:
            await self._col.insert_one(entries[0])
        elif entries:
            await self._col.insert_many(entries)

    async def share(self, app_id: int, dialog_id: str, user_ids: list[int], from_cursor: int) -> None:
        """These members read the dialog's shared entries after `from_cursor` (idempotent: a
        current share keeps its start; an ended one, of a member who left, starts again)."""
        for uid in dict.fromkeys(user_ids):
            await self._shares.update_one(
                {"_id": share_id(dialog_id, uid), "until": {"$type": "number"}},
                {"$set": {"from": from_cursor, "until": None, "ended_at": None}})
            await self._shares.update_one(
                {"_id": share_id(dialog_id, uid)},
                {"$setOnInsert": {"app_id": app_id, "dialog_id": dialog_id, "user_id": uid,
                                  "from": from_cursor}}, upsert=True)

    async def unshare(self, dialog_id: str, user_ids: list[int], until: int, now: datetime) -> None:
        """These members read no shared entry of the dialog after `until` (what came before
        their removal they still catch up on)."""
        if user_ids:
            await self._shares.update_many(
                {"_id": {"$in": [share_id(dialog_id, u) for u in user_ids]}, "until": None},
                {"$set": {"until": until, "ended_at": now}})

    async def unshare_dialog(self, dialog_id: str) -> None:
        await self._shares.delete_many({"dialog_id": dialog_id})

    async def prune(self, now: datetime) -> int:
        """Entries past their `expires_at` (MongoDB's TTL index does it too; the embedded store
        has none)."""
        result = await self._col.delete_many({"expires_at": {"$lt": now}})
        return result.deleted_count

    async def prune_shares(self, ended_before: datetime) -> int:
        """Ended shares whose entries have all expired."""
        result = await self._shares.delete_many({"ended_at": {"$lt": ended_before}})
        return result.deleted_count

    # -- reads -----------------------------------------------------------------------------------
    async def shares_for(self, app_id: int, user_id: int) -> dict[str, tuple[int, int | None]]:
        """dialog id → (the cursor after which the user reads its shared entries, the last one
        they read: None while they are a member)."""
        out: dict[str, tuple[int, int | None]] = {}
        async for d in self._shares.find({"app_id": app_id, "user_id": user_id}):
            until = d.get("until")
            out[d["dialog_id"]] = (int(d["from"]), None if until is None else int(until))
        return out

    async def page(self, keys: dict[str, tuple[int, int | None]], limit: int) -> list[Doc]:
        """Up to `limit` entries, by cursor, of each key with a cursor above its position and
        (when it has one) up to its end."""
        if not keys or limit <= 0:
            return []
        branches = [{"key": key, "_id": {"$gt": after} if until is None
                     else {"$gt": after, "$lte": until}} for key, (after, until) in keys.items()]
        query = branches[0] if len(branches) == 1 else {"$or": branches}
        cursor = self._col.find(query).sort("_id", 1).limit(limit)
        return await cursor.to_list(length=limit)


class TombstoneStore:
    """What is left of a message deleted for everyone: its id, dialog, place (seq, date_sent),
    author, when and by whom; no body, attachments or custom keys. Expires with the feed."""

    def __init__(self, db) -> None:
        self._col = db["message_tombstones"]

    async def insert_many(self, tombstones: list[Doc]) -> None:
        for doc in tombstones:  # a repeated delete keeps the first tombstone
            oid = oid_or_none(doc["_id"])
            if oid is None:
                continue
            await self._col.update_one({"_id": oid}, {"$setOnInsert": {**doc, "_id": oid}},
                                       upsert=True)

    async def in_dialog(self, app_id: int, dialog_id: str, after_seq: int, limit: int) -> list[Doc]:
        """The dialog's tombstones after `after_seq` (a cleared history), in the dialog's order."""
        cursor = self._col.find({"app_id": app_id, "chat_dialog_id": dialog_id,
                                 "seq": {"$gt": after_seq}}).sort([("seq", 1), ("_id", 1)])
        return [{**d, "_id": str(d["_id"])} for d in
                await cursor.limit(limit).to_list(length=limit)]

    async def prune(self, now: datetime) -> int:
        result = await self._col.delete_many({"expires_at": {"$lt": now}})
        return result.deleted_count
