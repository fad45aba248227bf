"""HTTP File Upload (XEP-0363): slots are blobs, the same store and size limit as `/blobs`.

`request_slot` creates a public blob owned by the requester with the declared name, type and size
and hands out two URLs on the REST listener (rest/views/upload.py):
- PUT `{base}/upload/{uid}/{name}?token=<one-time token>`: the token is the blob's upload token
  (only its sha256 is stored, it expires after `upload_ttl_seconds` and is consumed by the upload);
  the Content-Type must be the declared one and the body exactly the declared size;
- GET `{base}/upload/{uid}/{name}`: the bytes once uploaded. `uid` is 128 random bits: the URL is
  a capability, as XEP-0363's GET URLs are (stock clients fetch them without credentials), and as
  ConnectyCube's public blobs are.
The upload completes the blob (there is no separate "complete" step in XEP-0363).
"""
from __future__ import annotations

import logging
from typing import AsyncIterator
from urllib.parse import quote, urlencode

from models.blobs import Blob, BlobDraft
from models.errors import InvalidError, NotFoundError, TooLargeError
from models.requester import Requester, require_user
from models.services.blobs import BlobService, normalize_content_type, sanitize_name
from models.upload import SlotRequest, UploadSlot

logger = logging.getLogger(__name__)


class UploadService:
    def __init__(self, blobs: BlobService, base_url: str) -> None:
        self._blobs = blobs
        self._base_url = base_url.rstrip("/")

    @property
    def max_bytes(self) -> int:
        return self._blobs.max_bytes

    async def request_slot(self, requester: Requester, request: SlotRequest) -> UploadSlot:
        """A slot for one file. TooLargeError past the blob size limit (`max_bytes`)."""
        require_user(requester)
        if request.size <= 0:
            raise InvalidError("must be a positive number of bytes", field="size")
        if request.size > self.max_bytes:
            raise TooLargeError(f"File is too large (maximum is {self.max_bytes} bytes)")
        name = sanitize_name(request.filename or "file")
        blob, access = await self._blobs.create(requester, BlobDraft(
            name=name, content_type=normalize_content_type(request.content_type), public=True,
            size=request.size))
        path = f"{self._base_url}/upload/{blob.uid}/{quote(blob.name, safe='')}"
        logger.info("upload slot %s for user %s of app %s: %d bytes", blob.id, requester.user_id,
                    requester.app_id, request.size)
        return UploadSlot(blob_id=blob.id, put_url=f"{path}?{urlencode({'token': access.token})}",
                          get_url=path, expires_at=access.expires_at)

    async def put(self, uid: str, token: str | None, content_type: str | None,
                  length: int | None, chunks: AsyncIterator[bytes]) -> Blob:
        """The PUT of a slot: checked before any byte is read (token, declared type and size),
        stored, completed."""
        blob = await self._blobs.check_upload(uid, token)
        if blob.expected_size is None:  # a REST blob: its own upload flow
            raise NotFoundError("Upload slot not found")
        declared = normalize_content_type(content_type)
        if declared != blob.content_type:
            raise InvalidError(f"must be the type of the slot request ({blob.content_type})",
                               field="content_type")
        if length is not None and length != blob.expected_size:
            if length > blob.expected_size:
                raise TooLargeError(f"File is too large (the slot is for {blob.expected_size} bytes)")
            raise InvalidError(f"must be the declared size ({blob.expected_size} bytes)", field="size")
        blob = await self._blobs.upload(blob, token or "", chunks)
        return await self._blobs.complete(Requester(app_id=blob.app_id, user_id=blob.user_id),
                                          blob.id, blob.expected_size)
