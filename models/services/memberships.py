"""Memberships: who is in a dialog and each member's own state in it: subscribing to public
dialogs, leaving ("delete for me"), notifications, clearing one's history.

Deleting without `force` is "delete for me": a private dialog is hidden for the caller (it comes
back with the next message); a group occupant leaves it; a public subscriber unsubscribes; a
broadcast occupant leaves it and, like any other reader of a broadcast, no longer sees it
(`hidden` + `left` on their membership: new messages do not bring it back, being added as an
occupant does). The owner of a group, public or broadcast dialog cannot leave it (there would be
no owner any more): for the owner it is hidden, like a private dialog.

Each member also keeps the dialog in their archive or not (`archive`: the list filters on it;
archived dialogs stay archived when messages arrive) and may hide any dialog without leaving it
(`set_hidden`: out of their list until the next message, as "delete for me" does for a private
dialog; they stay an occupant, keep receiving its messages and unread counts).
"""
from __future__ import annotations

from typing import Any

from config.settings import LimitSettings
from models.clock import Clock
from models.conversation import Notice, NoticeType
from models.dialogs import Dialog, occupants_capacity
from models.errors import ForbiddenError, InvalidError, NotFoundError
from models.events import Event, EventPublisher
from models.requester import Requester, require_user
from models.services.access import BROADCAST, PRIVATE, PUBLIC, AccessService, DialogAccess
from models.services.conversation import ConversationService
from models.storage.dialogs import DialogStore
from models.storage.members import MemberStore
from models.storage.messages import MessageStore


def union(first: list[int], second: list[int]) -> list[int]:
    return list(dict.fromkeys([*first, *second]))


async def publish_dialog_event(publisher: EventPublisher, kind: str, requester: Requester,
                               dialog_id: str, recipients: list[int], payload: dict[str, Any]) -> None:
    await publisher.publish(Event(kind=kind, app_id=requester.app_id, dialog_id=dialog_id,
                                  sender_id=requester.user_id,
                                  recipient_ids=sorted(set(recipients)), payload=payload))


