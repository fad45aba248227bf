"""Provider payloads from a job's neutral notification (see models/services/push.py). Pure.

- APNs: `{"aps": {...}, custom keys...}` plus the request headers (push type, priority,
  collapse id, expiration).
- FCM v1: a data message whose values are strings (`message`, `title`, custom keys), as
  ConnectyCube's Android SDK reads it, plus `android` options (priority, ttl, and an
  `AndroidNotification` when the sender gave `android_fcm_notification`).
- WebPush: the JSON `{"data": {title, message, ...custom}}` that ConnectyCube's service workers
  read with `event.data.json().data`; encrypted by the sender.

Each builder checks the provider's size limit and raises PermanentPushError when it is exceeded.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from push.errors import PermanentPushError

APNS_MAX_BYTES = 4096
APNS_VOIP_MAX_BYTES = 5120
FCM_MAX_BYTES = 4096
# aes128gcm with one 4096-byte record: minus the 86-byte header, the padding delimiter and the tag
WEBPUSH_MAX_BYTES = 4096 - 86 - 1 - 16
FCM_MESSAGE_PARTS = ("data", "notification", "android", "apns", "webpush", "fcm_options")
LOC_KEYS = {"title_loc_key": "title-loc-key", "title_loc_args": "title-loc-args",
            "body_loc_key": "loc-key", "body_loc_args": "loc-args"}

Doc = dict[str, Any]


@dataclass(frozen=True)
class ApnsRequest:
    payload: Doc
    push_type: str  # alert | background | voip
    priority: int  # 10 now, 5 when convenient (background)
    collapse_id: str | None
    expiration: int | None  # Unix seconds


def _check(size: int, limit: int, provider: str) -> None:
    if size > limit:
        raise PermanentPushError(f"payload too large for {provider}: {size} > {limit} bytes")


def apns_request(notification: Doc, channel: str) -> ApnsRequest:
    voip = channel == "apns_voip"
    raw = notification.get("raw")
    if isinstance(raw, dict):
        payload = dict(raw)
        push_type = "voip" if voip else notification.get("push_type") or "alert"
    else:
        aps: Doc = {}
        alert: Doc = {}
        if notification.get("title"):
            alert["title"] = notification["title"]
        if notification.get("body"):
            alert["body"] = notification["body"]
        for key, apns_key in LOC_KEYS.items():
            value = (notification.get("loc") or {}).get(key)
            if value is not None:
                alert[apns_key] = value
        if alert:
            aps["alert"] = alert
        if notification.get("badge") is not None:
            aps["badge"] = int(notification["badge"])
        for key, apns_key in (("sound", "sound"), ("thread_id", "thread-id"),
                              ("category", "category")):
            if notification.get(key):
                aps[apns_key] = notification[key]
        if notification.get("content_available"):
            aps["content-available"] = 1
        if notification.get("mutable_content"):
            aps["mutable-content"] = 1
        payload = {k: v for k, v in (notification.get("data") or {}).items() if k != "aps"}
        payload["aps"] = aps
        if voip:
            push_type = "voip"
        elif notification.get("push_type") == "background" or (
                not alert and "badge" not in aps and "sound" not in aps
                and aps.get("content-available")):
            push_type = "background"
            aps.pop("alert", None)
        else:
            push_type = "alert"
    size = len(json.dumps(payload, ensure_ascii=False).encode())  # as aioapns serialises it
    _check(size, APNS_VOIP_MAX_BYTES if voip else APNS_MAX_BYTES, "APNs")
    collapse = notification.get("collapse_id")
    return ApnsRequest(payload=payload, push_type=push_type,
                       priority=5 if push_type == "background" else 10,
                       collapse_id=str(collapse)[:64] if collapse else None,
                       expiration=notification.get("expiration"))


def _strings(data: Doc) -> dict[str, str]:
    return {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for k, v in data.items() if v is not None}


def fcm_parts(notification: Doc, now: int) -> Doc:
    """Keyword arguments for pyfcm's `parse_payload` (minus the token)."""
    raw = notification.get("raw")
    android: Doc = {}
    if isinstance(raw, dict):
        if any(k in raw for k in FCM_MESSAGE_PARTS):
            data = _strings(raw.get("data") or {})
            android = dict(raw.get("android") or {})
            parts: Doc = {"data_payload": data or None, "android_config": android or None}
            note = raw.get("notification") or {}
            parts["notification_title"] = note.get("title")
            parts["notification_body"] = note.get("body")
            parts["notification_image"] = note.get("image")
            _check(len(json.dumps(raw, ensure_ascii=False).encode()), FCM_MAX_BYTES, "FCM")
            return parts
        data = _strings(raw)
    else:
        data = dict(notification.get("data") or {})
        if notification.get("body"):
            data["message"] = notification["body"]
        if notification.get("title"):
            data["title"] = notification["title"]
        if notification.get("badge") is not None:
            data["badge"] = notification["badge"]
        data = _strings(data)
        android["priority"] = "normal" if notification.get("push_type") == "background" else "high"
        if isinstance(notification.get("android_notification"), dict):
            android["notification"] = notification["android_notification"]
        if notification.get("collapse_id"):
            android["collapse_key"] = str(notification["collapse_id"])
    expiration = notification.get("expiration")
    if expiration:
        android["ttl"] = f"{max(0, int(expiration) - now)}s"
    _check(len(json.dumps(data, ensure_ascii=False).encode()), FCM_MAX_BYTES, "FCM")
    return {"data_payload": data or {"message": ""}, "android_config": android or None}


def webpush_body(notification: Doc) -> bytes:
    raw = notification.get("raw")
    if isinstance(raw, dict):
        body = json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode()
    else:
        data = dict(notification.get("data") or {})
        if notification.get("title"):
            data["title"] = notification["title"]
        if notification.get("body"):
            data["message"] = notification["body"]
        if notification.get("badge") is not None:
            data["badge"] = notification["badge"]
        body = json.dumps({"data": data}, ensure_ascii=False, separators=(",", ":")).encode()
    _check(len(body), WEBPUSH_MAX_BYTES, "WebPush")
    return body


def webpush_ttl(notification: Doc, now: int, default: int) -> int:
    expiration = notification.get("expiration")
    if expiration:
        return max(0, min(default, int(expiration) - now))
    return default


def webpush_urgency(notification: Doc) -> str:
    return "normal" if notification.get("push_type") == "background" else "high"
