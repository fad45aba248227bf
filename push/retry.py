"""Retry timing: capped exponential backoff with jitter, and the providers' Retry-After."""
from __future__ import annotations

import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


def backoff_delay(attempts: int, base: float, cap: float, retry_after: float | None = None,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before the next try after `attempts` failed ones.

    "Equal jitter": half of the exponential step is fixed, the other half random, so retries of
    many jobs that failed together spread out but never come back almost at once. A provider's
    Retry-After wins when it asks for longer. Everything is capped at `cap`.
    """
    step = min(cap, base * (2 ** max(0, attempts - 1)))
    delay = step / 2 + (rng or random).uniform(0, step / 2)
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return min(cap, max(0.0, delay))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header: delay seconds, or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())
