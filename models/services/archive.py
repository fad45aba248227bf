"""Message Archive Management (XEP-0313): a user's own archive and room archives.

- Own archive: the messages of the caller's private dialogs; `with_user` narrows it to that
  pair's dialog (none yet: an empty page). Nobody reads another user's archive: the transports
  only ask for the caller's own.
- Room archive: one group, public or broadcast dialog, for its readers only (occupants,
  subscribers; every user of the app for a broadcast); anyone else is refused (forbidden).
- What the caller no longer sees is not in it: messages deleted for them (`deleted_for`),
  before their clear-history position (`cleared_seq`), and forced deletes (gone from the store).
- Paging (RSM) is by stored message id: `after_id` / `before_id` must be a message of the
  archive queried (else "not found", XEP-0313's item-not-found); the order is the order
  messages were stored in (models/storage/archive.py), so catching up "after the last id I
  have" misses nothing even when clients' own ids are out of time order.
"""
from __future__ import annotations

from models.archive import MAX_PAGE, ArchivePage, ArchiveQuery, ArchiveScope
from models.errors import ForbiddenError, NotFoundError
from models.requester import Requester, require_user
from models.services.access import PRIVATE, AccessService
from models.storage.archive import ArchiveStore
from models.storage.dialogs import DialogStore
from models.storage.ids import is_object_id
from models.storage.members import MemberStore


class ArchiveService:
    def __init__(self, archive: ArchiveStore, dialogs: DialogStore, members: MemberStore,
                 access: AccessService) -> None:
        self._archive = archive
        self._dialogs = dialogs
        self._members = members
        self._access = access

    async def query(self, requester: Requester, query: ArchiveQuery) -> ArchivePage:
        """A page of the caller's own archive, or of a room's (`query.dialog_id`)."""
        require_user(requester)
        scope = await (self._room_scope(requester, query.dialog_id) if query.dialog_id is not None
                       else self._own_scope(requester, query.with_user))
        limit = max(0, min(query.limit, MAX_PAGE))
        after = await self._anchor(scope, query.after_id)
        before = await self._anchor(scope, query.before_id)
        if not scope.cleared:
            return ArchivePage([], True)
        docs = await self._archive.page(scope, after, before, query.start, query.end, limit + 1,
                                        newest_first=query.backward)
        complete = len(docs) <= limit
        docs = docs[:limit]
        if query.backward:
            docs.reverse()
        return ArchivePage(docs, complete)

    async def _own_scope(self, requester: Requester, with_user: int | None) -> ArchiveScope:
        """The caller's private dialogs (memberships, hidden ones too: "delete for me" of a
        private dialog only hides it), or the one with `with_user`."""
        app_id, me = requester.app_id, requester.user_id
        if with_user is not None:
            dialog = await self._dialogs.find_private(app_id, f"{min(me, with_user)}:{max(me, with_user)}")
            dialog_ids = [dialog.id] if dialog is not None and with_user != me else []
            members = await self._members.get_many(dialog_ids, me) if dialog_ids else {}
        else:
            members = {m["dialog_id"]: m for m in await self._members.for_user(
                app_id, me, include_hidden=True)}
            dialog_ids = await self._dialogs.private_among(app_id, list(members))
        return ArchiveScope(app_id=app_id, viewer=me, cleared={
            d: int((members.get(d) or {}).get("cleared_seq") or 0) for d in dialog_ids
            if d in members})

    async def _room_scope(self, requester: Requester, dialog_id: str) -> ArchiveScope:
        try:
            access = await self._access.dialog_for(requester, dialog_id)
        except NotFoundError as exc:
            raise ForbiddenError("You are not a member of this room") from exc
        if not access.is_reader or access.type == PRIVATE:
            raise ForbiddenError("You are not a member of this room")
        return ArchiveScope(app_id=requester.app_id, viewer=requester.user_id,
                            cleared={access.dialog_id: access.cleared_seq})

    async def _anchor(self, scope: ArchiveScope, message_id: str | None):
        """The archive order of the RSM anchor `message_id` (None: no anchor)."""
        if not message_id:
            return None
        found = await self._archive.anchor(scope.app_id, message_id) \
            if is_object_id(message_id) else None
        if found is None or found[0] not in scope.cleared:
            raise NotFoundError("Message not found")
        return found[1]
