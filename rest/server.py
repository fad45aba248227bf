"""The HTTP server under the REST app: aiohttp's, with the API's error shape for requests that
fail before any handler runs.

aiohttp answers a request it cannot parse (a request line or header over 8190 bytes, a bad
method, a malformed header, a body past `client_max_size` read by the parser) from its protocol
layer, as `text/plain` ("400, message: Got more than 8190 bytes when reading: …", echoing the
client's bytes), and logs each one as an error with its traceback, so any client could fill the
log. `ApiRunner` serves the app through `ApiRequestHandler`, whose `handle_error` answers
`{"errors": {"base": [...]}}` with the same status, never echoes the request, and logs a client's
malformed request as one line at INFO (a 5xx stays an error, with its traceback)."""
from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, BadStatusLine, HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

from rest.errors import error_response

logger = logging.getLogger("chatbridge.http")


def describe(status: int, exc: BaseException | None) -> str:
    """What a client is told about a request the server could not read (never its bytes)."""
    if isinstance(exc, LineTooLong):
        return "Request line or header too long"
    if isinstance(exc, (BadHttpMethod, BadStatusLine)):
        return "Malformed request line"
    if isinstance(exc, HttpProcessingError) and status == 400:
        return "Malformed request"
    if status == 500:
        return "Internal server error"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Bad request"


class ApiRequestHandler(RequestHandler):
    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None, message: str | None = None) -> web.StreamResponse:
        if status >= 500:
            self.log_exception("Error handling request from %s", request.remote, exc_info=exc)
        else:
            logger.info("malformed request from %s: %d %s", request.remote, status,
                        type(exc).__name__ if exc is not None else "")
        if request.writer.output_size > 0:
            raise ConnectionError("Response is sent already, cannot send another response "
                                  "with the error message")
        response = error_response(status, describe(status, exc))
        response.force_close()
        return response


class ApiServer(Server):
    def __call__(self) -> RequestHandler:
        return ApiRequestHandler(self, loop=self._loop, **self._kwargs)


class ApiRunner(web.AppRunner):
    """`web.AppRunner` serving through `ApiServer` (what `Application._make_handler` builds, with
    the handler class swapped)."""

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        return ApiServer(server.request_handler, request_factory=server.request_factory,
                         handler_cancellation=server.handler_cancellation,
                         loop=asyncio.get_running_loop(), **server._kwargs)
