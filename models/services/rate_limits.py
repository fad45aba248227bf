"""Rate limits: login failures per login and per client address, sign-ups per address, message
sends per user, wrong admin API keys per address, reports per user. Each limit is a setting in the `limits` library's notation ("10/minute;50/hour",
empty = no limit), counted in fixed windows in this process's memory: with several instances each
counts its own share.

Past a limit the caller gets `RateLimitedError` with the seconds until the window that refused it
ends (REST: 429 + Retry-After; XMPP: resource-constraint)."""
from __future__ import annotations

import time
from collections.abc import Callable

from limits import RateLimitItem, parse_many
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter

from config.settings import RateLimitSettings
from models.errors import RateLimitedError


class WindowCounts(Storage):
    """Fixed-window counters in a dict, expired lazily: a window's count restarts when it is next
    touched after its end, and ended windows are swept once the dict has doubled since the last
    sweep. (limits' own MemoryStorage sweeps every key from a timer thread every 10 ms while any
    is set, which costs the event loop at many users.)"""

    STORAGE_SCHEME = None

    def __init__(self, now: Callable[[], float] = time.time, min_sweep: int = 10_000) -> None:
        super().__init__()
        self._now = now
        self._counts: dict[str, list[float]] = {}  # key -> [count, window end]
        self._sweep_at = min_sweep
        self._min_sweep = min_sweep

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = self._now()
        entry = self._counts.get(key)
        if entry is None or entry[1] <= now:
            if len(self._counts) >= self._sweep_at:
                self._sweep(now)
            entry = self._counts[key] = [0, now + expiry]
        entry[0] += amount
        return int(entry[0])

    def get(self, key: str) -> int:
        entry = self._counts.get(key)
        return int(entry[0]) if entry is not None and entry[1] > self._now() else 0

    def get_expiry(self, key: str) -> float:
        entry = self._counts.get(key)
        return entry[1] if entry is not None and entry[1] > self._now() else self._now()

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        count = len(self._counts)
        self._counts.clear()
        return count

    def clear(self, key: str) -> None:
        self._counts.pop(key, None)

    def __len__(self) -> int:
        return len(self._counts)

    def _sweep(self, now: float) -> None:
        self._counts = {key: entry for key, entry in self._counts.items() if entry[1] > now}
        self._sweep_at = max(self._min_sweep, 2 * len(self._counts))


class Limit:
    """One setting: its windows (all must allow) and the namespace of its keys."""

    def __init__(self, name: str, notation: str, limiter: FixedWindowRateLimiter,
                 now: Callable[[], float]) -> None:
        self.name = name
        self.items: list[RateLimitItem] = parse_many(notation) if notation.strip() else []
        self._limiter = limiter
        self._now = now

    def allowed(self, *key: str) -> bool:
        return all(self._limiter.test(item, self.name, *key) for item in self.items)

    def hit(self, *key: str) -> bool:
        """Counts one attempt in every window; False when any window is now past its amount."""
        ok = True
        for item in self.items:
            ok = self._limiter.hit(item, self.name, *key) and ok
        return ok

    def retry_after(self, *key: str) -> int:
        """Whole seconds until every exhausted window of `key` has ended (at least 1)."""
        now = self._now()
        waits = [self._limiter.get_window_stats(item, self.name, *key) for item in self.items]
        ends = [stats.reset_time for stats in waits if stats.remaining <= 0]
        return max(1, int(max(ends, default=now) - now + 0.999))

    def refuse(self, *key: str) -> RateLimitedError:
        return RateLimitedError("Too many requests, retry later", retry_after=self.retry_after(*key))


class RateLimitService:
    def __init__(self, settings: RateLimitSettings, now: Callable[[], float] = time.time) -> None:
        self._storage = WindowCounts(now)
        limiter = FixedWindowRateLimiter(self._storage)
        self._login = Limit("login", settings.login_failures_per_login, limiter, now)
        self._login_address = Limit("login-addr", settings.login_failures_per_address, limiter, now)
        self._signup = Limit("signup", settings.signups_per_address, limiter, now)
        self._send = Limit("send", settings.messages_per_user, limiter, now)
        self._admin = Limit("admin-key", settings.admin_failures_per_address, limiter, now)
        self._report = Limit("report", settings.reports_per_user, limiter, now)

    # -- logins: failures count; a login or address past its limit is refused before the password
    # is checked (so a guesser learns nothing more, and the hash is not computed) ----------------
    def check_login(self, app_id: int, identity: str, address: str | None) -> None:
        if not self._login.allowed(str(app_id), identity):
            raise self._login.refuse(str(app_id), identity)
        if address and not self._login_address.allowed(address):
            raise self._login_address.refuse(address)

    def login_failed(self, app_id: int, identity: str, address: str | None) -> None:
        self._login.hit(str(app_id), identity)
        if address:
            self._login_address.hit(address)

    # -- sign-ups and sends: every attempt counts -----------------------------------------------
    def signup(self, address: str | None) -> None:
        if address and not self._signup.hit(address):
            raise self._signup.refuse(address)

    def message_sent(self, app_id: int, user_id: int) -> None:
        if self._send.items and not self._send.hit(str(app_id), str(user_id)):
            raise self._send.refuse(str(app_id), str(user_id))

    def report_filed(self, app_id: int, user_id: int) -> None:
        """A report attempt (`POST /reports`), counted before it is checked: probing ids costs."""
        if self._report.items and not self._report.hit(str(app_id), str(user_id)):
            raise self._report.refuse(str(app_id), str(user_id))

    # -- admin API keys: wrong keys count per address; past the limit every request from that
    # address is refused before the key is looked up, a right key included ------------------------
    def check_admin_key(self, address: str | None) -> None:
        if address and not self._admin.allowed(address):
            raise self._admin.refuse(address)

    def admin_key_failed(self, address: str | None) -> None:
        if address:
            self._admin.hit(address)
