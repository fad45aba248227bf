"""The process's Prometheus metrics (`Metrics`): one registry per process, built with the services
(`build_services`) and served as `GET /metrics` (rest/metrics.py; `chatbridge push-worker` serves
its own). The names, labels and meanings are listed in docs/metrics.md.

Three kinds of source:
- hot paths (every REST request, every store operation) observe into a `LatencyHistogram`: plain
  per-series bucket counts exposed as a Prometheus histogram when scraped. prometheus_client's own
  `Histogram.observe` takes a lock and costs several times as much per call (docs/metrics.md,
  "Cost");
- counters of rarer events (push jobs) are prometheus_client `Counter`s and `Histogram`s with their
  labelled children cached;
- state (online users, outbox depth, the XMPP link) is read when scraped: collectors registered by
  the part that owns the state (bridge/metrics.py) and async `probes` run before each scrape.
"""
from __future__ import annotations

import asyncio
import logging
from bisect import bisect_left
from typing import Any, Awaitable, Callable, Iterator

from prometheus_client import (CollectorRegistry, Counter, GCCollector, Histogram, PlatformCollector,
                               ProcessCollector)
from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily,
                                   Metric)

logger = logging.getLogger(__name__)

# seconds; REST answers and store operations are mostly well under 10 ms
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PUSH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
PROBE_TIMEOUT_SECONDS = 5.0

# ConnectyCube push channels → the provider that delivers them
PROVIDERS = {"apns": "apns", "apns_voip": "apns", "gcm": "fcm", "web": "webpush"}

Probe = Callable[[], Awaitable[None]]


class Series:
    """One label combination of a `LatencyHistogram`."""

    __slots__ = ("_bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self._bounds, seconds)] += 1
        self.total += seconds

    @property
    def count(self) -> int:
        return sum(self.counts)


class LatencyHistogram:
    """A labelled histogram for hot paths, single-threaded (the event loop): `series(*labels)`
    once per label combination (cache it), then `observe(seconds)`. A Prometheus collector."""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...],
                 buckets: tuple[float, ...] = LATENCY_BUCKETS, counter: str | None = None,
                 counter_documentation: str = "") -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self.buckets = tuple(sorted(buckets))
        self._series: dict[tuple[str, ...], Series] = {}
        # optional: the series' counts again as a counter family (`{counter}_total`)
        self._counter = counter
        self._counter_documentation = counter_documentation

    def series(self, *labels: str) -> Series:
        found = self._series.get(labels)
        if found is None:
            if len(labels) != len(self.labelnames):
                raise ValueError(f"{self.name} takes labels {self.labelnames}, got {labels}")
            found = self._series[labels] = Series(self.buckets)
        return found

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        counter = None
        if self._counter:
            counter = CounterMetricFamily(self._counter, self._counter_documentation,
                                          labels=self.labelnames)
        edges = [_le(b) for b in self.buckets] + ["+Inf"]
        for labels, series in list(self._series.items()):
            if series.total == 0 and not any(series.counts):
                continue  # made ahead of use (models/storage/timing.py), never observed
            cumulative, running = [], 0
            for edge, count in zip(edges, series.counts):
                running += count
                cumulative.append((edge, running))
            family.add_metric(list(labels), cumulative, series.total)
            if counter is not None:
                counter.add_metric(list(labels), running)
        yield family
        if counter is not None:
            yield counter


def _le(bound: float) -> str:
    return repr(float(bound))


