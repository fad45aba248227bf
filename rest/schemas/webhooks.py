"""Webhooks over the admin API: requests read into commands (models/webhooks.py) and the
endpoint and delivery objects (rest/schemas/answers.py: `WebhookJson`, `WebhookDeliveryJson`).
The secret appears only in the answers of a creation and a rotation."""
from __future__ import annotations

import json
from typing import Any

from models.errors import InvalidError
from models.lax import cast_int, parse_flag, split_list
from models.webhooks import PENDING, Webhook, WebhookChanges, WebhookDelivery, WebhookDraft, WebhookSecret
from rest.schemas.common import iso


def _events(params: dict[str, Any]) -> tuple[str, ...] | None:
    value = params.get("events", params.get("events[]"))
    if value is None:
        return None
    if isinstance(value, dict) or any(isinstance(v, (dict, list)) for v in split_list(value)):
        raise InvalidError("must be a list of event types", field="events")
    return tuple(str(v) for v in split_list(value))


def _text(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, (dict, list, bool)):
        raise InvalidError("must be a string", field=name)
    return str(value)


def webhook_draft(params: dict[str, Any]) -> WebhookDraft:
    """`{"url": ..., "events": [...] | "a,b" | "*", "enabled": 1, "description": ...}`."""
    events = _events(params)
    return WebhookDraft(url=_text(params, "url") or "", events=events or (),
                        enabled=parse_flag(params.get("enabled"), "enabled", default=True),
                        description=_text(params, "description"))


def webhook_changes(params: dict[str, Any]) -> WebhookChanges:
    enabled = None if params.get("enabled") in (None, "") else parse_flag(params["enabled"], "enabled")
    description = _text(params, "description")
    if "description" in params and params["description"] is None:
        description = ""  # null clears it
    return WebhookChanges(url=_text(params, "url"), events=_events(params), enabled=enabled,
                          description=description)


def webhook_id_from_path(value: str) -> int:
    try:
        return cast_int(value)
    except (TypeError, ValueError):
        raise InvalidError("must be a webhook id", field="webhook_id") from None


def grace_seconds(params: dict[str, Any]) -> int:
    value = params.get("keep_previous_seconds")
    if value in (None, ""):
        return 0
    try:
        return cast_int(value)
    except (TypeError, ValueError):
        raise InvalidError("must be an integer", field="keep_previous_seconds") from None


def webhook_to_json(hook: Webhook) -> dict[str, Any]:
    return {"id": hook.id, "url": hook.url, "events": list(hook.events), "enabled": hook.enabled,
            "description": hook.description, "created_at": iso(hook.created_at),
            "updated_at": iso(hook.updated_at),
            "previous_secret_until": iso(hook.previous_until) if hook.previous_secret else None}


def webhook_with_secret(shown: WebhookSecret) -> dict[str, Any]:
    return {**webhook_to_json(shown.webhook), "secret": shown.secret}


def delivery_to_json(delivery: WebhookDelivery) -> dict[str, Any]:
    return {"id": delivery.id, "webhook_id": delivery.webhook_id,
            "event_type": delivery.event_type, "event_id": delivery.event_id,
            "state": delivery.state, "attempts": delivery.attempts,
            "last_error": delivery.last_error, "last_status": delivery.last_status,
            "created_at": iso(delivery.created_at),
            "next_attempt_at": iso(delivery.due_at) if delivery.state == PENDING else None,
            "dead_at": iso(delivery.dead_at), "payload": json.loads(delivery.body)}
