"""Chat dialogs: list, create, update, delete, admins, notifications, subscriptions, history.

Who may do what (ConnectyCube's roles; checked by `models.services.access`):

| change                          | private       | group              | public / broadcast |
|---------------------------------|---------------|--------------------|--------------------|
| name, photo, description        | nobody        | any occupant       | admins             |
| extensions                      | occupants     | any occupant       | admins             |
| permissions (allow_preview)     | nobody        | admins             | admins             |
| add occupants                   | nobody        | any occupant       | public: subscribe; broadcast: admins |
| remove occupants                | nobody        | admins (self: all) | public: unsubscribe; broadcast: admins |
| pin / unpin messages            | occupants     | admins             | admins             |
| add / remove admins             | nobody        | owner              | owner              |
| delete for everyone (force=1)   | creator       | owner              | owner              |

"Admins" always includes the owner (the super admin). Removing another admin from a dialog takes
the owner. A private dialog has no admins: both occupants may pin and set extensions (metadata
such as `friend_id`), which the table does not forbid and apps use.

Memberships (subscribing, leaving, notifications, clearing history) are `MembershipService`'s
(models/services/memberships.py).

Broadcast dialogs are listed for every user of their app (whether or not they are occupants),
joined to the caller's memberships in the list query; a reader without a membership document
counts unread messages from position 0.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from config.settings import LimitSettings
from models.clock import Clock
from models.conversation import Notice, NoticeType, update_notices
from models.dialogs import (Dialog, DialogChanges, DialogDraft, DialogQuery, DialogType, DialogView,
                            IdChanges, LastMessage, occupants_capacity)
from models.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from models.messages import Message
from models.events import EventPublisher
from models.lax import cast_int
from models.requester import Requester, require_user
from models.services.access import (BROADCAST, GROUP, PRIVATE, PUBLIC, AccessService, DialogAccess,
                                    PrivateAccessMemo)
from models.services.blocklist import BlocklistService
from models.services.conversation import ConversationService
from models.services.memberships import MembershipService, publish_dialog_event, union as _union
from models.services.users import UserService
from models.storage.dialogs import DialogStore
from models.storage.ids import new_id
from models.storage.members import MemberStore
from models.storage.messages import MessageStore
from models.users import User

logger = logging.getLogger(__name__)

DEFAULT_SORT = (("last_message_date_sent", -1), ("updated_at", -1), ("_id", -1))


@dataclass
class DialogPage:
    items: list[DialogView]
    total: int
    skip: int
    limit: int


@dataclass
class DeleteResult:
    deleted: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    wrong_permissions: list[str] = field(default_factory=list)


class DialogService:
    def __init__(self, dialogs: DialogStore, members: MemberStore, messages: MessageStore,
                 users: UserService, access: AccessService, clock: Clock,
                 publisher: EventPublisher, limits: LimitSettings, muc_domain: str,
                 memberships: MembershipService, private_memo: PrivateAccessMemo,
                 blocklist: BlocklistService | None = None,
                 conversation: ConversationService | None = None) -> None:
        self._memberships = memberships
        self._blocklist = blocklist  # a block between the pair refuses their private dialog
        self._conversation = conversation
        self._private_memo = private_memo
        self._dialogs = dialogs
        self._members = members
        self._messages = messages
        self._users = users
        self._access = access
        self._clock = clock
        self._publisher = publisher
        self._limits = limits
        self._muc_domain = muc_domain

    # -- reads -----------------------------------------------------------------------------------
    async def list(self, requester: Requester, query: DialogQuery) -> DialogPage:
        require_user(requester)
        dialog_ids, members, hidden = await self._my_dialogs(requester, query.archived)
        skip, limit = query.skip, min(query.limit, self._limits.max_list_limit)
        sort = query.sort or DEFAULT_SORT
        total = await self._dialogs.count_in(requester.app_id, dialog_ids, query.conditions, hidden)
        dialogs = await self._dialogs.find_in(requester.app_id, dialog_ids, query.conditions, sort,
                                              skip, limit, hidden)
        return DialogPage(await self._views(requester, dialogs, members), total, skip, limit)

    async def count(self, requester: Requester, query: DialogQuery) -> int:
        require_user(requester)
        dialog_ids, _, hidden = await self._my_dialogs(requester, query.archived)
        return await self._dialogs.count_in(requester.app_id, dialog_ids, query.conditions, hidden)

    async def view(self, requester: Requester, dialog: Dialog) -> DialogView:
        """The dialog as `requester` sees it (for answers to create / update / subscribe)."""
        member = await self._members.get(dialog.id, requester.user_id)
        members = {dialog.id: member} if member else {}
        return (await self._views(requester, [dialog], members))[0]

    async def occupants(self, requester: Requester, dialog_id: Any, skip: int,
                        limit: int) -> tuple[list[User], int, int]:
        """Members of a public dialog (anyone in the app may look), or of a dialog the caller reads
        (the occupants of a broadcast dialog, not its readers)."""
        access = await self._access.dialog_for(requester, dialog_id, preview=True)
        if access.type != PUBLIC and not access.is_reader:
            raise NotFoundError("Dialog not found")
        limit = min(limit, self._limits.max_list_limit)
        if limit == 0:
            return [], skip, limit
        only = list(access.dialog.occupants_ids) if access.type == BROADCAST else None
        members = await self._members.for_dialog(access.dialog_id, skip, limit, only)
        ids = [m["user_id"] for m in members]
        by_id = {u.id: u for u in await self._users.get_many(requester.app_id, ids)}
        return [by_id[i] for i in ids if i in by_id], skip, limit

    # -- creation --------------------------------------------------------------------------------
    async def create(self, requester: Requester, draft: DialogDraft) -> tuple[DialogView, bool]:
        """Creates a dialog; returns (view, created). A private dialog with the same pair of users
        is answered again (created=False) and shown again to the caller if they had hidden it."""
        require_user(requester)
        dtype = draft.type
        me = requester.user_id
        if len(draft.occupants_ids) > self._limits.max_occupants:
            raise InvalidError(f"too many ids (maximum is {self._limits.max_occupants})",
                               field="occupants_ids")
        if len(draft.admins_ids) > self._limits.max_admins:
            raise InvalidError(f"too many ids (maximum is {self._limits.max_admins})",
                               field="admins_ids")
        others = [u for u in draft.occupants_ids if u != me]
        admins = list(draft.admins_ids)
        if draft.occupants_limit is not None:
            self._check_occupants_limit(dtype, draft.occupants_limit)
        if dtype == PRIVATE:
            if len(others) != 1:
                raise InvalidError("a private dialog needs exactly one other occupant",
                                   field="occupants_ids")
            if admins:
                raise InvalidError("private dialogs have no admins", field="admins_ids")
            extras = {"description": draft.description} if "description" in draft.given else {}
            if "extensions" in draft.given:
                extras["extensions"] = draft.extensions
            dialog, created = await self._private(requester, others[0], extras)
            return await self.view(requester, dialog), created

        name = draft.name
        if not name:
            raise InvalidError("can't be blank", field="name")
        members = [me] + others
        if len(members) > self._limits.max_occupants:
            raise InvalidError(f"too many occupants (maximum is {self._limits.max_occupants})",
                               field="occupants_ids")
        if draft.occupants_limit is not None and len(members) > draft.occupants_limit:
            raise InvalidError(f"too many occupants (the dialog's limit is "
                               f"{draft.occupants_limit})", field="occupants_ids")
        await self._require_users(requester.app_id, others, "occupants_ids")
        if any(a not in members for a in admins):
            raise InvalidError("admins must be occupants", field="admins_ids")
        now = self._clock.now()
        dialog_id = new_id()
        dialog = Dialog(
            id=dialog_id, app_id=requester.app_id, type=dtype, user_id=me, name=name,
            description=draft.description, photo=draft.photo,
            occupants_ids=() if dtype == PUBLIC else tuple(members), admins_ids=tuple(admins),
            extensions=draft.extensions, permissions=draft.permissions,
            xmpp_room_jid=self.room_jid(requester.app_id, dialog_id),
            occupants_count=len(members) if dtype == PUBLIC else None,
            created_at=now, updated_at=now, occupants_limit=draft.occupants_limit)
        await self._dialogs.insert(dialog)
        await self._members.add(requester.app_id, dialog_id, members,
                                {"joined_at": now, "subscribed": dtype == PUBLIC})
        await self._publish("dialog_created", requester, dialog_id, members,
                            {"type": dtype, "occupants_ids": members})
        logger.info("dialog %s (type %s) created by user %s", dialog_id, dtype, me)
        return DialogView(dialog, await self._members.get(dialog_id, me), 0), True

    async def find_or_create_private(self, requester: Requester, other_user_id: int) -> Dialog:
        """The private dialog of the caller and `other_user_id` (created on first use)."""
        require_user(requester)
        try:
            other = cast_int(other_user_id)
        except (ValueError, TypeError) as exc:
            raise InvalidError("is invalid", field="recipient_id") from exc
        dialog, _ = await self._private(requester, other, {})
        return dialog

    async def private_dialog_id(self, requester: Requester, other_user_id: int) -> str:
        """The id of the private dialog of the caller and `other_user_id`: from memory when the
        pair is known (no store call), else found or created (`find_or_create_private`)."""
        require_user(requester)
        known = self._private_memo.dialog_id(requester.app_id, requester.user_id, other_user_id)
        if known is not None:
            return known
        return (await self.find_or_create_private(requester, other_user_id)).id

    def room_jid(self, app_id: int, dialog_id: str) -> str:
        return f"{app_id}_{dialog_id}@{self._muc_domain}"

    # -- updates ---------------------------------------------------------------------------------
    async def update(self, requester: Requester, dialog_id: Any, change: DialogChanges) -> DialogView:
        access = await self._access.dialog_for(requester, dialog_id)
        dialog = access.dialog
        dtype = access.type
        me = requester.user_id
        sets: dict[str, Any] = {}
        for key, value in change.texts.items():
            if dtype == PRIVATE:
                raise ForbiddenError(f"You don't have permission to change {key}")
            if dtype != GROUP:
                access.require_admin(f"change {key}")
            if key == "name" and not value:
                raise InvalidError("can't be blank", field="name")
            sets[key] = value
        if change.set_extensions:
            if dtype in (PUBLIC, BROADCAST):
                access.require_admin("change extensions")
            sets["extensions"] = change.extensions
        if change.set_permissions:
            access.require_admin("change permissions")
            sets["permissions"] = change.permissions
        capacity = occupants_capacity(dialog, self._limits.max_occupants)
        if change.set_occupants_limit:
            self._check_occupants_limit(dtype, change.occupants_limit)
            access.require_admin("change the occupants limit")
            sets["occupants_limit"] = change.occupants_limit
            capacity = change.occupants_limit or self._limits.max_occupants

        max_ids = self._limits.max_ids_per_request
        for name, ids in (("occupants_ids", change.occupants), ("admins_ids", change.admins),
                          ("pinned_messages_ids", change.pins)):
            if len(ids.add) > max_ids or len(ids.remove) > max_ids:
                raise InvalidError(f"too many ids (maximum is {max_ids})", field=name)
        add_users, remove_users = list(change.occupants.add), list(change.occupants.remove)
        add_admins, remove_admins = list(change.admins.add), list(change.admins.remove)
        add_pins, remove_pins = list(change.pins.add), list(change.pins.remove)

        occupants = list(dialog.occupants_ids)
        admins = list(dialog.admins_ids)
        if add_users or remove_users:
            _no_overlap(add_users, remove_users, "occupants_ids")
            if dtype in (PRIVATE, PUBLIC):
                raise InvalidError("occupants of this dialog type can't be changed this way",
                                   field="occupants_ids")
            if add_users and dtype == BROADCAST:
                access.require_admin("add users")
            if dialog.user_id in remove_users:
                raise ForbiddenError("The owner can't be removed from the dialog")
            removing_others = [u for u in remove_users if u != me]
            if removing_others:
                access.require_admin("remove users")
                if any(u in admins for u in removing_others) and not access.is_owner:
                    raise ForbiddenError("You don't have permission to remove admins")
            add_users = [u for u in add_users if u not in occupants]
            blocked = [u for u in add_users if u in dialog.banned_ids]
            if blocked:  # models/services/bans.py: unban them first
                raise InvalidError("users blocked in this dialog: " + ", ".join(map(str, blocked)),
                                   field="occupants_ids")
            remove_users = [u for u in remove_users if u in occupants]
            if len(occupants) + len(add_users) > capacity:
                raise InvalidError(f"the dialog is full (maximum is {capacity} occupants)",
                                   field="occupants_ids")
            await self._require_users(requester.app_id, add_users, "occupants_ids")
        occupants_after = [u for u in occupants if u not in remove_users] + add_users
        if change.set_occupants_limit:
            current = (int(dialog.occupants_count or 0) if dtype == PUBLIC
                       else len(occupants_after))
            if current > capacity:
                raise InvalidError(f"is less than the dialog's {current} occupants",
                                   field="occupants_limit")

        if add_admins or remove_admins:
            access.require_owner("change admins")
            add_admins, remove_admins = await self._admin_changes(
                access, add_admins, remove_admins, occupants_after)
        remove_admins = _union(remove_admins, [u for u in remove_users if u in admins])

        if add_pins or remove_pins:
            _no_overlap(add_pins, remove_pins, "pinned_messages_ids")
            if dtype != PRIVATE:
                access.require_admin("pin messages")
            pinned = list(dialog.pinned_messages_ids)
            add_pins = [p for p in add_pins if p not in pinned]
            if len(set(pinned) - set(remove_pins)) + len(add_pins) > max_ids:
                raise InvalidError(f"too many pinned messages (maximum is {max_ids})",
                                   field="pinned_messages_ids")
            await self._require_messages(requester.app_id, access.dialog_id, add_pins)

        adds = {k: v for k, v in (("occupants_ids", add_users), ("admins_ids", add_admins),
                                  ("pinned_messages_ids", add_pins)) if v}
        pulls = {k: v for k, v in (("occupants_ids", remove_users), ("admins_ids", remove_admins),
                                   ("pinned_messages_ids", remove_pins)) if v}
        if not sets and not adds and not pulls:
            return await self.view(requester, dialog)
        updated = await self._apply(access, sets, adds, pulls)
        if add_users:
            await self._members.add(requester.app_id, access.dialog_id, add_users,
                                    {"joined_at": self._clock.now(),
                                     "last_read_seq": updated.seq})
        if remove_users:
            await self._members.remove(access.dialog_id, remove_users)
        changed = sorted(set(sets) | set(adds) | set(pulls))
        recipients = _union(await self._audience(updated), remove_users)
        notices = update_notices(sets, add_users, remove_users, add_admins, remove_admins, me,
                                 dialog._asdict())
        described = await self._describe(requester, updated, notices)
        await self._publish("dialog_updated", requester, access.dialog_id, recipients,
                            {"added_ids": add_users, "removed_ids": remove_users, "fields": changed,
                             "notices": described})
        if self._conversation is not None:
            await self._conversation.record(requester, updated, described)
        return await self.view(requester, updated)

    async def update_admins(self, requester: Requester, dialog_id: Any,
                            admins: IdChanges) -> DialogView:
        """PUT /chat/Dialog/{id}/admins: admins added and removed, owner only."""
        access = await self._access.dialog_for(requester, dialog_id)
        access.require_owner("change admins")
        if not admins:
            raise InvalidError("can't be blank", field="admins_ids")
        return await self.update(requester, dialog_id, DialogChanges(admins=admins))

    # -- deletion --------------------------------------------------------------------------------
    async def delete(self, requester: Requester, dialog_ids: list[str], force: bool) -> DeleteResult:
        require_user(requester)
        result = DeleteResult()
        for dialog_id in dict.fromkeys(dialog_ids):
            try:
                access = await self._access.dialog_for(requester, dialog_id)
            except NotFoundError:
                result.not_found.append(dialog_id)
                continue
            except ForbiddenError:  # a public dialog the caller is not subscribed to
                result.wrong_permissions.append(dialog_id)
                continue
            if force:
                if not access.is_owner:
                    result.wrong_permissions.append(dialog_id)
                    continue
                await self._destroy(requester, access)
            else:
                await self._memberships.leave(requester, access)
            result.deleted.append(dialog_id)
        return result

    # -- helpers ---------------------------------------------------------------------------------
    async def _my_dialogs(self, requester: Requester, archived: bool | None = None
                          ) -> tuple[list[str], dict[str, dict[str, Any]], list[str] | None]:
        """The caller's visible memberships (ids, documents by dialog) and the dialogs they hid:
        the list query adds the app's broadcast dialogs except the hidden ones. `archived`: only
        the dialogs in the caller's archive (a broadcast dialog is there only through its
        membership, so no others are added: None), or only those outside it."""
        members = await self._members.for_user(requester.app_id, requester.user_id,
                                               include_hidden=True)
        by_dialog = {m["dialog_id"]: m for m in members if not m.get("hidden")}
        hidden = [m["dialog_id"] for m in members if m.get("hidden")]
        if archived is None:
            return list(by_dialog), by_dialog, hidden
        chosen = {d: m for d, m in by_dialog.items() if bool(m.get("archived")) == archived}
        if archived:
            return list(chosen), chosen, None
        return list(chosen), chosen, hidden + [d for d in by_dialog if d not in chosen]

    async def _views(self, requester: Requester, dialogs: list[Dialog],
                     members: dict[str, dict[str, Any]]) -> list[DialogView]:
        """Personalises the last message (cleared history, messages deleted for the caller, the
        caller's own message status) and counts unread messages, one query per dialog at most."""
        me = requester.user_id
        last_ids = [d.last_message_id for d in dialogs if d.last_message_id]
        last = ({m.id: m for m in await self._messages.get_many(requester.app_id, last_ids)}
                if last_ids else {})

        async def one(dialog: Dialog) -> DialogView:
            member = members.get(dialog.id)
            cleared = int((member or {}).get("cleared_seq") or 0)
            read = int((member or {}).get("last_read_seq") or 0)
            message = None
            if cleared and cleared >= dialog.seq:
                dialog = dialog.with_last_message(None)
            elif dialog.last_message_id:
                message = last.get(dialog.last_message_id)
                if message is None or me in message.deleted_for or message.seq <= cleared:
                    message = await self._messages.last_visible(dialog.id, me, cleared)
                    dialog = dialog.with_last_message(LastMessage.of(message) if message else None)
            unread = await self._messages.count_unread(dialog.id, me, max(read, cleared))
            return DialogView(dialog, member, unread, _status(message, me))

        return list(await asyncio.gather(*(one(d) for d in dialogs)))

    async def _private(self, requester: Requester, other: int,
                       extras: dict[str, Any]) -> tuple[Dialog, bool]:
        me = requester.user_id
        if other == me:
            raise InvalidError("can't start a private dialog with yourself", field="occupants_ids")
        await self._require_users(requester.app_id, [other], "occupants_ids")
        if self._blocklist is not None:
            await self._blocklist.check_pair(requester.app_id, me, other)
        key = f"{min(me, other)}:{max(me, other)}"
        existing = await self._dialogs.find_private(requester.app_id, key)
        if existing is not None:
            await self._show_private(requester, existing)
            self._private_memo.remember(requester.app_id, existing)
            return existing, False
        now = self._clock.now()
        members = sorted({me, other})
        dialog = Dialog(
            id=new_id(), app_id=requester.app_id, type=PRIVATE, user_id=me,
            description=extras.get("description"), occupants_ids=tuple(members),
            extensions=extras.get("extensions"), private_key=key, created_at=now, updated_at=now)
        try:
            await self._dialogs.insert(dialog)
        except ConflictError:  # the other user created it at the same moment
            existing = await self._dialogs.find_private(requester.app_id, key)
            if existing is None:
                raise
            await self._show_private(requester, existing)
            self._private_memo.remember(requester.app_id, existing)
            return existing, False
        await self._members.add(requester.app_id, dialog.id, members, {"joined_at": now})
        await self._publish("dialog_created", requester, dialog.id, members,
                            {"type": PRIVATE, "occupants_ids": members})
        self._private_memo.remember(requester.app_id, dialog)
        return dialog, True

    async def _show_private(self, requester: Requester, dialog: Dialog) -> None:
        await self._members.add(requester.app_id, dialog.id, [requester.user_id],
                                {"joined_at": self._clock.now()})

    def _check_occupants_limit(self, dtype: DialogType, limit: int | None) -> None:
        if dtype not in (GROUP, PUBLIC):
            raise InvalidError("only group and public dialogs have an occupants limit",
                               field="occupants_limit")
        if limit is not None and limit > self._limits.max_occupants:
            raise InvalidError(f"must be at most {self._limits.max_occupants}",
                               field="occupants_limit")

    async def _admin_changes(self, access: DialogAccess, add: list[int], remove: list[int],
                             occupants_after: list[int]) -> tuple[list[int], list[int]]:
        _no_overlap(add, remove, "admins_ids")
        current = list(access.dialog.admins_ids)
        add = [u for u in add if u not in current]
        remove = [u for u in remove if u in current]
        if add:
            if access.type == PUBLIC:
                present = {m["user_id"] for m in await self._members.for_dialog(access.dialog_id)}
            else:
                present = set(occupants_after)
            if any(u not in present for u in add):
                raise InvalidError("admins must be occupants", field="admins_ids")
        if len(set(current) - set(remove)) + len(add) > self._limits.max_admins:
            raise InvalidError(f"too many admins (maximum is {self._limits.max_admins})",
                               field="admins_ids")
        return add, remove

    async def _apply(self, access: DialogAccess, sets: dict[str, Any], adds: dict[str, list],
                     pulls: dict[str, list]) -> Dialog:
        dialog = await self._dialogs.change(access.app_id, access.dialog_id, sets, adds, pulls,
                                            self._clock.now())
        if dialog is None:  # deleted meanwhile
            raise NotFoundError("Dialog not found")
        return dialog

    async def _destroy(self, requester: Requester, access: DialogAccess) -> None:
        recipients = await self._audience(access.dialog)
        await self._dialogs.delete(access.app_id, access.dialog_id)
        self._private_memo.forget(access.app_id, access.dialog_id)
        await self._members.remove_dialog(access.dialog_id)
        await self._messages.delete_dialog(access.dialog_id)
        described = await self._describe(requester, access.dialog,
                                         [Notice(NoticeType.DIALOG_DELETED)])
        await self._publish("dialog_deleted", requester, access.dialog_id, recipients,
                            {"type": access.type, "notices": described})
        logger.info("dialog %s deleted for everyone by user %s", access.dialog_id, requester.user_id)

    async def _audience(self, dialog: Dialog) -> list[int]:
        return await self._access.audience_of(dialog)

    async def _describe(self, requester: Requester, dialog: Dialog,
                        notices: list[Notice]) -> list[dict[str, Any]]:
        """The conversation events of a change, as its dialog event carries them."""
        if self._conversation is None:
            return []
        return await self._conversation.describe(requester, dialog, notices)

    async def _require_users(self, app_id: int, user_ids: list[int], field_name: str) -> None:
        if not user_ids:
            return
        found = {u.id for u in await self._users.get_many(app_id, user_ids)}
        missing = [u for u in user_ids if u not in found]
        if missing:
            raise InvalidError("users not found: " + ", ".join(map(str, missing)), field=field_name)

    async def _require_messages(self, app_id: int, dialog_id: str, message_ids: list[str]) -> None:
        if not message_ids:
            return
        found = {m.id for m in await self._messages.get_many(app_id, message_ids)
                 if m.dialog_id == dialog_id}
        if any(m not in found for m in message_ids):
            raise InvalidError("messages not found in this dialog", field="pinned_messages_ids")

    async def _publish(self, kind: str, requester: Requester, dialog_id: str,
                       recipients: list[int], payload: dict[str, Any]) -> None:
        await publish_dialog_event(self._publisher, kind, requester, dialog_id, recipients, payload)


# -- pure helpers --------------------------------------------------------------------------------
def _no_overlap(add: list, remove: list, field_name: str) -> None:
    if set(add) & set(remove):
        raise InvalidError("the same id can't be added and removed at once", field=field_name)


def _status(message: Message | None, user_id: int) -> str | None:
    """`sent | delivered | read` for the caller's own last message, null for others' messages."""
    if message is None or message.sender_id != user_id:
        return None
    if any(u != user_id for u in message.read_ids):
        return "read"
    if any(u != user_id for u in message.delivered_ids):
        return "delivered"
    return "sent"