class PushMetrics:
    """Push jobs by provider: queued (models/services/push.py), then sent, retried, dead, token
    rejected or discarded (push/worker.py), and the provider's send latency."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()  # none: counts alone

        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, ["provider"], registry=registry)

        self._queued = counter("chatbridge_push_jobs_queued", "Push jobs queued")
        self._sent = counter("chatbridge_push_jobs_sent", "Push jobs the provider accepted")
        self._retried = counter("chatbridge_push_jobs_retried",
                                "Push jobs rescheduled after a temporary failure")
        self._dead = counter("chatbridge_push_jobs_dead",
                             "Push jobs given up (permanent failure or expired)")
        self._rejected = counter("chatbridge_push_tokens_rejected",
                                 "Push jobs whose device token the provider rejected")
        self._discarded = counter("chatbridge_push_jobs_discarded",
                                  "Push jobs dropped: no sender configured for their channel")
        self._seconds = Histogram("chatbridge_push_send_seconds",
                                  "Time a provider took to answer one push", ["provider"],
                                  buckets=PUSH_BUCKETS, registry=registry)
        self._children: dict[tuple[int, str], Any] = {}

    def _child(self, family: Any, channel: str) -> Any:
        key = (id(family), channel)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(PROVIDERS.get(channel, "other"))
        return child

    def queued(self, channel: str, count: int = 1) -> None:
        self._child(self._queued, channel).inc(count)

    def sent(self, channel: str) -> None:
        self._child(self._sent, channel).inc()

    def retried(self, channel: str) -> None:
        self._child(self._retried, channel).inc()

    def dead(self, channel: str) -> None:
        self._child(self._dead, channel).inc()

    def rejected(self, channel: str) -> None:
        self._child(self._rejected, channel).inc()

    def discarded(self, channel: str) -> None:
        self._child(self._discarded, channel).inc()

    def send_time(self, channel: str, seconds: float) -> None:
        self._child(self._seconds, channel).observe(seconds)


WEBHOOK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class WebhookMetrics:
    """Webhook deliveries (push/webhooks.py): attempts by result with the time each took (one
    `LatencyHistogram`, its counts also exposed as a counter), the deliveries queued
    (models/services/webhooks.py) and those given up (dead letters). A collector: plain counts,
    no `_created` series."""

    RESULTS = ("delivered", "failed", "timeout", "refused")

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.attempts = LatencyHistogram(
            "chatbridge_webhook_delivery_seconds",
            "Webhook delivery attempts by result: time to the answer or the failure", ("result",),
            buckets=WEBHOOK_BUCKETS, counter="chatbridge_webhook_deliveries",
            counter_documentation="Webhook delivery attempts by result (delivered: 2xx; failed: "
                                  "another answer or a connection error; timeout; refused: an "
                                  "internal address)")
        self._series = {r: self.attempts.series(r) for r in self.RESULTS}
        self.queued_count = 0
        self.dead_count = 0
        if registry is not None:
            registry.register(self.attempts)
            registry.register(self)

    def attempt(self, result: str, seconds: float) -> None:
        self._series[result].observe(seconds)

    def count(self, result: str) -> int:
        return self._series[result].count

    def queued(self, count: int = 1) -> None:
        self.queued_count += count

    def dead(self) -> None:
        self.dead_count += 1

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily("chatbridge_webhook_deliveries_queued",
                                  "Webhook deliveries queued from outbox events",
                                  value=self.queued_count)
        yield CounterMetricFamily("chatbridge_webhook_dead_letters",
                                  "Webhook deliveries given up (dead letters)", value=self.dead_count)


class GaugeCollector:
    """Gauges whose values a probe sets before each scrape (`set(labels, value)`)."""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...] = ()) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        self.values: dict[tuple[str, ...], float] = {}

    def set(self, labels: tuple[str, ...], value: float) -> None:
        self.values[labels] = value

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, value in self.values.items():
            family.add_metric(list(labels), value)
        yield family


class Metrics:
    """One process's metrics: the registry (with the process, platform and garbage-collector
    collectors), the families the layers share and the probes run before a scrape."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.http = LatencyHistogram(
            "chatbridge_http_request_duration_seconds",
            "REST requests by route template, method and status: time to the answer",
            ("route", "method", "status"), counter="chatbridge_http_requests",
            counter_documentation="REST requests by route template, method and status")
        self.store = LatencyHistogram(
            "chatbridge_store_operation_seconds",
            "Store operations by collection and operation: time to the result",
            ("collection", "operation"))
        self.registry.register(self.http)
        self.registry.register(self.store)
        self.push = PushMetrics(self.registry)
        self.webhooks = WebhookMetrics(self.registry)
        self._probes: list[Probe] = []

    def register(self, collector: Any) -> None:
        self.registry.register(collector)

    def unregister(self, collector: Any) -> None:
        try:
            self.registry.unregister(collector)
        except KeyError:
            pass

    def gauge(self, name: str, documentation: str, labelnames: tuple[str, ...] = ()) -> GaugeCollector:
        gauge = GaugeCollector(name, documentation, labelnames)
        self.registry.register(gauge)
        return gauge

    def add_probe(self, probe: Probe) -> None:
        """An async callable run before each scrape (state that needs a store query)."""
        self._probes.append(probe)

    async def refresh(self, timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
        """Runs the probes (concurrently, within `timeout`); a failing one keeps its last values."""
        if not self._probes:
            return
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*(probe() for probe in self._probes), return_exceptions=True), timeout)
        except asyncio.TimeoutError:
            logger.warning("metrics: probes did not answer within %.0fs", timeout)
            return
        for result in results:
            if isinstance(result, Exception):
                logger.warning("metrics: a probe failed: %s: %s", type(result).__name__, result)
