"""Domain errors. They carry no HTTP status and no XMPP condition: each transport maps them.

`message` must be safe to show to clients; put details in logs. `field` names the offending input
for validation errors (REST renders `{"errors": {field: [message]}}`).
"""
from __future__ import annotations

from enum import Enum


class ErrorCode(str, Enum):
    bad_request = "bad_request"
    unauthenticated = "unauthenticated"
    forbidden = "forbidden"
    not_found = "not_found"
    invalid = "invalid"
    conflict = "conflict"
    too_large = "too_large"
    rate_limited = "rate_limited"
    unavailable = "unavailable"
    gone = "gone"


class ChatError(Exception):
    code: ErrorCode = ErrorCode.bad_request

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class BadRequestError(ChatError):
    code = ErrorCode.bad_request


class UnauthenticatedError(ChatError):
    code = ErrorCode.unauthenticated


class SessionMissingError(UnauthenticatedError):
    """The exact wording the SDK's session-expired hook keys on."""

    def __init__(self) -> None:
        super().__init__("Required session does not exist")


class ForbiddenError(ChatError):
    code = ErrorCode.forbidden


class NotFoundError(ChatError):
    code = ErrorCode.not_found


class InvalidError(ChatError):
    code = ErrorCode.invalid


class ConflictError(ChatError):
    code = ErrorCode.conflict


class TooLargeError(ChatError):
    code = ErrorCode.too_large


class RateLimitedError(ChatError):
    code = ErrorCode.rate_limited

    def __init__(self, message: str, field: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message, field)
        self.retry_after = retry_after  # seconds until a retry can succeed, when known


class UnavailableError(ChatError):
    code = ErrorCode.unavailable


class GoneError(ChatError):
    """What was asked for existed once and is no longer kept (a feed cursor past the retention)."""

    code = ErrorCode.gone
