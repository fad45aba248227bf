"""The admin API's rules (ConnectyCube's Admin API plus what bots and support tools need): every
dialog and message of the application with the admin-only fields, dialog changes, user deletes and
lists, and messages sent, edited and deleted as a given user.

Every method takes the application's admin (`Requester.is_admin`, resolved from the admin API key
by `AppService.resolve_admin_key`) and reaches only its application. Rules are not repeated here:
dialog changes go through `DialogService.update` with the admin's owner rights in every dialog of
its application (models/services/access.py), sends through `MessageService.send` as the user (with
that user's own rights: the message is stored, relayed and pushed like theirs), edits and deletes
through `MessageService` as the user named or, without one, as the message's author with the
admin's rights, and user deletes through `UserService` as that user.
"""
from __future__ import annotations

from config.settings import LimitSettings
from models.admin import AdminDialog, AdminDialogChange, AdminListQuery, AdminPage
from models.dialogs import Dialog
from models.errors import ForbiddenError, InvalidError, NotFoundError
from models.messages import Message, MessageDraft
from models.requester import Requester, admin
from models.services.access import AccessService
from models.services.blocklist import BlocklistService
from models.services.dialogs import DialogService
from models.services.memberships import MembershipService
from models.services.messages import MessageService
from models.services.sessions import SessionService
from models.services.users import UserService
from models.storage.dialogs import DialogStore
from models.storage.ids import is_object_id
from models.storage.members import MemberStore
from models.storage.messages import MessageStore
from models.users import User, UserQuery


def require_app_admin(requester: Requester) -> None:
    if not requester.is_admin:
        raise ForbiddenError("The admin API key is required")


def as_user(requester: Requester, user_id: int) -> Requester:
    """A user of the admin's application, with that user's own rights."""
    return Requester(app_id=requester.app_id, user_id=user_id)


