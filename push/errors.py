"""How a delivery failed, as the worker needs to know it.

- `TemporaryPushError`: try again later (5xx, 429, timeouts, connection errors), with capped
  exponential backoff and jitter, honouring the provider's Retry-After.
- `PermanentPushError`: this notification can never be delivered as it is (payload too large,
  malformed request, bad credentials or configuration): dead-letter it, log it clearly.
- `TokenRejected`: the provider says the device token / endpoint is gone: delete exactly that
  subscription and carry on.
"""
from __future__ import annotations


class PushError(Exception):
    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status

    def describe(self) -> str:
        return f"{self.status} {self.reason}" if self.status else self.reason


class TemporaryPushError(PushError):
    def __init__(self, reason: str, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(reason, status)
        self.retry_after = retry_after


class PermanentPushError(PushError):
    pass


class TokenRejected(PushError):
    pass
