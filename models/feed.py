"""The event feed's values (`GET /chat/events`) and message tombstones (models/services/feed.py).

A cursor on the wire is `"{position}-{stamp}"`: the position of the last entry read (a global,
increasing integer) and when the feed was known complete up to it (Unix milliseconds), which is how
a cursor older than the retention is recognised (410) without keeping anything per reader.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from models.errors import InvalidError

_CURSOR = re.compile(r"^([0-9]{1,18})-([0-9]{1,15})$")

# the item types (docs/architecture.md, "The event feed")
MESSAGE_CREATED = "message_created"
MESSAGE_UPDATED = "message_updated"
MESSAGE_DELETED = "message_deleted"
REACTIONS_CHANGED = "reactions_changed"
MESSAGES_READ = "messages_read"
MESSAGES_DELIVERED = "messages_delivered"
PINS_CHANGED = "pins_changed"
DIALOG_CREATED = "dialog_created"
DIALOG_UPDATED = "dialog_updated"
DIALOG_DELETED = "dialog_deleted"
OCCUPANTS_ADDED = "occupants_added"
OCCUPANTS_REMOVED = "occupants_removed"
ADMINS_CHANGED = "admins_changed"
SETTINGS_CHANGED = "settings_changed"
BANNED = "banned"
UNBANNED = "unbanned"
BLOCKS_CHANGED = "blocks_changed"


@dataclass(frozen=True)
class Cursor:
    position: int
    stamp_ms: int

    def __str__(self) -> str:
        return f"{self.position}-{self.stamp_ms}"

    @staticmethod
    def parse(value: str, field_name: str = "since") -> "Cursor":
        match = _CURSOR.match(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise InvalidError("is not a feed cursor", field=field_name)
        return Cursor(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class FeedItem:
    cursor: int
    type: str
    dialog_id: str | None
    message_id: str | None
    actor_id: int
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    next: Cursor
    more: bool


@dataclass(frozen=True)
class Tombstone:
    """What is left of a message deleted for everyone (no body, attachments or custom keys)."""

    id: str
    dialog_id: str
    sender_id: int
    date_sent: int | None
    seq: int
    deleted_at: datetime
    deleted_by: int

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> "Tombstone":
        return Tombstone(str(doc["_id"]), doc["chat_dialog_id"], int(doc.get("sender_id") or 0),
                         doc.get("date_sent"), int(doc.get("seq") or 0), doc["deleted_at"],
                         int(doc.get("deleted_by") or 0))
