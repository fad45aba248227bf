"""The `address_book_contacts` collection: one document per contact of a user's book (a device's,
by `udid`, or the global one, `udid` ""). See SCHEMA.md. A contact is keyed by its phone's digits
(`phone_key`: `+44…` and `44…` are one contact); contacts come back in the order they were first
stored (their ObjectId)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import BulkWriteError

from models.address_book import Contact

Doc = dict[str, Any]


class AddressBookStore:
    def __init__(self, db) -> None:
        self._col = db["address_book_contacts"]

    @staticmethod
    def _book(app_id: int, user_id: int, udid: str) -> Doc:
        return {"app_id": app_id, "user_id": user_id, "udid": udid}

    async def contacts(self, app_id: int, user_id: int, udid: str) -> list[Contact]:
        cursor = self._col.find(self._book(app_id, user_id, udid),
                                {"name": 1, "phone": 1}).sort([("_id", ASCENDING)])
        return [Contact(d["name"], d["phone"]) for d in await cursor.to_list(length=None)]

    async def insert_many(self, app_id: int, user_id: int, udid: str, contacts: list[Contact],
                          now: datetime) -> None:
        """Adds new contacts; one already there (a concurrent upload) is renamed instead."""
        if not contacts:
            return
        docs = [{**self._book(app_id, user_id, udid), "phone_key": c.key, "phone": c.phone,
                 "name": c.name, "created_at": now, "updated_at": now} for c in contacts]
        try:
            await self._col.insert_many(docs, ordered=False)
        except BulkWriteError:
            for contact in contacts:
                await self.rename(app_id, user_id, udid, contact, now, upsert=True)

    async def rename(self, app_id: int, user_id: int, udid: str, contact: Contact, now: datetime,
                     upsert: bool = False) -> None:
        """Sets the name and the phone's written form of the contact with the same digits."""
        await self._col.update_one(
            {**self._book(app_id, user_id, udid), "phone_key": contact.key},
            {"$set": {"name": contact.name, "phone": contact.phone, "updated_at": now},
             "$setOnInsert": {"created_at": now}}, upsert=upsert)

    async def delete_phones(self, app_id: int, user_id: int, udid: str, keys: list[str]) -> int:
        """Removes the contacts whose phone's digits are among `keys`; returns how many."""
        if not keys:
            return 0
        result = await self._col.delete_many({**self._book(app_id, user_id, udid),
                                              "phone_key": {"$in": keys}})
        return int(result.deleted_count)

    async def delete_user(self, app_id: int, user_id: int) -> None:
        """Every book of a user: their account is deleted (the phones are other people's)."""
        await self._col.delete_many({"app_id": app_id, "user_id": user_id})
