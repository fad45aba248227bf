"""The `contacts` collection (one document per owner × contact, `_id` = "{owner}:{contact}") and
`roster_versions` (a user's roster version, XEP-0237: one counter per user, `_id` =
"{app}:{user}")."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from models.contacts import Contact

Doc = dict[str, Any]


def _key(user_id: int, contact_id: int) -> str:
    return f"{user_id}:{contact_id}"


class ContactStore:
    def __init__(self, db) -> None:
        self._col = db["contacts"]

    async def get(self, app_id: int, user_id: int, contact_id: int) -> Contact | None:
        doc = await self._col.find_one({"_id": _key(user_id, contact_id), "app_id": app_id})
        return None if doc is None else Contact.from_doc(doc)

    async def in_list(self, app_id: int, user_id: int, limit: int) -> list[Contact]:
        """The user's list (roster items), oldest first."""
        return await self._find({"app_id": app_id, "user_id": user_id, "in_roster": True}, limit)

    async def requests(self, app_id: int, user_id: int, limit: int) -> list[Contact]:
        """Users not in the list asking to see the user's presence, oldest first."""
        return await self._find({"app_id": app_id, "user_id": user_id, "in_roster": False,
                                 "pending_in": True}, limit)

    async def naming(self, app_id: int, contact_id: int, limit: int) -> list[Contact]:
        """Other users' entries for this user."""
        return await self._find({"app_id": app_id, "contact_id": contact_id}, limit)

    async def _find(self, query: Doc, limit: int) -> list[Contact]:
        cursor = self._col.find(query).sort("created_at", 1).limit(limit)
        return [Contact.from_doc(d) for d in await cursor.to_list(length=limit)]

    async def count_in_roster(self, app_id: int, user_id: int) -> int:
        return await self._col.count_documents(
            {"app_id": app_id, "user_id": user_id, "in_roster": True})

    async def save(self, entry: Contact, now: datetime) -> Contact:
        """Writes the entry (created at `now` when new); an entry with nothing left is deleted."""
        key = _key(entry.user_id, entry.contact_id)
        if not entry.kept:
            await self._col.delete_one({"_id": key, "app_id": entry.app_id})
            return entry
        doc = await self._col.find_one_and_update(
            {"_id": key, "app_id": entry.app_id},
            {"$set": {**entry.to_fields(), "updated_at": now},
             "$setOnInsert": {"user_id": entry.user_id, "contact_id": entry.contact_id,
                              "created_at": now}},
            upsert=True, return_document=ReturnDocument.AFTER)
        return Contact.from_doc(doc)

    async def delete_user(self, app_id: int, user_id: int) -> None:
        """A deleted account's list and its entries in other lists."""
        await self._col.delete_many({"app_id": app_id, "$or": [{"user_id": user_id},
                                                               {"contact_id": user_id}]})


class RosterVersionStore:
    def __init__(self, db) -> None:
        self._col = db["roster_versions"]

    async def current(self, app_id: int, user_id: int) -> int:
        """Versions start at 1 (a list never changed) and grow by one per change."""
        doc = await self._col.find_one({"_id": f"{app_id}:{user_id}"})
        return int(doc["changes"]) + 1 if doc else 1

    async def bump(self, app_id: int, user_id: int) -> int:
        doc = await self._col.find_one_and_update(
            {"_id": f"{app_id}:{user_id}"},
            {"$inc": {"changes": 1}, "$setOnInsert": {"app_id": app_id}},
            upsert=True, return_document=ReturnDocument.AFTER)
        return int(doc["changes"]) + 1
