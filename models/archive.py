"""Message Archive Management (XEP-0313) in the domain: what an archive query asks for
(`ArchiveQuery`) and the page it gets (`ArchivePage`).

A user's own archive is the messages of their private dialogs (`with_user`: the one dialog of
that pair); a room's archive is the messages of one group, public or broadcast dialog, for its
readers. Archive ids are the stored message ids; the archive's order is the order messages were
stored in (`archive_order`, models/storage/SCHEMA.md), so paging by id is an indexed range."""
from __future__ import annotations

from dataclasses import dataclass

from models.messages import Message

MAX_PAGE = 250  # messages per page whatever the client asks (XEP-0313 lets the server cap it)
DEFAULT_PAGE = 50


@dataclass(frozen=True)
class ArchiveQuery:
    """`with_user`: only the private dialog with this user (own archive); `dialog_id`: a room's
    archive instead of the caller's own. `start` / `end`: `date_sent` bounds in Unix seconds,
    inclusive. RSM: `after_id` pages forward, `before_id` backward, `last_page` (an empty
    `<before/>`) asks for the newest page; without any, the oldest page."""

    with_user: int | None = None
    dialog_id: str | None = None
    start: int | None = None
    end: int | None = None
    after_id: str | None = None
    before_id: str | None = None
    last_page: bool = False
    limit: int = DEFAULT_PAGE

    @property
    def backward(self) -> bool:
        return self.before_id is not None or self.last_page


@dataclass(frozen=True)
class ArchiveScope:
    """Which dialogs a query reads and, per dialog, the reader's cleared position (messages with
    `seq` up to it are gone for them)."""

    app_id: int
    viewer: int
    cleared: dict[str, int]  # dialog id -> cleared seq (0: nothing cleared)


@dataclass
class ArchivePage:
    """Oldest first. `complete`: the page holds the last message of the query (forward) or the
    first (backward): XEP-0313's `<fin complete="true">`."""

    items: list[Message]
    complete: bool

    @property
    def first(self) -> str | None:
        return self.items[0].id if self.items else None

    @property
    def last(self) -> str | None:
        return self.items[-1].id if self.items else None
