"""Reports in the domain: a user's report of a message, a user or a dialog (`Report`), what a
new one says (`ReportDraft`), the moderators' list query (`ReportQuery`) and review
(`ReportReview`), and the rules of their fields.

The report store hands out `Report`s (`Report.from_doc`, the layout of models/storage/SCHEMA.md)
and stores new ones (`to_doc`); REST reads requests into these commands (rest/schemas/reports.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Mapping

from models.errors import InvalidError

REASON_MAX = 200
COMMENT_MAX = 2000
NOTE_MAX = 2000


class ReportType(str, Enum):
    MESSAGE = "message"
    USER = "user"
    DIALOG = "dialog"


class ReportStatus(str, Enum):
    OPEN = "open"  # waiting for a moderator; one per reporter and object
    RESOLVED = "resolved"  # acted upon
    DISMISSED = "dismissed"  # nothing to do


@dataclass(frozen=True, slots=True)
class Report:
    """A stored report (a document of `reports`). `snapshot`: what a reported message said when
    it was reported (sender, text, date, attachments), kept for the moderators even if the
    message is edited or deleted afterwards."""

    id: int
    app_id: int
    reporter_id: int
    type: ReportType
    object_id: str  # the message or dialog id, or the user id as a string
    reason: str
    comment: str | None = None
    status: ReportStatus = ReportStatus.OPEN
    dialog_id: str | None = None  # the reported message's dialog, or the reported dialog
    snapshot: Mapping[str, Any] | None = None
    note: str | None = None  # the moderator's
    reviewed_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def open_key(self) -> str:
        """What one reporter has at most one open report of: the object."""
        return f"{self.type.value}:{self.object_id}"

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Report:
        get = doc.get
        return cls(int(doc["_id"]), get("app_id"), get("reporter_id"), ReportType(get("type")),
                   str(get("object_id")), get("reason") or "", get("comment"),
                   ReportStatus(get("status") or ReportStatus.OPEN.value), get("dialog_id"),
                   get("snapshot"), get("note"), get("reviewed_at"), get("created_at"),
                   get("updated_at"))

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "_id": self.id, "app_id": self.app_id, "reporter_id": self.reporter_id,
            "type": self.type.value, "object_id": self.object_id, "reason": self.reason,
            "comment": self.comment, "status": self.status.value, "dialog_id": self.dialog_id,
            "snapshot": dict(self.snapshot) if self.snapshot is not None else None,
            "note": self.note, "reviewed_at": self.reviewed_at, "created_at": self.created_at,
            "updated_at": self.updated_at}
        if self.status == ReportStatus.OPEN:
            doc["open_key"] = self.open_key
        return doc


@dataclass(frozen=True)
class ReportDraft:
    """A report to file: what (`type`, `object_id`) and why."""

    type: ReportType
    object_id: str
    reason: str
    comment: str | None = None


@dataclass(frozen=True)
class ReportQuery:
    """The moderators' list: filters (none: all), newest first."""

    statuses: tuple[ReportStatus, ...] = ()
    types: tuple[ReportType, ...] = ()
    reporter_id: int | None = None
    created_from: datetime | None = None  # inclusive
    created_before: datetime | None = None  # exclusive
    skip: int = 0
    limit: int = 100


@dataclass(frozen=True)
class ReportReview:
    """A moderator's change: the new status and / or note (`set_note`: the note was given; None
    clears it)."""

    status: ReportStatus | None = None
    note: str | None = None
    set_note: bool = False


@dataclass(frozen=True)
class ReportPage:
    items: list[Report]
    total: int
    skip: int
    limit: int


# -- the rules of report fields ---------------------------------------------------------------------
def check_type(value: Any) -> ReportType:
    try:
        return ReportType(str(value).strip().lower())
    except ValueError:
        raise InvalidError("must be message, user or dialog", field="type") from None


def check_status(value: Any) -> ReportStatus:
    try:
        return ReportStatus(str(value).strip().lower())
    except ValueError:
        raise InvalidError("must be open, resolved or dismissed", field="status") from None


def check_text(value: Any, field: str, limit: int, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidError("can't be blank", field=field)
        return None
    if isinstance(value, (dict, list, bool)):
        raise InvalidError("must be a string", field=field)
    text = str(value).strip()
    if len(text) > limit:
        raise InvalidError(f"is too long (maximum is {limit} characters)", field=field)
    return text
