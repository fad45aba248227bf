"""The `blocklists` collection: one document per user who ever blocked someone.

`_id` = "{app_id}:{user_id}", `blocked_ids` [int] (the block list, in the order the users were
blocked), `default_list` (the privacy-list name clients gave it), `lists` {name: [int]} (privacy
lists that are not the default), `version` (int, +1 per write: writes are compare-and-set, so
concurrent changes from REST and XMPP never lose one another), `updated_at`.
Index `by_blocked` (`app_id`, `blocked_ids`, `user_id`): who blocked a user, among some users.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

Doc = dict[str, Any]


def _key(app_id: int, user_id: int) -> str:
    return f"{app_id}:{user_id}"


class BlocklistStore:
    def __init__(self, db) -> None:
        self._col = db["blocklists"]

    async def get(self, app_id: int, user_id: int) -> Doc | None:
        return await self._col.find_one({"_id": _key(app_id, user_id)})

    async def get_many(self, app_id: int, user_ids: list[int]) -> list[Doc]:
        keys = [_key(app_id, u) for u in set(user_ids)]
        return await self._col.find({"_id": {"$in": keys}},
                                    {"user_id": 1, "blocked_ids": 1}).to_list(length=None)

    async def save(self, app_id: int, user_id: int, version: int, blocked_ids: list[int],
                   default_list: str | None, lists: dict[str, list[int]], when: datetime) -> bool:
        """Writes the list if it is still at `version` (0: not stored yet); False if another
        write came first."""
        fields = {"app_id": app_id, "user_id": user_id, "blocked_ids": blocked_ids,
                  "default_list": default_list, "lists": lists, "version": version + 1,
                  "updated_at": when}
        if version == 0:
            try:
                await self._col.insert_one({"_id": _key(app_id, user_id), **fields})
            except DuplicateKeyError:
                return False
            return True
        result = await self._col.update_one({"_id": _key(app_id, user_id), "version": version},
                                            {"$set": fields})
        return result.matched_count == 1

    async def forget_user(self, app_id: int, user_id: int) -> list[int]:
        """A deleted account: its own list goes and it leaves the others' (each of those writes
        counts as a change: `version` + 1); returns whose lists named it."""
        await self._col.delete_one({"_id": _key(app_id, user_id)})
        holders = [int(d["user_id"]) for d in await self._col.find(
            {"app_id": app_id, "blocked_ids": user_id}, {"user_id": 1}).to_list(length=None)]
        if holders:
            await self._col.update_many({"app_id": app_id, "blocked_ids": user_id},
                                        {"$pull": {"blocked_ids": user_id}, "$inc": {"version": 1}})
        return holders

    async def blockers_among(self, app_id: int, blocked_id: int, user_ids: list[int]) -> list[int]:
        """Those of `user_ids` who blocked `blocked_id`."""
        docs = await self._col.find({"app_id": app_id, "blocked_ids": blocked_id,
                                     "user_id": {"$in": list(set(user_ids))}},
                                    {"user_id": 1}).to_list(length=None)
        return [int(d["user_id"]) for d in docs]

    async def blockers_of(self, app_id: int, blocked_id: int, limit: int) -> list[int]:
        """Who blocked `blocked_id` (at most `limit`)."""
        docs = await self._col.find({"app_id": app_id, "blocked_ids": blocked_id},
                                    {"user_id": 1}).to_list(length=limit)
        return [int(d["user_id"]) for d in docs]
