"""Blobs (attachments): create → one-time upload → complete, info, rename, list, delete, download.

The upload URL handed out by `create` is `{base}/blobs/upload?key=<uid>&token=<one-time token>`;
only sha256(token) is stored and it expires after `upload_ttl_seconds`. The upload itself carries
no session: the form token is the credential. Bytes are stored under `{app_id}/{uid}` in the
FileStore, never under a client-chosen name.

Visibility: a blob is seen only by sessions of its application. Any user session of the
application may read its info; an application session (no user: what the app's public auth key
opens) sees public blobs only, private ones are "not found" to it (their ids are sequential, so
it could otherwise walk every private attachment); only the owner may complete, rename or delete
it. Downloads need nothing for
public blobs; private ones need a user session of the same application or a signed URL from
`download_url`. Only complete blobs can be downloaded.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator
from urllib.parse import urlencode

from config.settings import BlobSettings
from models.blobs import STATUS_NEW, Blob, BlobChanges, BlobDraft, BlobQuery, UploadAccess
from models.clock import Clock
from models.lax import MAX_INT
from models.errors import (ConflictError, ForbiddenError, InvalidError, NotFoundError,
                           TooLargeError, UnauthenticatedError)
from models.requester import Requester
from models.storage.blobs import BlobStore
from models.storage.counters import CounterStore
from models.storage.files import FileStore, StoredFile
from models.storage.secrets import SecretStore

logger = logging.getLogger(__name__)

NAME_MAX = 100
DEFAULT_CONTENT_TYPE = "application/octet-stream"
UID_RE = re.compile(r"^[0-9a-fA-F]{32}$")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_MIME_PART = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
CONTENT_TYPE_RE = re.compile(rf"^{_MIME_PART}/{_MIME_PART}$")
_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|]')
_LEADING_DOTS = re.compile(r"^[\s.]+")
NOT_FOUND = "Blob not found"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sanitize_name(value: Any) -> str:
    """A display / download file name: the last path segment, no control or reserved characters,
    no leading dots, at most NAME_MAX characters (the extension is kept when shortening)."""
    if value is None or isinstance(value, (dict, list, bool)):
        raise InvalidError("can't be blank", field="name")
    text = unicodedata.normalize("NFC", str(value))
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = _UNSAFE_NAME_CHARS.sub("_", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))
    text = _LEADING_DOTS.sub("", text).rstrip()
    if not text:
        raise InvalidError("can't be blank", field="name")
    if len(text) > NAME_MAX:
        stem, dot, ext = text.rpartition(".")
        if dot and stem and 0 < len(ext) <= 16:
            text = stem[: NAME_MAX - len(ext) - 1].rstrip() + "." + ext
        else:
            text = text[:NAME_MAX].rstrip()
    return text


def normalize_content_type(value: Any, default: str | None = DEFAULT_CONTENT_TYPE) -> str:
    """`type/subtype` in lower case; parameters (`; charset=...`) are dropped. Empty → default."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is None:
            raise InvalidError("can't be blank", field="content_type")
        return default
    if not isinstance(value, str):
        raise InvalidError("must be a MIME type (type/subtype)", field="content_type")
    text = value.split(";", 1)[0].strip().lower()
    if not CONTENT_TYPE_RE.match(text):
        raise InvalidError("must be a MIME type (type/subtype)", field="content_type")
    return text


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class BlobService:
    def __init__(self, blobs: BlobStore, files: FileStore, counters: CounterStore, clock: Clock,
                 settings: BlobSettings, base_url: str, max_list_limit: int = 100) -> None:
        self._blobs = blobs
        self._files = files
        self._counters = counters
        self._clock = clock
        self._settings = settings
        self._base_url = base_url.rstrip("/")
        self._max_limit = max_list_limit
        self._url_secret = settings.url_secret.get_secret_value()

    async def share_url_secret(self, secrets_store: SecretStore) -> None:
        """Signed download URLs must verify in every process of a deployment and after a
        restart: unless `CHAT_BLOBS__URL_SECRET` is set, the key is the one kept in the store
        (created by the first process that starts)."""
        if "url_secret" in self._settings.model_fields_set:
            return
        self._url_secret = await secrets_store.get_or_create("blob_url_secret", self._url_secret)

    @property
    def max_bytes(self) -> int:
        return self._settings.max_bytes

    # -- create and upload -----------------------------------------------------------------------
    async def create(self, requester: Requester, draft: BlobDraft) -> tuple[Blob, UploadAccess]:
        _require_user(requester)
        name = sanitize_name(draft.name)
        content_type = normalize_content_type(draft.content_type)
        public = draft.public
        if draft.size is not None:
            if draft.size < 0:
                raise InvalidError("must be at least 0", field="size")
            if draft.size > self._settings.max_bytes:
                raise TooLargeError(f"File is too large (maximum is {self._settings.max_bytes} bytes)")
        now = self._clock.now()
        token = secrets.token_urlsafe(32)
        expires = now + timedelta(seconds=self._settings.upload_ttl_seconds)
        doc: dict[str, Any] = {
            "_id": await self._counters.next("blobs"),
            "app_id": requester.app_id,
            "user_id": requester.user_id,
            "name": name,
            "content_type": content_type,
            "size": None,
            "public": public,
            "status": STATUS_NEW,
            "upload_token_hash": hash_token(token),
            "upload_expires_at": expires,
            "expected_size": draft.size,
            "uploaded_at": None,
            "created_at": now,
            "updated_at": now,
        }
        for _ in range(3):
            doc["uid"] = secrets.token_hex(16)
            try:
                await self._blobs.insert(doc)
                break
            except ConflictError:  # a uid collision: practically impossible, but cheap to retry
                continue
        else:
            raise ConflictError("could not allocate a blob uid")
        blob = Blob.model_validate(doc)
        return blob, self._upload_access(blob, token, expires)

    def _upload_access(self, blob: Blob, token: str, expires: datetime) -> UploadAccess:
        query = urlencode({"key": blob.uid, "token": token})
        return UploadAccess(url=f"{self._base_url}/blobs/upload?{query}", expires_at=expires, token=token)

    async def check_upload(self, uid: str | None, token: str | None,
                           caller: Requester | None = None) -> Blob:
        """The blob an upload may write into, before any byte is read. 404 unknown key, 401 no
        token, 403 wrong / used / expired token or a session of another owner."""
        if not isinstance(uid, str) or not uid:
            raise InvalidError("can't be blank", field="key")
        if not isinstance(token, str) or not token:
            raise UnauthenticatedError("upload token is missing")
        if not UID_RE.match(uid):
            raise NotFoundError(NOT_FOUND)
        candidates = await self._blobs.find_by_uid(uid.lower())
        if not candidates:
            raise NotFoundError(NOT_FOUND)
        token_hash = hash_token(token) if _TOKEN_RE.match(token) else ""
        doc = next((d for d in candidates if d.get("upload_token_hash") and token_hash
                    and hmac.compare_digest(d["upload_token_hash"], token_hash)), None)
        if doc is None:
            raise ForbiddenError("upload token is invalid or already used")
        blob = Blob.model_validate(doc)
        if caller is not None and (caller.app_id != blob.app_id
                                   or (caller.is_user and caller.user_id != blob.user_id)):
            raise ForbiddenError("You can upload only into your own blobs")
        if blob.upload_expires_at is None or _as_utc(blob.upload_expires_at) <= self._clock.now():
            raise ForbiddenError("upload token has expired")
        return blob

    async def upload(self, blob: Blob, token: str, chunks: AsyncIterator[bytes],
                     content_type: str | None = None) -> Blob:
        """Streams `chunks` into the blob checked by `check_upload`, enforcing `max_bytes`, and
        consumes the one-time token. A failed or refused upload leaves no file behind."""
        part_type: str | None = None
        if content_type:
            try:
                part_type = normalize_content_type(content_type, default=None)
            except InvalidError:
                part_type = None
        # The SDK sends node Buffers as application/octet-stream: keep the declared type then.
        if part_type == DEFAULT_CONTENT_TYPE or blob.content_type != DEFAULT_CONTENT_TYPE:
            part_type = None
        limit = self._settings.max_bytes if blob.expected_size is None else blob.expected_size
        writer = await self._files.open_writer(blob.file_key)
        try:
            async for chunk in chunks:
                if writer.size + len(chunk) > limit:
                    raise TooLargeError(f"File is too large (maximum is {limit} bytes)")
                await writer.write(chunk)
            if blob.expected_size is not None and writer.size != blob.expected_size:
                raise InvalidError(f"must be the declared size ({blob.expected_size} bytes)",
                                   field="size")
            token_hash = hash_token(token)
            doc = await self._blobs.mark_uploaded(blob.id, token_hash, self._clock.now(),
                                                  writer.size, part_type)
            if doc is None:
                raise ForbiddenError("upload token is invalid or already used")
            try:
                await writer.commit()
            except BaseException:
                await self._blobs.revert_upload(blob.id, token_hash)
                raise
        except BaseException:
            await writer.abort()
            raise
        logger.info("blob %s uploaded: %d bytes", blob.id, writer.size)
        return Blob.model_validate(doc)

    async def complete(self, requester: Requester, blob_id: int, size: int | None) -> Blob:
        """`size`, when given, must be what was uploaded."""
        blob = await self._owned(requester, blob_id)
        if not blob.is_uploaded:
            raise InvalidError("file has not been uploaded yet", field="base")
        if size is not None:
            if size != blob.size:
                raise InvalidError("does not match the uploaded file size", field="size")
        if blob.is_complete:
            return blob
        doc = await self._blobs.complete(blob.app_id, blob.id, self._clock.now())
        if doc is None:
            raise NotFoundError(NOT_FOUND)
        return Blob.model_validate(doc)

    # -- reads ---------------------------------------------------------------------------------
    async def get(self, requester: Requester, key: str | int) -> Blob:
        """By numeric id or by 32-hex uid, within the caller's application."""
        text = str(key).strip() if isinstance(key, (str, int)) and not isinstance(key, bool) else ""
        doc = None
        if UID_RE.match(text):
            doc = await self._blobs.get_by_uid(requester.app_id, text.lower())
        elif text.isdigit() and len(text) <= 18:
            doc = await self._blobs.get(requester.app_id, int(text))
        if doc is None:
            raise NotFoundError(NOT_FOUND)
        blob = Blob.model_validate(doc)
        if not blob.public and not (requester.is_user or requester.is_admin):
            raise NotFoundError(NOT_FOUND)
        return blob

    async def list_own(self, requester: Requester, query: BlobQuery) -> tuple[list[Blob], int, int, int]:
        """(blobs, total, page, per_page), newest first."""
        _require_user(requester)
        page, per_page = query.page, query.per_page
        per_page = min(per_page, self._max_limit)
        skip = (page - 1) * per_page
        if skip > MAX_INT:
            raise InvalidError("is too large", field="page")
        docs = await self._blobs.find_by_owner(requester.app_id, requester.user_id, skip, per_page)
        total = await self._blobs.count_by_owner(requester.app_id, requester.user_id)
        return [Blob.model_validate(d) for d in docs], total, page, per_page

    # -- owner changes ---------------------------------------------------------------------------
    async def update(self, requester: Requester, key: str | int,
                     changes: BlobChanges) -> tuple[Blob, UploadAccess | None]:
        """`name`, `content_type`, `public`; `new` hands out a fresh upload URL (the content
        will be replaced; the blob is `new` again until completed)."""
        blob = await self.get(requester, key)
        self._require_owner(requester, blob)
        given = changes.model_fields_set
        fields: dict[str, Any] = {}
        if "name" in given:
            fields["name"] = sanitize_name(changes.name)
        if "content_type" in given:
            fields["content_type"] = normalize_content_type(changes.content_type, default=None)
        if "public" in given:
            fields["public"] = blob.public if changes.public is None else changes.public
        access = None
        now = self._clock.now()
        if fields:
            fields["updated_at"] = now
            doc = await self._blobs.set_fields(blob.app_id, blob.id, fields)
            if doc is None:
                raise NotFoundError(NOT_FOUND)
            blob = Blob.model_validate(doc)
        if changes.new:
            token = secrets.token_urlsafe(32)
            expires = now + timedelta(seconds=self._settings.upload_ttl_seconds)
            doc = await self._blobs.set_upload_token(blob.app_id, blob.id, hash_token(token), expires, now)
            if doc is None:
                raise NotFoundError(NOT_FOUND)
            blob = Blob.model_validate(doc)
            access = self._upload_access(blob, token, expires)
        return blob, access

    async def delete(self, requester: Requester, blob_id: int) -> None:
        blob = await self._owned(requester, blob_id)
        if not await self._blobs.delete(blob.app_id, blob.id):
            raise NotFoundError(NOT_FOUND)
        try:
            await self._files.delete(blob.file_key)
        except OSError:  # the record is gone; a leftover file is only disk space
            logger.warning("could not remove the file of blob %s", blob.id, exc_info=True)

    # -- downloads -----------------------------------------------------------------------------
    def download_url(self, blob: Blob) -> tuple[str, datetime | None]:
        """`{base}/blobs/{uid}` for public blobs; a signed, expiring URL for private ones."""
        url = f"{self._base_url}/blobs/{blob.uid}"
        if blob.public:
            return url, None
        expires = self._clock.now() + timedelta(seconds=self._settings.download_url_ttl_seconds)
        stamp = int(expires.timestamp())
        query = urlencode({"expires": stamp, "signature": self._sign(blob, stamp)})
        return f"{url}?{query}", expires

    def _sign(self, blob: Blob, expires: int) -> str:
        key = self._url_secret.encode()
        return hmac.new(key, f"{blob.app_id}/{blob.uid}/{expires}".encode(), hashlib.sha256).hexdigest()

    def _signature_ok(self, blob: Blob, expires: int | None, signature: str | None) -> bool:
        if not signature or expires is None:
            return False
        if expires <= self._clock.now().timestamp():
            return False
        return hmac.compare_digest(self._sign(blob, expires), signature)

    async def open_download(self, uid: str, caller: Requester | None, expires: int | None = None,
                            signature: str | None = None) -> tuple[Blob, StoredFile]:
        """The blob and where its bytes are. `caller` is the session given with the request, if
        any and valid; `expires` and `signature` are those of a signed URL."""
        if not isinstance(uid, str) or not UID_RE.match(uid):
            raise NotFoundError(NOT_FOUND)
        candidates = [Blob.model_validate(d) for d in await self._blobs.find_by_uid(uid.lower())]
        if caller is not None:  # the caller's own application first
            candidates.sort(key=lambda b: b.app_id != caller.app_id)
        blob = None
        for candidate in candidates:
            if candidate.public or self._signature_ok(candidate, expires, signature):
                blob = candidate
                break
            if caller is not None and caller.app_id == candidate.app_id:
                if not caller.is_user:
                    raise ForbiddenError("A user session is required")
                blob = candidate
                break
        if blob is None:
            if candidates and caller is None:
                raise UnauthenticatedError("Required session does not exist")
            raise NotFoundError(NOT_FOUND)
        if not blob.is_complete:
            raise NotFoundError("Blob is not complete")
        stored = await self._files.locate(blob.file_key, blob.name, blob.content_type)
        if stored is None:
            logger.error("blob %s is complete but its file is missing", blob.id)
            raise NotFoundError("Blob content not found")
        return blob, stored

    # -- helpers -------------------------------------------------------------------------------
    async def _owned(self, requester: Requester, blob_id: int) -> Blob:
        blob = await self.get(requester, blob_id)
        self._require_owner(requester, blob)
        return blob

    @staticmethod
    def _require_owner(requester: Requester, blob: Blob) -> None:
        if not requester.is_user or requester.user_id != blob.user_id:
            raise ForbiddenError("You are not the owner of this blob")

    async def sweep_abandoned_uploads(self, older_than_seconds: float = 3600) -> int:
        """Removes partial upload files a crashed process left behind."""
        return await self._files.sweep_temp(older_than_seconds)


def _require_user(requester: Requester) -> None:
    if not requester.is_user:
        raise ForbiddenError("A user session is required")
