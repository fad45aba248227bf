"""Who may see and do what in a dialog: ConnectyCube's roles and privileges, as the table in
models/services/dialogs.py states them and tests/rest/test_dialogs.py pins them.

Shared by the dialog, message, blob and bridge code paths so every transport applies the same rules.
Objects of another application or dialogs the caller may not see answer "not found" (no probing).
Broadcast dialogs (type 1) are read by every user of their application ("readers"): history,
read / delivered marks, reactions, mute and "delete for me"; only admins post.

The application's admin (a requester with `is_admin`, from the admin API key) has an owner's
rights in every dialog of its application, and of no other: it reads and changes them whether or
not it is (or acts as) a member. A private dialog stays adminless (no names, no admins).

A user banned from a dialog (its `banned_ids`: models/services/bans.py) is no occupant, subscriber
or reader of it, whatever else holds: they cannot join its room, post, react, mark or read its
history, and the dialog answers them 403 "You are blocked in this dialog". The rule is here, so
REST and the XMPP rooms (`Room.access`, models/services/rooms.py) obey the same one.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from models.dialogs import Dialog, DialogType
from models.errors import ForbiddenError, NotFoundError
from models.messages import Message
from models.requester import Requester, require_user
from models.storage.dialogs import DialogStore
from models.storage.ids import is_object_id
from models.storage.members import MemberStore
from models.storage.messages import MessageStore

BANNED = "You are blocked in this dialog"
BROADCAST, GROUP, PRIVATE, PUBLIC = (DialogType.BROADCAST, DialogType.GROUP, DialogType.PRIVATE,
                                     DialogType.PUBLIC)


@dataclass
class DialogAccess:
    dialog: Dialog
    member: dict[str, Any] | None  # this caller's membership document, if any
    user_id: int
    app_admin: bool = False  # the application's admin (see the module docstring)

    @property
    def dialog_id(self) -> str:
        return self.dialog.id

    @property
    def app_id(self) -> int:
        return self.dialog.app_id

    @property
    def type(self) -> DialogType:
        return self.dialog.type

    @property
    def is_owner(self) -> bool:
        return self.app_admin or self.dialog.user_id == self.user_id

    @property
    def is_admin(self) -> bool:
        """Owner or admin (a super admin has all admin privileges)."""
        return self.is_owner or self.user_id in self.dialog.admins_ids

    @property
    def is_banned(self) -> bool:
        """Banned from the dialog (never the application's admin)."""
        return not self.app_admin and self.user_id in self.dialog.banned_ids

    @property
    def is_occupant(self) -> bool:
        if self.is_banned:
            return False
        if self.type == PUBLIC:
            return self.member is not None
        return self.user_id in self.dialog.occupants_ids

    @property
    def is_reader(self) -> bool:
        """Receives and reads the dialog's messages: an occupant (subscriber of a public dialog),
        or any user of the app for a broadcast dialog; never a banned user."""
        if self.is_banned:
            return False
        return self.app_admin or self.type == BROADCAST or self.is_occupant

    @property
    def allow_preview(self) -> bool:
        return bool((self.dialog.permissions or {}).get("allow_preview"))

    @property
    def cleared_seq(self) -> int:
        """The caller's "clear history" position: messages up to it are gone for them (not for
        the application's admin acting as them)."""
        return 0 if self.app_admin else int((self.member or {}).get("cleared_seq") or 0)

    def require_admin(self, what: str = "do this") -> None:
        if self.type == PRIVATE or not self.is_admin:
            raise ForbiddenError(f"You don't have permission to {what}")

    def require_owner(self, what: str = "do this") -> None:
        if self.type == PRIVATE or not self.is_owner:
            raise ForbiddenError(f"You don't have permission to {what}")

    def can_post(self) -> bool:
        if self.is_banned:
            return False
        if self.type == BROADCAST:
            return self.is_admin
        return self.is_occupant


class AccessService:
    def __init__(self, dialogs: DialogStore, members: MemberStore, messages: MessageStore) -> None:
        self._dialogs = dialogs
        self._members = members
        self._messages = messages

    async def dialog_for(self, requester: Requester, dialog_id: Any, *,
                         preview: bool = False) -> DialogAccess:
        """The dialog as seen by this user: occupants (subscribers for public dialogs) and, for a
        broadcast dialog, every user of the app; with `preview=True` also anyone in the app when
        the dialog allows preview or is public. The application's admin sees every dialog of
        its application."""
        if not requester.is_admin:
            require_user(requester)
        if not is_object_id(dialog_id):
            raise NotFoundError("Dialog not found")
        dialog = await self._dialogs.get(requester.app_id, dialog_id)
        if dialog is None:
            raise NotFoundError("Dialog not found")
        member = await self._members.get(dialog_id, requester.user_id) if requester.user_id else None
        access = DialogAccess(dialog=dialog, member=member, user_id=requester.user_id,
                              app_admin=requester.is_admin)
        if access.is_banned:
            raise ForbiddenError(BANNED)
        if access.is_reader:
            return access
        if preview and (access.allow_preview or access.type == PUBLIC):
            return access
        if access.type == PUBLIC:
            raise ForbiddenError("You are not subscribed to this dialog")
        raise NotFoundError("Dialog not found")

    async def reader_access(self, requester: Requester, dialog_id: str) -> DialogAccess | None:
        """The dialog's access if the caller reads it, else None (no error: for lookups by id)."""
        try:
            access = await self.dialog_for(requester, dialog_id)
        except (NotFoundError, ForbiddenError):
            return None
        return access if access.is_reader else None

    async def audience(self, access: DialogAccess) -> list[int]:
        """Everyone who receives the dialog's messages: occupants, or subscribers of a public one."""
        return await self.audience_of(access.dialog)

    async def audience_of(self, dialog: Dialog) -> list[int]:
        """Never a banned user (one who slipped in while being banned, say)."""
        if dialog.type == PUBLIC:
            users = [m["user_id"] for m in await self._members.for_dialog(dialog.id)]
        else:
            users = list(dialog.occupants_ids)
        if dialog.banned_ids:
            banned = set(dialog.banned_ids)
            users = [u for u in users if u not in banned]
        return users

    async def visible_messages(self, requester: Requester, ids: list[str], dialog_id: str | None
                               ) -> list[tuple[DialogAccess, list[Message]]]:
        """The messages among `ids` this user may see (not deleted for them, not cleared), grouped
        by dialog in the dialog's order; only dialogs they read; `dialog_id`: that one only. The
        application's admin sees every one of its application."""
        messages = await self._messages.get_many(requester.app_id,
                                                 [i for i in ids if is_object_id(i)])
        by_dialog: dict[str, list[Message]] = {}
        for message in messages:
            if dialog_id is not None and message.dialog_id != dialog_id:
                continue
            if not requester.is_admin and requester.user_id in message.deleted_for:
                continue
            by_dialog.setdefault(message.dialog_id, []).append(message)
        out: list[tuple[DialogAccess, list[Message]]] = []
        for did, group in by_dialog.items():
            access = await self.reader_access(requester, did)
            if access is None:
                continue
            cleared = access.cleared_seq
            group = [m for m in group if m.seq > cleared]
            if group:
                out.append((access, sorted(group, key=lambda m: m.seq)))
        return out


Pair = tuple[int, int, int]  # (app_id, lower user id, higher user id)


def pair_of(app_id: int, a: int, b: int) -> Pair:
    return (app_id, a, b) if a < b else (app_id, b, a)


class PrivateAccessMemo:
    """Private dialogs, remembered: the dialog of each user pair and the senders' access to it.

    One memo per process, shared by `DialogService` (which fills it when it finds or creates a
    pair's dialog and forgets a dialog it deletes) and `MessageService` (which fills it from
    stored sends and forgets a dialog a send finds gone: taking its sequence numbers fails with
    "Dialog not found", as after a delete by another process). A private dialog's occupants never
    change, so what is remembered stays right while the dialog exists; a re-created pair gets a
    new dialog id. Bounded by dialogs; the least recently used go first."""

    def __init__(self, limit: int = 100_000) -> None:
        self._limit = limit
        # (app_id, dialog_id) → (its pair, the senders' access by user id)
        self._by_dialog: OrderedDict[tuple[int, str], tuple[Pair, dict[int, DialogAccess]]] = OrderedDict()
        self._by_pair: dict[Pair, str] = {}

    def __len__(self) -> int:
        return len(self._by_dialog)

    def get(self, key: tuple[int, int, str]) -> DialogAccess | None:
        """The access of user `key[1]` to dialog `key[2]` of app `key[0]`, if remembered."""
        entry = self._by_dialog.get((key[0], key[2]))
        if entry is None:
            return None
        self._by_dialog.move_to_end((key[0], key[2]))
        return entry[1].get(key[1])

    def put(self, key: tuple[int, int, str], access: DialogAccess) -> None:
        if access.type != PRIVATE or access.app_admin:  # a user's own access only
            return
        users = self.remember(key[0], access.dialog)
        if users is not None:
            users[key[1]] = access

    def dialog_id(self, app_id: int, a: int, b: int) -> str | None:
        """The private dialog of users `a` and `b`, if remembered."""
        dialog_id = self._by_pair.get(pair_of(app_id, a, b))
        if dialog_id is not None:
            self._by_dialog.move_to_end((app_id, dialog_id))
        return dialog_id

    def remember(self, app_id: int, dialog: Dialog) -> dict[int, DialogAccess] | None:
        """Records a private dialog as its pair's; returns its access entries (None: not a pair)."""
        occupants = list(dialog.occupants_ids)
        if dialog.type != PRIVATE or len(occupants) != 2:
            return None
        pair, dialog_id = pair_of(app_id, *occupants), dialog.id
        previous = self._by_pair.get(pair)
        if previous is not None and previous != dialog_id:
            self.forget(app_id, previous)
        entry = self._by_dialog.get((app_id, dialog_id))
        if entry is None:
            entry = self._by_dialog[(app_id, dialog_id)] = (pair, {})
            self._by_pair[pair] = dialog_id
            while len(self._by_dialog) > self._limit:
                self.forget(*next(iter(self._by_dialog)))
        else:
            self._by_dialog.move_to_end((app_id, dialog_id))
        return entry[1]

    def forget(self, app_id: int, dialog_id: str) -> None:
        entry = self._by_dialog.pop((app_id, dialog_id), None)
        if entry is not None and self._by_pair.get(entry[0]) == dialog_id:
            del self._by_pair[entry[0]]