class AdminService:
    def __init__(self, dialogs: DialogService, memberships: MembershipService,
                 messages: MessageService, users: UserService, sessions: SessionService,
                 access: AccessService, dialog_store: DialogStore, member_store: MemberStore,
                 message_store: MessageStore, limits: LimitSettings,
                 blocklist: BlocklistService | None = None) -> None:
        self._dialogs = dialogs
        self._memberships = memberships
        self._messages = messages
        self._users = users
        self._sessions = sessions
        self._access = access
        self._dialog_store = dialog_store
        self._member_store = member_store
        self._message_store = message_store
        self._limits = limits
        self._blocklist = blocklist

    # -- dialogs ---------------------------------------------------------------------------------
    async def list_dialogs(self, requester: Requester, query: AdminListQuery) -> AdminPage:
        require_app_admin(requester)
        limit = min(query.limit, self._limits.max_list_limit)
        docs = await self._dialog_store.page_app(requester.app_id, query.conditions, query.sort,
                                                 query.skip, limit)
        total = await self._dialog_store.count_app(requester.app_id, query.conditions)
        return AdminPage(await self._with_members(docs), total, query.skip, limit)

    async def update_dialog(self, requester: Requester, dialog_id: str,
                            change: AdminDialogChange) -> AdminDialog:
        """The Update Dialog rules with the admin's rights, then `is_muted` for `user_id`."""
        require_app_admin(requester)
        admin_self = admin(requester.app_id)
        if change.is_muted is not None and change.user_id is None:
            raise InvalidError("is required with is_muted", field="user_id")
        if change.user_id is not None:
            await self._users.get_entity(requester.app_id, change.user_id)  # 404 if not in the app
        view = await self._dialogs.update(admin_self, dialog_id, change.changes)
        muted: bool | None = None
        if change.user_id is not None:
            user = as_user(requester, change.user_id)
            try:
                if change.is_muted is not None:
                    await self._memberships.set_notifications(user, dialog_id, not change.is_muted)
                muted = not await self._memberships.notifications(user, dialog_id)
            except (NotFoundError, ForbiddenError) as exc:
                raise InvalidError("is not a member of this dialog", field="user_id") from exc
        dialog = await self._dialog_store.get(requester.app_id, dialog_id) or view.dialog
        (out,) = await self._with_members([dialog])
        out.is_muted = muted
        return out

    async def _with_members(self, dialogs: list[Dialog]) -> list[AdminDialog]:
        """`silent_ids` (muted) and `deleted_ids` (deleted for themselves) of each dialog."""
        out = {d.id: AdminDialog(d) for d in dialogs}
        for member in await self._member_store.muted_or_hidden(list(out)):
            entry = out.get(member["dialog_id"])
            if entry is None:
                continue
            if member.get("notifications") is False:
                entry.silent_ids.append(int(member["user_id"]))
            if member.get("hidden"):
                entry.deleted_ids.append(int(member["user_id"]))
        for entry in out.values():
            entry.silent_ids.sort()
            entry.deleted_ids.sort()
        return list(out.values())

    # -- messages --------------------------------------------------------------------------------
    async def list_messages(self, requester: Requester, query: AdminListQuery) -> AdminPage:
        """Every stored message of the application (of `query.dialog_id` when given), deleted
        for some users or not."""
        require_app_admin(requester)
        if query.dialog_id is not None:
            await self._access.dialog_for(requester, query.dialog_id)  # 404 outside the app
        limit = min(query.limit, self._limits.max_list_limit)
        docs = await self._message_store.page_app(requester.app_id, query.conditions, query.sort,
                                                  query.skip, limit)
        total = await self._message_store.count_app(requester.app_id, query.conditions)
        return AdminPage(docs, total, query.skip, limit)

    async def send(self, requester: Requester, sender_id: int, draft: MessageDraft) -> Message:
        """Sends `draft` as user `sender_id` (their rights, their rate limit): stored, relayed and
        pushed like a message they sent over REST."""
        require_app_admin(requester)
        await self._users.get_entity(requester.app_id, sender_id)
        return await self._messages.send(as_user(requester, sender_id), draft)

    async def edit(self, requester: Requester, message_id: str, body: str,
                   user_id: int | None) -> Message:
        """Edits the message as `user_id` (their own messages only) or, without one, as its
        author with the admin's rights (any message of the application)."""
        require_app_admin(requester)
        return await self._messages.edit(await self._actor(requester, message_id, user_id),
                                         message_id, body)

    async def delete_message(self, requester: Requester, message_id: str,
                             user_id: int | None) -> None:
        """Deletes the message for everyone, as `user_id` (what they may delete) or as the
        admin."""
        require_app_admin(requester)
        actor = await self._actor(requester, message_id, user_id)
        result = await self._messages.delete(actor, [message_id], force=True)
        if result.wrong_permissions:
            raise ForbiddenError("You don't have permission to delete this message")
        if not result.deleted:
            raise NotFoundError("Message not found")

    async def _actor(self, requester: Requester, message_id: str, user_id: int | None) -> Requester:
        if user_id is not None:
            await self._users.get_entity(requester.app_id, user_id)
            return as_user(requester, user_id)
        message = await self._message_store.get(requester.app_id, message_id) \
            if is_object_id(message_id) else None
        if message is None:
            raise NotFoundError("Message not found")
        return admin(requester.app_id, message.sender_id or 0)

    # -- users -----------------------------------------------------------------------------------
    async def list_users(self, requester: Requester, query: UserQuery
                         ) -> tuple[list[User], int, int, int]:
        require_app_admin(requester)
        return await self._users.list(requester, query)

    async def delete_user(self, requester: Requester, user_id: int) -> None:
        """Deletes the user as a user deletes their own account, and ends their sessions."""
        require_app_admin(requester)
        await self._users.delete_self(as_user(requester, user_id), user_id)
        await self._sessions.forget_user(requester.app_id, user_id)
        if self._blocklist is not None:
            await self._blocklist.forget_user(requester.app_id, user_id)
