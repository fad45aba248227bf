"""Metrics read from the store before each scrape (models/metrics.py: probes): the outbox backlog
of each consumer (the bridge relay, the push fan-out, webhooks), the push queue and the webhook
delivery queue."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Protocol

from models.metrics import Metrics
from models.services.push import PushService
from models.services.webhooks import WebhookService


class Backlog(Protocol):
    async def backlog(self) -> dict[str, tuple[int, datetime | None]]: ...


def add_store_probes(metrics: Metrics, outbox: Backlog, push: PushService,
                     webhooks: WebhookService | None = None) -> None:
    pending = metrics.gauge("chatbridge_outbox_pending_events",
                            "Outbox events a consumer has not handled yet", ("consumer",))
    lag = metrics.gauge("chatbridge_outbox_lag_seconds",
                        "Age of the oldest outbox event a consumer has not handled (0: none)",
                        ("consumer",))
    queue = metrics.gauge("chatbridge_push_queue_jobs", "Push jobs in the queue by state",
                          ("state",))

    async def outbox_backlog() -> None:
        now = time.time()
        for consumer, (count, oldest) in (await outbox.backlog()).items():
            pending.set((consumer,), count)
            if oldest is not None and oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=timezone.utc)
            lag.set((consumer,), max(0.0, now - oldest.timestamp()) if oldest else 0.0)

    async def push_queue() -> None:
        for state, count in (await push.counts()).items():
            queue.set((state,), count)

    metrics.add_probe(outbox_backlog)
    metrics.add_probe(push_queue)
    if webhooks is not None:
        deliveries = metrics.gauge("chatbridge_webhook_queue_deliveries",
                                   "Webhook deliveries in the queue by state (dead: dead letters)",
                                   ("state",))

        async def webhook_queue() -> None:
            for state, count in (await webhooks.counts()).items():
                deliveries.set((state,), count)

        metrics.add_probe(webhook_queue)
