"""The one table from domain errors to HTTP, and ConnectyCube-shaped error bodies."""
from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from models.errors import ChatError, ErrorCode, RateLimitedError

STATUS = {
    ErrorCode.bad_request: 400,
    ErrorCode.unauthenticated: 401,
    ErrorCode.forbidden: 403,
    ErrorCode.not_found: 404,
    ErrorCode.invalid: 422,
    ErrorCode.conflict: 422,
    ErrorCode.too_large: 413,
    ErrorCode.rate_limited: 429,
    ErrorCode.unavailable: 503,
    ErrorCode.gone: 410,
}


def error_body(message: str, field: str | None = None) -> dict[str, Any]:
    return {"errors": {field or "base": [message]}}


def error_response(status: int, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(error_body(message, field)),
                        content_type="application/json", headers=headers)


def chat_error_response(exc: ChatError) -> web.Response:
    headers = None
    if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(STATUS.get(exc.code, 500), exc.message, exc.field, headers)
