"""Chat dialogs: list, create, update, delete, admins, notifications, subscriptions, history.

Who may do what follows seed 004's roles table (see `models.services.access`):

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

Deleting without `force` is "delete for me": a private dialog is hidden for the caller (it comes
back with the next message); a group occupant leaves it; a public subscriber unsubscribes; a
broadcast occupant leaves it and, like any other reader of a broadcast, no longer sees it
(`hidden` + `left` on their membership: new messages do not bring it back, being added as an
occupant does). The owner of a group, public or broadcast dialog cannot leave it (there would be
no owner any more): for the owner it is hidden, like a private dialog.

Broadcast dialogs are listed for every user of their app (seed 004: "If there is a broadcast chat
in the app, this chat will be retrieved for all users"), joined to the caller's memberships in the
list query; a reader without a membership document counts unread messages from position 0.
"""
from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from config.settings import LimitSettings
from models.clock import Clock
from models.errors import BadRequestError, ConflictError, ForbiddenError, InvalidError, NotFoundError
from models.events import Event, EventPublisher
from models.requester import Requester
from models.services.access import (BROADCAST, DIALOG_TYPES, GROUP, PRIVATE, PUBLIC, AccessService,
                                    DialogAccess)
from models.services.filters import (FieldSpec, build_query, cast_bool, cast_datetime, cast_int,
                                     cast_number, cast_str, page_params, sort_params, split_list)
from models.services.users import UserService
from models.storage.dialogs import DialogStore
from models.storage.ids import is_object_id, new_id
from models.storage.members import MemberStore
from models.storage.messages import MessageStore
from models.users import User

logger = logging.getLogger(__name__)

TEXT_LIMITS = {"name": 255, "photo": 2000, "description": 2000}
MAX_EXTENSIONS = 10
MAX_EXTENSION_KEY = 64
MAX_EXTENSION_VALUE = 1000
EXTENSION_KEY_RE = re.compile(r"^[A-Za-z0-9_\-]+$")
LAST_MESSAGE_FIELDS = ("last_message", "last_message_id", "last_message_user_id",
                       "last_message_date_sent")


def _cast_object_id(value: Any) -> str:
    text = cast_str(value).strip()
    if not is_object_id(text):
        raise ValueError("not an id")
    return text


STRING_OPS = {"eq", "lt", "lte", "gt", "gte", "ne", "in", "nin", "all", "ctn", "start_with", "or"}
VALUE_OPS = STRING_OPS - {"ctn", "start_with"}
DIALOG_FILTERS = {
    "_id": FieldSpec(_cast_object_id),
    "type": FieldSpec(cast_int),
    "name": FieldSpec(cast_str),
    "user_id": FieldSpec(cast_int),
    "occupants_ids": FieldSpec(cast_int),
    "created_at": FieldSpec(cast_datetime),
    "updated_at": FieldSpec(cast_datetime),
    "last_message_date_sent": FieldSpec(cast_number),
}
STRING_FILTERS = {"name"}
DIALOG_SORTS = {"last_message_date_sent": "last_message_date_sent", "date_sent": "last_message_date_sent",
                "created_at": "created_at", "updated_at": "updated_at"}
DEFAULT_SORT = [("last_message_date_sent", -1), ("updated_at", -1), ("_id", -1)]


