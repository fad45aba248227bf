"""Wire format of push events (`POST /events` answers `[{event: {...}}]`)."""
from __future__ import annotations

from typing import Any

from rest.schemas.common import iso


def event_to_json(event: dict[str, Any]) -> dict[str, Any]:
    return {"event": {
        "id": event["_id"],
        "event_type": event.get("event_type", "one_shot"),
        "message": event.get("message"),
        "date": None,
        "period": None,
        "name": None,
        "occured_count": 0,
        "created_at": iso(event.get("created_at")),
        "updated_at": iso(event.get("updated_at")),
        "end_date": None,
        "active": True,
        "application_id": event["app_id"],
        "user_id": event["user_id"],
        "kind": "API",
        "environment": event.get("environment"),
        "tag_query": None,
        "notification_channel": {"name": event.get("push_type") or "universal"},
    }}
