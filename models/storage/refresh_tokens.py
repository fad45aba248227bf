"""The `refresh_tokens` collection: one document per login (a refresh-token family, OAuth 2.1).

`_id` is the login's session id (the `id` every session of the family carries), `token_hash` the
sha256 of the current refresh token (null for a login without one: `POST /login` on an
application session), `previous_hashes` the hashes already rotated away (the last
`MAX_PREVIOUS`: a token seen there again is a reuse, and ends the family). No token is stored.
`expires_at` (idle expiry, capped at `absolute_expires_at`) carries a TTL index.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

Doc = dict[str, Any]

MAX_PREVIOUS = 200  # rotated hashes kept for reuse detection (a refresh every 2 h: 16 days)


class RefreshTokenStore:
    def __init__(self, db) -> None:
        self._col = db["refresh_tokens"]

    async def insert(self, doc: Doc) -> None:
        await self._col.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def find_current(self, token_hash: str) -> Doc | None:
        return await self._col.find_one({"token_hash": token_hash})

    async def find_rotated(self, token_hash: str) -> Doc | None:
        return await self._col.find_one({"previous_hashes": token_hash})

    async def rotate(self, family: int, token_hash: str, new_hash: str, now: datetime,
                     expires_at: datetime) -> bool:
        """Replaces the current token, if it is still `token_hash` (False: a concurrent refresh
        with the same token won)."""
        result = await self._col.update_one(
            {"_id": family, "token_hash": token_hash},
            {"$set": {"token_hash": new_hash, "last_used_at": now, "expires_at": expires_at},
             "$push": {"previous_hashes": {"$each": [token_hash], "$slice": -MAX_PREVIOUS}}})
        return result.modified_count == 1

    async def find_for_user(self, app_id: int, user_id: int) -> list[Doc]:
        return await self._col.find({"app_id": app_id, "user_id": user_id},
                                    {"previous_hashes": 0}).to_list(None)

    async def delete_ids(self, app_id: int, user_id: int, families: list[int]) -> int:
        result = await self._col.delete_many(
            {"app_id": app_id, "user_id": user_id, "_id": {"$in": families}})
        return result.deleted_count

    async def delete_family(self, family: int) -> None:
        await self._col.delete_one({"_id": family})

    async def delete_for_user(self, app_id: int, user_id: int) -> int:
        result = await self._col.delete_many({"app_id": app_id, "user_id": user_id})
        return result.deleted_count
