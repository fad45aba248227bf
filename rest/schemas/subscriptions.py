"""Push subscriptions on the wire: the `POST /subscriptions` body → SubscriptionDraft, and the
`{subscription: {...}}` items of the answers."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from models.errors import InvalidError, NotFoundError
from models.lax import cast_int, split_list
from models.push import DeviceDraft, PushTokenDraft, Subscription, SubscriptionDraft
from rest.schemas.common import read_body


class CreateSubscriptionBody(BaseModel):
    """`notification_channel` (or `notification_channels`) as `apns`, `"apns,gcm"`, a list or
    `{name: ...}`; `device.platform` as a name or `{name: ...}`; `device.udid` text or a number.
    What is missing or of the wrong kind is left `None` for the service to name."""
    model_config = ConfigDict(extra="ignore")

    notification_channel: Any = None
    notification_channels: Any = None
    device: Any = None
    push_token: Any = None

    def to_command(self) -> SubscriptionDraft:
        raw = (self.notification_channel if "notification_channel" in self.model_fields_set
               else self.notification_channels)
        if isinstance(raw, dict):  # {"name": "apns"}, as the API answers it
            raw = raw.get("name")
        channels = tuple(str(n).strip() for n in split_list(raw) if str(n).strip())
        return SubscriptionDraft(channels=channels, device=_device(self.device),
                                 push_token=_push_token(self.push_token))


def subscription_draft(body: Any) -> SubscriptionDraft:
    if not isinstance(body, dict):
        raise InvalidError("must be an object", field="base")
    return read_body(CreateSubscriptionBody, body).to_command()


def subscription_id_from_path(raw: str) -> int:
    try:
        return cast_int(raw)
    except (TypeError, ValueError) as exc:
        raise NotFoundError("Subscription not found") from exc


def _device(device: Any) -> DeviceDraft | None:
    if not isinstance(device, dict):
        return None
    platform = device.get("platform")
    if isinstance(platform, dict):
        platform = platform.get("name")
    udid = device.get("udid")
    if isinstance(udid, bool) or not isinstance(udid, (str, int)):
        udid = None
    return DeviceDraft(platform=platform if isinstance(platform, str) else None,
                       udid=None if udid is None else str(udid))


def _push_token(token: Any) -> PushTokenDraft | None:
    if not isinstance(token, dict):
        return None
    bundle = token.get("bundle_identifier")
    if bundle in (None, ""):
        bundle = None
    elif not isinstance(bundle, str):
        raise InvalidError("must be a string", field="bundle_identifier")
    text = {key: (value if isinstance(value, str) else None) for key in (
        "environment", "client_identification_sequence", "web_endpoint", "web_auth", "web_p256dh")
        for value in (token.get(key),)}
    return PushTokenDraft(bundle_identifier=bundle, **text)


def subscription_to_json(sub: Subscription) -> dict[str, Any]:
    return {"subscription": {
        "id": sub.id,
        "notification_channel": {"name": sub.channel},
        "device": {"udid": sub.udid, "platform": {"name": sub.platform}},
    }}
