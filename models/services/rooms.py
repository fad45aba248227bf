"""Dialogs as real-time rooms: who may join and who receives (for the XMPP bridge).

There is one authority for dialog access, `DialogAccess` / `AccessService` (models/services/
access.py). A `Room` does not encode the rules again: it keeps the dialog (and, for a public
dialog, its subscriptions) so that each of its decisions is the `DialogAccess` of that user
(`Room.access`), and a refusal is worded by `AccessService` itself (`RoomService.check_reader`).
What a room adds is the audience a transport fans messages out to.

A broadcast dialog's room is open to every user of the app (`everyone`: every user is a reader
of a broadcast dialog): its messages go to all of them who are online, except those who deleted
it for themselves (`excluded`); `audience` stays its occupants (typing, disco). Users banned from
the dialog neither join (`DialogAccess.is_reader`) nor receive.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from models.dialogs import Dialog, DialogType
from models.errors import NotFoundError
from models.requester import Requester
from models.services.access import BROADCAST, PUBLIC, AccessService, DialogAccess
from models.storage.dialogs import DialogStore
from models.storage.ids import is_object_id
from models.storage.members import MemberStore


@dataclass(frozen=True)
class Room:
    """A dialog's real-time view: the dialog and everyone who receives its messages."""

    app_id: int
    dialog_id: str
    # the dialog the access rules read, with its id lists as sets (decisions are made per
    # stanza: membership of a large group is one hash lookup)
    dialog: Dialog = field(repr=False, compare=False)
    audience: frozenset[int] = field(default_factory=frozenset)
    excluded: frozenset[int] = field(default_factory=frozenset)
    # membership documents, where the rules read them (a public dialog's subscriptions)
    members: Mapping[int, Mapping[str, Any]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def type(self) -> DialogType:
        return self.dialog.type

    @property
    def name(self) -> str:
        """The dialog's name: the room's subject and disco#info name."""
        return self.dialog.name or ""

    @property
    def owner_id(self) -> int:
        return int(self.dialog.user_id or 0)

    def access(self, user_id: int) -> DialogAccess:
        """The dialog as this user may use it (the rules of every transport)."""
        return DialogAccess(dialog=self.dialog, member=self.members.get(user_id),  # type: ignore[arg-type]
                            user_id=user_id)

    def is_admin(self, user_id: int) -> bool:
        return self.access(user_id).is_admin

    def may_join(self, user_id: int) -> bool:
        """Reads the dialog: an occupant, a subscriber of a public one, anyone for a broadcast."""
        return self.access(user_id).is_reader

    @property
    def everyone(self) -> bool:
        """Messages reach every (online) user of the app, not only the audience."""
        return self.type == BROADCAST

    def receives(self, user_id: int) -> bool:
        """Gets the room's messages (when online); never a user banned from the dialog."""
        if user_id in self.dialog.banned_ids:
            return False
        if self.everyone:
            return user_id not in self.excluded or user_id in self.audience
        return user_id in self.audience


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

    async def check_reader(self, requester: Requester, dialog_id: Any) -> None:
        """Returns when the requester reads the dialog now; else raises what `AccessService`
        answers them (ForbiddenError for a public dialog they did not subscribe to, NotFoundError
        else). For a room that refused someone: it may have been read before they were added."""
        await self._access.dialog_for(requester, dialog_id)

    async def _room(self, dialog: Dialog) -> Room:
        members: dict[int, Mapping[str, Any]] = {}
        view = dialog.with_id_sets()
        if dialog.type == PUBLIC:
            members = {m["user_id"]: m for m in await self._members.for_dialog(dialog.id)}
            audience = frozenset(members)
        else:
            audience = frozenset(view.occupants_ids)
        excluded = await self._members.left_users(dialog.id) if dialog.type == BROADCAST else []
        return Room(app_id=int(dialog.app_id), dialog_id=dialog.id, dialog=view,
                    audience=audience, excluded=frozenset(excluded), members=members)
