"""Global chat search (`GET /chat/search`): dialogs by name, messages by body and users by login or
full name, always within the caller's own dialogs (case-insensitive substring)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from config.settings import LimitSettings
from models.dialogs import Dialog, DialogView
from models.messages import Message
from models.requester import Requester, require_user
from models.storage.dialogs import DialogStore
from models.storage.ids import is_object_id
from models.storage.members import MemberStore
from models.storage.messages import MessageStore
from models.storage.users import UserStore
from models.users import User

@dataclass(frozen=True)
class SearchQuery:
    """What to look for (validated by the transport: `MIN_TEXT`..`MAX_TEXT` characters), in which
    of the caller's dialogs (none: all), and `date_sent` bounds (Unix seconds, inclusive)."""

    text: str
    dialog_ids: tuple[str, ...] = ()
    limit: int | None = None  # None: the list limit
    earliest: int | None = None
    latest: int | None = None


MIN_TEXT = 3
MAX_TEXT = 200
MAX_DIALOG_IDS = 10


class DialogViews(Protocol):
    """The dialog service's per-user view (personalised last message, membership, unread count)."""

    async def view(self, requester: Requester, dialog: Dialog) -> DialogView: ...


@dataclass
class SearchResult:
    dialogs: list[DialogView] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    users: list[User] = field(default_factory=list)


class SearchService:
    def __init__(self, messages: MessageStore, dialogs: DialogStore, members: MemberStore,
                 users: UserStore, dialog_views: DialogViews, limits: LimitSettings) -> None:
        self._messages = messages
        self._dialogs = dialogs
        self._members = members
        self._users = users
        self._dialog_views = dialog_views
        self._limits = limits

    async def search(self, requester: Requester, query: SearchQuery) -> SearchResult:
        require_user(requester)
        text = query.text
        limit = min(query.limit or self._limits.max_list_limit, self._limits.max_list_limit)
        members = {m["dialog_id"]: m for m in await self._members.for_user(requester.app_id,
                                                                             requester.user_id)}
        if query.dialog_ids:
            members = {d: m for d, m in members.items() if d in query.dialog_ids}
        result = SearchResult()
        if not members:
            return result
        dialogs = sorted(await self._dialogs.get_many(requester.app_id, list(members)),
                         key=lambda d: d.id)
        named = [d for d in dialogs if re.search(re.escape(text), d.name or "", re.IGNORECASE)]
        named.sort(key=lambda d: d.last_message_date_sent or 0, reverse=True)
        result.dialogs = [await self._dialog_views.view(requester, d) for d in named[:limit]]

        positions = {d: int(m.get("cleared_seq") or 0) for d, m in members.items() if is_object_id(d)}
        result.messages = await self._messages.search(requester.app_id, positions, text,
                                                      requester.user_id,
                                                      (query.earliest, query.latest), limit)
        peers = sorted({uid for d in dialogs for uid in d.occupants_ids})
        if peers:
            docs = await self._users.search_among(requester.app_id, peers, text, limit)
            result.users = [User.model_validate(d) for d in docs]
        return result
