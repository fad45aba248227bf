"""Bans in a dialog (`/chat/Dialog/{id}/block`): who may not be in a group, public or broadcast
dialog.

The owner and the admins of a group, public or broadcast dialog ban and unban users (private
dialogs have no admins: 403); the owner and admins themselves cannot be banned (403). A ban takes
the user out at once, in the same store update that lists them (`DialogStore.ban`): a group or
broadcast occupant is removed from the occupants (and their membership goes), a public subscriber
is unsubscribed, and a reader of a broadcast dialog no longer sees it (hidden and left, like a
"delete for me"). The `dialog_updated` event kicks them out of the room on XMPP.

While banned they are no occupant, subscriber or reader of the dialog: the rule is the one
access authority's (`DialogAccess.is_banned`, models/services/access.py), so the REST routes and
the XMPP rooms refuse them alike: no (re-)subscribe, no being added again, no room join, no post,
reaction, read mark or history. A user not (yet) in the dialog can be banned too (a public
dialog's troll before they subscribe). Unbanning lifts the ban and adds nobody back.
"""
from __future__ import annotations

import logging
from typing import Any

from config.settings import LimitSettings
from models.clock import Clock
from models.conversation import Notice, NoticeType
from models.errors import ForbiddenError, InvalidError, NotFoundError
from models.events import EventPublisher
from models.requester import Requester
from models.services.access import BROADCAST, PUBLIC, AccessService, DialogAccess
from models.services.conversation import ConversationService
from models.services.memberships import publish_dialog_event, union
from models.services.users import UserService
from models.storage.dialogs import DialogStore
from models.storage.members import MemberStore
from models.users import User

logger = logging.getLogger(__name__)


class BanService:
    def __init__(self, dialogs: DialogStore, members: MemberStore, users: UserService,
                 access: AccessService, clock: Clock, publisher: EventPublisher,
                 limits: LimitSettings, conversation: ConversationService | None = None) -> None:
        self._conversation = conversation
        self._dialogs = dialogs
        self._members = members
        self._users = users
        self._access = access
        self._clock = clock
        self._publisher = publisher
        self._limits = limits

    async def ban(self, requester: Requester, dialog_id: Any, user_id: int) -> None:
        access = await self._moderated(requester, dialog_id, "block users")
        dialog = access.dialog
        if user_id == dialog.user_id or user_id in dialog.admins_ids:
            raise ForbiddenError("The owner and admins of a dialog can't be blocked")
        if user_id in dialog.banned_ids:
            return
        if len(dialog.banned_ids) >= self._limits.max_bans_per_dialog:
            raise InvalidError(f"too many blocked users (maximum is "
                               f"{self._limits.max_bans_per_dialog})", field="user_id")
        if not await self._users.get_many(requester.app_id, [user_id]):
            raise InvalidError("users not found: " + str(user_id), field="user_id")
        was_occupant = user_id in dialog.occupants_ids
        updated = await self._dialogs.ban(access.app_id, access.dialog_id, user_id,
                                          self._clock.now())
        if updated is None:
            raise NotFoundError("Dialog not found")
        fields = ["banned_ids"]
        if access.type == BROADCAST:  # a reader sees it no more (occupant or not)
            await self._members.ensure(access.app_id, access.dialog_id, user_id,
                                       {"joined_at": self._clock.now()})
            await self._members.leave_broadcast(access.dialog_id, user_id)
        else:
            was_member = await self._members.get(access.dialog_id, user_id) is not None
            await self._members.remove(access.dialog_id, [user_id])
            if access.type == PUBLIC and was_member:
                count = await self._members.count_for_dialog(access.dialog_id)
                updated = await self._dialogs.set_occupants_count(access.app_id, access.dialog_id,
                                                                  count) or updated
                fields.append("occupants_count")
        if was_occupant:
            fields.append("occupants_ids")
        recipients = union(await self._access.audience_of(updated), [user_id])
        described = []  # an occupant banned is an occupant removed (public subscribers are not told)
        if was_occupant and self._conversation is not None:
            described = await self._conversation.describe(
                requester, updated, [Notice(NoticeType.OCCUPANTS_REMOVED, (user_id,))])
        await publish_dialog_event(self._publisher, "dialog_updated", requester, access.dialog_id,
                                   recipients, {"added_ids": [], "removed_ids": [user_id],
                                                "fields": sorted(fields), "notices": described})
        if self._conversation is not None:
            await self._conversation.record(requester, updated, described)
        logger.info("user %s banned from dialog %s by user %s", user_id, access.dialog_id,
                    requester.user_id)

    async def unban(self, requester: Requester, dialog_id: Any, user_id: int) -> None:
        access = await self._moderated(requester, dialog_id, "unblock users")
        if user_id not in access.dialog.banned_ids:
            return
        updated = await self._dialogs.unban(access.app_id, access.dialog_id, user_id,
                                            self._clock.now())
        if updated is None:
            raise NotFoundError("Dialog not found")
        if access.type == BROADCAST:  # a reader again: the dialog shows again
            await self._members.update(access.dialog_id, user_id, {"hidden": False, "left": False})
        # no one is added back; the event refreshes the rooms' view of the dialog
        await publish_dialog_event(self._publisher, "dialog_updated", requester, access.dialog_id,
                                   [user_id], {"added_ids": [], "removed_ids": [],
                                               "fields": ["banned_ids"]})
        logger.info("user %s unbanned from dialog %s by user %s", user_id, access.dialog_id,
                    requester.user_id)

    async def banned(self, requester: Requester, dialog_id: Any, skip: int,
                     limit: int) -> tuple[list[User], int, int]:
        """The users banned from the dialog (for its owner and admins), in the order banned."""
        access = await self._moderated(requester, dialog_id, "see blocked users")
        limit = min(max(limit, 0), self._limits.max_list_limit)
        skip = max(skip, 0)
        ids = list(access.dialog.banned_ids)[skip:skip + limit]
        by_id = {u.id: u for u in await self._users.get_many(requester.app_id, ids)} if ids else {}
        return [by_id[i] for i in ids if i in by_id], skip, limit

    async def _moderated(self, requester: Requester, dialog_id: Any, what: str) -> DialogAccess:
        access = await self._access.dialog_for(requester, dialog_id)
        access.require_admin(what)
        return access
