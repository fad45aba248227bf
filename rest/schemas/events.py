"""Push events on the wire: the `POST /events` body → PushEventDraft, and the answer
`[{event: {...}}]`."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from models.errors import InvalidError
from models.lax import cast_int, split_list
from models.push import PushEventDraft, TagFilter
from rest.schemas.common import iso, read_body


class CreateEventBody(BaseModel):
    """The `event` object: `user: {ids, tags: {any, all, exclude}}`, `external_user: {ids}` (ids
    and tags as comma lists or arrays), `expiration` as Unix seconds (a string too)."""
    model_config = ConfigDict(extra="ignore")

    notification_type: Any = None
    environment: Any = None
    push_type: Any = None
    event_type: Any = None
    message: Any = None
    expiration: Any = None
    user: Any = None
    external_user: Any = None

    def to_command(self) -> PushEventDraft:
        fields: dict[str, Any] = {
            "notification_type": _text(self.notification_type),
            "environment": _text(self.environment),
            "push_type": str(self.push_type) if self.push_type else None,
            "event_type": None if self.event_type in (None, "") else str(self.event_type),
            "message": self.message if isinstance(self.message, str) else None,
        }
        if "expiration" in self.model_fields_set:
            fields["expiration"] = _timestamp(self.expiration)
        user = self.user if isinstance(self.user, dict) else {}
        external = self.external_user if isinstance(self.external_user, dict) else {}
        fields["user_ids"] = _ids(user.get("ids"), "ids")
        fields["external_user_ids"] = _ids(external.get("ids"), "external_user_ids")
        tags = user.get("tags")
        if isinstance(tags, dict) and any(tags.get(k) for k in ("any", "all", "exclude")):
            fields["tags"] = TagFilter(**{k: _tags(tags.get(k)) for k in ("any", "all", "exclude")})
        return PushEventDraft(**fields)


def event_draft(value: Any) -> PushEventDraft:
    if not isinstance(value, dict):
        raise InvalidError("can't be blank", field="event")
    return read_body(CreateEventBody, value).to_command()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _timestamp(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return cast_int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidError("must be a Unix timestamp", field="expiration") from exc


def _ids(value: Any, field: str) -> tuple[int, ...] | None:
    """As given, repeats included; `None` when not given."""
    if value in (None, "", []):
        return None
    try:
        return tuple(cast_int(v) for v in split_list(value))
    except (TypeError, ValueError) as exc:
        raise InvalidError("must be a list of integers", field=field) from exc


def _tags(value: Any) -> tuple[str, ...]:
    return tuple(str(t).strip() for t in split_list(value) if str(t).strip())


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
