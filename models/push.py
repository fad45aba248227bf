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


# -- commands ------------------------------------------------------------------------------------
# What a transport read from a request; the services check them against the domain rules (known
# channels and platforms, token formats, limits) and answer the same to every transport.

class PushTokenDraft(BaseModel):
    """Where a device is reached: a provider token, or the browser's WebPush endpoint and keys."""
    model_config = ConfigDict(frozen=True)

    environment: str | None = None
    bundle_identifier: str | None = None
    client_identification_sequence: str | None = None  # APNs / FCM device token
    web_endpoint: str | None = None
    web_auth: str | None = None
    web_p256dh: str | None = None


class DeviceDraft(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: str | None = None
    udid: str | None = None


class SubscriptionDraft(BaseModel):
    """Subscribe one device on one or more channels (`None`: not given)."""
    model_config = ConfigDict(frozen=True)

    channels: tuple[str, ...] = ()
    device: DeviceDraft | None = None
    push_token: PushTokenDraft | None = None


class TagFilter(BaseModel):
    """Users having any of / all of / none of these tags."""
    model_config = ConfigDict(frozen=True)

    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


class PushEventDraft(BaseModel):
    """`POST /events`: a one-shot push to users of the sender's application. Recipient ids are as
    given (repeats included, `None`: not given); `expiration`, when given (even as `None`),
    replaces the one in a universal payload."""
    model_config = ConfigDict(frozen=True)

    notification_type: str | None = None
    environment: str | None = None
    push_type: str | None = None
    event_type: str | None = None
    message: str | None = None  # base64 text, or `payload=<base64>`
    expiration: int | None = None
    user_ids: tuple[int, ...] | None = None
    external_user_ids: tuple[int, ...] | None = None
    tags: TagFilter | None = None
