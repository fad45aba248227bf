"""/blobs: create, one-time multipart upload, complete, info / rename, list, delete, download.

The upload (`POST /blobs/upload`) is what the SDK sends to `blob_object_access.params`:
multipart/form-data with the URL's query parameters as fields (`key`, `token`) followed by a
`file` part. The body is read as a stream and written to a temporary file; it never sits in
memory and is not subject to the JSON body limit, only to `settings.blobs.max_bytes`.
"""
from __future__ import annotations

import logging
import re
from typing import AsyncIterator
from urllib.parse import quote

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from models.errors import (BadRequestError, InvalidError, TooLargeError, UnauthenticatedError)
from models.requester import Requester
from rest.auth import requester, user_requester
from rest.keys import services_key
from rest.params import all_params, body_params, json_response, query_params
from rest.schemas.blobs import (blob_body, blob_id_from_path, blob_query, blob_to_json, declared_size,
                                read_access_to_json, signed_expiry, write_access_to_json)

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
MAX_FIELD_BYTES = 4096
MAX_FIELDS = 32
# Room for the multipart framing and the small fields around the file.
MULTIPART_OVERHEAD = 64 * 1024
INLINE_TYPES = re.compile(r"^(image|audio|video)/|^text/plain$|^application/pdf$")
IDENTITY_ENCODINGS = {"", "identity", "binary", "7bit", "8bit"}


