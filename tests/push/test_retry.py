"""Backoff timing and Retry-After parsing."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from push.retry import backoff_delay, parse_retry_after


def test_exponential_with_jitter_and_cap():
    rng = random.Random(7)
    for attempt in range(1, 12):
        step = min(300.0, 2.0 * 2 ** (attempt - 1))
        delays = [backoff_delay(attempt, 2.0, 300.0, None, rng) for _ in range(50)]
        assert all(step / 2 <= d <= step for d in delays)
        assert len(set(delays)) > 1  # jittered


def test_retry_after_wins_when_longer_but_stays_capped():
    rng = random.Random(1)
    assert backoff_delay(1, 2.0, 300.0, 45.0, rng) == 45.0
    assert backoff_delay(1, 2.0, 300.0, 0.5, rng) <= 2.0
    assert backoff_delay(1, 2.0, 300.0, 10_000.0, rng) == 300.0


def test_parse_retry_after():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert parse_retry_after("-5") == 0.0
