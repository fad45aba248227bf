"""The `sessions` collection (one document per live access token) and `session_devices` (the
devices a user has logged in from, for the new-login notice).

`sessions`: `_id` is sha256(token): the token itself is never stored. `id` is the session's number,
kept across refreshes (models/storage/refresh_tokens.py), so one login keeps one id.
`expires_at` carries a TTL index (MongoDB removes expired sessions); reads also check it,
because TTL removal runs about once a minute.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

Doc = dict[str, Any]


class SessionStore:
    def __init__(self, db) -> None:
        self._col = db["sessions"]

    async def insert(self, doc: Doc) -> None:
        await self._col.insert_one(doc)

    async def get(self, token_hash: str) -> Doc | None:
        return await self._col.find_one({"_id": token_hash})

    async def touch(self, token_hash: str, now: datetime, expires_at: datetime) -> None:
        await self._col.update_one(
            {"_id": token_hash}, {"$set": {"updated_at": now, "expires_at": expires_at}}
        )

    async def set_user(self, token_hash: str, user_id: int, now: datetime,
                       device: Doc | None = None) -> None:
        fields: Doc = {"user_id": user_id, "updated_at": now}
        if device is not None:
            fields["device"] = device
        await self._col.update_one({"_id": token_hash}, {"$set": fields})

    async def delete(self, token_hash: str) -> None:
        await self._col.delete_one({"_id": token_hash})

    async def find_for_user(self, app_id: int, user_id: int) -> list[Doc]:
        """The user's session documents (expired ones the TTL monitor has not removed included)."""
        return await self._col.find({"app_id": app_id, "user_id": user_id}).to_list(None)

    async def delete_ids(self, app_id: int, user_id: int, ids: list[int]) -> list[str]:
        """Deletes the user's access tokens of these session ids; returns their hashes."""
        docs = await self._col.find({"app_id": app_id, "user_id": user_id, "id": {"$in": ids}},
                                    {"_id": 1}).to_list(None)
        hashes = [doc["_id"] for doc in docs]
        if hashes:
            await self._col.delete_many({"_id": {"$in": hashes}})
        return hashes

    async def delete_for_user(self, app_id: int, user_id: int) -> int:
        result = await self._col.delete_many({"app_id": app_id, "user_id": user_id})
        return result.deleted_count


class DeviceStore:
    """`session_devices`: `_id` = `"{appId}:{userId}:{key}"` (key: the device id given at login, or
    one made from the user agent), `app_id`, `user_id`, `device`, `first_seen`, `last_seen`."""

    def __init__(self, db) -> None:
        self._col = db["session_devices"]

    async def remember(self, app_id: int, user_id: int, key: str, device: Doc,
                       now: datetime) -> bool:
        """Records a login from this device; True when the user had not used it before."""
        result = await self._col.update_one(
            {"_id": f"{app_id}:{user_id}:{key}"},
            {"$set": {"device": device, "last_seen": now},
             "$setOnInsert": {"app_id": app_id, "user_id": user_id, "first_seen": now}},
            upsert=True)
        return result.upserted_id is not None

    async def count_for_user(self, app_id: int, user_id: int) -> int:
        return await self._col.count_documents({"app_id": app_id, "user_id": user_id})

    async def delete_for_user(self, app_id: int, user_id: int) -> int:
        result = await self._col.delete_many({"app_id": app_id, "user_id": user_id})
        return result.deleted_count