# -- create / upload / complete ---------------------------------------------------------------------
async def create_blob(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    body = await body_params(request)
    if body.get("blob") in (None, ""):
        raise InvalidError("can't be blank", field="blob")
    blob, access = await request.app[services_key].blobs.create(caller, blob_body(body["blob"]).to_draft())
    return json_response({"blob": blob_to_json(blob, write_access_to_json(blob, access))}, status=201)


async def upload_blob(request: web.Request) -> web.Response:
    blobs = request.app[services_key].blobs
    if request.content_length is not None and request.content_length > blobs.max_bytes + MULTIPART_OVERHEAD:
        raise TooLargeError(f"File is too large (maximum is {blobs.max_bytes} bytes)")
    if request.content_type != "multipart/form-data":
        raise BadRequestError("The upload must be multipart/form-data")
    caller = await _optional_session(request, request.headers.get("CB-Token"))
    # The form carries the URL's query parameters; accept them on the URL too (curl users).
    fields = {k: v for k, v in request.query.items() if k in ("key", "token")}
    try:
        reader = await request.multipart()
        for _ in range(MAX_FIELDS + 1):
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise BadRequestError("Nested multipart bodies are not supported")
            _check_part_encoding(part)
            if part.name == "file":
                blob = await blobs.check_upload(fields.get("key"), fields.get("token"), caller)
                blob = await blobs.upload(blob, fields["token"], _chunks(part, reader),
                                          part.headers.get("Content-Type"))
                return json_response({"blob": blob_to_json(blob)}, status=201)
            if part.name:
                fields[part.name] = await _read_field(part)
            else:
                await _read_field(part)
        else:
            raise BadRequestError("Too many form fields")
    except (ValueError, AssertionError, HttpProcessingError) as exc:
        logger.debug("malformed upload body: %s", exc)
        raise BadRequestError("Malformed multipart body") from exc
    # No file part: still say what is wrong with the credentials first.
    await blobs.check_upload(fields.get("key"), fields.get("token"), caller)
    raise InvalidError("can't be blank", field="file")


async def complete_blob(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    blob_id = blob_id_from_path(request.match_info["key"])
    size = declared_size(await body_params(request))
    blob = await request.app[services_key].blobs.complete(caller, blob_id, size)
    return json_response({"blob": blob_to_json(blob)})


# -- info, rename, list, delete -----------------------------------------------------------------------
async def get_blob(request: web.Request) -> web.Response:
    """GET /blobs/{id or uid}.json: the info; with `blob[...]` query parameters, an update (the
    SDK's `storage.update` uses GET)."""
    caller = await requester(request)
    params = query_params(request)
    if "blob" in params:
        return await _update(request, caller, params["blob"])
    blob = await request.app[services_key].blobs.get(caller, request.match_info["key"])
    return json_response({"blob": blob_to_json(blob)})


async def update_blob(request: web.Request) -> web.Response:
    caller = await requester(request)
    params = await all_params(request)
    if params.get("blob") in (None, ""):
        raise InvalidError("can't be blank", field="blob")
    return await _update(request, caller, params["blob"])


async def _update(request: web.Request, caller: Requester, params) -> web.Response:
    changes = blob_body(params).to_changes()
    blob, access = await request.app[services_key].blobs.update(caller, request.match_info["key"], changes)
    return json_response({"blob": blob_to_json(blob, write_access_to_json(blob, access) if access else None)})


async def get_blob_object(request: web.Request) -> web.Response:
    caller = await requester(request)
    blobs = request.app[services_key].blobs
    blob = await blobs.get(caller, request.match_info["key"])
    wants_url = request.query.get("download_url", "").strip().lower() in ("1", "true")
    if wants_url:
        url, expires = blobs.download_url(blob)
        access = read_access_to_json(blob, url, expires)
    else:
        access = read_access_to_json(blob)
    return json_response({"blob": blob_to_json(blob, access)})


async def list_blobs(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    query = blob_query(query_params(request))
    items, total, page, per_page = await request.app[services_key].blobs.list_own(caller, query)
    return json_response({"current_page": page, "per_page": per_page, "total_entries": total,
                          "items": [{"blob": blob_to_json(b)} for b in items]})


async def delete_blob(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    await request.app[services_key].blobs.delete(caller, blob_id_from_path(request.match_info["key"]))
    return json_response({})


# -- download -----------------------------------------------------------------------------------------
async def download_blob(request: web.Request) -> web.StreamResponse:
    """The bytes of a complete blob. Public: no credentials. Private: a user session of the same
    application (`?token=` or `CB-Token`) or a signed URL (`?expires=&signature=`)."""
    services = request.app[services_key]
    token = request.headers.get("CB-Token") or request.query.get("token")
    caller = await _optional_session(request, token)
    blob, stored = await services.blobs.open_download(
        request.match_info["uid"], caller, signed_expiry(request.query.get("expires")),
        request.query.get("signature"))
    if stored.path is None:
        raise web.HTTPFound(stored.url or "/")
    as_attachment = request.path.endswith("/download") or not INLINE_TYPES.match(blob.content_type)
    headers = {
        "Content-Type": blob.content_type,
        "Content-Disposition": content_disposition(blob.name, as_attachment),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "public, max-age=3600" if blob.public else "private, max-age=3600",
    }
    return web.FileResponse(stored.path, chunk_size=CHUNK_SIZE, headers=headers)


def content_disposition(name: str, attachment: bool) -> str:
    """`inline|attachment; filename="<ascii>"; filename*=UTF-8''<percent-encoded>` (RFC 6266)."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in name) or "file"
    kind = "attachment" if attachment else "inline"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


# -- helpers ------------------------------------------------------------------------------------------
async def _optional_session(request: web.Request, token: str | None) -> Requester | None:
    """The session behind `token` if it is live; None without one (the caller may not need it)."""
    if not token:
        return None
    try:
        return await request.app[services_key].sessions.resolve(token)
    except UnauthenticatedError:
        return None


def _check_part_encoding(part: BodyPartReader) -> None:
    for header in ("Content-Transfer-Encoding", "Content-Encoding"):
        if part.headers.get(header, "").strip().lower() not in IDENTITY_ENCODINGS:
            raise BadRequestError(f"{header} is not supported")


async def _read_field(part: BodyPartReader) -> str:
    data = bytearray()
    while True:
        chunk = await part.read_chunk(CHUNK_SIZE)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_FIELD_BYTES:
            raise BadRequestError("Form field is too large")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError("Form fields must be UTF-8") from exc


async def _chunks(part: BodyPartReader, reader: MultipartReader) -> AsyncIterator[bytes]:
    """The file part's bytes; then the rest of the body is read up to the closing boundary, so a
    truncated body fails (ValueError) before the upload is committed."""
    while True:
        chunk = await part.read_chunk(CHUNK_SIZE)
        if not chunk:
            break
        yield chunk
    for _ in range(MAX_FIELDS):
        extra = await reader.next()
        if extra is None:
            break
        if isinstance(extra, BodyPartReader):
            await _read_field(extra)
        else:
            raise BadRequestError("Nested multipart bodies are not supported")
    else:
        raise BadRequestError("Too many form fields")
    if not reader.at_eof():
        raise ValueError("multipart body is not terminated")
