"""Conversation events (issue 15 §3): what a change to a dialog's members or profile tells its
members. Each change becomes one or more `Notice`s; the dialog event that describes the change
carries them (`Notice.to_payload`, the `notices` of `dialog_updated` / `dialog_deleted`), the
bridge relay sends each as a system message (a headline, docs/xmpp.md "Conversation events"),
and, when the deployment turns it on (`CHAT_DIALOGS__SERVICE_MESSAGES`), each also becomes a
stored service message in the dialog's history with the same id.

Pure values and rules only; the services build and publish them (models/services/conversation.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Mapping


class NoticeType(StrEnum):
    """`notification_type` of a conversation event (the values apps switch on)."""

    OCCUPANTS_ADDED = "occupants_added"
    OCCUPANTS_REMOVED = "occupants_removed"
    OCCUPANT_LEFT = "occupant_left"
    NAME_CHANGED = "name_changed"
    PHOTO_CHANGED = "photo_changed"
    DESCRIPTION_CHANGED = "description_changed"
    ADMINS_ADDED = "admins_added"
    ADMINS_REMOVED = "admins_removed"
    DIALOG_DELETED = "dialog_deleted"


# the profile fields whose change is told, and the notice each one makes
PROFILE_NOTICES = {"name": NoticeType.NAME_CHANGED, "photo": NoticeType.PHOTO_CHANGED,
                   "description": NoticeType.DESCRIPTION_CHANGED}
# notices the users they name receive although they are no longer members (their own removal)
TOLD_TO_THE_REMOVED = frozenset({NoticeType.OCCUPANTS_REMOVED, NoticeType.OCCUPANT_LEFT})


@dataclass(frozen=True)
class Notice:
    """One thing that happened to a dialog: its type, the users it names (added, removed, who
    left, new or former admins) and, for a profile change, the new value (None: removed)."""

    type: NoticeType
    user_ids: tuple[int, ...] = ()
    value: str | None = None

    @property
    def field(self) -> str | None:
        """The profile field a `*_changed` notice is about."""
        for name, kind in PROFILE_NOTICES.items():
            if kind == self.type:
                return name
        return None

    def extension(self, actor_id: int) -> dict[str, str]:
        """The notice's keys as a system message's `extraParams` and a service message's custom
        parameters carry them: strings, as everything in extraParams arrives (the SDK's
        rules); `user_ids` comma-separated; a removed profile value is absent."""
        out = {"notification_type": self.type.value, "actor_id": str(int(actor_id))}
        if self.user_ids:
            out["user_ids"] = ",".join(str(int(u)) for u in self.user_ids)
        if self.field is not None and self.value is not None:
            out[self.field] = self.value
        return out

    def text(self, names: Mapping[int, str], actor_id: int) -> str:
        """A readable line for the message body (English; apps render their own from the keys)."""
        actor = names.get(actor_id) or ("An administrator" if not actor_id else f"User {actor_id}")
        others = _join([names.get(u) or f"User {u}" for u in self.user_ids])
        kind = self.type
        if kind == NoticeType.OCCUPANTS_ADDED:
            return f"{actor} added {others}"
        if kind == NoticeType.OCCUPANTS_REMOVED:
            return f"{actor} removed {others}"
        if kind == NoticeType.OCCUPANT_LEFT:
            return f"{actor} left"
        if kind == NoticeType.ADMINS_ADDED:
            return f"{actor} made {others} {'an admin' if len(self.user_ids) == 1 else 'admins'}"
        if kind == NoticeType.ADMINS_REMOVED:
            return f"{actor} removed {others} from the admins"
        if kind == NoticeType.DIALOG_DELETED:
            return f"{actor} deleted the dialog"
        if kind == NoticeType.NAME_CHANGED:
            return f"{actor} renamed the dialog to \u201c{self.value}\u201d"
        what = self.field or "dialog"
        return f"{actor} {'changed' if self.value is not None else 'removed'} the {what}"


def update_notices(sets: Mapping[str, Any], added: list[int], removed: list[int],
                   admins_added: list[int], admins_removed: list[int], actor_id: int,
                   before: Mapping[str, Any]) -> list[Notice]:
    """The notices of one dialog update, in a fixed order: members, then admins, then the
    profile. A user removing only themselves left; a profile field set to what it was tells
    nothing; admins removed because they were removed as occupants are told by that removal."""
    notices: list[Notice] = []
    if added:
        notices.append(Notice(NoticeType.OCCUPANTS_ADDED, tuple(added)))
    if removed == [actor_id]:
        notices.append(Notice(NoticeType.OCCUPANT_LEFT, (actor_id,)))
    elif removed:
        notices.append(Notice(NoticeType.OCCUPANTS_REMOVED, tuple(removed)))
    if admins_added:
        notices.append(Notice(NoticeType.ADMINS_ADDED, tuple(admins_added)))
    demoted = [u for u in admins_removed if u not in removed]
    if demoted:
        notices.append(Notice(NoticeType.ADMINS_REMOVED, tuple(demoted)))
    for field, kind in PROFILE_NOTICES.items():
        if field in sets and sets[field] != before.get(field):
            notices.append(Notice(kind, value=sets[field]))
    return notices


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
