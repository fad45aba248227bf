"""The block list in the domain: one per user, the users they blocked.

It is what REST's `/blocklist`, XMPP Blocking Command (XEP-0191) and the SDK's privacy lists
(XEP-0016: the default list's `deny` items) read and write. The privacy lists a client keeps that
are not its default list are stored with it, as lists of user ids, so a client that builds a list
first and makes it the default after (what the SDK does) finds it again; only the default list
(the block list) is enforced.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_LIST = "blocklist"  # the name privacy lists give the block list when no client named it

# a relation between two users as one side sees it: "out" (I blocked them), "in" (they blocked
# me), "both"
Direction = str


@dataclass(frozen=True, slots=True)
class Blocklist:
    app_id: int
    user_id: int
    blocked_ids: tuple[int, ...] = ()
    default_list: str | None = None  # the name clients gave the block list (XEP-0016)
    lists: dict[str, tuple[int, ...]] = field(default_factory=dict)  # other privacy lists
    version: int = 0  # 0: nothing stored yet

    @property
    def default_name(self) -> str | None:
        """The name the block list has as a privacy list (None: no default list)."""
        if self.default_list is not None:
            return self.default_list
        return DEFAULT_LIST if self.blocked_ids else None

    def list_named(self, name: str) -> tuple[int, ...] | None:
        if name == self.default_name:
            return self.blocked_ids
        return self.lists.get(name)

    def names(self) -> list[str]:
        named = sorted(self.lists)
        default = self.default_name
        return ([default] if default is not None else []) + [n for n in named if n != default]

    @classmethod
    def from_doc(cls, app_id: int, user_id: int, doc: dict[str, Any] | None) -> "Blocklist":
        if doc is None:
            return cls(app_id=app_id, user_id=user_id)
        return cls(app_id=app_id, user_id=user_id,
                   blocked_ids=tuple(int(u) for u in doc.get("blocked_ids") or ()),
                   default_list=doc.get("default_list"),
                   lists={str(k): tuple(int(u) for u in v)
                          for k, v in (doc.get("lists") or {}).items()},
                   version=int(doc.get("version") or 0))
