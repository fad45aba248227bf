"""The `dialog_members` collection: one document per (dialog, user). See SCHEMA.md.

It answers "dialogs of user U" (the hottest query) and holds each member's own state: read
position, notification setting, hidden ("deleted for me"), cleared history position. Readers of a
broadcast dialog who are not occupants get one lazily (first read position, mute or hide); a
reader who deleted a broadcast for themselves is `hidden` and `left`: messages do not show it to
them again (`unhide_all` skips them), only being added to it again does.
"""
from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument

Doc = dict[str, Any]


def member_id(dialog_id: str, user_id: int) -> str:
    return f"{dialog_id}:{user_id}"


class MemberStore:
    def __init__(self, db) -> None:
        self._col = db["dialog_members"]

    async def add(self, app_id: int, dialog_id: str, user_ids: list[int], defaults: Doc) -> None:
        """Adds members (idempotent). An existing hidden member is made visible again."""
        if not user_ids:
            return
        # One upsert per member (bulk_write's UpdateOne is not supported by mongomock with
        # current pymongo); lists are bounded by settings.limits.max_occupants.
        for uid in user_ids:
            await self._col.update_one(
                {"_id": member_id(dialog_id, uid)},
                {"$setOnInsert": {"app_id": app_id, "dialog_id": dialog_id, "user_id": uid,
                                  "last_read_seq": 0, "cleared_seq": 0, "notifications": True,
                                  **defaults},
                 "$set": {"hidden": False, "left": False}},
                upsert=True)

    async def ensure(self, app_id: int, dialog_id: str, user_id: int, defaults: Doc) -> Doc:
        """The member's document, created with `defaults` when missing (an existing one, hidden
        or not, is returned as it is)."""
        return await self._col.find_one_and_update(
            {"_id": member_id(dialog_id, user_id)},
            {"$setOnInsert": {"app_id": app_id, "dialog_id": dialog_id, "user_id": user_id,
                              "last_read_seq": 0, "cleared_seq": 0, "notifications": True,
                              **defaults}},
            upsert=True, return_document=ReturnDocument.AFTER)

    async def get(self, dialog_id: str, user_id: int) -> Doc | None:
        return await self._col.find_one({"_id": member_id(dialog_id, user_id)})

    async def update(self, dialog_id: str, user_id: int, fields: Doc) -> Doc | None:
        return await self._col.find_one_and_update(
            {"_id": member_id(dialog_id, user_id)}, {"$set": fields},
            return_document=ReturnDocument.AFTER)

    async def set_notifications(self, dialog_id: str, user_id: int, enabled: bool) -> None:
        await self.update(dialog_id, user_id, {"notifications": enabled})

    async def hide(self, dialog_id: str, user_id: int) -> None:
        """"Delete for me": hidden until the next message (see `unhide_all`)."""
        await self.update(dialog_id, user_id, {"hidden": True})

    async def show(self, dialog_id: str, user_id: int) -> None:
        await self.update(dialog_id, user_id, {"hidden": False})

    async def show_for_good(self, dialog_id: str, user_id: int) -> None:
        """The member asked to see the dialog again (a broadcast they deleted for themselves too)."""
        await self.update(dialog_id, user_id, {"hidden": False, "left": False})

    async def set_archived(self, dialog_id: str, user_id: int, archived: bool) -> Doc | None:
        """Moves the dialog to the member's archive (or out of it); returns the member."""
        return await self.update(dialog_id, user_id, {"archived": archived})

    async def leave_broadcast(self, dialog_id: str, user_id: int) -> None:
        """A reader deleted a broadcast dialog for themselves: hidden for good."""
        await self.update(dialog_id, user_id, {"hidden": True, "left": True})

    async def clear_history(self, dialog_id: str, user_id: int, seq: int) -> None:
        """Messages up to `seq` are gone for this member."""
        await self.update(dialog_id, user_id, {"cleared_seq": seq})

    async def update_many(self, dialog_id: str, user_ids: list[int] | None, fields: Doc) -> None:
        query: Doc = {"dialog_id": dialog_id}
        if user_ids is not None:
            query["user_id"] = {"$in": user_ids}
        await self._col.update_many(query, {"$set": fields})

    async def unhide_all(self, dialog_id: str) -> None:
        """Shows the dialog again to every member who hid it ("deleted for me"), except readers
        who left a broadcast dialog."""
        await self._col.update_many({"dialog_id": dialog_id, "hidden": True, "left": {"$ne": True}},
                                    {"$set": {"hidden": False}})

    async def advance_read(self, dialog_id: str, user_id: int, seq: int) -> None:
        """Moves the member's read position forward (never back)."""
        await self._col.update_one({"_id": member_id(dialog_id, user_id),
                                    "last_read_seq": {"$lt": seq}},
                                   {"$set": {"last_read_seq": seq}})

    async def remove(self, dialog_id: str, user_ids: list[int]) -> None:
        await self._col.delete_many({"_id": {"$in": [member_id(dialog_id, u) for u in user_ids]}})

    async def remove_dialog(self, dialog_id: str) -> None:
        await self._col.delete_many({"dialog_id": dialog_id})

    async def for_user(self, app_id: int, user_id: int, include_hidden: bool = False) -> list[Doc]:
        query: Doc = {"app_id": app_id, "user_id": user_id}
        if not include_hidden:
            query["hidden"] = {"$ne": True}
        return await self._col.find(query).to_list(length=None)

    async def for_dialog(self, dialog_id: str, skip: int = 0, limit: int = 0,
                         user_ids: list[int] | None = None) -> list[Doc]:
        query: Doc = {"dialog_id": dialog_id}
        if user_ids is not None:
            query["user_id"] = {"$in": list(user_ids)}
        cursor = self._col.find(query).sort("user_id", 1).skip(skip)
        if limit:
            cursor = cursor.limit(limit)
        return await cursor.to_list(length=None)

    async def left_users(self, dialog_id: str) -> list[int]:
        """Users who deleted this (broadcast) dialog for themselves."""
        return [d["user_id"] async for d in self._col.find({"dialog_id": dialog_id, "left": True},
                                                            {"user_id": 1})]

    async def count_for_dialog(self, dialog_id: str) -> int:
        return await self._col.count_documents({"dialog_id": dialog_id})

    async def get_many(self, dialog_ids: list[str], user_id: int) -> dict[str, Doc]:
        ids = [member_id(d, user_id) for d in dialog_ids]
        return {d["dialog_id"]: d async for d in self._col.find({"_id": {"$in": ids}})}

    async def muted_or_hidden(self, dialog_ids: list[str]) -> list[Doc]:
        """The members of these dialogs who muted them (notifications off) or deleted them for
        themselves (hidden): the admin API's `silent_ids` / `deleted_ids`."""
        if not dialog_ids:
            return []
        return await self._col.find(
            {"dialog_id": {"$in": list(dialog_ids)},
             "$or": [{"notifications": False}, {"hidden": True}]},
            {"dialog_id": 1, "user_id": 1, "notifications": 1, "hidden": 1}).to_list(length=None)
