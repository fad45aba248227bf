"""Global chat search (`GET /chat/search`): dialogs by name, messages by body and users by login or
full name, always within the caller's own dialogs (case-insensitive substring)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from config.settings import LimitSettings
from models.errors import ForbiddenError, InvalidError
from models.requester import Requester
from models.services.filters import cast_datetime, cast_int, split_list
from models.storage.dialogs import DialogStore
from models.storage.ids import is_object_id
from models.storage.members import MemberStore
from models.storage.messages import MessageStore
from models.storage.users import UserStore
from models.users import User

Doc = dict[str, Any]
MIN_TEXT = 3
MAX_TEXT = 200
MAX_DIALOG_IDS = 10


class DialogViews(Protocol):
    """The dialog service's per-user view (personalised last message, membership, unread count)."""

    async def view(self, requester: Requester, dialog: Doc) -> Any: ...


@dataclass
class SearchResult:
    dialogs: list[Any] = field(default_factory=list)  # DialogView: .dialog, .member, .unread
    messages: list[Doc] = field(default_factory=list)
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

    async def search(self, requester: Requester, params: dict[str, Any]) -> SearchResult:
        if not requester.is_user:
            raise ForbiddenError("A user session is required")
        text = params.get("search_text")
        if isinstance(text, list):
            text = text[0] if text else None
        if not isinstance(text, str) or len(text.strip()) < MIN_TEXT:
            raise InvalidError(f"is too short (minimum is {MIN_TEXT} characters)", field="search_text")
        text = text.strip()
        if len(text) > MAX_TEXT:
            raise InvalidError(f"is too long (maximum is {MAX_TEXT} characters)", field="search_text")
        limit = self._limit(params)
        wanted = [str(d) for d in split_list(params.get("chat_dialog_ids"))]
        if len(wanted) > MAX_DIALOG_IDS:
            raise InvalidError(f"too many ids (maximum is {MAX_DIALOG_IDS})", field="chat_dialog_ids")
        date_query = self._dates(params)

        members = {m["dialog_id"]: m for m in await self._members.for_user(requester.app_id,
                                                                             requester.user_id)}
        if wanted:
            members = {d: m for d, m in members.items() if d in wanted}
        result = SearchResult()
        if not members:
            return result
        pattern = {"$regex": re.escape(text), "$options": "i"}
        dialogs = await self._dialogs.find(requester.app_id, {"_id": {"$in": list(members)}},
                                           [("_id", 1)], 0, len(members))
        named = [d for d in dialogs if re.search(re.escape(text), d.get("name") or "", re.IGNORECASE)]
        named.sort(key=lambda d: d.get("last_message_date_sent") or 0, reverse=True)
        result.dialogs = [await self._dialog_views.view(requester, d) for d in named[:limit]]

        visible = [{"chat_dialog_id": d, "seq": {"$gt": int(m.get("cleared_seq") or 0)}}
                   for d, m in members.items() if is_object_id(d)]
        query: Doc = {"$or": visible, "message": pattern, "deleted_for": {"$ne": requester.user_id}}
        if date_query:
            query["date_sent"] = date_query
        result.messages = await self._messages.find(
            requester.app_id, query, [("date_sent", -1), ("seq", -1), ("_id", -1)], 0, limit)

        peers = sorted({uid for d in dialogs for uid in (d.get("occupants_ids") or [])})
        if peers:
            docs = await self._users.find(requester.app_id, {
                "_id": {"$in": peers}, "$or": [{"login": pattern}, {"full_name": pattern}]},
                [("_id", 1)], 0, limit)
            result.users = [User.model_validate(d) for d in docs]
        return result

    def _limit(self, params: dict[str, Any]) -> int:
        raw = params.get("limit")
        if raw in (None, ""):
            return self._limits.max_list_limit
        try:
            limit = cast_int(raw)
        except (ValueError, TypeError) as exc:
            raise InvalidError("must be an integer", field="limit") from exc
        if limit <= 0:
            raise InvalidError("must be positive", field="limit")
        return min(limit, self._limits.max_list_limit)

    @staticmethod
    def _dates(params: dict[str, Any]) -> Doc:
        """`start_date` is the later bound (lte), `end_date` the earlier one (gte): Unix seconds of
        `date_sent`. ISO strings (with milliseconds, as the SDK sends them) or Unix seconds."""
        query: Doc = {}
        bounds = {}
        for key, op in (("start_date", "$lte"), ("end_date", "$gte")):
            raw = params.get(key)
            if raw in (None, ""):
                continue
            try:
                bounds[key] = int(cast_datetime(raw).timestamp())
            except (ValueError, TypeError, OverflowError) as exc:
                raise InvalidError("must be an ISO 8601 date", field=key) from exc
            query[op] = bounds[key]
        if len(bounds) == 2 and bounds["end_date"] > bounds["start_date"]:
            raise InvalidError("must be earlier than start_date", field="end_date")
        return query
