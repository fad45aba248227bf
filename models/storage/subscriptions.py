"""The `push_subscriptions` collection: one document per (application, channel, device udid).

A device that subscribes again (new token, or another user logged in on it) updates its document
instead of adding one, so a device never receives the same notification twice.
"""
from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument

Doc = dict[str, Any]


class SubscriptionStore:
    def __init__(self, db) -> None:
        self._col = db["push_subscriptions"]

    async def upsert_device(self, app_id: int, channel: str, udid: str, fields: Doc,
                            on_insert: Doc) -> Doc:
        """Sets `fields` on the device's subscription, creating it with `on_insert` (which holds
        the new `_id` and `created_at`) when the device has none for this channel."""
        return await self._col.find_one_and_update(
            {"app_id": app_id, "channel": channel, "udid": udid},
            {"$set": fields, "$setOnInsert": on_insert},
            upsert=True, return_document=ReturnDocument.AFTER)

    async def delete_other_holders(self, app_id: int, channel: str, keep_id: int,
                                   token: str | None, endpoint: str | None) -> int:
        """Removes other subscriptions holding the same push token (or web endpoint): the token
        moved to another device id or user, and only its newest owner may receive pushes."""
        query: Doc = {"app_id": app_id, "channel": channel, "_id": {"$ne": keep_id}}
        if token:
            query["token"] = token
        elif endpoint:
            query["web.endpoint"] = endpoint
        else:
            return 0
        result = await self._col.delete_many(query)
        return result.deleted_count

    async def get(self, app_id: int, subscription_id: int) -> Doc | None:
        return await self._col.find_one({"_id": subscription_id, "app_id": app_id})

    async def for_user(self, app_id: int, user_id: int) -> list[Doc]:
        cursor = self._col.find({"app_id": app_id, "user_id": user_id}).sort("_id", 1)
        return await cursor.to_list(length=None)

    async def for_users(self, app_id: int, user_ids: list[int],
                        channels: list[str] | tuple[str, ...] | None = None,
                        environment: str | None = None) -> list[Doc]:
        if not user_ids:
            return []
        query: Doc = {"app_id": app_id, "user_id": {"$in": list(user_ids)}}
        if channels is not None:
            query["channel"] = {"$in": list(channels)}
        if environment is not None:
            query["environment"] = environment
        return await self._col.find(query).sort("_id", 1).to_list(length=None)

    async def page_for_app(self, app_id: int, channels: list[str] | tuple[str, ...],
                           after_id: int | None, limit: int) -> list[Doc]:
        """Subscriptions of the whole application on these channels, by `_id`, `limit` after
        `after_id` (for alerts that reach every user: broadcast dialogs)."""
        query: Doc = {"app_id": app_id, "channel": {"$in": list(channels)}}
        if after_id is not None:
            query["_id"] = {"$gt": after_id}
        return await self._col.find(query).sort("_id", 1).limit(limit).to_list(length=limit)

    async def delete(self, app_id: int, user_id: int, subscription_id: int) -> bool:
        result = await self._col.delete_one(
            {"_id": subscription_id, "app_id": app_id, "user_id": user_id})
        return result.deleted_count == 1

    async def delete_if_target(self, app_id: int, subscription_id: int, token: str | None,
                               endpoint: str | None) -> bool:
        """Deletes the subscription only if it still holds this token / endpoint (a device that
        re-subscribed meanwhile keeps its fresh token)."""
        query: Doc = {"_id": subscription_id, "app_id": app_id}
        if token:
            query["token"] = token
        elif endpoint:
            query["web.endpoint"] = endpoint
        else:
            return False
        result = await self._col.delete_one(query)
        return result.deleted_count == 1

    async def delete_for_user(self, app_id: int, user_id: int) -> int:
        result = await self._col.delete_many({"app_id": app_id, "user_id": user_id})
        return result.deleted_count

    async def trim(self, app_id: int, user_id: int, keep: int) -> int:
        """Keeps the user's `keep` most recently updated subscriptions; deletes the others."""
        docs = await self._col.find({"app_id": app_id, "user_id": user_id},
                                    {"_id": 1}).sort([("updated_at", -1), ("_id", -1)]) \
            .to_list(length=None)
        extra = [d["_id"] for d in docs[keep:]]
        if not extra:
            return 0
        result = await self._col.delete_many({"_id": {"$in": extra}, "app_id": app_id})
        return result.deleted_count

    async def count(self, query: Doc | None = None) -> int:
        return await self._col.count_documents(query or {})
