"""`POST /events`: push notifications a user sends to other users of the same application.

The message is the base64 text the SDK's apps build (`base64Encode(JSON.stringify(payload))`).
Without `push_type` it is a *universal* payload whose standard keys (`message`, `ios_badge`,
`ios_sound`, ...) are mapped to each platform; with `push_type` and `payload=<base64>` it is the
platform's own payload, passed through. Recipients: `user.ids`, `external_user.ids` or
`user.tags.{any,all,exclude}`, always limited to users of the caller's application.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

from config.settings import PushSettings
from models.clock import Clock
from models.errors import ForbiddenError, InvalidError
from models.lax import cast_int
from models.push import CHANNELS, ENVIRONMENTS, PushEventDraft, TagFilter
from models.queries import Condition, Op
from models.requester import Requester
from models.services.push import PushService, job_doc
from models.storage.counters import CounterStore
from models.storage.push_events import PushEventStore
from models.storage.subscriptions import SubscriptionStore
from models.storage.users import UserStore

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
MAX_TAGS = 10
# Universal keys (ConnectyCube's push docs) → neutral notification fields.
UNIVERSAL = {"message": "body", "ios_badge": "badge", "ios_sound": "sound",
             "ios_category": "category", "ios_thread_id": "thread_id",
             "ios_loc_data": "loc", "android_fcm_notification": "android_notification"}
UNIVERSAL_FLAGS = {"ios_content_available": "content_available",
                   "ios_mutable_content": "mutable_content"}


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes")


def decode_message(message: str | None, max_bytes: int) -> tuple[bool, Any]:
    """`(raw, content)`: `raw` when it was given as `payload=<base64>`; `content` is the decoded
    JSON value, or the decoded text when it is not JSON."""
    if not isinstance(message, str) or not message.strip():
        raise InvalidError("can't be blank", field="message")
    text = message.strip()
    raw = text.startswith("payload=")
    if raw:
        text = text[len("payload="):]
    if len(text) > max_bytes * 2:
        raise InvalidError(f"is too long (maximum is {max_bytes} bytes decoded)", field="message")
    try:
        data = base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4),
                                validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidError("must be base64-encoded", field="message") from exc
    if len(data) > max_bytes:
        raise InvalidError(f"is too long (maximum is {max_bytes} bytes decoded)", field="message")
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidError("must be base64-encoded UTF-8 text", field="message") from exc
    try:
        return raw, json.loads(decoded)
    except ValueError:
        return raw, decoded


def universal_notification(content: Any) -> Doc:
    """Maps a universal payload (JSON object, or plain text) to a neutral notification."""
    if not isinstance(content, dict):
        return {"body": str(content), "push_type": "alert", "data": {}}
    out: Doc = {"push_type": "alert", "data": {}}
    for key, value in content.items():
        if key in UNIVERSAL:
            if key == "ios_badge":
                try:
                    out["badge"] = cast_int(value)
                except (TypeError, ValueError) as exc:
                    raise InvalidError("ios_badge must be an integer", field="message") from exc
            elif key in ("ios_loc_data", "android_fcm_notification"):
                if not isinstance(value, dict):
                    raise InvalidError(f"{key} must be an object", field="message")
                out[UNIVERSAL[key]] = value
            else:
                out[UNIVERSAL[key]] = None if value is None else str(value)
        elif key in UNIVERSAL_FLAGS:
            out[UNIVERSAL_FLAGS[key]] = _truthy(value)
        elif key == "ios_push_type":
            if value not in ("alert", "background"):
                raise InvalidError("ios_push_type must be alert or background", field="message")
            out["push_type"] = value
        elif key == "ios_voip":
            out["voip"] = _truthy(value)
        elif key == "expiration":
            try:
                out["expiration"] = cast_int(value)
            except (TypeError, ValueError) as exc:
                raise InvalidError("expiration must be a Unix timestamp", field="message") from exc
        else:
            out["data"][key] = value
            if key == "title" and isinstance(value, str):
                out["title"] = value
    if "message" in content:
        out["data"]["message"] = content["message"]
    return out


class PushEventService:
    def __init__(self, events: PushEventStore, users: UserStore, subscriptions: SubscriptionStore,
                 push: PushService, counters: CounterStore, clock: Clock,
                 settings: PushSettings) -> None:
        self._events = events
        self._users = users
        self._subs = subscriptions
        self._push = push
        self._counters = counters
        self._clock = clock
        self._settings = settings

    async def create(self, requester: Requester, draft: PushEventDraft) -> Doc:
        if not requester.is_user:
            raise ForbiddenError("A user session is required")
        if draft.notification_type != "push":
            raise InvalidError("must be push", field="notification_type")
        environment = draft.environment
        if environment not in ENVIRONMENTS:
            raise InvalidError("must be development or production", field="environment")
        push_type = draft.push_type or None
        if push_type is not None and push_type not in CHANNELS:
            raise InvalidError(f"must be one of {', '.join(CHANNELS)}", field="push_type")
        if draft.event_type not in (None, "", "one_shot"):
            raise InvalidError("only one_shot events are supported", field="event_type")
        raw, content = decode_message(draft.message, self._settings.max_event_message_bytes)
        if raw and push_type:
            if not isinstance(content, dict):
                raise InvalidError("payload must be a JSON object", field="message")
            notification: Doc = {"raw": content, "push_type": _raw_push_type(push_type, content)}
        else:
            notification = universal_notification(content)
        expiration = (draft.expiration if "expiration" in draft.model_fields_set
                      else notification.get("expiration"))
        now = self._clock.now()
        if expiration is not None:
            if expiration <= int(now.timestamp()):
                raise InvalidError("is in the past", field="expiration")
            notification["expiration"] = expiration
        recipients = await self._recipients(requester.app_id, draft)

        event_id = await self._counters.next("push_events")
        channels = self._channels(push_type, notification)
        subs = await self._subs.for_users(requester.app_id, recipients, sorted(channels), environment)
        subs = _route_voip(subs, push_type, notification)
        expires = self._push.expires_at(now, notification.get("expiration"))
        docs = [job_doc(s, notification, key=f"e{event_id}:{s['_id']}", kind="event", now=now,
                        expires_at=expires) for s in subs]
        event = {"_id": event_id, "app_id": requester.app_id, "user_id": requester.user_id,
                 "environment": environment, "push_type": push_type, "event_type": "one_shot",
                 "recipients": len(recipients), "jobs": len(docs), "created_at": now,
                 "updated_at": now}
        await self._events.insert(event)
        queued = await self._push.enqueue(docs)
        logger.info("push event %s by user %s: %d recipients, %d jobs", event_id,
                    requester.user_id, len(recipients), queued)
        return {**event, "message": draft.message}

    def _channels(self, push_type: str | None, notification: Doc) -> set[str]:
        if push_type:
            wanted = {push_type}
        else:
            wanted = {"apns", "gcm", "web"}
            if notification.get("voip"):
                wanted.add("apns_voip")
        return wanted & self._push.channels

    async def _recipients(self, app_id: int, draft: PushEventDraft) -> list[int]:
        limit = self._settings.max_event_recipients
        found: list[int] = []
        if draft.user_ids is not None:
            ids = _unique(draft.user_ids, limit)
            found += [d["_id"] for d in await self._users.get_many(app_id, ids)]
        if draft.external_user_ids is not None:
            ids = _unique(draft.external_user_ids, limit)
            found += await self._users.ids_matching(
                app_id, [Condition("external_user_id", Op.in_, tuple(ids))], limit + 1)
        if draft.tags is not None:
            found += await self._tagged(app_id, draft.tags, limit)
        elif not found and draft.user_ids is None and draft.external_user_ids is None:
            raise InvalidError("can't be blank: give user ids, external user ids or tags", field="user")
        found = list(dict.fromkeys(found))
        if len(found) > limit:
            raise InvalidError(f"too many recipients (maximum is {limit})", field="user")
        return found

    async def _tagged(self, app_id: int, tags: TagFilter, limit: int) -> list[int]:
        conditions = []
        for values, op in ((tags.any, Op.in_), (tags.all, Op.all), (tags.exclude, Op.nin)):
            if len(values) > MAX_TAGS:
                raise InvalidError(f"too many tags (maximum is {MAX_TAGS})", field="tags")
            if values:
                conditions.append(Condition("user_tags", op, tuple(values)))
        ids = await self._users.ids_matching(app_id, conditions, limit + 1)
        if len(ids) > limit:
            raise InvalidError(f"too many recipients (maximum is {limit})", field="user")
        return ids


def _unique(ids: tuple[int, ...], limit: int) -> list[int]:
    if len(ids) > limit:
        raise InvalidError(f"too many recipients (maximum is {limit})", field="user")
    return list(dict.fromkeys(ids))


def _raw_push_type(push_type: str, content: Doc) -> str:
    if push_type == "apns_voip":
        return "voip"
    aps = content.get("aps") if isinstance(content.get("aps"), dict) else {}
    if push_type in ("apns",) and aps and not aps.get("alert") and not aps.get("badge") \
            and not aps.get("sound") and aps.get("content-available"):
        return "background"
    return "alert"


def _route_voip(subs: list[Doc], push_type: str | None, notification: Doc) -> list[Doc]:
    """Universal `ios_voip=1`: users with a VoIP subscription get the VoIP push instead of the
    standard iOS one; the others get the standard one."""
    if push_type or not notification.get("voip"):
        return subs
    voip_users = {s["user_id"] for s in subs if s["channel"] == "apns_voip"}
    return [s for s in subs if not (s["channel"] == "apns" and s["user_id"] in voip_users)]
