"""Push subscriptions (`/subscriptions`): a user's devices and how to reach them.

One subscription per (application, channel, device udid): a device that subscribes again replaces
its token (and its user, when someone else logged in on it) instead of adding a second one. A
token that shows up under another udid is taken away from its previous holder.
"""
from __future__ import annotations

import base64
import binascii
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from config.settings import PushSettings
from models.clock import Clock
from models.errors import ForbiddenError, InvalidError, NotFoundError
from models.push import (CHANNELS, ENVIRONMENTS, PLATFORMS, DeviceDraft, PushTokenDraft, Subscription,
                         SubscriptionDraft)
from models.requester import Requester
from models.storage.counters import CounterStore
from models.storage.subscriptions import SubscriptionStore

logger = logging.getLogger(__name__)

MAX_UDID = 255
MAX_TOKEN = 4096
MAX_ENDPOINT = 2048
_HEX_TOKEN = re.compile(r"^[0-9a-f]{32,200}$")


class SubscriptionService:
    def __init__(self, store: SubscriptionStore, counters: CounterStore, clock: Clock,
                 settings: PushSettings) -> None:
        self._store = store
        self._counters = counters
        self._clock = clock
        self._settings = settings

    async def create(self, requester: Requester, draft: SubscriptionDraft) -> list[Subscription]:
        _require_user(requester)
        channels = _channels(draft.channels)
        platform, udid = _device(draft.device)
        push_token = draft.push_token
        if push_token is None:
            raise InvalidError("can't be blank", field="push_token")
        environment = push_token.environment
        if environment not in ENVIRONMENTS:
            raise InvalidError("must be development or production", field="environment")
        bundle = _opt_text(push_token.bundle_identifier, "bundle_identifier", 255)
        out: list[Subscription] = []
        for channel in channels:
            fields: dict[str, Any] = {
                "user_id": requester.user_id, "platform": platform, "environment": environment,
                "bundle_identifier": bundle, "updated_at": self._clock.now()}
            if channel == "web":
                fields["web"] = self._web_target(push_token)
                fields["token"] = None
            else:
                fields["token"] = _device_token(channel, push_token.client_identification_sequence)
                fields["web"] = None
            doc = await self._store.upsert_device(
                requester.app_id, channel, udid, fields,
                {"_id": await self._counters.next("push_subscriptions"),
                 "created_at": fields["updated_at"]})
            await self._store.delete_other_holders(
                requester.app_id, channel, doc["_id"], fields["token"],
                (fields["web"] or {}).get("endpoint"))
            out.append(Subscription.model_validate(doc))
        trimmed = await self._store.trim(requester.app_id, requester.user_id,
                                         self._settings.max_subscriptions_per_user)
        if trimmed:
            logger.info("user %s: dropped %d oldest push subscriptions (limit %d)",
                        requester.user_id, trimmed, self._settings.max_subscriptions_per_user)
        return out

    async def list(self, requester: Requester) -> list[Subscription]:
        _require_user(requester)
        docs = await self._store.for_user(requester.app_id, requester.user_id)
        return [Subscription.model_validate(d) for d in docs]

    async def delete(self, requester: Requester, subscription_id: int) -> None:
        _require_user(requester)
        if not await self._store.delete(requester.app_id, requester.user_id, subscription_id):
            raise NotFoundError("Subscription not found")

    def _web_target(self, push_token: PushTokenDraft) -> dict[str, str]:
        endpoint = push_token.web_endpoint
        if not isinstance(endpoint, str) or not endpoint.strip():
            raise InvalidError("can't be blank", field="web_endpoint")
        endpoint = endpoint.strip()
        if len(endpoint) > MAX_ENDPOINT:
            raise InvalidError(f"is too long (maximum is {MAX_ENDPOINT} characters)", field="web_endpoint")
        try:
            parts = urlsplit(endpoint)
            host = (parts.hostname or "").lower()
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise InvalidError("is not a valid URL", field="web_endpoint") from exc
        allowed_schemes = ("https", "http") if self._settings.webpush.allow_http else ("https",)
        if parts.scheme not in allowed_schemes or not host:
            raise InvalidError("must be an https URL", field="web_endpoint")
        allowed = self._settings.webpush.allowed_hosts
        if allowed and not any(host == h or host.endswith("." + h) for h in allowed):
            raise InvalidError("is not a known push service", field="web_endpoint")
        auth = _b64url_key(push_token.web_auth, "web_auth")
        p256dh = _b64url_key(push_token.web_p256dh, "web_p256dh")
        if len(auth) != 16:
            raise InvalidError("must be 16 bytes, base64url-encoded", field="web_auth")
        if len(p256dh) != 65 or p256dh[0] != 4 or not _on_p256(p256dh):
            raise InvalidError("must be an uncompressed P-256 key, base64url-encoded", field="web_p256dh")
        return {"endpoint": endpoint, "auth": push_token.web_auth.strip(),
                "p256dh": push_token.web_p256dh.strip()}


def _require_user(requester: Requester) -> None:
    if not requester.is_user:
        raise ForbiddenError("A user session is required")


def _channels(names: tuple[str, ...]) -> list[str]:
    if not names:
        raise InvalidError("can't be blank", field="notification_channel")
    unknown = [n for n in names if n not in CHANNELS]
    if unknown:
        raise InvalidError(f"must be one of {', '.join(CHANNELS)}", field="notification_channel")
    return list(dict.fromkeys(names))


def _device(device: DeviceDraft | None) -> tuple[str, str]:
    if device is None:
        raise InvalidError("can't be blank", field="device")
    platform = device.platform
    if platform not in PLATFORMS:
        raise InvalidError(f"must be one of {', '.join(PLATFORMS)}", field="platform")
    udid = (device.udid or "").strip()
    if not udid:
        raise InvalidError("can't be blank", field="udid")
    if len(udid) > MAX_UDID:
        raise InvalidError(f"is too long (maximum is {MAX_UDID} characters)", field="udid")
    return platform, udid


def _device_token(channel: str, raw: str | None) -> str:
    field = "client_identification_sequence"
    if not raw or not raw.strip():
        raise InvalidError("can't be blank", field=field)
    token = raw.strip()
    if channel in ("apns", "apns_voip"):
        token = re.sub(r"[\s<>]", "", token).lower()  # old iOS printed "<abcd ef01 ...>"
        if not _HEX_TOKEN.match(token):
            raise InvalidError("must be a hexadecimal APNs device token", field=field)
    elif len(token) > MAX_TOKEN or any(c.isspace() for c in token):
        raise InvalidError("is not a valid FCM registration token", field=field)
    return token


def _on_p256(point: bytes) -> bool:
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        return False
    return True


def _b64url_key(value: str | None, field: str) -> bytes:
    if not value or not value.strip():
        raise InvalidError("can't be blank", field=field)
    text = value.strip()
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidError("must be base64url-encoded", field=field) from exc


def _opt_text(value: str | None, field: str, max_len: int) -> str | None:
    if not value:
        return None
    if len(value) > max_len:
        raise InvalidError(f"is too long (maximum is {max_len} characters)", field=field)
    return value.strip() or None
