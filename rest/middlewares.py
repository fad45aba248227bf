"""Request id, CORS and error mapping. Every failure answers in the ConnectyCube error shape."""
from __future__ import annotations

import logging
import re
import secrets

from aiohttp import web

from config.logging import request_id
from models.errors import ChatError
from rest.errors import chat_error_response, error_response

logger = logging.getLogger(__name__)

CORS_HEADERS = {
    "Access-Control-Allow-Headers": "CB-Token, CB-SDK, CB-AuthKey, Content-Type, Authorization",
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Max-Age": "86400",
}

_STATUS_MESSAGES = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 413: "Request body is too large", 415: "Unsupported media type",
}


def make_cors_middleware(origins: list[str]):
    allow_any = "*" in origins

    @web.middleware
    async def cors_middleware(request: web.Request, handler):
        origin = request.headers.get("Origin")
        allowed = origin and (allow_any or origin in origins)
        if request.method == "OPTIONS" and allowed:
            response: web.StreamResponse = web.Response(status=204)
        else:
            response = await handler(request)
        if allowed:
            response.headers["Access-Control-Allow-Origin"] = origin if not allow_any else "*"
            response.headers.update(CORS_HEADERS)
        return response

    return cors_middleware


_PLAIN_ID = re.compile(r"[A-Za-z0-9._:-]+")


@web.middleware
async def error_middleware(request: web.Request, handler):
    given = request.headers.get("X-Request-Id", "")
    # a client's id is kept only when it is a plain token: it goes into every log line
    request_id.set(given if 0 < len(given) <= 64 and _PLAIN_ID.fullmatch(given) else secrets.token_hex(6))
    try:
        return await handler(request)
    except ChatError as exc:
        return chat_error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = _STATUS_MESSAGES.get(exc.status, exc.reason)
        return error_response(exc.status, message, headers={
            k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")})
    except Exception:  # noqa: BLE001 - the one place that turns surprises into a 500
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "Internal server error")
