"""The JSON of event feed items (`GET /chat/events`) and message tombstones
(`GET /chat/Message?include_deleted=1`); rest/schemas/answers.py describes both."""
from __future__ import annotations

from typing import Any

from models.feed import FeedItem, Tombstone
from models.messages import iso


def feed_item_to_json(item: FeedItem) -> dict[str, Any]:
    out: dict[str, Any] = {"cursor": f"{item.cursor}-{int(item.at.timestamp() * 1000)}",
                           "type": item.type, "dialog_id": item.dialog_id}
    if item.message_id is not None:
        out["message_id"] = item.message_id
    out.update({"actor_id": item.actor_id, "at": iso(item.at), "data": item.data})
    return out


def tombstone_to_json(tombstone: Tombstone) -> dict[str, Any]:
    return {"_id": tombstone.id, "chat_dialog_id": tombstone.dialog_id,
            "sender_id": tombstone.sender_id, "date_sent": tombstone.date_sent, "deleted": True,
            "deleted_at": iso(tombstone.deleted_at), "deleted_by": tombstone.deleted_by}
