"""Contacts: one list per user, which is also their XMPP roster (RFC 6121).

A `Contact` is one user's entry for another user of the same application (documents of
`contacts`, models/storage/SCHEMA.md): whether it is in their list (`in_roster`, a roster item),
the presence subscription between them (`subscription`: none / to / from / both, RFC 6121 §2.1.2,
from the owner's side), a request the owner sent and the contact has not answered (`ask`,
"pending out"), a request the contact sent and the owner has not answered (`pending_in`), a
pre-approval (`approved`, RFC 6121 §3.4), and the owner's own display overrides (`name`,
`avatar`, the roster `groups`).

`RosterEffects` is what one change does outside the store: the roster items that changed (with the
owner's new roster version, XEP-0237), the subscription presences to deliver, and whose current
presence one user now sees (`share`) or stops seeing (`hide`). The services return it, the outbox
event `contacts_changed` carries it, and the bridge applies it in Prosody
(bridge/plugins/roster.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any

from models.users import User


class Subscription(str, Enum):
    none = "none"
    to = "to"  # the owner sees the contact's presence
    from_ = "from"  # the contact sees the owner's presence
    both = "both"

    def with_to(self, on: bool) -> "Subscription":
        return _combine(on, self.has_from)

    def with_from(self, on: bool) -> "Subscription":
        return _combine(self.has_to, on)

    @property
    def has_to(self) -> bool:
        return self in (Subscription.to, Subscription.both)

    @property
    def has_from(self) -> bool:
        return self in (Subscription.from_, Subscription.both)


def _combine(to: bool, from_: bool) -> Subscription:
    if to and from_:
        return Subscription.both
    return Subscription.to if to else Subscription.from_ if from_ else Subscription.none


class PresenceRequest(str, Enum):
    """The subscription presence types (RFC 6121 §3): what a user sends about another."""
    subscribe = "subscribe"
    subscribed = "subscribed"
    unsubscribe = "unsubscribe"
    unsubscribed = "unsubscribed"


@dataclass(frozen=True, slots=True)
class Contact:
    user_id: int  # the owner of the list
    contact_id: int
    app_id: int
    in_roster: bool = False
    subscription: Subscription = Subscription.none
    ask: bool = False
    pending_in: bool = False
    approved: bool = False
    name: str | None = None
    avatar: str | None = None
    groups: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def kept(self) -> bool:
        """Anything left worth a document (else the document is deleted)."""
        return self.in_roster or self.pending_in or self.approved

    def changed(self, **fields: Any) -> "Contact":
        return replace(self, **fields)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Contact":
        return cls(user_id=int(doc["user_id"]), contact_id=int(doc["contact_id"]),
                   app_id=int(doc["app_id"]), in_roster=bool(doc.get("in_roster")),
                   subscription=Subscription(doc.get("subscription") or "none"),
                   ask=bool(doc.get("ask")), pending_in=bool(doc.get("pending_in")),
                   approved=bool(doc.get("approved")), name=doc.get("name"),
                   avatar=doc.get("avatar"), groups=tuple(doc.get("groups") or ()),
                   created_at=doc.get("created_at"), updated_at=doc.get("updated_at"))

    def to_fields(self) -> dict[str, Any]:
        """The stored fields but the keys (`_id`, `app_id`, `user_id`, `contact_id`, `created_at`)."""
        return {"in_roster": self.in_roster, "subscription": self.subscription.value,
                "ask": self.ask, "pending_in": self.pending_in, "approved": self.approved,
                "name": self.name, "avatar": self.avatar, "groups": list(self.groups)}


@dataclass(frozen=True, slots=True)
class ContactView:
    """A contact as its owner sees it: the entry, the contact's profile, and their presence
    (`online` / `last_seen` only when the owner is subscribed to it: `to` or `both`)."""
    contact: Contact
    user: User
    online: bool | None
    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class ContactList:
    items: list[ContactView]  # the list (the roster)
    requests: list[ContactView]  # users asking to see the owner's presence, not in the list


@dataclass(frozen=True, slots=True)
class AddResult:
    added: list[ContactView]
    not_found: list[int]


@dataclass(frozen=True, slots=True)
class ContactChanges:
    """PUT /contacts/{id}: only the fields given change; `None` clears (an empty string too)."""
    fields: frozenset[str]
    display_name: str | None = None
    avatar: str | None = None


@dataclass(frozen=True, slots=True)
class Roster:
    """A user's roster as Prosody loads it: version, items, pending-in requests."""
    version: int
    items: list[Contact]
    pending: list[int]  # users with a pending-in request (subscribe not answered yet)


@dataclass
class RosterEffects:
    """What a change does outside the store (see the module doc). User ids of one application."""
    app_id: int
    pushes: list[tuple[Contact | None, int, int, int]] = field(default_factory=list)
    # (the entry after the change, or None when gone; owner, contact, owner's new version)
    presences: list[tuple[int, int, PresenceRequest]] = field(default_factory=list)  # from, to, type
    share: list[tuple[int, int]] = field(default_factory=list)  # (a, b): a's presence to b
    hide: list[tuple[int, int]] = field(default_factory=list)  # (a, b): a's unavailable to b

    def __bool__(self) -> bool:
        return bool(self.pushes or self.presences or self.share or self.hide)

    def users(self) -> list[int]:
        out: set[int] = set()
        for _, owner, contact, _ in self.pushes:
            out |= {owner, contact}
        for a, b, _ in self.presences:
            out |= {a, b}
        for a, b in self.share + self.hide:
            out |= {a, b}
        return sorted(out)

    def to_payload(self) -> dict[str, Any]:
        return {
            "pushes": [{"owner": owner, "contact": contact, "ver": ver,
                        "item": None if entry is None else {
                            "in_roster": entry.in_roster, "subscription": entry.subscription.value,
                            "ask": entry.ask, "pending_in": entry.pending_in,
                            "name": entry.name, "groups": list(entry.groups)}}
                       for entry, owner, contact, ver in self.pushes],
            "presences": [[a, b, kind.value] for a, b, kind in self.presences],
            "share": [list(pair) for pair in self.share],
            "hide": [list(pair) for pair in self.hide],
        }

    @classmethod
    def from_payload(cls, app_id: int, payload: dict[str, Any]) -> "RosterEffects":
        pushes: list[tuple[Contact | None, int, int, int]] = []
        for push in payload.get("pushes") or ():
            owner, contact, item = int(push["owner"]), int(push["contact"]), push.get("item")
            entry = None if item is None else Contact(
                user_id=owner, contact_id=contact, app_id=app_id,
                in_roster=bool(item.get("in_roster")),
                subscription=Subscription(item.get("subscription") or "none"),
                ask=bool(item.get("ask")), pending_in=bool(item.get("pending_in")),
                name=item.get("name"), groups=tuple(item.get("groups") or ()))
            pushes.append((entry, owner, contact, int(push["ver"])))
        return cls(app_id=app_id, pushes=pushes,
                   presences=[(int(a), int(b), PresenceRequest(k))
                              for a, b, k in payload.get("presences") or ()],
                   share=[(int(a), int(b)) for a, b in payload.get("share") or ()],
                   hide=[(int(a), int(b)) for a, b in payload.get("hide") or ()])
