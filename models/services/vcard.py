"""vCards from profiles: any user of the application reads a user's card; the owner's own card
set changes their profile.

Mapped: FN ↔ `full_name`; NICKNAME ← `login` (read only: logins are unique per application and
have their own rules; change them over REST); PHOTO ↔ the avatar. The avatar is read as the
profile has it: `blob_id` (a blob of the same application: its download URL, and its bytes when
it is a small image, read from the blob store, never over the network) or else `avatar` when it
is an http(s) URL (handed out, never fetched) or a blob uid. A PHOTO set with BINVAL is stored
as a new public blob of the owner's and becomes `blob_id` and `avatar` (its URL); EXTVAL is not
taken (the server fetches nothing a client names). Other vCard fields are not stored.
"""
from __future__ import annotations

import asyncio
import logging
import re
from typing import AsyncIterator

from models.blobs import Blob, BlobDraft
from models.errors import ChatError, InvalidError, NotFoundError
from models.requester import Requester, require_user
from models.services.blobs import UID_RE, BlobService, normalize_content_type
from models.services.users import UserService
from models.users import User, UserChanges
from models.vcard import VCard, VCardChanges

logger = logging.getLogger(__name__)

INLINE_PHOTO_MAX = 64 * 1024  # bytes of an avatar sent inline (BINVAL); larger ones as a URL
_HTTP_URL = re.compile(r"^https?://[^\s\"<>]{1,2000}$", re.IGNORECASE)


class VCardService:
    def __init__(self, users: UserService, blobs: BlobService) -> None:
        self._users = users
        self._blobs = blobs

    async def get(self, requester: Requester, app_id: int, user_id: int) -> VCard:
        """The card of user `user_id` of `app_id`, for users of that application only."""
        require_user(requester)
        if app_id != requester.app_id:
            raise NotFoundError("User not found")
        return await self._card(requester, await self._users.get_entity(app_id, user_id))

    async def update(self, requester: Requester, changes: VCardChanges) -> VCard:
        require_user(requester)
        given = changes.model_fields_set
        profile: dict = {}
        if "full_name" in given:
            profile["full_name"] = changes.full_name
        if "photo_data" in given:
            if changes.photo_data is None:
                profile.update(blob_id=None, avatar=None)
            else:
                blob = await self._store_photo(requester, changes.photo_type, changes.photo_data)
                profile.update(blob_id=blob.id, avatar=self._blobs.download_url(blob)[0])
        user = await self._users.update_self(requester, None, UserChanges(**profile))
        return await self._card(requester, user)

    async def _card(self, requester: Requester, user: User) -> VCard:
        card = VCard(full_name=user.full_name, nickname=user.login)
        blob = await self._avatar_blob(requester, user)
        if blob is not None:
            url, _ = self._blobs.download_url(blob)
            data = await self._inline(requester, blob)
            return VCard(card.full_name, card.nickname, url, blob.content_type, data)
        if user.avatar and _HTTP_URL.match(user.avatar):
            return VCard(card.full_name, card.nickname, user.avatar)
        return card

    async def _avatar_blob(self, requester: Requester, user: User) -> Blob | None:
        key = user.blob_id if user.blob_id else (
            user.avatar if user.avatar and UID_RE.match(user.avatar) else None)
        if key is None:
            return None
        try:
            blob = await self._blobs.get(requester, key)  # within the caller's (= user's) app
        except NotFoundError:
            return None
        return blob if blob.is_complete else None

    async def _inline(self, requester: Requester, blob: Blob) -> bytes | None:
        if not blob.content_type.startswith("image/") or (blob.size or 0) > INLINE_PHOTO_MAX:
            return None
        try:
            _, stored = await self._blobs.open_download(blob.uid, requester)
        except ChatError:
            return None
        if stored.path is None:
            return None
        try:
            return await asyncio.to_thread(stored.path.read_bytes)
        except OSError:
            logger.warning("cannot read the avatar blob %s", blob.id)
            return None

    async def _store_photo(self, requester: Requester, photo_type: str | None, data: bytes) -> Blob:
        content_type = normalize_content_type(photo_type or "image/png", default=None)
        if not content_type.startswith("image/"):
            raise InvalidError("must be an image type", field="photo")
        extension = content_type.split("/", 1)[1].split("+", 1)[0]
        blob, access = await self._blobs.create(requester, BlobDraft(
            name=f"avatar.{extension}", content_type=content_type, public=True, size=len(data)))
        blob = await self._blobs.check_upload(blob.uid, access.token, requester)
        blob = await self._blobs.upload(blob, access.token, _one(data))
        return await self._blobs.complete(requester, blob.id, len(data))


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