@dataclass
class DialogView:
    """A dialog as one user sees it: last message fields personalised, their membership, unread."""

    dialog: dict[str, Any]
    member: dict[str, Any] | None
    unread: int = 0


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
                 publisher: EventPublisher, limits: LimitSettings, muc_domain: str) -> None:
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
    async def list(self, requester: Requester, params: dict[str, Any]) -> DialogPage:
        _require_user(requester)
        dialog_ids, members, hidden = await self._my_dialogs(requester)
        query = dialog_query(params)
        skip, limit = page_params(params, 100, self._limits.max_list_limit)
        sort = sort_params(params, DIALOG_SORTS, DEFAULT_SORT)
        total = await self._dialogs.count_in(requester.app_id, dialog_ids, query, hidden)
        docs = await self._dialogs.find_in(requester.app_id, dialog_ids, query, sort, skip, limit,
                                           hidden)
        return DialogPage(await self._views(requester, docs, members), total, skip, limit)

    async def count(self, requester: Requester, params: dict[str, Any]) -> int:
        _require_user(requester)
        dialog_ids, _, hidden = await self._my_dialogs(requester)
        return await self._dialogs.count_in(requester.app_id, dialog_ids, dialog_query(params), hidden)

    async def view(self, requester: Requester, dialog: dict[str, Any]) -> DialogView:
        """The dialog as `requester` sees it (for answers to create / update / subscribe)."""
        member = await self._members.get(dialog["_id"], requester.user_id)
        members = {dialog["_id"]: member} if member else {}
        return (await self._views(requester, [dialog], members))[0]

    async def occupants(self, requester: Requester, dialog_id: Any,
                        params: dict[str, Any]) -> tuple[list[User], int, int]:
        """Members of a public dialog (anyone in the app may look), or of a dialog the caller reads
        (the occupants of a broadcast dialog, not its readers)."""
        access = await self._access.dialog_for(requester, dialog_id, preview=True)
        if access.type != PUBLIC and not access.is_reader:
            raise NotFoundError("Dialog not found")
        skip, limit = page_params(params, 100, self._limits.max_list_limit)
        if limit == 0:
            return [], skip, limit
        only = list(access.dialog.get("occupants_ids") or []) if access.type == BROADCAST else None
        members = await self._members.for_dialog(access.dialog_id, skip, limit, only)
        ids = [m["user_id"] for m in members]
        by_id = {u.id: u for u in await self._users.get_many(requester.app_id, ids)}
        return [by_id[i] for i in ids if i in by_id], skip, limit

    async def notifications(self, requester: Requester, dialog_id: Any) -> bool:
        access = await self._access.dialog_for(requester, dialog_id)
        member = access.member or await self._ensure_member(access)
        return bool(member.get("notifications", True))

    # -- creation --------------------------------------------------------------------------------
    async def create(self, requester: Requester, params: Any) -> tuple[DialogView, bool]:
        """Creates a dialog; returns (view, created). A private dialog with the same pair of users
        is answered again (created=False) and shown again to the caller if they had hidden it."""
        _require_user(requester)
        if not isinstance(params, dict):
            raise BadRequestError("The body must be an object")
        dtype = _parse_type(params.get("type"))
        me = requester.user_id
        occupants = self._user_ids(params.get("occupants_ids"), "occupants_ids",
                                   self._limits.max_occupants)
        others = [u for u in occupants if u != me]
        admins = self._user_ids(params.get("admins_ids"), "admins_ids", self._limits.max_admins)
        if dtype == PRIVATE:
            if len(others) != 1:
                raise InvalidError("a private dialog needs exactly one other occupant",
                                   field="occupants_ids")
            if admins:
                raise InvalidError("private dialogs have no admins", field="admins_ids")
            extras = {"description": _text(params, "description")} if "description" in params else {}
            if "extensions" in params:
                extras["extensions"] = _parse_extensions(params["extensions"])
            doc, created = await self._private(requester, others[0], extras)
            return await self.view(requester, doc), created

        name = _text(params, "name")
        if not name:
            raise InvalidError("can't be blank", field="name")
        members = [me] + others
        if len(members) > self._limits.max_occupants:
            raise InvalidError(f"too many occupants (maximum is {self._limits.max_occupants})",
                               field="occupants_ids")
        await self._require_users(requester.app_id, others, "occupants_ids")
        if any(a not in members for a in admins):
            raise InvalidError("admins must be occupants", field="admins_ids")
        now = self._clock.now()
        dialog_id = new_id()
        doc = {
            "_id": dialog_id,
            "app_id": requester.app_id,
            "type": dtype,
            "name": name,
            "description": _text(params, "description"),
            "photo": _text(params, "photo"),
            "user_id": me,
            "occupants_ids": [] if dtype == PUBLIC else members,
            "admins_ids": admins,
            "pinned_messages_ids": [],
            "extensions": _parse_extensions(params.get("extensions")),
            "permissions": _parse_permissions(params.get("permissions")),
            "xmpp_room_jid": self.room_jid(requester.app_id, dialog_id),
            "seq": 0,
            **{f: None for f in LAST_MESSAGE_FIELDS},
            "created_at": now,
            "updated_at": now,
        }
        if dtype == PUBLIC:
            doc["occupants_count"] = len(members)
        await self._dialogs.insert(doc)
        await self._members.add(requester.app_id, dialog_id, members,
                                {"joined_at": now, "subscribed": dtype == PUBLIC})
        await self._publish("dialog_created", requester, dialog_id, members,
                            {"type": dtype, "occupants_ids": members})
        logger.info("dialog %s (type %s) created by user %s", dialog_id, dtype, me)
        return DialogView(doc, await self._members.get(dialog_id, me), 0), True

    async def find_or_create_private(self, requester: Requester, other_user_id: int) -> dict[str, Any]:
        """The private dialog of the caller and `other_user_id` (created on first use)."""
        _require_user(requester)
        try:
            other = cast_int(other_user_id)
        except (ValueError, TypeError) as exc:
            raise InvalidError("is invalid", field="recipient_id") from exc
        doc, _ = await self._private(requester, other, {})
        return doc

    def room_jid(self, app_id: int, dialog_id: str) -> str:
        return f"{app_id}_{dialog_id}@{self._muc_domain}"

    # -- updates ---------------------------------------------------------------------------------
    async def update(self, requester: Requester, dialog_id: Any, params: Any) -> DialogView:
        access = await self._access.dialog_for(requester, dialog_id)
        if not isinstance(params, dict):
            raise BadRequestError("The body must be an object")
        dialog = access.dialog
        dtype = access.type
        me = requester.user_id
        sets: dict[str, Any] = {}
        for key in TEXT_LIMITS:
            if key not in params:
                continue
            if dtype == PRIVATE:
                raise ForbiddenError(f"You don't have permission to change {key}")
            if dtype != GROUP:
                access.require_admin(f"change {key}")
            value = _text(params, key)
            if key == "name" and not value:
                raise InvalidError("can't be blank", field="name")
            sets[key] = value
        if "extensions" in params:
            if dtype in (PUBLIC, BROADCAST):
                access.require_admin("change extensions")
            sets["extensions"] = _parse_extensions(params["extensions"])
        if "permissions" in params:
            access.require_admin("change permissions")
            sets["permissions"] = _parse_permissions(params["permissions"])

        push = _ops(params, "push_all")
        pull = _ops(params, "pull_all")
        max_ids = self._limits.max_ids_per_request
        add_users = self._user_ids(push.get("occupants_ids"), "occupants_ids", max_ids)
        remove_users = self._user_ids(pull.get("occupants_ids"), "occupants_ids", max_ids)
        add_admins = self._user_ids(push.get("admins_ids"), "admins_ids", max_ids)
        remove_admins = self._user_ids(pull.get("admins_ids"), "admins_ids", max_ids)
        add_pins = _message_ids(push.get("pinned_messages_ids"), max_ids)
        remove_pins = _message_ids(pull.get("pinned_messages_ids"), max_ids)

        occupants = list(dialog.get("occupants_ids") or [])
        admins = list(dialog.get("admins_ids") or [])
        if add_users or remove_users:
            _no_overlap(add_users, remove_users, "occupants_ids")
            if dtype in (PRIVATE, PUBLIC):
                raise InvalidError("occupants of this dialog type can't be changed this way",
                                   field="occupants_ids")
            if add_users and dtype == BROADCAST:
                access.require_admin("add users")
            if dialog.get("user_id") in remove_users:
                raise ForbiddenError("The owner can't be removed from the dialog")
            removing_others = [u for u in remove_users if u != me]
            if removing_others:
                access.require_admin("remove users")
                if any(u in admins for u in removing_others) and not access.is_owner:
                    raise ForbiddenError("You don't have permission to remove admins")
            add_users = [u for u in add_users if u not in occupants]
            remove_users = [u for u in remove_users if u in occupants]
            if len(occupants) + len(add_users) > self._limits.max_occupants:
                raise InvalidError(f"too many occupants (maximum is {self._limits.max_occupants})",
                                   field="occupants_ids")
            await self._require_users(requester.app_id, add_users, "occupants_ids")
        occupants_after = [u for u in occupants if u not in remove_users] + add_users

        if add_admins or remove_admins:
            access.require_owner("change admins")
            add_admins, remove_admins = await self._admin_changes(
                access, add_admins, remove_admins, occupants_after)
        remove_admins = _union(remove_admins, [u for u in remove_users if u in admins])

        if add_pins or remove_pins:
            _no_overlap(add_pins, remove_pins, "pinned_messages_ids")
            if dtype != PRIVATE:
                access.require_admin("pin messages")
            pinned = list(dialog.get("pinned_messages_ids") or [])
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
                                     "last_read_seq": int(updated.get("seq") or 0)})
        if remove_users:
            await self._members.remove(access.dialog_id, remove_users)
        changed = sorted(set(sets) | set(adds) | set(pulls))
        recipients = _union(await self._audience(updated), remove_users)
        await self._publish("dialog_updated", requester, access.dialog_id, recipients,
                            {"added_ids": add_users, "removed_ids": remove_users, "fields": changed})
        return await self.view(requester, updated)

    async def update_admins(self, requester: Requester, dialog_id: Any, params: Any) -> DialogView:
        """PUT /chat/Dialog/{id}/admins: `push_all` / `pull_all` of `admins_ids`, owner only."""
        if not isinstance(params, dict):
            raise BadRequestError("The body must be an object")
        push = _ops(params, "push_all")
        pull = _ops(params, "pull_all")
        access = await self._access.dialog_for(requester, dialog_id)
        access.require_owner("change admins")
        body = {}
        if "admins_ids" in push:
            body["push_all"] = {"admins_ids": push["admins_ids"]}
        if "admins_ids" in pull:
            body["pull_all"] = {"admins_ids": pull["admins_ids"]}
        if not body:
            raise InvalidError("can't be blank", field="admins_ids")
        return await self.update(requester, dialog_id, body)

    async def set_notifications(self, requester: Requester, dialog_id: Any, enabled: Any) -> bool:
        if enabled is None or enabled == "":
            raise InvalidError("can't be blank", field="enabled")
        try:
            value = cast_bool(enabled)
        except ValueError as exc:
            raise InvalidError("must be 0 or 1", field="enabled") from exc
        access = await self._access.dialog_for(requester, dialog_id)
        if access.member is None:
            await self._ensure_member(access)
        await self._members.update(access.dialog_id, requester.user_id, {"notifications": value})
        return value

    async def subscribe(self, requester: Requester, dialog_id: Any) -> DialogView:
        dialog = await self._public_dialog(requester, dialog_id)
        me = requester.user_id
        member = await self._members.get(dialog["_id"], me)
        if member is None:
            if int(dialog.get("occupants_count") or 0) >= self._limits.max_occupants:
                raise InvalidError(f"the dialog is full (maximum is {self._limits.max_occupants})")
            await self._members.add(requester.app_id, dialog["_id"], [me],
                                    {"joined_at": self._clock.now(), "subscribed": True,
                                     "last_read_seq": int(dialog.get("seq") or 0)})
        elif member.get("hidden"):
            await self._members.update(dialog["_id"], me, {"hidden": False})
        dialog = await self._recount(requester.app_id, dialog["_id"]) or dialog
        if member is None:
            await self._publish("dialog_updated", requester, dialog["_id"], [me],
                                {"added_ids": [me], "removed_ids": [], "fields": ["occupants_count"]})
        return await self.view(requester, dialog)

    async def unsubscribe(self, requester: Requester, dialog_id: Any) -> None:
        dialog = await self._public_dialog(requester, dialog_id)
        me = requester.user_id
        if dialog.get("user_id") == me:
            raise ForbiddenError("The owner can't unsubscribe; delete the dialog instead")
        if await self._members.get(dialog["_id"], me) is None:
            return
        await self._members.remove(dialog["_id"], [me])
        if me in (dialog.get("admins_ids") or []):
            await self._dialogs.update(requester.app_id, dialog["_id"], {"$pull": {"admins_ids": me}})
        await self._recount(requester.app_id, dialog["_id"])
        await self._publish("dialog_updated", requester, dialog["_id"], [me],
                            {"added_ids": [], "removed_ids": [me], "fields": ["occupants_count"]})

    async def clear_history(self, requester: Requester, dialog_id: Any, force: bool = False) -> None:
        """Hides the current history from the caller; with `force` (owner only) deletes it for all."""
        access = await self._access.dialog_for(requester, dialog_id)
        if force:
            if not access.is_owner:
                raise ForbiddenError("You don't have permission to clear the history for everyone")
            await self._messages.delete_dialog(access.dialog_id)
            dialog = await self._dialogs.update(requester.app_id, access.dialog_id, {"$set": {
                **{f: None for f in LAST_MESSAGE_FIELDS}, "pinned_messages_ids": [],
                "updated_at": self._clock.now()}})
            if dialog is not None:
                await self._publish("dialog_updated", requester, access.dialog_id,
                                    await self._audience(dialog),
                                    {"added_ids": [], "removed_ids": [],
                                     "fields": ["history", "last_message", "pinned_messages_ids"]})
            return
        if access.member is None:
            await self._ensure_member(access)
        seq = int(access.dialog.get("seq") or 0)
        cleared = int((access.member or {}).get("cleared_seq") or 0)
        if seq > cleared:
            await self._members.update(access.dialog_id, requester.user_id, {"cleared_seq": seq})

    # -- deletion --------------------------------------------------------------------------------
    async def delete(self, requester: Requester, dialog_ids: list[str], force: bool) -> DeleteResult:
        _require_user(requester)
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
                await self._leave(requester, access)
            result.deleted.append(dialog_id)
        return result

    # -- helpers ---------------------------------------------------------------------------------
    async def _my_dialogs(self, requester: Requester
                          ) -> tuple[list[str], dict[str, dict[str, Any]], list[str]]:
        """The caller's visible memberships (ids, documents by dialog) and the dialogs they hid:
        the list query adds the app's broadcast dialogs except the hidden ones."""
        members = await self._members.for_user(requester.app_id, requester.user_id,
                                               include_hidden=True)
        by_dialog = {m["dialog_id"]: m for m in members if not m.get("hidden")}
        hidden = [m["dialog_id"] for m in members if m.get("hidden")]
        return list(by_dialog), by_dialog, hidden

    async def _views(self, requester: Requester, dialogs: list[dict[str, Any]],
                     members: dict[str, dict[str, Any]]) -> list[DialogView]:
        """Personalises the last message (cleared history, messages deleted for the caller, the
        caller's own message status) and counts unread messages, one query per dialog at most."""
        me = requester.user_id
        last_ids = [d["last_message_id"] for d in dialogs if d.get("last_message_id")]
        last = ({m["_id"]: m for m in await self._messages.get_many(requester.app_id, last_ids)}
                if last_ids else {})

        async def one(dialog: dict[str, Any]) -> DialogView:
            dialog = dict(dialog)
            member = members.get(dialog["_id"])
            cleared = int((member or {}).get("cleared_seq") or 0)
            read = int((member or {}).get("last_read_seq") or 0)
            message = None
            if cleared and cleared >= int(dialog.get("seq") or 0):
                _set_last_message(dialog, None)
            elif dialog.get("last_message_id"):
                message = last.get(dialog["last_message_id"])
                if message is None or me in (message.get("deleted_for") or []) or \
                        int(message.get("seq") or 0) <= cleared:
                    message = await self._messages.last_visible(dialog["_id"], me, cleared)
                    _set_last_message(dialog, message)
            dialog["last_message_status"] = _status(message, me)
            unread = await self._messages.count_unread(dialog["_id"], me, max(read, cleared))
            return DialogView(dialog, member, unread)

        return list(await asyncio.gather(*(one(d) for d in dialogs)))

    async def _private(self, requester: Requester, other: int,
                       extras: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        me = requester.user_id
        if other == me:
            raise InvalidError("can't start a private dialog with yourself", field="occupants_ids")
        await self._require_users(requester.app_id, [other], "occupants_ids")
        key = f"{min(me, other)}:{max(me, other)}"
        existing = await self._dialogs.find_private(requester.app_id, key)
        if existing is not None:
            await self._show_private(requester, existing)
            return existing, False
        now = self._clock.now()
        members = sorted({me, other})
        doc = {
            "_id": new_id(), "app_id": requester.app_id, "type": PRIVATE, "name": None,
            "description": extras.get("description"), "photo": None, "user_id": me,
            "occupants_ids": members, "admins_ids": [], "pinned_messages_ids": [],
            "extensions": extras.get("extensions"), "permissions": None, "private_key": key,
            "xmpp_room_jid": None, "seq": 0, **{f: None for f in LAST_MESSAGE_FIELDS},
            "created_at": now, "updated_at": now,
        }
        try:
            await self._dialogs.insert(doc)
        except ConflictError:  # the other user created it at the same moment
            existing = await self._dialogs.find_private(requester.app_id, key)
            if existing is None:
                raise
            await self._show_private(requester, existing)
            return existing, False
        await self._members.add(requester.app_id, doc["_id"], members, {"joined_at": now})
        await self._publish("dialog_created", requester, doc["_id"], members,
                            {"type": PRIVATE, "occupants_ids": members})
        return doc, True

    async def _show_private(self, requester: Requester, dialog: dict[str, Any]) -> None:
        await self._members.add(requester.app_id, dialog["_id"], [requester.user_id],
                                {"joined_at": self._clock.now()})

    async def _admin_changes(self, access: DialogAccess, add: list[int], remove: list[int],
                             occupants_after: list[int]) -> tuple[list[int], list[int]]:
        _no_overlap(add, remove, "admins_ids")
        current = list(access.dialog.get("admins_ids") or [])
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
                     pulls: dict[str, list]) -> dict[str, Any]:
        """$set and $addToSet in one update, then $pull (one field can't take both at once)."""
        app_id = access.dialog["app_id"]
        update: dict[str, Any] = {"$set": {**sets, "updated_at": self._clock.now()}}
        if adds:
            update["$addToSet"] = {k: {"$each": v} for k, v in adds.items()}
        doc = await self._dialogs.update(app_id, access.dialog_id, update)
        if doc is not None and pulls:
            doc = await self._dialogs.update(app_id, access.dialog_id,
                                             {"$pull": {k: {"$in": v} for k, v in pulls.items()}})
        if doc is None:  # deleted meanwhile
            raise NotFoundError("Dialog not found")
        return doc

    async def _leave(self, requester: Requester, access: DialogAccess) -> None:
        me = requester.user_id
        if access.type == PRIVATE or access.is_owner:
            if access.member is None:
                await self._ensure_member(access)
            await self._members.update(access.dialog_id, me, {"hidden": True})
            await self._dialogs.mark_hidden(requester.app_id, access.dialog_id)
            return
        if access.type == PUBLIC:
            await self.unsubscribe(requester, access.dialog_id)
            return
        if access.type == BROADCAST:  # every reader: hidden for good (see the module docstring)
            await self._members.ensure(requester.app_id, access.dialog_id, me,
                                       {"joined_at": self._clock.now()})
            await self._members.update(access.dialog_id, me, {"hidden": True, "left": True})
            if not access.is_occupant:
                return
        dialog = await self._dialogs.update(access.dialog["app_id"], access.dialog_id, {
            "$pull": {"occupants_ids": me, "admins_ids": me},
            "$set": {"updated_at": self._clock.now()}})
        if access.type != BROADCAST:
            await self._members.remove(access.dialog_id, [me])
        if dialog is not None:
            await self._publish("dialog_updated", requester, access.dialog_id,
                                _union(dialog.get("occupants_ids") or [], [me]),
                                {"added_ids": [], "removed_ids": [me], "fields": ["occupants_ids"]})

    async def _destroy(self, requester: Requester, access: DialogAccess) -> None:
        recipients = await self._audience(access.dialog)
        await self._dialogs.delete(access.dialog["app_id"], access.dialog_id)
        await self._members.remove_dialog(access.dialog_id)
        await self._messages.delete_dialog(access.dialog_id)
        await self._publish("dialog_deleted", requester, access.dialog_id, recipients,
                            {"type": access.type})
        logger.info("dialog %s deleted for everyone by user %s", access.dialog_id, requester.user_id)

    async def _public_dialog(self, requester: Requester, dialog_id: Any) -> dict[str, Any]:
        """The dialog for (un)subscribing: public ones only; others answer as the caller sees them."""
        access = await self._access.dialog_for(requester, dialog_id, preview=True)
        if access.type != PUBLIC:
            raise InvalidError("only public dialogs can be subscribed to")
        return access.dialog

    async def _recount(self, app_id: int, dialog_id: str) -> dict[str, Any] | None:
        count = await self._members.count_for_dialog(dialog_id)
        return await self._dialogs.update(app_id, dialog_id, {"$set": {"occupants_count": count}})

    async def _ensure_member(self, access: DialogAccess) -> dict[str, Any]:
        """Occupants always have a membership; recreate it if it went missing. A broadcast reader
        gets theirs on first use (mute, clear history, delete for me)."""
        member = await self._members.ensure(access.dialog["app_id"], access.dialog_id,
                                            access.user_id, {"joined_at": self._clock.now()})
        access.member = member
        return member or {}

    async def _audience(self, dialog: dict[str, Any]) -> list[int]:
        if int(dialog.get("type") or 0) == PUBLIC:
            return [m["user_id"] for m in await self._members.for_dialog(dialog["_id"])]
        return list(dialog.get("occupants_ids") or [])

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
        found = {m["_id"] for m in await self._messages.get_many(app_id, message_ids)
                 if m.get("chat_dialog_id") == dialog_id}
        if any(m not in found for m in message_ids):
            raise InvalidError("messages not found in this dialog", field="pinned_messages_ids")

    def _user_ids(self, value: Any, field_name: str, max_len: int) -> list[int]:
        return _parse_user_ids(value, field_name, max_len)

    async def _publish(self, kind: str, requester: Requester, dialog_id: str,
                       recipients: list[int], payload: dict[str, Any]) -> None:
        await self._publisher.publish(Event(kind=kind, app_id=requester.app_id, dialog_id=dialog_id,
                                            sender_id=requester.user_id,
                                            recipient_ids=sorted(set(recipients)), payload=payload))