class MembershipService:
    def __init__(self, dialogs: DialogStore, members: MemberStore, messages: MessageStore,
                 access: AccessService, clock: Clock, publisher: EventPublisher,
                 limits: LimitSettings, conversation: ConversationService | None = None) -> None:
        self._conversation = conversation
        self._dialogs = dialogs
        self._members = members
        self._messages = messages
        self._access = access
        self._clock = clock
        self._publisher = publisher
        self._limits = limits

    async def notifications(self, requester: Requester, dialog_id: Any) -> bool:
        access = await self._access.dialog_for(requester, dialog_id)
        member = access.member or await self._ensure_member(access)
        return bool(member.get("notifications", True))

    async def set_notifications(self, requester: Requester, dialog_id: Any, enabled: bool) -> bool:
        access = await self._access.dialog_for(requester, dialog_id)
        if access.member is None:
            await self._ensure_member(access)
        await self._members.set_notifications(access.dialog_id, requester.user_id, enabled)
        return enabled

    async def archive(self, requester: Requester, dialog_id: Any, archived: bool) -> Dialog:
        """`PUT /chat/Dialog/{id}/archive`: into (or out of) the caller's archive; members only."""
        access = await self._member_access(requester, dialog_id)
        await self._members.set_archived(access.dialog_id, requester.user_id, archived)
        return access.dialog

    async def set_hidden(self, requester: Requester, dialog_id: Any, hidden: bool) -> Dialog:
        """`PUT /chat/Dialog/{id}/hidden`: out of the caller's list until the next message (or
        back in it at once), staying a member; members only."""
        access = await self._member_access(requester, dialog_id)
        if hidden:
            await self._members.hide(access.dialog_id, requester.user_id)
            await self._dialogs.mark_hidden(requester.app_id, access.dialog_id)
        else:
            await self._members.show_for_good(access.dialog_id, requester.user_id)
        return access.dialog

    async def _member_access(self, requester: Requester, dialog_id: Any) -> DialogAccess:
        """The caller's access to a dialog they read (occupant, subscriber, broadcast reader),
        with their membership (made for a broadcast reader who has none yet)."""
        require_user(requester)
        access = await self._access.dialog_for(requester, dialog_id)
        if not access.is_reader:
            raise NotFoundError("Dialog not found")
        if access.member is None:
            await self._ensure_member(access)
        return access

    async def subscribe(self, requester: Requester, dialog_id: Any) -> Dialog:
        """Subscribes the caller to a public dialog; returns the dialog (with its new count)."""
        dialog = await self._public_dialog(requester, dialog_id)
        me = requester.user_id
        member = await self._members.get(dialog.id, me)
        if member is None:
            capacity = occupants_capacity(dialog, self._limits.max_occupants)
            if int(dialog.occupants_count or 0) >= capacity:
                raise InvalidError(f"the dialog is full (maximum is {capacity} occupants)")
            await self._members.add(requester.app_id, dialog.id, [me],
                                    {"joined_at": self._clock.now(), "subscribed": True,
                                     "last_read_seq": dialog.seq})
        elif member.get("hidden"):
            await self._members.show(dialog.id, me)
        dialog = await self._recount(requester.app_id, dialog.id) or dialog
        if member is None:
            await self._publish("dialog_updated", requester, dialog.id, [me],
                                {"added_ids": [me], "removed_ids": [], "fields": ["occupants_count"]})
        return dialog

    async def unsubscribe(self, requester: Requester, dialog_id: Any) -> None:
        dialog = await self._public_dialog(requester, dialog_id)
        me = requester.user_id
        if dialog.user_id == me:
            raise ForbiddenError("The owner can't unsubscribe; delete the dialog instead")
        if await self._members.get(dialog.id, me) is None:
            return
        await self._members.remove(dialog.id, [me])
        if me in dialog.admins_ids:
            await self._dialogs.remove_admin(requester.app_id, dialog.id, me)
        await self._recount(requester.app_id, dialog.id)
        await self._publish("dialog_updated", requester, dialog.id, [me],
                            {"added_ids": [], "removed_ids": [me], "fields": ["occupants_count"]})

    async def clear_history(self, requester: Requester, dialog_id: Any, force: bool = False) -> None:
        """Hides the current history from the caller; with `force` (owner only) deletes it for all."""
        access = await self._access.dialog_for(requester, dialog_id)
        if force:
            if not access.is_owner:
                raise ForbiddenError("You don't have permission to clear the history for everyone")
            await self._messages.delete_dialog(access.dialog_id)
            dialog = await self._dialogs.clear_history(requester.app_id, access.dialog_id,
                                                       self._clock.now())
            if dialog is not None:
                await self._publish("dialog_updated", requester, access.dialog_id,
                                    await self._audience(dialog),
                                    {"added_ids": [], "removed_ids": [],
                                     "fields": ["history", "last_message", "pinned_messages_ids"]})
            return
        if access.member is None:
            await self._ensure_member(access)
        seq = access.dialog.seq
        cleared = int((access.member or {}).get("cleared_seq") or 0)
        if seq > cleared:
            await self._members.clear_history(access.dialog_id, requester.user_id, seq)

    async def leave(self, requester: Requester, access: DialogAccess) -> None:
        """"Delete for me" of one dialog (see the module docstring)."""
        me = requester.user_id
        if access.type == PRIVATE or access.is_owner:
            if access.member is None:
                await self._ensure_member(access)
            await self._members.hide(access.dialog_id, me)
            await self._dialogs.mark_hidden(requester.app_id, access.dialog_id)
            return
        if access.type == PUBLIC:
            await self.unsubscribe(requester, access.dialog_id)
            return
        if access.type == BROADCAST:  # every reader: hidden for good (see the module docstring)
            await self._members.ensure(requester.app_id, access.dialog_id, me,
                                       {"joined_at": self._clock.now()})
            await self._members.leave_broadcast(access.dialog_id, me)
            if not access.is_occupant:
                return
        dialog = await self._dialogs.remove_occupant(access.app_id, access.dialog_id, me,
                                                     self._clock.now())
        if access.type != BROADCAST:
            await self._members.remove(access.dialog_id, [me])
        if dialog is not None:
            described = []
            if self._conversation is not None:  # the others learn that the user left
                described = await self._conversation.describe(
                    requester, dialog, [Notice(NoticeType.OCCUPANT_LEFT, (me,))])
            await self._publish("dialog_updated", requester, access.dialog_id,
                                union(list(dialog.occupants_ids), [me]),
                                {"added_ids": [], "removed_ids": [me], "fields": ["occupants_ids"],
                                 "notices": described})
            if self._conversation is not None:
                await self._conversation.record(requester, dialog, described)

    async def _public_dialog(self, requester: Requester, dialog_id: Any) -> Dialog:
        """The dialog for (un)subscribing: public ones only; others answer as the caller sees them."""
        access = await self._access.dialog_for(requester, dialog_id, preview=True)
        if access.type != PUBLIC:
            raise InvalidError("only public dialogs can be subscribed to")
        return access.dialog

    async def _recount(self, app_id: int, dialog_id: str) -> Dialog | None:
        count = await self._members.count_for_dialog(dialog_id)
        return await self._dialogs.set_occupants_count(app_id, dialog_id, count)

    async def _ensure_member(self, access: DialogAccess) -> dict[str, Any]:
        """Occupants always have a membership; recreate it if it went missing. A broadcast reader
        gets theirs on first use (mute, clear history, delete for me)."""
        member = await self._members.ensure(access.app_id, access.dialog_id,
                                            access.user_id, {"joined_at": self._clock.now()})
        access.member = member
        return member or {}

    async def _audience(self, dialog: Dialog) -> list[int]:
        return await self._access.audience_of(dialog)

    async def _publish(self, kind: str, requester: Requester, dialog_id: str,
                       recipients: list[int], payload: dict[str, Any]) -> None:
        await publish_dialog_event(self._publisher, kind, requester, dialog_id, recipients, payload)
