"""A user's bookmarks: their group dialogs and the public dialogs they subscribed to, as the
dialog list shows them (dialogs they deleted for themselves are not listed), oldest first, at
most `MAX_BOOKMARKS`. Broadcast dialogs (every user of the app reads them) are not bookmarked."""
from __future__ import annotations

from models.bookmarks import Bookmark
from models.dialogs import DialogQuery
from models.queries import Condition, Op
from models.requester import Requester, require_user
from models.services.access import GROUP, PUBLIC
from models.services.dialogs import DialogService

MAX_BOOKMARKS = 1000
PAGE = 100


class BookmarkService:
    def __init__(self, dialogs: DialogService) -> None:
        self._dialogs = dialogs

    async def list(self, requester: Requester) -> list[Bookmark]:
        require_user(requester)
        out: list[Bookmark] = []
        while len(out) < MAX_BOOKMARKS:
            page = await self._dialogs.list(requester, DialogQuery(
                conditions=(Condition("type", Op.in_, (int(GROUP), int(PUBLIC))),),
                sort=(("_id", 1),), skip=len(out), limit=PAGE))
            out.extend(Bookmark(view.dialog.id, view.dialog.name) for view in page.items)
            if len(page.items) < page.limit or not page.items:
                break
        return out[:MAX_BOOKMARKS]