# -- pure helpers --------------------------------------------------------------------------------
def dialog_query(params: dict[str, Any]) -> dict[str, Any]:
    """ConnectyCube dialog filters → a Mongo query (`extensions[key]` included)."""
    for name, raw in params.items():
        if name in DIALOG_FILTERS and isinstance(raw, dict):
            allowed = STRING_OPS if name in STRING_FILTERS else VALUE_OPS
            bad = [op for op in raw if op not in allowed]
            if bad:
                raise InvalidError(f"unsupported operator '{bad[0]}'", field=name)
    query = build_query(params, DIALOG_FILTERS)
    extensions = params.get("extensions")
    if extensions is not None:
        if not isinstance(extensions, dict):
            raise InvalidError("use extensions[<name>]=<value>", field="extensions")
        specs: dict[str, FieldSpec] = {}
        values: dict[str, Any] = {}
        for key, raw in extensions.items():
            if not _valid_extension_key(key):
                raise InvalidError("is invalid", field="extensions")
            specs[f"extensions.{key}"] = FieldSpec(cast_str)
            values[f"extensions.{key}"] = raw
        query.update(build_query(values, specs))
    return query


def _require_user(requester: Requester) -> None:
    if not requester.is_user:
        raise ForbiddenError("A user session is required")


def _parse_type(value: Any) -> int:
    if value is None or value == "":
        raise InvalidError("can't be blank", field="type")
    try:
        dtype = cast_int(value)
    except (ValueError, TypeError) as exc:
        raise InvalidError("is invalid", field="type") from exc
    if dtype not in DIALOG_TYPES:
        raise InvalidError("must be 1 (broadcast), 2 (group), 3 (private) or 4 (public)", field="type")
    return dtype


