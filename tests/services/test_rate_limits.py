"""The rate-limit counting on a controlled clock: windows, several windows per setting, Retry-After,
no limit when a setting is empty, and the lazy sweep of ended windows."""
from __future__ import annotations

import pytest

from config.settings import RateLimitSettings
from models.errors import RateLimitedError
from models.services.rate_limits import RateLimitService, WindowCounts


class Now:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def service(now: Now, **limits: str) -> RateLimitService:
    return RateLimitService(RateLimitSettings(**limits), now=now)


def test_sends_are_refused_past_the_limit_until_the_window_ends():
    now = Now()
    limits = service(now, messages_per_user="3/minute")
    for _ in range(3):
        limits.message_sent(1, 7)
    with pytest.raises(RateLimitedError) as refused:
        limits.message_sent(1, 7)
    assert refused.value.retry_after == 60
    now.t += 30
    with pytest.raises(RateLimitedError) as refused:
        limits.message_sent(1, 7)
    assert refused.value.retry_after == 30
    limits.message_sent(1, 8)  # another user
    limits.message_sent(2, 7)  # the same id in another application
    now.t += 30.5
    limits.message_sent(1, 7)


def test_every_window_of_a_setting_must_allow():
    now = Now()
    limits = service(now, messages_per_user="2/second;3/minute")
    limits.message_sent(1, 1)
    limits.message_sent(1, 1)
    with pytest.raises(RateLimitedError) as refused:
        limits.message_sent(1, 1)
    assert refused.value.retry_after == 60  # the minute window is exhausted as well now
    now.t += 2
    with pytest.raises(RateLimitedError):
        limits.message_sent(1, 1)
    now.t += 60
    limits.message_sent(1, 1)


def test_empty_settings_mean_no_limit():
    now = Now()
    limits = service(now, messages_per_user="", login_failures_per_login="",
                     login_failures_per_address="", signups_per_address="")
    for _ in range(1000):
        limits.message_sent(1, 1)
        limits.signup("192.0.2.1")
        limits.login_failed(1, "user:1", "192.0.2.1")
    limits.check_login(1, "user:1", "192.0.2.1")


def test_login_checks_count_only_failures_and_name_the_address():
    now = Now()
    limits = service(now, login_failures_per_login="2/minute", login_failures_per_address="3/minute")
    for _ in range(5):
        limits.check_login(1, "user:1", "192.0.2.1")  # checking alone counts nothing
    limits.login_failed(1, "user:1", "192.0.2.1")
    limits.login_failed(1, "user:1", "192.0.2.1")
    with pytest.raises(RateLimitedError):
        limits.check_login(1, "user:1", "192.0.2.2")
    limits.check_login(1, "user:2", "192.0.2.1")
    limits.login_failed(1, "user:2", "192.0.2.1")
    with pytest.raises(RateLimitedError):
        limits.check_login(1, "user:3", "192.0.2.1")  # the address is spent
    limits.check_login(1, "user:3", None)  # no address known (XMPP): only the login counts


def test_a_bad_setting_is_refused_at_start():
    with pytest.raises(ValueError):
        service(Now(), messages_per_user="lots")


def test_ended_windows_are_swept_once_the_table_has_doubled():
    now = Now()
    counts = WindowCounts(now, min_sweep=100)
    for i in range(100):
        counts.incr(f"k{i}", 10)
    assert len(counts) == 100
    now.t += 11
    counts.incr("fresh", 10)  # the 101st key finds 100 ended windows: swept
    assert len(counts) == 1
    for i in range(150):
        counts.incr(f"live{i}", 10)
    assert len(counts) == 151  # nothing ended: kept
    assert counts.get("live0") == 1 and counts.get_expiry("live0") == now.t + 10
