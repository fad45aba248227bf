"""The admin API's statistics: messages sent and dialogs created in a window, in total and per
UTC day (ConnectyCube's `/admin/stats/...`). Messages count by `date_sent` (what is stored: a
message deleted for everyone or sent with `save_to_history=0` is not counted), dialogs by
`created_at`; the window is [start, end)."""
from __future__ import annotations

from datetime import datetime, timezone

from config.settings import LimitSettings
from models.admin import StatsQuery
from models.requester import Requester
from models.services.admin import require_app_admin
from models.storage.dialogs import DialogStore
from models.storage.messages import MessageStore


def _moment(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc)


def _day(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d")


class AdminStatsService:
    def __init__(self, dialogs: DialogStore, messages: MessageStore, limits: LimitSettings) -> None:
        self._dialogs = dialogs
        self._messages = messages
        self._limits = limits

    async def messages_sent(self, requester: Requester, query: StatsQuery) -> int:
        require_app_admin(requester)
        return await self._messages.count_sent(requester.app_id, query.start, query.end)

    async def messages_sent_per_day(self, requester: Requester, query: StatsQuery) -> dict[str, int]:
        require_app_admin(requester)
        rows = await self._messages.sent_per_day(requester.app_id, query.start, query.end,
                                                 query.offset, self._limit(query))
        return {_day(day): count for day, count in rows}

    async def dialogs_created(self, requester: Requester, query: StatsQuery) -> int:
        require_app_admin(requester)
        return await self._dialogs.count_created(requester.app_id, _moment(query.start),
                                                 _moment(query.end), query.types)

    async def dialogs_created_per_day(self, requester: Requester,
                                      query: StatsQuery) -> dict[str, int]:
        require_app_admin(requester)
        rows = await self._dialogs.created_per_day(requester.app_id, _moment(query.start),
                                                   _moment(query.end), query.types, query.offset,
                                                   self._limit(query))
        return dict(rows)

    def _limit(self, query: StatsQuery) -> int:
        return min(query.limit, self._limits.max_list_limit)
