"""The `blobs` collection: integer `_id`, random 32-hex `uid` (unique), owner `user_id`.

Uploads carry no application context (the upload URL holds only the uid and a one-time token),
so `find_by_uid` can search every application; everything else is scoped by `app_id`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from models.storage.errors import duplicates_as_conflict

Doc = dict[str, Any]


class BlobStore:
    def __init__(self, db) -> None:
        self._col = db["blobs"]

    async def insert(self, doc: Doc) -> None:
        with duplicates_as_conflict("uid already taken"):
            await self._col.insert_one(doc)

    async def get(self, app_id: int, blob_id: int) -> Doc | None:
        return await self._col.find_one({"_id": blob_id, "app_id": app_id})

    async def get_by_uid(self, app_id: int, uid: str) -> Doc | None:
        return await self._col.find_one({"uid": uid, "app_id": app_id})

    async def find_by_uid(self, uid: str, limit: int = 4) -> list[Doc]:
        """Blobs with this uid in any application (uids are random; normally zero or one)."""
        return await self._col.find({"uid": uid}).limit(limit).to_list(length=limit)

    async def find_by_owner(self, app_id: int, user_id: int, skip: int, limit: int) -> list[Doc]:
        cursor = self._col.find({"app_id": app_id, "user_id": user_id}).sort([("_id", -1)])
        return await cursor.skip(skip).limit(limit).to_list(length=limit)

    async def count_by_owner(self, app_id: int, user_id: int) -> int:
        return await self._col.count_documents({"app_id": app_id, "user_id": user_id})

    async def mark_uploaded(self, blob_id: int, token_hash: str, now: datetime, size: int,
                            content_type: str | None) -> Doc | None:
        """Consumes the one-time upload token: only succeeds while the token is still the blob's
        and unexpired, so two uploads racing on one token cannot both win."""
        changes: Doc = {"size": size, "uploaded_at": now, "updated_at": now}
        if content_type:
            changes["content_type"] = content_type
        return await self._col.find_one_and_update(
            {"_id": blob_id, "upload_token_hash": token_hash, "upload_expires_at": {"$gt": now}},
            {"$set": changes, "$unset": {"upload_token_hash": ""}},
            return_document=ReturnDocument.AFTER,
        )

    async def revert_upload(self, blob_id: int, token_hash: str) -> None:
        """Gives the token back after the bytes could not be stored, so the client may retry."""
        await self._col.update_one(
            {"_id": blob_id, "status": "new"},
            {"$set": {"upload_token_hash": token_hash, "size": None, "uploaded_at": None}},
        )

    async def set_upload_token(self, app_id: int, blob_id: int, token_hash: str,
                               expires_at: datetime, now: datetime) -> Doc | None:
        """A fresh write access (`blob[new]=1`): the blob goes back to `new` until re-completed."""
        return await self._col.find_one_and_update(
            {"_id": blob_id, "app_id": app_id},
            {"$set": {"upload_token_hash": token_hash, "upload_expires_at": expires_at,
                      "status": "new", "size": None, "uploaded_at": None, "updated_at": now},
             "$unset": {"completed_at": ""}},
            return_document=ReturnDocument.AFTER,
        )

    async def set_fields(self, app_id: int, blob_id: int, fields: Doc) -> Doc | None:
        """Sets the given fields; the blob after the change (None: no such blob)."""
        return await self._col.find_one_and_update(
            {"_id": blob_id, "app_id": app_id}, {"$set": fields},
            return_document=ReturnDocument.AFTER,
        )

    async def complete(self, app_id: int, blob_id: int, now: datetime) -> Doc | None:
        """Marks an uploaded blob complete (no-op filter miss if it was not uploaded)."""
        return await self._col.find_one_and_update(
            {"_id": blob_id, "app_id": app_id, "uploaded_at": {"$ne": None}},
            {"$set": {"status": "complete", "completed_at": now, "updated_at": now}},
            return_document=ReturnDocument.AFTER,
        )

    async def delete(self, app_id: int, blob_id: int) -> bool:
        result = await self._col.delete_one({"_id": blob_id, "app_id": app_id})
        return result.deleted_count == 1
