"""Webhooks: an application's HTTP endpoints that receive its chat events (docs/webhooks.md).

Entities (`Webhook`, `WebhookDelivery`), the admin API's commands (`WebhookDraft`,
`WebhookChanges`), the event types and their bodies (`bodies_for`: an outbox event → the webhook
bodies it makes, a stable documented JSON shape per type), the signature (`sign`, `signature_header`)
and the address rules every endpoint is held to (`refused_address`).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict, Field

SIGNATURE_HEADER = "Chatbridge-Signature"
DELIVERY_HEADER = "Chatbridge-Delivery"
EVENT_HEADER = "Chatbridge-Event"
SECRET_PREFIX = "whsec_"

# the webhook event types, and the outbox event each comes from
MESSAGE_CREATED = "message_created"
MESSAGE_UPDATED = "message_updated"
MESSAGE_DELETED = "message_deleted"
DIALOG_CREATED = "dialog_created"
DIALOG_UPDATED = "dialog_updated"
DIALOG_DELETED = "dialog_deleted"
OCCUPANTS_CHANGED = "dialog_occupants_changed"
USER_CREATED = "user_created"
USER_DELETED = "user_deleted"
EVENT_TYPES = (MESSAGE_CREATED, MESSAGE_UPDATED, MESSAGE_DELETED, DIALOG_CREATED, DIALOG_UPDATED,
               DIALOG_DELETED, OCCUPANTS_CHANGED, USER_CREATED, USER_DELETED)
ALL = "*"  # an endpoint that wants every type, the ones added later included

PENDING, DEAD = "pending", "dead"
URL_MAX = 2048
DESCRIPTION_MAX = 200

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Webhook(BaseModel):
    """One endpoint (a document of `webhooks`). `secret` signs the deliveries; the admin API shows
    it at creation and rotation only. During a rotation's grace period `previous_secret` signs
    too, until `previous_until`."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: int = Field(alias="_id")
    app_id: int
    url: str
    events: list[str]
    enabled: bool = True
    description: str | None = None
    secret: str = Field(repr=False)
    previous_secret: str | None = Field(default=None, repr=False)
    previous_until: datetime | None = None
    created_at: datetime
    updated_at: datetime

    def wants(self, event_type: str) -> bool:
        return self.enabled and (ALL in self.events or event_type in self.events)

    def secrets(self, now: datetime) -> list[str]:
        """The secrets a delivery is signed with now: the current one, and the previous one
        during a rotation's grace period."""
        out = [self.secret]
        until = self.previous_until
        if self.previous_secret and until is not None:
            if until.tzinfo is None:
                until = until.replace(tzinfo=timezone.utc)
            if now < until:
                out.append(self.previous_secret)
        return out


