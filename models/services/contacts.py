"""Contacts: one list per user, which is also their XMPP roster; presence subscriptions as RFC
6121 defines them (models/contacts.py).

REST (`/contacts`) and XMPP (roster sets and subscription presences, bridge/plugins/roster.py)
call the same methods. Every change is written to both users' entries, bumps the roster version
of each owner whose entry changed, and returns the `RosterEffects`; it is published as one
`contacts_changed` event (with the caller's origin), from which the bridge relay applies it in
Prosody, whatever the origin.

The subscription rules (RFC 6121 §3, the server's side, both users local):
- `subscribe` U→C: U's entry asks (`ask`, created in U's list when missing); if C already lets U
  see them (`from`/`both`) or pre-approved U, U gets `to` at once (`subscribed` C→U and C's
  presence); else C's entry gets `pending_in` and the request goes to C's online resources
  (offline: at C's next login, from the pending list). C unknown or another application's:
  `unsubscribed` C→U.
- `subscribed` U→C: approves C's pending request (U's entry gains `from`, put in U's list; C's
  gains `to`; U's presence goes to C); without one it is a pre-approval (§3.4).
- `unsubscribe` U→C: U stops seeing C (U loses `to`, C loses `from`; C's resources look
  unavailable to U). `unsubscribed` U→C: C stops seeing U, or a request is declined.
- Removing C from U's list does both (`unsubscribe` and `unsubscribed`, as far as they apply)
  and deletes U's entry; C keeps theirs.
REST's add (`POST /contacts`) = put in the list, approve C's pending request if there is one, and
ask to see C's presence unless U already does: what a messenger's "add contact" does.

Changes of one pair run one at a time in this process (`_locks`); two processes on one MongoDB
changing the same pair at the same moment can interleave (known limit, docs/xmpp.md).
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime, timezone

from config.settings import LimitSettings
from models.clock import Clock
from models.contacts import (AddResult, Contact, ContactChanges, ContactList, ContactView,
                             PresenceRequest, Roster, RosterEffects, Subscription)
from models.errors import BadRequestError, InvalidError, NotFoundError
from models.events import Event, EventPublisher, Origin
from models.requester import Requester, require_user
from models.services.presence import PresenceRegistry
from models.services.users import UserService
from models.storage.contacts import ContactStore, RosterVersionStore

logger = logging.getLogger(__name__)

MAX_NAME = 255
MAX_AVATAR = 1024
MAX_GROUPS = 20


class _Change:
    """The entries of one pair while a change runs, and what it does."""

    def __init__(self, app_id: int) -> None:
        self.effects = RosterEffects(app_id=app_id)
        self.before: dict[tuple[int, int], Contact | None] = {}
        self.after: dict[tuple[int, int], Contact] = {}


class ContactService:
    def __init__(self, contacts: ContactStore, versions: RosterVersionStore, users: UserService,
                 presence: PresenceRegistry, clock: Clock, publisher: EventPublisher,
                 limits: LimitSettings) -> None:
        self._contacts = contacts
        self._versions = versions
        self._users = users
        self._presence = presence
        self._clock = clock
        self._publisher = publisher
        self._limits = limits
        self._locks: defaultdict[tuple[int, int, int], asyncio.Lock] = defaultdict(asyncio.Lock)

    # -- reading ------------------------------------------------------------------------------------
    async def list(self, requester: Requester) -> ContactList:
        require_user(requester)
        app_id, me = requester.app_id, requester.user_id
        limit = self._limits.max_contacts
        entries = await self._contacts.in_list(app_id, me, limit)
        asking = await self._contacts.requests(app_id, me, limit)
        users = {u.id: u for u in await self._users.get_many(
            app_id, [e.contact_id for e in entries + asking])}
        # an account deleted since is left out (forget_user takes it out of the lists)
        return ContactList(
            items=[self._view(e, users[e.contact_id]) for e in entries if e.contact_id in users],
            requests=[self._view(e, users[e.contact_id]) for e in asking if e.contact_id in users])

    async def roster(self, requester: Requester) -> Roster:
        """The roster Prosody loads for the user (their list and pending-in requests)."""
        require_user(requester)
        app_id, me = requester.app_id, requester.user_id
        version = await self._versions.current(app_id, me)
        limit = self._limits.max_contacts
        entries = await self._contacts.in_list(app_id, me, limit)
        asking = await self._contacts.requests(app_id, me, limit)
        alive = {u.id for u in await self._users.get_many(
            app_id, [e.contact_id for e in entries + asking])}
        return Roster(version=version, items=[e for e in entries if e.contact_id in alive],
                      pending=[e.contact_id for e in entries + asking
                               if e.pending_in and e.contact_id in alive])

    async def forget_user(self, app_id: int, user_id: int) -> RosterEffects:
        """A deleted account: out of every list naming it (their owners' rosters are pushed),
        and its own list is gone."""
        effects = RosterEffects(app_id=app_id)
        while True:
            naming = await self._contacts.naming(app_id, user_id, 500)
            if not naming:
                break
            for entry in naming:
                async with self._pair(app_id, entry.user_id, user_id):
                    change = _Change(app_id)
                    change.before[(entry.user_id, user_id)] = entry
                    self._set(change, entry.changed(in_roster=False, pending_in=False,
                                                    approved=False))
                    effects.pushes.extend((await self._commit(change, None, publish=False)).pushes)
        await self._contacts.delete_user(app_id, user_id)
        if effects:
            await self._publish(effects, None)
        return effects

    def _view(self, entry: Contact, user) -> ContactView:
        if not entry.subscription.has_to:
            return ContactView(entry, user, None, None)
        key = (entry.app_id, entry.contact_id)
        seen = self._presence.last_seen(key)
        last = datetime.fromtimestamp(seen, timezone.utc) if seen else user.last_request_at
        return ContactView(entry, user, self._presence.is_online(*key), last)

    async def _one_view(self, requester: Requester, contact_id: int) -> ContactView:
        entry = await self._contacts.get(requester.app_id, requester.user_id, contact_id)
        if entry is None or not entry.in_roster:
            raise NotFoundError("Contact not found")
        user = await self._users.get_entity(requester.app_id, contact_id)
        return self._view(entry, user)

    # -- REST ---------------------------------------------------------------------------------------
    async def add(self, requester: Requester, user_ids: list[int]) -> AddResult:
        require_user(requester)
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            raise BadRequestError("user_ids is required", field="user_ids")
        if len(ids) > self._limits.max_contact_ids_per_request:
            raise BadRequestError(
                f"At most {self._limits.max_contact_ids_per_request} user_ids per request",
                field="user_ids")
        app_id, me = requester.app_id, requester.user_id
        known = {u.id for u in await self._users.get_many(app_id, [i for i in ids if i != me])}
        not_found = [i for i in ids if i not in known]
        wanted = [i for i in ids if i in known]
        new = [i for i in wanted
               if not ((e := await self._contacts.get(app_id, me, i)) and e.in_roster)]
        if new and await self._contacts.count_in_roster(app_id, me) + len(new) > \
                self._limits.max_contacts:
            raise InvalidError(f"At most {self._limits.max_contacts} contacts", field="user_ids")
        added: list[ContactView] = []
        for contact_id in wanted:
            async with self._pair(app_id, me, contact_id):
                change = _Change(app_id)
                await self._put_in_list(change, app_id, me, contact_id, None, None)
                mine = await self._entry(change, app_id, me, contact_id)
                if mine.pending_in:
                    await self._subscribed(change, app_id, me, contact_id)
                mine = await self._entry(change, app_id, me, contact_id)
                if not mine.subscription.has_to and not mine.ask:
                    await self._subscribe(change, app_id, me, contact_id)
                await self._commit(change, None)
            added.append(await self._one_view(requester, contact_id))
        return AddResult(added=added, not_found=not_found)

    async def update(self, requester: Requester, contact_id: int, changes: ContactChanges) -> ContactView:
        require_user(requester)
        app_id, me = requester.app_id, requester.user_id
        fields: dict[str, str | None] = {}
        if "display_name" in changes.fields:
            fields["name"] = _text(changes.display_name, MAX_NAME, "display_name")
        if "avatar" in changes.fields:
            fields["avatar"] = _text(changes.avatar, MAX_AVATAR, "avatar")
        async with self._pair(app_id, me, contact_id):
            change = _Change(app_id)
            entry = await self._entry(change, app_id, me, contact_id)
            if not entry.in_roster:
                raise NotFoundError("Contact not found")
            self._set(change, entry.changed(**fields))
            await self._commit(change, None)
        return await self._one_view(requester, contact_id)

    async def remove(self, requester: Requester, contact_id: int, origin: Origin | None = None) -> RosterEffects:
        """Out of the list, both subscriptions cancelled; an unanswered request from a user who is
        not in the list is declined. Neither: not found."""
        require_user(requester)
        app_id, me = requester.app_id, requester.user_id
        async with self._pair(app_id, me, contact_id):
            change = _Change(app_id)
            entry = await self._entry(change, app_id, me, contact_id)
            if not entry.in_roster and not entry.pending_in and not entry.approved:
                raise NotFoundError("Contact not found")
            if entry.subscription.has_to or entry.ask:
                await self._unsubscribe(change, app_id, me, contact_id)
            entry = await self._entry(change, app_id, me, contact_id)
            if entry.subscription.has_from or entry.pending_in:
                await self._unsubscribed(change, app_id, me, contact_id)
            entry = await self._entry(change, app_id, me, contact_id)
            self._set(change, entry.changed(in_roster=False, approved=False, ask=False,
                                            subscription=Subscription.none, name=None,
                                            avatar=None, groups=()))
            return await self._commit(change, origin)

    # -- XMPP ---------------------------------------------------------------------------------------
    async def roster_set(self, requester: Requester, contact_id: int, name: str | None,
                         groups: tuple[str, ...], origin: Origin | None = None) -> RosterEffects:
        """A roster set (RFC 6121 §2.3): the item in the list with this name and groups."""
        require_user(requester)
        app_id, me = requester.app_id, requester.user_id
        await self._require_other_user(app_id, me, contact_id)
        groups = tuple(dict.fromkeys(g for g in (_text(g, MAX_NAME, "group") for g in groups) if g))
        if len(groups) > MAX_GROUPS:
            raise InvalidError(f"At most {MAX_GROUPS} groups", field="group")
        async with self._pair(app_id, me, contact_id):
            change = _Change(app_id)
            await self._put_in_list(change, app_id, me, contact_id, _text(name, MAX_NAME, "name"),
                                    groups, keep_name=False)
            return await self._commit(change, origin)

    async def presence(self, requester: Requester, contact_id: int, kind: PresenceRequest,
                       origin: Origin | None = None) -> RosterEffects:
        """A subscription presence the user sent to `contact_id` (RFC 6121 §3)."""
        require_user(requester)
        app_id, me = requester.app_id, requester.user_id
        if contact_id == me:
            return RosterEffects(app_id=app_id)
        change = _Change(app_id)
        if not (await self._users.get_many(app_id, [contact_id])):
            if kind is PresenceRequest.subscribe:  # RFC 6121 §3.1.3: no such account
                change.effects.presences.append((contact_id, me, PresenceRequest.unsubscribed))
                await self._publish(change.effects, origin)
            return change.effects
        async with self._pair(app_id, me, contact_id):
            if kind is PresenceRequest.subscribe:
                await self._subscribe(change, app_id, me, contact_id)
            elif kind is PresenceRequest.subscribed:
                await self._subscribed(change, app_id, me, contact_id)
            elif kind is PresenceRequest.unsubscribe:
                await self._unsubscribe(change, app_id, me, contact_id)
            else:
                await self._unsubscribed(change, app_id, me, contact_id)
            return await self._commit(change, origin)

    # -- the rules ----------------------------------------------------------------------------------
    async def _put_in_list(self, change: _Change, app_id: int, me: int, contact_id: int,
                           name: str | None, groups: tuple[str, ...] | None,
                           keep_name: bool = True) -> None:
        entry = await self._entry(change, app_id, me, contact_id)
        if not entry.in_roster and await self._contacts.count_in_roster(app_id, me) >= \
                self._limits.max_contacts:
            raise InvalidError(f"At most {self._limits.max_contacts} contacts")
        self._set(change, entry.changed(
            in_roster=True, name=entry.name if keep_name else name,
            groups=entry.groups if groups is None else groups))

    async def _subscribe(self, change: _Change, app_id: int, me: int, contact_id: int) -> None:
        mine = await self._entry(change, app_id, me, contact_id)
        theirs = await self._entry(change, app_id, contact_id, me)
        if mine.subscription.has_to:  # already: confirm it again
            change.effects.presences.append((contact_id, me, PresenceRequest.subscribed))
            return
        if theirs.subscription.has_from or theirs.approved:
            if not mine.in_roster:
                await self._put_in_list(change, app_id, me, contact_id, None, None)
                mine = await self._entry(change, app_id, me, contact_id)
            self._set(change, mine.changed(subscription=mine.subscription.with_to(True), ask=False))
            self._set(change, theirs.changed(subscription=theirs.subscription.with_from(True),
                                             approved=False, pending_in=False,
                                             in_roster=True))
            change.effects.presences.append((contact_id, me, PresenceRequest.subscribed))
            change.effects.share.append((contact_id, me))
            return
        if not mine.in_roster:
            await self._put_in_list(change, app_id, me, contact_id, None, None)
            mine = await self._entry(change, app_id, me, contact_id)
        self._set(change, mine.changed(ask=True))
        self._set(change, theirs.changed(pending_in=True))
        change.effects.presences.append((me, contact_id, PresenceRequest.subscribe))

    async def _subscribed(self, change: _Change, app_id: int, me: int, contact_id: int) -> None:
        mine = await self._entry(change, app_id, me, contact_id)
        theirs = await self._entry(change, app_id, contact_id, me)
        if mine.subscription.has_from:
            return
        if not mine.pending_in:  # a pre-approval (RFC 6121 §3.4)
            if not mine.in_roster:
                await self._put_in_list(change, app_id, me, contact_id, None, None)
                mine = await self._entry(change, app_id, me, contact_id)
            self._set(change, mine.changed(approved=True))
            return
        if not mine.in_roster:
            await self._put_in_list(change, app_id, me, contact_id, None, None)
            mine = await self._entry(change, app_id, me, contact_id)
        self._set(change, mine.changed(subscription=mine.subscription.with_from(True),
                                       pending_in=False, approved=False))
        self._set(change, theirs.changed(subscription=theirs.subscription.with_to(True), ask=False,
                                         in_roster=True))
        change.effects.presences.append((me, contact_id, PresenceRequest.subscribed))
        change.effects.share.append((me, contact_id))

    async def _unsubscribe(self, change: _Change, app_id: int, me: int, contact_id: int) -> None:
        mine = await self._entry(change, app_id, me, contact_id)
        theirs = await self._entry(change, app_id, contact_id, me)
        saw = mine.subscription.has_to
        if not saw and not mine.ask and not theirs.pending_in:
            return
        self._set(change, mine.changed(subscription=mine.subscription.with_to(False), ask=False))
        self._set(change, theirs.changed(subscription=theirs.subscription.with_from(False),
                                         pending_in=False))
        change.effects.presences.append((me, contact_id, PresenceRequest.unsubscribe))
        if saw:
            change.effects.hide.append((contact_id, me))

    async def _unsubscribed(self, change: _Change, app_id: int, me: int, contact_id: int) -> None:
        mine = await self._entry(change, app_id, me, contact_id)
        theirs = await self._entry(change, app_id, contact_id, me)
        saw = mine.subscription.has_from
        if not saw and not mine.pending_in and not mine.approved and not theirs.ask:
            return
        self._set(change, mine.changed(subscription=mine.subscription.with_from(False),
                                       pending_in=False, approved=False))
        self._set(change, theirs.changed(subscription=theirs.subscription.with_to(False), ask=False))
        change.effects.presences.append((me, contact_id, PresenceRequest.unsubscribed))
        if saw:
            change.effects.hide.append((me, contact_id))

    # -- the pair's entries -------------------------------------------------------------------------
    def _pair(self, app_id: int, a: int, b: int) -> asyncio.Lock:
        return self._locks[(app_id, min(a, b), max(a, b))]

    async def _entry(self, change: _Change, app_id: int, owner: int, contact: int) -> Contact:
        key = (owner, contact)
        if key in change.after:
            return change.after[key]
        if key not in change.before:
            change.before[key] = await self._contacts.get(app_id, owner, contact)
        return change.before[key] or Contact(user_id=owner, contact_id=contact, app_id=app_id)

    @staticmethod
    def _set(change: _Change, entry: Contact) -> None:
        change.after[(entry.user_id, entry.contact_id)] = entry

    async def _commit(self, change: _Change, origin: Origin | None,
                      publish: bool = True) -> RosterEffects:
        now = self._clock.now()
        for key, entry in change.after.items():
            before = change.before.get(key)
            if before is not None and _same(before, entry):
                continue
            if before is None and not entry.kept:
                continue
            saved = await self._contacts.save(entry, now)
            version = await self._versions.bump(entry.app_id, entry.user_id)
            change.effects.pushes.append((saved if saved.kept else None, entry.user_id,
                                          entry.contact_id, version))
        effects = change.effects
        if effects and publish:
            await self._publish(effects, origin)
        self._forget_idle_locks()
        return effects

    async def _publish(self, effects: RosterEffects, origin: Origin | None) -> None:
        await self._publisher.publish(Event(
            kind="contacts_changed", app_id=effects.app_id, sender_id=0,
            recipient_ids=effects.users(), payload=effects.to_payload(), origin=origin))

    def _forget_idle_locks(self) -> None:
        if len(self._locks) > 10000:
            # only locks nobody holds or waits for (a woken waiter holds an unlocked one briefly)
            for key in [k for k, lock in self._locks.items()
                        if not lock.locked() and not getattr(lock, "_waiters", None)]:
                del self._locks[key]

    async def _require_other_user(self, app_id: int, me: int, contact_id: int) -> None:
        if contact_id == me or not await self._users.get_many(app_id, [contact_id]):
            raise NotFoundError("User not found")


def _same(a: Contact, b: Contact) -> bool:
    return a.to_fields() == b.to_fields()


def _text(value: str | None, limit: int, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequestError(f"{name} must be a string", field=name)
    value = value.strip()
    if len(value) > limit:
        raise InvalidError(f"{name} is longer than {limit} characters", field=name)
    return value or None
