"""Webhooks: an application's endpoints (the admin API manages them) and their delivery queue.

- The admin side (`create`, `list`, `get`, `update`, `delete`, `rotate_secret`, `deliveries`,
  `redeliver`) takes the application's admin (`Requester.is_admin`) and only ever reads or
  writes that application's endpoints: another application's ids are not found.
- An endpoint's URL is checked when it is set (`check_url`): https (http only with
  `webhooks.allow_http`), no credentials in it, and every address its host resolves to must be
  public (models/webhooks.py: `refused_address`) unless `webhooks.allowed_networks` holds it. The
  delivery worker checks the addresses again at every attempt (push/webhooks.py), since what a
  name resolves to may change.
- `handle_events` turns outbox events into deliveries (one per body and interested endpoint,
  with idempotent ids); the delivery worker claims them with a lease (`claim`), and settles each:
  `finish` (delivered), `retry` (capped exponential backoff with jitter, a dead letter after
  `webhooks.max_attempts`), `bury` (a dead letter at once).
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from config.settings import WebhookSettings
from models.clock import Clock
from models.errors import InvalidError, NotFoundError
from models.metrics import WebhookMetrics
from models.requester import Requester
from models.services.admin import require_app_admin
from models.storage.counters import CounterStore
from models.storage.webhooks import WebhookDeliveryStore, WebhookStore
from models.webhooks import (ALL, DEAD, DESCRIPTION_MAX, EVENT_TYPES, PENDING, SECRET_PREFIX,
                             URL_MAX, DeliveryPage, Webhook, WebhookChanges, WebhookDelivery,
                             WebhookDraft, WebhookSecret, bodies_for, dump_body, is_ip_literal,
                             parse_networks, refused_address)

logger = logging.getLogger(__name__)

Resolve = Callable[[str, int], Awaitable[list[str]]]
RESOLVE_TIMEOUT = 5.0
CACHE_SECONDS = 5.0  # endpoints changed in another process are seen by this one's fan-out after this
MAX_GRACE_SECONDS = 24 * 3600
ERROR_MAX = 500


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (the system resolver, off the loop's thread)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class DeliveryClaim:
    token: str
    deliveries: list[WebhookDelivery]


class WebhookService:
    def __init__(self, webhooks: WebhookStore, deliveries: WebhookDeliveryStore,
                 counters: CounterStore, clock: Clock, settings: WebhookSettings,
                 resolve: Resolve = system_resolve, metrics: WebhookMetrics | None = None) -> None:
        self._webhooks = webhooks
        self._deliveries = deliveries
        self._counters = counters
        self._clock = clock
        self._settings = settings
        self._resolve = resolve
        self._allowed = parse_networks(settings.allowed_networks)
        self._metrics = metrics or WebhookMetrics()
        self._cache: dict[int, tuple[float, list[Webhook]]] = {}
        self._waiters: list[asyncio.Event] = []

    @property
    def settings(self) -> WebhookSettings:
        return self._settings

    @property
    def metrics(self) -> WebhookMetrics:
        return self._metrics

    @property
    def clock(self) -> Clock:
        return self._clock

    # -- the address rules -------------------------------------------------------------------------
    def refused(self, address: str) -> bool:
        return refused_address(address, self._allowed)

    async def resolve(self, host: str, port: int) -> list[str]:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            return await self._resolve(host, port)

    async def check_url(self, raw: Any) -> str:
        """The endpoint URL, stripped, or InvalidError (field `url`)."""
        if not isinstance(raw, str) or not raw.strip():
            raise InvalidError("can't be blank", field="url")
        url = raw.strip()
        if len(url) > URL_MAX:
            raise InvalidError(f"is too long (maximum is {URL_MAX} characters)", field="url")
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise InvalidError("is not a valid URL", field="url") from exc
        schemes = ("https", "http") if self._settings.allow_http else ("https",)
        if parts.scheme not in schemes or not host:
            raise InvalidError("must be an https URL", field="url")
        if parts.username is not None or parts.password is not None:
            raise InvalidError("must not carry credentials", field="url")
        if is_ip_literal(host):
            addresses = [host.strip("[]")]
        else:
            try:
                addresses = await self.resolve(host, port)
            except (OSError, UnicodeError, asyncio.TimeoutError):
                raise InvalidError("does not resolve", field="url") from None
            if not addresses:
                raise InvalidError("does not resolve", field="url")
        if any(self.refused(a) for a in addresses):
            raise InvalidError("must be a public address (not loopback, private or link-local)",
                               field="url")
        return url

    # -- the admin side ----------------------------------------------------------------------------
    async def create(self, requester: Requester, draft: WebhookDraft) -> WebhookSecret:
        require_app_admin(requester)
        url = await self.check_url(draft.url)
        events = _events(draft.events)
        if await self._webhooks.count_for_app(requester.app_id) >= self._settings.max_per_app:
            raise InvalidError(f"an application has at most {self._settings.max_per_app} webhooks",
                               field="base")
        now = self._clock.now()
        secret = new_secret()
        doc = {"_id": await self._counters.next("webhooks"), "app_id": requester.app_id,
               "url": url, "events": events, "enabled": draft.enabled,
               "description": _description(draft.description), "secret": secret,
               "previous_secret": None, "previous_until": None, "created_at": now,
               "updated_at": now}
        await self._webhooks.insert(doc)
        self._cache.pop(requester.app_id, None)
        logger.info("webhook %s of application %s created", doc["_id"], requester.app_id)
        return WebhookSecret(Webhook.model_validate(doc), secret)

    async def list(self, requester: Requester) -> list[Webhook]:
        require_app_admin(requester)
        return [Webhook.model_validate(d) for d in await self._webhooks.for_app(requester.app_id)]

    async def get(self, requester: Requester, webhook_id: int) -> Webhook:
        require_app_admin(requester)
        doc = await self._webhooks.get(requester.app_id, webhook_id)
        if doc is None:
            raise NotFoundError("Webhook not found")
        return Webhook.model_validate(doc)

    async def update(self, requester: Requester, webhook_id: int, changes: WebhookChanges) -> Webhook:
        current = await self.get(requester, webhook_id)
        sets: dict[str, Any] = {}
        if changes.url is not None and changes.url.strip() != current.url:
            sets["url"] = await self.check_url(changes.url)
        if changes.events is not None:
            sets["events"] = _events(changes.events)
        if changes.enabled is not None:
            sets["enabled"] = changes.enabled
        if changes.description is not None:
            sets["description"] = _description(changes.description)
        if not sets:
            return current
        sets["updated_at"] = self._clock.now()
        doc = await self._webhooks.update(requester.app_id, webhook_id, sets)
        if doc is None:
            raise NotFoundError("Webhook not found")
        self._cache.pop(requester.app_id, None)
        return Webhook.model_validate(doc)

    async def delete(self, requester: Requester, webhook_id: int) -> None:
        require_app_admin(requester)
        if not await self._webhooks.delete(requester.app_id, webhook_id):
            raise NotFoundError("Webhook not found")
        self._cache.pop(requester.app_id, None)
        await self._deliveries.delete_for_webhook(requester.app_id, webhook_id)
        logger.info("webhook %s of application %s deleted", webhook_id, requester.app_id)

    async def rotate_secret(self, requester: Requester, webhook_id: int,
                            keep_previous_seconds: int = 0) -> WebhookSecret:
        """A new secret, shown once; the old one keeps signing (alongside) for
        `keep_previous_seconds` (at most a day), else stops at once."""
        current = await self.get(requester, webhook_id)
        if not 0 <= keep_previous_seconds <= MAX_GRACE_SECONDS:
            raise InvalidError(f"must be between 0 and {MAX_GRACE_SECONDS}",
                               field="keep_previous_seconds")
        now = self._clock.now()
        secret = new_secret()
        keep = keep_previous_seconds > 0
        doc = await self._webhooks.update(requester.app_id, webhook_id, {
            "secret": secret, "updated_at": now,
            "previous_secret": current.secret if keep else None,
            "previous_until": now + timedelta(seconds=keep_previous_seconds) if keep else None})
        if doc is None:
            raise NotFoundError("Webhook not found")
        self._cache.pop(requester.app_id, None)
        logger.info("webhook %s of application %s: secret rotated", webhook_id, requester.app_id)
        return WebhookSecret(Webhook.model_validate(doc), secret)

    async def deliveries(self, requester: Requester, webhook_id: int, state: str | None,
                         skip: int, limit: int) -> DeliveryPage:
        await self.get(requester, webhook_id)
        if state not in (None, PENDING, DEAD):
            raise InvalidError(f"must be {PENDING} or {DEAD}", field="state")
        docs, total = await self._deliveries.page(requester.app_id, webhook_id, state, skip, limit)
        return DeliveryPage(total, skip, limit, [WebhookDelivery.model_validate(d) for d in docs])

    async def redeliver(self, requester: Requester, webhook_id: int, delivery_id: str) -> WebhookDelivery:
        """A dead letter queued again, due now, with a fresh count of attempts (same delivery
        id: the receiver may have processed it before)."""
        await self.get(requester, webhook_id)
        doc = await self._deliveries.redeliver(requester.app_id, webhook_id, delivery_id,
                                               self._clock.now())
        if doc is None:
            if await self._deliveries.get(requester.app_id, webhook_id, delivery_id) is not None:
                raise InvalidError("only dead deliveries can be redelivered", field="base")
            raise NotFoundError("Delivery not found")
        self._wake()
        return WebhookDelivery.model_validate(doc)

    # -- outbox events -----------------------------------------------------------------------------
    async def endpoints(self, app_id: int) -> list[Webhook]:
        """The application's endpoints, cached for a few seconds (every outbox event asks)."""
        now = time.monotonic()
        cached = self._cache.get(app_id)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        hooks = [Webhook.model_validate(d) for d in await self._webhooks.for_app(app_id)]
        self._cache[app_id] = (now, hooks)
        return hooks

    async def handle_events(self, events: list[dict[str, Any]]) -> int:
        """Queues a delivery per webhook body of these events and enabled endpoint that wants
        its type; returns how many were queued (ids already queued are skipped)."""
        by_app: dict[int, list[Webhook]] = {}  # most applications have none: one lookup each
        docs: list[dict[str, Any]] = []
        now = None
        for event in events:
            app_id = event.get("app_id")
            hooks = by_app.get(app_id)  # type: ignore[arg-type]
            if hooks is None:
                if not isinstance(app_id, int):
                    continue
                hooks = by_app[app_id] = [h for h in await self.endpoints(app_id) if h.enabled]
            if not hooks:
                continue
            now = now or self._clock.now()
            for event_type, body_id, body in bodies_for(event):
                wanted = [h for h in hooks if h.wants(event_type)]
                if not wanted:
                    continue
                text = dump_body(body)
                for hook in wanted:
                    docs.append({"_id": f"{body_id}:{hook.id}", "webhook_id": hook.id,
                                 "app_id": app_id, "event_type": event_type,
                                 "event_id": body_id, "body": text, "state": PENDING,
                                 "attempts": 0, "lease": None, "created_at": now, "due_at": now,
                                 "last_error": None, "last_status": None})
        queued = await self._deliveries.insert_new(docs)
        if queued:
            self._metrics.queued(queued)
            self._wake()
        return queued

    # -- the worker's side -------------------------------------------------------------------------
    def subscribe(self) -> asyncio.Event:
        """Set whenever deliveries are queued in this process (wakes idle workers)."""
        waiter = asyncio.Event()
        self._waiters.append(waiter)
        return waiter

    def _wake(self) -> None:
        for waiter in self._waiters:
            waiter.set()

    async def claim(self, limit: int) -> DeliveryClaim:
        token = secrets.token_hex(12)
        now = self._clock.now()
        docs = await self._deliveries.claim(token, now, now + timedelta(
            seconds=self._settings.lease_seconds), max(1, limit))
        return DeliveryClaim(token, [WebhookDelivery.model_validate(d) for d in docs])

    async def endpoint(self, app_id: int, webhook_id: int) -> Webhook | None:
        """The endpoint as stored now (the worker reads it per attempt: a changed URL or secret
        applies to deliveries already queued)."""
        doc = await self._webhooks.get(app_id, webhook_id)
        return None if doc is None else Webhook.model_validate(doc)

    async def finish(self, delivery: WebhookDelivery, token: str) -> None:
        await self._deliveries.finish(delivery.id, token)

    async def drop(self, delivery: WebhookDelivery, token: str) -> None:
        """Its endpoint is gone: nothing to deliver to."""
        await self._deliveries.finish(delivery.id, token)

    async def retry(self, delivery: WebhookDelivery, token: str, delay: float, error: str,
                    status: int | None) -> bool:
        """Reschedules it `delay` seconds from now, or makes it a dead letter once it had
        `max_attempts`. True when rescheduled."""
        if delivery.attempts >= self._settings.max_attempts:
            await self.bury(delivery, token, f"gave up after {delivery.attempts} attempts: {error}",
                            status)
            return False
        due = self._clock.now() + timedelta(seconds=delay)
        await self._deliveries.reschedule(delivery.id, token, due, error[:ERROR_MAX], status)
        return True

    async def bury(self, delivery: WebhookDelivery, token: str, error: str,
                   status: int | None) -> None:
        now = self._clock.now()
        purge = now + timedelta(days=self._settings.dead_retention_days)
        if await self._deliveries.bury(delivery.id, token, now, purge, error[:ERROR_MAX], status):
            self._metrics.dead()

    async def release(self, claim: DeliveryClaim, delivery_ids: list[str]) -> int:
        return await self._deliveries.release(delivery_ids, claim.token, self._clock.now())

    async def purge(self) -> int:
        return await self._deliveries.purge(self._clock.now())

    async def counts(self) -> dict[str, int]:
        return await self._deliveries.counts()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _events(names: tuple[str, ...] | list[str]) -> list[str]:
    wanted = [str(n).strip() for n in names if str(n).strip()]
    if not wanted:
        raise InvalidError("can't be blank", field="events")
    if ALL in wanted:
        return [ALL]
    unknown = [n for n in wanted if n not in EVENT_TYPES]
    if unknown:
        raise InvalidError(f"unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)} "
                           f"or {ALL}", field="events")
    return list(dict.fromkeys(wanted))


def _description(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidError("must be text", field="description")
    text = value.strip()
    if len(text) > DESCRIPTION_MAX:
        raise InvalidError(f"is too long (maximum is {DESCRIPTION_MAX} characters)",
                           field="description")
    return text or None