class WebhookDelivery(BaseModel):
    """One body for one endpoint (a document of `webhook_deliveries`): `pending` until delivered
    (then deleted) or given up (`dead`, kept until `purge_at`, redeliverable). Its `_id` is the
    delivery id receivers dedupe on; replaying the outbox event makes the same ids."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: str = Field(alias="_id")
    webhook_id: int
    app_id: int
    event_type: str
    event_id: str
    body: str  # the JSON text, signed and sent as is on every attempt
    state: str = PENDING
    attempts: int = 0  # claims so far, including this one
    lease: str | None = None
    created_at: datetime
    due_at: datetime | None = None
    last_error: str | None = None
    last_status: int | None = None
    dead_at: datetime | None = None


@dataclass(frozen=True)
class WebhookSecret:
    """A webhook with its secret, as creation and rotation answer it (once)."""

    webhook: Webhook
    secret: str


# -- commands ------------------------------------------------------------------------------------
class WebhookDraft(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str
    events: tuple[str, ...]
    enabled: bool = True
    description: str | None = None


class WebhookChanges(BaseModel):
    """What a `PUT` changes: the fields given (None: unchanged; `description` "" clears it)."""

    model_config = ConfigDict(frozen=True)

    url: str | None = None
    events: tuple[str, ...] | None = None
    enabled: bool | None = None
    description: str | None = None


@dataclass(frozen=True)
class DeliveryPage:
    total: int
    skip: int
    limit: int
    items: list[WebhookDelivery]


# -- bodies --------------------------------------------------------------------------------------
def bodies_for(event: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """The webhook bodies an outbox event makes, as (event type, body id, body): none for kinds
    webhooks do not carry; two for a `dialog_updated` that added or removed occupants (its
    `dialog_updated` and a `dialog_occupants_changed`). The body id is stable per outbox event and
    type, so a replayed event makes the same ids."""
    kind = event.get("kind")
    payload = event.get("payload") or {}
    event_id = str(event.get("_id"))
    dialog_id = event.get("dialog_id")
    actor = int(event.get("sender_id") or 0) or None
    out: list[tuple[str, dict[str, Any]]] = []
    if kind == MESSAGE_CREATED:
        message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
        out.append((kind, {"dialog_id": dialog_id, "dialog_type": payload.get("dialog_type"),
                           "sender_id": actor, "message": _plain(message)}))
    elif kind == MESSAGE_UPDATED:
        out.append((kind, {"dialog_id": dialog_id, "dialog_type": payload.get("dialog_type"),
                           "message_id": payload.get("message_id"),
                           "message": payload.get("message"), "user_id": actor}))
    elif kind == MESSAGE_DELETED:
        out.append((kind, {"dialog_id": dialog_id, "dialog_type": payload.get("dialog_type"),
                           "message_ids": list(payload.get("message_ids") or []),
                           "user_id": actor}))
    elif kind == DIALOG_CREATED:
        out.append((kind, {"dialog_id": dialog_id, "type": payload.get("type"),
                           "occupants_ids": list(payload.get("occupants_ids") or []),
                           "user_id": actor}))
    elif kind == DIALOG_UPDATED:
        added = list(payload.get("added_ids") or [])
        removed = list(payload.get("removed_ids") or [])
        out.append((kind, {"dialog_id": dialog_id, "fields": list(payload.get("fields") or []),
                           "user_id": actor}))
        if added or removed:
            out.append((OCCUPANTS_CHANGED, {"dialog_id": dialog_id, "added_ids": added,
                                            "removed_ids": removed, "user_id": actor}))
    elif kind == DIALOG_DELETED:
        out.append((kind, {"dialog_id": dialog_id, "type": payload.get("type"), "user_id": actor}))
    elif kind == USER_CREATED:
        user = _plain(payload.get("user") if isinstance(payload.get("user"), dict) else {})
        user = {"id": user.pop("_id", actor), **user}
        out.append((kind, {"user": user}))
    elif kind == USER_DELETED:
        out.append((kind, {"user_id": actor}))
    created = event.get("created_at")
    when = int(created.replace(tzinfo=created.tzinfo or timezone.utc).timestamp()) \
        if isinstance(created, datetime) else None
    bodies = []
    for event_type, data in out:
        body_id = f"{event_id}" if event_type == kind else f"{event_id}.{event_type}"
        bodies.append((event_type, body_id, {"id": body_id, "type": event_type,
                                             "app_id": int(event["app_id"]), "created_at": when,
                                             "data": data}))
    return bodies


def _plain(value: Any) -> Any:
    """JSON-ready: datetimes as ISO 8601, ids and other objects as text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def dump_body(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


# -- the signature -------------------------------------------------------------------------------
def sign(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256, keyed with the secret's text, over `"{timestamp}.{body}"`: hex."""
    return hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()


def signature_header(secrets: Iterable[str], timestamp: int, body: bytes) -> str:
    """`t=1767225600,v1=<hex>[,v1=<hex>]`: one `v1` per secret (two during a rotation)."""
    return ",".join([f"t={timestamp}", *(f"v1={sign(s, timestamp, body)}" for s in secrets)])


def verify(secret: str, header: str, body: bytes, now: float, tolerance: float = 300) -> bool:
    """What a receiver does (docs/webhooks.md has the same as a snippet)."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, v) for k, v in parts if k == "v1")


# -- the address rules ---------------------------------------------------------------------------
def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def refused_address(address: str, allowed: tuple[Network, ...] = ()) -> bool:
    """Whether an endpoint may not be contacted at this address: anything not globally routable
    (loopback, private, link-local, shared, reserved, unspecified, documentation), multicast, and
    IPv4 addresses mapped or embedded in IPv6 as the IPv4 address would be; unless it is in one of
    the `allowed` networks. Text that is not an address is refused."""
    try:
        ip: Address = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is not None:
            ip = inner
    if any(ip.version == n.version and ip in n for n in allowed):
        return False
    return not ip.is_global or ip.is_multicast


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True
