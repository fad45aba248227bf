"""Reports and moderation: users report a message, a user or a dialog (`POST /reports`) and see
their own reports (`GET /reports`); the application's moderators list and review every report
through the admin API (`GET /admin/reports`, `PUT /admin/reports/{id}`, docs/admin-api.md).

Rules:
- the reporter must be able to see what they report: a message they read (`AccessService.
  visible_messages`: not deleted or cleared for them, in a dialog they read), a user of their
  application, a dialog they read or may preview (public, or with `allow_preview`). Anything
  else, another application's ids included, is "not found", as if it did not exist (no probing);
- one open report per reporter and object: a second answers 422 until a moderator closes the
  first (resolved or dismissed), after which the object can be reported again;
- nobody reports themselves or their own message (422);
- every attempt counts towards `CHAT_RATE_LIMITS__REPORTS_PER_USER` (429 + Retry-After), the
  refused ones included, so probing ids is slow;
- a reported message's sender, text, date and attachments are kept with the report
  (`snapshot`), for the moderators, even if the message is edited or deleted later;
- reporters see their reports without the moderators' note; only the application's admin (the
  admin API key) lists or reviews every report of its application.
"""
from __future__ import annotations

import logging

from models.clock import Clock
from models.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from models.lax import cast_int
from models.reports import (Report, ReportDraft, ReportPage, ReportQuery, ReportReview,
                            ReportStatus, ReportType)
from models.requester import Requester, require_user
from models.services.access import AccessService
from models.services.rate_limits import RateLimitService
from models.services.users import UserService
from models.storage.counters import CounterStore
from models.storage.ids import is_object_id
from models.storage.reports import ALREADY_OPEN, ReportStore

logger = logging.getLogger(__name__)


class ReportService:
    def __init__(self, reports: ReportStore, counters: CounterStore, access: AccessService,
                 users: UserService, rate_limits: RateLimitService, clock: Clock,
                 max_list_limit: int = 100) -> None:
        self._reports = reports
        self._counters = counters
        self._access = access
        self._users = users
        self._rate_limits = rate_limits
        self._clock = clock
        self._max_limit = max_list_limit

    # -- reporters ---------------------------------------------------------------------------------
    async def file(self, requester: Requester, draft: ReportDraft) -> Report:
        require_user(requester)
        self._rate_limits.report_filed(requester.app_id, requester.user_id)
        dialog_id, snapshot = await self._seen(requester, draft)
        open_key = f"{draft.type.value}:{draft.object_id}"
        if await self._reports.find_open(requester.app_id, requester.user_id, open_key):
            raise ConflictError(ALREADY_OPEN)
        now = self._clock.now()
        report = Report(
            id=await self._counters.next("reports"), app_id=requester.app_id,
            reporter_id=requester.user_id, type=draft.type, object_id=draft.object_id,
            reason=draft.reason, comment=draft.comment, dialog_id=dialog_id, snapshot=snapshot,
            created_at=now, updated_at=now)
        await self._reports.insert(report)
        logger.info("report %s: %s %s reported by user %s", report.id, draft.type.value,
                    draft.object_id, requester.user_id)
        return report

    async def mine(self, requester: Requester, skip: int, limit: int) -> ReportPage:
        """The caller's own reports, newest first."""
        require_user(requester)
        limit = min(max(limit, 0), self._max_limit)
        skip = max(skip, 0)
        items = await self._reports.page_of_reporter(requester.app_id, requester.user_id, skip,
                                                     limit)
        total = await self._reports.count_of_reporter(requester.app_id, requester.user_id)
        return ReportPage(items, total, skip, limit)

    # -- moderators (the application's admin) ------------------------------------------------------
    async def list(self, requester: Requester, query: ReportQuery) -> ReportPage:
        _require_moderator(requester)
        limit = min(max(query.limit, 0), self._max_limit)
        query = ReportQuery(query.statuses, query.types, query.reporter_id, query.created_from,
                            query.created_before, max(query.skip, 0), limit)
        items = await self._reports.page_app(requester.app_id, query)
        total = await self._reports.count_app(requester.app_id, query)
        return ReportPage(items, total, query.skip, limit)

    async def review(self, requester: Requester, report_id: int, review: ReportReview) -> Report:
        _require_moderator(requester)
        report = await self._reports.get(requester.app_id, report_id)
        if report is None:
            raise NotFoundError("Report not found")
        status = review.status or report.status
        note = review.note if review.set_note else report.note
        if status == ReportStatus.OPEN and report.status != ReportStatus.OPEN and \
                await self._reports.find_open(requester.app_id, report.reporter_id,
                                              report.open_key, except_id=report.id):
            raise ConflictError("The reporter has another open report of this")
        updated = await self._reports.review(requester.app_id, report, status, note,
                                             self._clock.now())
        if updated is None:
            raise NotFoundError("Report not found")
        logger.info("report %s reviewed: %s", report_id, status.value)
        return updated

    # -- helpers -----------------------------------------------------------------------------------
    async def _seen(self, requester: Requester, draft: ReportDraft
                    ) -> tuple[str | None, dict | None]:
        """(dialog id, snapshot) of the reported object, if the reporter sees it."""
        if draft.type == ReportType.MESSAGE:
            if not is_object_id(draft.object_id):
                raise NotFoundError("Message not found")
            found = await self._access.visible_messages(requester, [draft.object_id], None)
            if not found:
                raise NotFoundError("Message not found")
            message = found[0][1][0]
            if message.sender_id == requester.user_id:
                raise InvalidError("can't report your own message", field="id")
            return message.dialog_id, {
                "sender_id": message.sender_id, "message": message.body,
                "date_sent": message.date_sent,
                "attachments": [dict(a) for a in message.attachments or ()]}
        if draft.type == ReportType.USER:
            try:
                user_id = cast_int(draft.object_id)
            except (TypeError, ValueError):
                raise NotFoundError("User not found") from None
            if user_id == requester.user_id:
                raise InvalidError("can't report yourself", field="id")
            users = await self._users.get_many(requester.app_id, [user_id]) if user_id > 0 else []
            if not users:
                raise NotFoundError("User not found")
            return None, {"login": users[0].login, "full_name": users[0].full_name}
        try:
            access = await self._access.dialog_for(requester, draft.object_id, preview=True)
        except ForbiddenError:  # a public dialog: every user of the app may see it
            raise NotFoundError("Dialog not found") from None
        return access.dialog_id, {"type": int(access.type), "name": access.dialog.name,
                                  "user_id": access.dialog.user_id}


def _require_moderator(requester: Requester) -> None:
    if not requester.is_admin:
        raise ForbiddenError("Only the application's admin reviews reports")