def _parse_user_ids(value: Any, field_name: str, max_len: int) -> list[int]:
    """`"8, 9"`, `[8, "9"]`, `8` or a dict-shaped array (`{"0": 8}`) → distinct positive ints."""
    if isinstance(value, dict):
        value = list(value.values())
    items = split_list(value)
    if len(items) > max_len:
        raise InvalidError(f"too many ids (maximum is {max_len})", field=field_name)
    out: list[int] = []
    for item in items:
        try:
            user_id = cast_int(item)
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidError("must be a list of user ids", field=field_name) from exc
        if user_id <= 0:
            raise InvalidError("must be a list of user ids", field=field_name)
        if user_id not in out:
            out.append(user_id)
    return out


def _message_ids(value: Any, max_len: int) -> list[str]:
    if isinstance(value, dict):
        value = list(value.values())
    items = split_list(value)
    if len(items) > max_len:
        raise InvalidError(f"too many ids (maximum is {max_len})", field="pinned_messages_ids")
    out: list[str] = []
    for item in items:
        if not is_object_id(item):
            raise InvalidError("must be a list of message ids", field="pinned_messages_ids")
        if item not in out:
            out.append(item)
    return out


def _ops(params: dict[str, Any], key: str) -> dict[str, Any]:
    value = params.get(key)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise InvalidError("must be an object", field=key)
    return value


