"""The `secrets` collection: keys every process of one deployment must share (signed blob URLs),
created once by whichever process starts first. Values never leave the services layer."""
from __future__ import annotations


class SecretStore:
    def __init__(self, db) -> None:
        self._col = db["secrets"]

    async def get_or_create(self, name: str, candidate: str) -> str:
        """The stored value for `name`; `candidate` becomes it if there is none yet (atomic:
        concurrent starts agree on one value)."""
        await self._col.update_one({"_id": name}, {"$setOnInsert": {"value": candidate}}, upsert=True)
        doc = await self._col.find_one({"_id": name})
        return str(doc["value"])

    async def replace(self, name: str, value: str) -> None:
        """Sets `name` to `value` whatever it was (key rotation)."""
        await self._col.update_one({"_id": name}, {"$set": {"value": value}}, upsert=True)
