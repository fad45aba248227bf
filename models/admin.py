"""The admin API in the domain: what its requests say (a dialog change with per-user fields, the
lists of every dialog and message of an application, statistics windows) and what it answers
(dialogs and messages with the admin-only fields). Read by rest/schemas/admin.py; served by
models/services/admin.py and models/services/admin_stats.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.dialogs import Dialog, DialogChanges
from models.queries import Condition, Sort

Doc = dict[str, Any]
NEWEST_FIRST: Sort = (("_id", -1),)  # the documented way to read everything: `_id[lt]` pages


@dataclass(frozen=True)
class AdminDialogChange:
    """`PUT /admin/chat/{dialog_id}`: the Update Dialog changes, plus per-user fields of the user
    `user_id` (`is_muted`: that user's notifications off)."""

    changes: DialogChanges = DialogChanges()
    user_id: int | None = None
    is_muted: bool | None = None


@dataclass(frozen=True)
class AdminListQuery:
    """A page of every dialog (or message) of the application matching `conditions`."""

    conditions: tuple[Condition, ...] = ()
    sort: Sort = NEWEST_FIRST
    skip: int = 0
    limit: int = 100
    dialog_id: str | None = None  # messages: only this dialog's


@dataclass(frozen=True)
class StatsQuery:
    """A statistics window: [start, end) in Unix seconds (None: open), dialog `types` (none: all),
    and for per-day answers a page of days (`offset` days with any skipped, at most `limit`)."""

    start: int | None = None
    end: int | None = None
    types: tuple[int, ...] = ()
    limit: int = 100
    offset: int = 0


@dataclass
class AdminDialog:
    """A dialog with the admin-only fields; `is_muted`: for the user a change named, else None."""

    dialog: Dialog
    silent_ids: list[int] = field(default_factory=list)
    deleted_ids: list[int] = field(default_factory=list)
    is_muted: bool | None = None


@dataclass
class AdminPage:
    items: list[Any]
    total: int
    skip: int
    limit: int
