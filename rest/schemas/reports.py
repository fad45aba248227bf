"""Reports over REST: requests read into commands (models/reports.py) and the report objects the
reporters and the moderators see (rest/schemas/answers.py: `ReportJson`, `AdminReportJson`)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from models.errors import InvalidError
from models.lax import cast_datetime, cast_int, split_list
from models.reports import (COMMENT_MAX, NOTE_MAX, REASON_MAX, Report, ReportDraft, ReportQuery,
                            ReportReview, ReportType, check_status, check_text, check_type)
from rest.schemas.common import iso
from rest.schemas.filters import page_params

TICK = timedelta(microseconds=1)


def report_draft(params: dict[str, Any]) -> ReportDraft:
    """`{"type": "message" | "user" | "dialog", "id": ..., "reason": ..., "comment": ...}`."""
    if params.get("type") in (None, ""):
        raise InvalidError("can't be blank", field="type")
    kind = check_type(params.get("type"))
    raw = params.get("id")
    if raw is None or raw == "" or isinstance(raw, (dict, list, bool)):
        raise InvalidError("can't be blank", field="id")
    object_id = str(raw).strip()
    if kind == ReportType.USER:
        try:
            object_id = str(cast_int(raw))
        except (TypeError, ValueError):
            raise InvalidError("must be a user id", field="id") from None
    return ReportDraft(type=kind, object_id=object_id,
                       reason=check_text(params.get("reason"), "reason", REASON_MAX, True) or "",
                       comment=check_text(params.get("comment"), "comment", COMMENT_MAX))


def report_query(params: dict[str, Any], max_limit: int) -> ReportQuery:
    """`GET /admin/reports`: `status` and `type` (one or a comma list), `reporter_id`,
    `created_at[gt|gte|lt|lte]` (unix seconds or ISO 8601), `limit`, `skip`."""
    skip, limit = page_params(params, 100, max_limit)
    statuses = tuple(dict.fromkeys(check_status(s) for s in split_list(params.get("status"))
                                   if str(s).strip()))
    types = tuple(dict.fromkeys(check_type(t) for t in split_list(params.get("type"))
                                if str(t).strip()))
    reporter = params.get("reporter_id")
    try:
        reporter_id = None if reporter in (None, "") else cast_int(reporter)
    except (TypeError, ValueError):
        raise InvalidError("must be a user id", field="reporter_id") from None
    created_from = created_before = None
    bounds = params.get("created_at")
    if bounds not in (None, ""):
        if not isinstance(bounds, dict):
            raise InvalidError("use created_at[gt|gte|lt|lte]", field="created_at")
        for op, value in bounds.items():
            try:
                when = cast_datetime(value)
            except (TypeError, ValueError):
                raise InvalidError("must be unix seconds or an ISO 8601 time",
                                   field="created_at") from None
            if op == "gte":
                created_from = when
            elif op == "gt":
                created_from = when + TICK
            elif op == "lt":
                created_before = when
            elif op == "lte":
                created_before = when + TICK
            else:
                raise InvalidError(f"unsupported operator '{op}'", field="created_at")
    return ReportQuery(statuses=statuses, types=types, reporter_id=reporter_id,
                       created_from=created_from, created_before=created_before, skip=skip,
                       limit=limit)


def report_review(params: dict[str, Any]) -> ReportReview:
    """`PUT /admin/reports/{id}`: `status` and / or `note` (null clears it)."""
    if "status" not in params and "note" not in params:
        raise InvalidError("give a status or a note", field="base")
    status = params.get("status")
    return ReportReview(status=None if status in (None, "") else check_status(status),
                        note=check_text(params.get("note"), "note", NOTE_MAX),
                        set_note="note" in params)


def report_id_from_path(value: str) -> int:
    try:
        report_id = cast_int(value)
    except (TypeError, ValueError):
        report_id = 0
    return report_id  # 0 (or less) is found nowhere: 404


def report_to_json(report: Report) -> dict[str, Any]:
    """A report as its reporter sees it."""
    return {"id": report.id, "type": report.type.value, "object_id": report.object_id,
            "reason": report.reason, "comment": report.comment, "status": report.status.value,
            "created_at": iso(report.created_at), "updated_at": iso(report.updated_at)}


def admin_report_to_json(report: Report) -> dict[str, Any]:
    """A report as the moderators see it: who reported, the dialog, what a message said."""
    return {**report_to_json(report), "reporter_id": report.reporter_id,
            "dialog_id": report.dialog_id,
            "snapshot": dict(report.snapshot) if report.snapshot is not None else None,
            "note": report.note, "reviewed_at": iso(report.reviewed_at)}
