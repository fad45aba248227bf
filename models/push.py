"""Push entities: device subscriptions and queued push jobs (documents of `push_subscriptions`
and `push_jobs`, see models/storage/SCHEMA.md).

A job carries a copy of its target (device token or web-push keys) and a provider-neutral
`notification`; the push senders turn that into the APNs, FCM or WebPush format.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CHANNELS = ("apns", "apns_voip", "gcm", "web")
PLATFORMS = ("ios", "android", "web")
ENVIRONMENTS = ("development", "production")
# Chat alerts never go to VoIP subscriptions: iOS requires every VoIP push to report a call.
ALERT_CHANNELS = ("apns", "gcm", "web")


class WebTarget(BaseModel):
    model_config = ConfigDict(frozen=True)

    endpoint: str
    auth: str  # base64url, 16 bytes
    p256dh: str  # base64url, uncompressed P-256 point


class Subscription(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: int = Field(alias="_id")
    app_id: int
    user_id: int
    channel: str
    platform: str
    udid: str
    environment: str
    token: str | None = None  # apns / apns_voip / gcm
    web: WebTarget | None = None
    bundle_identifier: str | None = None
    created_at: datetime
    updated_at: datetime


class PushJob(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: str = Field(alias="_id")  # idempotency key: "m{message id}:{subscription id}" / "e{event id}:..."
    kind: str  # "chat" (automatic alert) or "event" (POST /events)
    app_id: int
    user_id: int
    subscription_id: int
    channel: str
    environment: str
    token: str | None = None
    web: WebTarget | None = None
    bundle_identifier: str | None = None
    notification: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    attempts: int = 0  # claims so far, including this one
    lease: str | None = None
    last_error: str | None = None
