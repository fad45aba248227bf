"""Wire format of push subscriptions (ConnectyCube's `{subscription: {...}}` items)."""
from __future__ import annotations

from typing import Any

from models.push import Subscription


def subscription_to_json(sub: Subscription) -> dict[str, Any]:
    return {"subscription": {
        "id": sub.id,
        "notification_channel": {"name": sub.channel},
        "device": {"udid": sub.udid, "platform": {"name": sub.platform}},
    }}
