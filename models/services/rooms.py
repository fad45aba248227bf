"""Dialogs as real-time rooms: who may join, post and receive (for the XMPP bridge).

The rules are the dialog access rules of `AccessService` (occupants, subscribers of public
dialogs, admins for broadcast posts); this service only packages them for a transport that
addresses dialogs by room JID and needs the audience of a dialog to fan messages out.

A broadcast dialog's room is open to every user of the app (`everyone`): its messages go to all
of them who are online, except those who deleted it for themselves (`excluded`); `audience` stays
its occupants (typing, disco).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.errors import ForbiddenError, NotFoundError
from models.requester import Requester
from models.services.access import BROADCAST, PRIVATE, PUBLIC, AccessService
from models.storage.dialogs import DialogStore
from models.storage.ids import is_object_id
from models.storage.members import MemberStore


@dataclass(frozen=True)
class Room:
    """A dialog's real-time view: its type and everyone who receives its messages."""

    app_id: int
    dialog_id: str
    type: int
    owner_id: int
    audience: frozenset[int] = field(default_factory=frozenset)
    admins: frozenset[int] = field(default_factory=frozenset)
    excluded: frozenset[int] = field(default_factory=frozenset)

    def is_admin(self, user_id: int) -> bool:
        return user_id == self.owner_id or user_id in self.admins

    @property
    def everyone(self) -> bool:
        """Messages reach every (online) user of the app, not only the audience."""
        return self.type == BROADCAST

    def may_join(self, user_id: int) -> bool:
        return self.everyone or user_id in self.audience

    def receives(self, user_id: int) -> bool:
        """Gets the room's messages (when online)."""
        if self.everyone:
            return user_id not in self.excluded or user_id in self.audience
        return user_id in self.audience

    def may_post(self, user_id: int) -> bool:
        if self.type == BROADCAST:
            return self.is_admin(user_id)
        return user_id in self.audience

    @property
    def is_private(self) -> bool:
        return self.type == PRIVATE


class RoomService:
    def __init__(self, access: AccessService, dialogs: DialogStore, members: MemberStore) -> None:
        self._access = access
        self._dialogs = dialogs
        self._members = members

    async def get(self, app_id: int, dialog_id: Any) -> Room:
        """The room of a dialog of this application; NotFoundError when there is none."""
        if not isinstance(dialog_id, str) or not is_object_id(dialog_id):
            raise NotFoundError("Dialog not found")
        dialog = await self._dialogs.get(app_id, dialog_id)
        if dialog is None:
            raise NotFoundError("Dialog not found")
        return await self._room(dialog)

    async def for_member(self, requester: Requester, dialog_id: Any) -> Room:
        """The room if the requester receives its messages (occupant, subscriber of a public
        dialog, any user of the app for a broadcast one): ForbiddenError for a public dialog they
        did not subscribe to, NotFoundError else."""
        access = await self._access.dialog_for(requester, dialog_id)
        if not access.is_reader:
            raise ForbiddenError("You are not an occupant of this dialog")
        return await self._room(access.dialog)

    async def _room(self, dialog: dict[str, Any]) -> Room:
        dtype = int(dialog.get("type") or 0)
        if dtype == PUBLIC:
            audience = [m["user_id"] for m in await self._members.for_dialog(dialog["_id"])]
        else:
            audience = list(dialog.get("occupants_ids") or [])
        excluded = await self._members.left_users(dialog["_id"]) if dtype == BROADCAST else []
        return Room(app_id=int(dialog["app_id"]), dialog_id=dialog["_id"], type=dtype,
                    owner_id=int(dialog.get("user_id") or 0), audience=frozenset(audience),
                    admins=frozenset(dialog.get("admins_ids") or []),
                    excluded=frozenset(excluded))
