"""Bookmarks (XEP-0402, XEP-0048) in the domain: the rooms a user's client joins at login, one per
group or public dialog the user is in. Computed from the dialogs, never stored."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bookmark:
    dialog_id: str
    name: str | None
