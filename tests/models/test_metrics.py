"""The hot-path histogram (models/metrics.py) against prometheus_client's own."""
from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from models.metrics import LATENCY_BUCKETS, LatencyHistogram


def _samples(registry: CollectorRegistry) -> list[tuple[str, dict, float]]:
    text = generate_latest(registry).decode()
    return sorted((s.name, tuple(sorted(s.labels.items())), round(s.value, 9))
                  for family in text_string_to_metric_families(text) for s in family.samples
                  if not s.name.endswith("_created"))


def test_latency_histogram_exposes_what_prometheus_client_would():
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    lean = LatencyHistogram("op_seconds", "doc", ("route", "status"))
    ours.register(lean)
    reference = Histogram("op_seconds", "doc", ["route", "status"], buckets=LATENCY_BUCKETS,
                          registry=theirs)
    rng = random.Random(7)
    values = [rng.choice([0.0, 0.0005, 0.001, 10.0, 11.0]) for _ in range(50)]
    values += [rng.expovariate(200) for _ in range(500)]
    for i, value in enumerate(values):
        labels = ("/a/{id}", "200") if i % 3 else ("/b", "404")
        lean.series(*labels).observe(value)
        reference.labels(*labels).observe(value)
    assert _samples(ours) == _samples(theirs)


def test_unobserved_series_are_not_exposed():
    registry = CollectorRegistry()
    lean = LatencyHistogram("op_seconds", "doc", ("collection",))
    registry.register(lean)
    lean.series("users")
    lean.series("dialogs").observe(0.002)
    names = {labels for _, labels, _ in _samples(registry)}
    assert all(("collection", "users") not in labels for labels in names)
    assert any(("collection", "dialogs") in labels for labels in names)
