"""/upload/{uid}/{name}: the HTTP side of XEP-0363 slots (models/services/upload.py).

PUT carries the bytes as the request body (no multipart), `?token=` is the slot's one-time
credential; answered 201 with no body. GET serves the file like `/blobs/{uid}` (public blob).
The name segment is for the clients, which show it and guess the type from it; the blob is found
by its uid.
"""
from __future__ import annotations

from typing import AsyncIterator

from aiohttp import web

from models.errors import TooLargeError
from rest.keys import services_key
from rest.views.blobs import CHUNK_SIZE, download_blob

__all__ = ["put_upload", "get_upload"]


async def put_upload(request: web.Request) -> web.Response:
    upload = request.app[services_key].upload
    if request.content_length is not None and request.content_length > upload.max_bytes:
        raise TooLargeError(f"File is too large (maximum is {upload.max_bytes} bytes)")
    await upload.put(request.match_info["uid"], request.query.get("token"),
                     request.headers.get("Content-Type"), request.content_length,
                     _body(request))
    return web.Response(status=201)


async def get_upload(request: web.Request) -> web.StreamResponse:
    return await download_blob(request)


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    while True:
        chunk = await request.content.read(CHUNK_SIZE)
        if not chunk:
            break
        yield chunk