def _no_overlap(add: list, remove: list, field_name: str) -> None:
    if set(add) & set(remove):
        raise InvalidError("the same id can't be added and removed at once", field=field_name)


def _union(first: list[int], second: list[int]) -> list[int]:
    return list(dict.fromkeys([*first, *second]))


def _text(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidError("must be a string", field=key)
    text = str(value).strip()
    limit = TEXT_LIMITS[key]
    if len(text) > limit:
        raise InvalidError(f"is too long (maximum is {limit} characters)", field=key)
    return text or None


def _valid_extension_key(key: Any) -> bool:
    return isinstance(key, str) and 0 < len(key) <= MAX_EXTENSION_KEY and \
        bool(EXTENSION_KEY_RE.match(key))


def _parse_extensions(value: Any) -> dict[str, str] | None:
    """A flat object; values are kept as strings (as ConnectyCube casts them). null resets."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidError("must be an object", field="extensions")
    if len(value) > MAX_EXTENSIONS:
        raise InvalidError(f"too many fields (maximum is {MAX_EXTENSIONS})", field="extensions")
    out: dict[str, str] = {}
    for key, raw in value.items():
        if not _valid_extension_key(key):
            raise InvalidError(f"invalid field name (letters, digits, '_' and '-', up to "
                               f"{MAX_EXTENSION_KEY})", field="extensions")
        if raw is None:
            continue
        if isinstance(raw, (dict, list)):
            raise InvalidError("values must be strings", field="extensions")
        text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
        if len(text) > MAX_EXTENSION_VALUE:
            raise InvalidError(f"value is too long (maximum is {MAX_EXTENSION_VALUE} characters)",
                               field="extensions")
        out[key] = text
    return out


def _parse_permissions(value: Any) -> dict[str, bool] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidError("must be an object", field="permissions")
    try:
        return {"allow_preview": cast_bool(value.get("allow_preview", False))}
    except ValueError as exc:
        raise InvalidError("allow_preview must be true or false", field="permissions") from exc


def _set_last_message(dialog: dict[str, Any], message: dict[str, Any] | None) -> None:
    if message is None:
        for key in LAST_MESSAGE_FIELDS:
            dialog[key] = None
        return
    dialog["last_message"] = message.get("message")
    dialog["last_message_id"] = message["_id"]
    dialog["last_message_user_id"] = message.get("sender_id")
    dialog["last_message_date_sent"] = message.get("date_sent")


def _status(message: dict[str, Any] | None, user_id: int) -> str | None:
    """`sent | delivered | read` for the caller's own last message, null for others' messages."""
    if message is None or message.get("sender_id") != user_id:
        return None
    if any(u != user_id for u in message.get("read_ids") or []):
        return "read"
    if any(u != user_id for u in message.get("delivered_ids") or []):
        return "delivered"
    return "sent"
