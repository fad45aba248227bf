"""Block lists (`/blocklist`, XEP-0191, the SDK's privacy lists): one per user, in the store.

A user's block list is the only record of whom they blocked: REST, XMPP Blocking Command and the
default privacy list all read and write it here. Blocking someone cuts the pair off both ways in
1:1 (no private dialog, no 1:1 message, no presence or last activity either way); in groups both
stay members and the blocker gets nothing of the blocked user in real time (messages, edits,
reactions, typing, presence) and no pushes for them. History is not touched.

Privacy lists (XEP-0016) map onto it: the default list *is* the block list (its `deny` items name
users; the SDK sends two per user, the JID and `muc.{domain}/{id}`, one user); other named lists
are kept as they are (user ids) until a client makes one the default. Declining the default list
keeps its users as a named list and empties the block list; deleting it empties it.

Every change publishes `blocklist_updated` {`blocked`, `unblocked`} (ids) after the write: the
bridge relay tells the XMPP server (its per-user cache, XEP-0191 pushes) unless the change came
over XMPP, where the bridge told it before answering.
"""
from __future__ import annotations

import asyncio
import random

import logging
from collections.abc import Callable, Iterable

from config.settings import LimitSettings
from models.blocklist import Blocklist, Direction
from models.clock import Clock
from models.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from models.events import Event, EventPublisher, Origin
from models.requester import Requester, require_user
from models.services.users import UserService
from models.storage.blocklist import BlocklistStore
from models.users import User

logger = logging.getLogger(__name__)

MAX_PRIVACY_LISTS = 10  # named privacy lists per user, the default one included
MAX_LIST_NAME = 64
SAVE_ATTEMPTS = 32  # compare-and-set retries under concurrent writes of one user's list
MAX_PEERS = 10_000  # relations handed to the XMPP server for one user


class BlocklistService:
    def __init__(self, store: BlocklistStore, users: UserService, clock: Clock,
                 publisher: EventPublisher, limits: LimitSettings) -> None:
        self._store = store
        self._users = users
        self._clock = clock
        self._publisher = publisher
        self._limits = limits

    @property
    def _max(self) -> int:
        return self._limits.max_blocked_users

    # -- reading -----------------------------------------------------------------------------------
    async def get(self, requester: Requester) -> Blocklist:
        require_user(requester)
        doc = await self._store.get(requester.app_id, requester.user_id)
        return Blocklist.from_doc(requester.app_id, requester.user_id, doc)

    async def list(self, requester: Requester) -> list[User]:
        """The blocked users, in the order they were blocked (deleted accounts left out)."""
        state = await self.get(requester)
        found = {u.id: u for u in await self._users.get_many(requester.app_id,
                                                             list(state.blocked_ids))}
        return [found[u] for u in state.blocked_ids if u in found]

    async def ids_of(self, app_id: int, user_id: int) -> tuple[int, ...]:
        """Whom this user blocked."""
        doc = await self._store.get(app_id, user_id)
        return tuple(int(u) for u in (doc or {}).get("blocked_ids") or ())

    async def peers(self, app_id: int, user_id: int) -> dict[int, Direction]:
        """Everyone with a block between them and this user, and which way (for the XMPP
        server's cache of this user)."""
        own = await self._store.get(app_id, user_id)
        out: dict[int, Direction] = {int(u): "out" for u in (own or {}).get("blocked_ids") or ()}
        for other in await self._store.blockers_of(app_id, user_id, MAX_PEERS):
            out[other] = "both" if other in out else "in"
        return out

    async def blocked_pairs(self, app_id: int, pairs: Iterable[tuple[int, int]]) -> set[frozenset[int]]:
        """Those of the (a, b) pairs with a block between them, either way (one read)."""
        pairs = list(pairs)
        if not pairs:
            return set()
        users = [u for pair in pairs for u in pair]
        lists = {int(d["user_id"]): set(d.get("blocked_ids") or ())
                 for d in await self._store.get_many(app_id, users)}
        if not lists:
            return set()
        return {frozenset(p) for p in pairs
                if p[1] in lists.get(p[0], ()) or p[0] in lists.get(p[1], ())}

    async def check_pair(self, app_id: int, me: int, other: int) -> None:
        """Refuses (forbidden) 1:1 between the two when either blocked the other."""
        lists = {int(d["user_id"]): set(d.get("blocked_ids") or ())
                 for d in await self._store.get_many(app_id, [me, other])}
        if other in lists.get(me, ()):
            raise ForbiddenError("You blocked this user: unblock them to chat")
        if me in lists.get(other, ()):
            raise ForbiddenError("You can't chat with this user")

    async def between(self, app_id: int, a: int, b: int) -> bool:
        """Has either of the two blocked the other?"""
        return bool(await self.blocked_pairs(app_id, [(a, b)]))

    async def blockers(self, app_id: int, sender_id: int, user_ids: Iterable[int]) -> set[int]:
        """Those of `user_ids` who blocked `sender_id`: they get nothing of theirs in rooms."""
        ids = [u for u in user_ids if u != sender_id]
        if not ids:
            return set()
        return set(await self._store.blockers_among(app_id, sender_id, ids))

    async def forget_user(self, app_id: int, user_id: int) -> None:
        """A deleted account leaves no block list behind: its own goes, and it leaves the lists
        that named it (ids are not reused on MongoDB, but nothing should hold a dead account)."""
        await self._store.forget_user(app_id, user_id)

    async def related(self, app_id: int, user_id: int, user_ids: Iterable[int]) -> set[int]:
        """Those of `user_ids` with a block between them and `user_id`, either way (presence)."""
        ids = [u for u in set(user_ids) if u != user_id]
        if not ids:
            return set()
        own = await self._store.get(app_id, user_id)
        mine = set((own or {}).get("blocked_ids") or ())
        return {u for u in ids if u in mine} | set(
            await self._store.blockers_among(app_id, user_id, ids))

    # -- the block list ----------------------------------------------------------------------------
    async def block(self, requester: Requester, user_ids: Iterable[int],
                    origin: Origin | None = None) -> Blocklist:
        ids = await self._known_users(requester, user_ids)
        return await self._change(requester, lambda s: _with(s, blocked=_added(s.blocked_ids, ids)),
                                  origin)

    async def unblock(self, requester: Requester, user_ids: Iterable[int] | None,
                      origin: Origin | None = None) -> Blocklist:
        """Unblocks these users (None: everyone). Ids not on the list are ignored."""
        gone = None if user_ids is None else {int(u) for u in user_ids}
        return await self._change(
            requester, lambda s: _with(s, blocked=tuple(
                u for u in s.blocked_ids if gone is not None and u not in gone)), origin)

    # -- privacy lists (XEP-0016) ------------------------------------------------------------------
    async def set_privacy_list(self, requester: Requester, name: str, user_ids: Iterable[int],
                               origin: Origin | None = None) -> Blocklist:
        """Stores list `name` (its deny items' users); the default list is the block list. An
        empty list removes the list (XEP-0016 §2.8: that is how a client deletes one)."""
        _check_name(name)
        ids = await self._known_users(requester, user_ids)
        if not ids:
            return await self.delete_privacy_list(requester, name, origin)

        def change(state: Blocklist) -> Blocklist:
            if name == state.default_name:
                return _with(state, blocked=ids, default=name)
            if name not in state.lists and len(state.names()) >= MAX_PRIVACY_LISTS:
                raise InvalidError(f"at most {MAX_PRIVACY_LISTS} privacy lists", field="list")
            return _with(state, lists={**state.lists, name: ids})
        return await self._change(requester, change, origin)

    async def delete_privacy_list(self, requester: Requester, name: str,
                                  origin: Origin | None = None) -> Blocklist:
        def change(state: Blocklist) -> Blocklist:
            if name == state.default_name:  # the block list: everyone unblocked
                return _with(state, blocked=(), default=None)
            if name not in state.lists:
                raise NotFoundError("Privacy list not found")
            return _with(state, lists={k: v for k, v in state.lists.items() if k != name})
        return await self._change(requester, change, origin)

    async def set_default(self, requester: Requester, name: str | None,
                          origin: Origin | None = None) -> Blocklist:
        """Makes list `name` the default (the block list becomes its users); None declines the
        default list: its users are kept as a list of that name and nobody is blocked."""
        def change(state: Blocklist) -> Blocklist:
            current = state.default_name
            if name == current:
                return state
            lists = dict(state.lists)
            if current is not None and state.blocked_ids:
                lists[current] = state.blocked_ids
            if name is None:
                return _with(state, blocked=(), default=None, lists=lists)
            if name not in lists:
                raise NotFoundError("Privacy list not found")
            ids = lists.pop(name)
            return _with(state, blocked=ids, default=name, lists=lists)
        return await self._change(requester, change, origin)

    # -- helpers -----------------------------------------------------------------------------------
    async def _known_users(self, requester: Requester, user_ids: Iterable[int]) -> tuple[int, ...]:
        require_user(requester)
        ids: list[int] = []
        for raw in user_ids:
            uid = int(raw)
            if uid not in ids:
                ids.append(uid)
        if requester.user_id in ids:
            raise InvalidError("can't block yourself", field="user_ids")
        if len(ids) > self._max:
            raise InvalidError(f"at most {self._max} blocked users", field="user_ids")
        found = {u.id for u in await self._users.get_many(requester.app_id, ids)} if ids else set()
        if len(found) != len(ids):
            raise NotFoundError("User not found")
        return tuple(ids)

    async def _change(self, requester: Requester, change: Callable[[Blocklist], Blocklist],
                      origin: Origin | None) -> Blocklist:
        require_user(requester)
        app_id, user_id = requester.app_id, requester.user_id
        for attempt in range(SAVE_ATTEMPTS):
            if attempt:  # lost a race: a short, jittered pause so the writers spread out
                await asyncio.sleep(random.uniform(0, 0.001 * min(attempt, 10)))
            before = Blocklist.from_doc(app_id, user_id, await self._store.get(app_id, user_id))
            after = change(before)
            if after is before:
                return before
            if len(after.blocked_ids) > self._max:
                raise InvalidError(f"at most {self._max} blocked users", field="user_ids")
            saved = await self._store.save(
                app_id, user_id, before.version, list(after.blocked_ids), after.default_list,
                {k: list(v) for k, v in after.lists.items()}, self._clock.now())
            if not saved:
                continue  # another write of this list came first: apply the change to it
            old, new = set(before.blocked_ids), set(after.blocked_ids)
            blocked = [u for u in after.blocked_ids if u not in old]
            unblocked = [u for u in before.blocked_ids if u not in new]
            if blocked or unblocked:
                await self._publisher.publish(Event(
                    kind="blocklist_updated", app_id=app_id, sender_id=user_id,
                    recipient_ids=sorted(set(blocked) | set(unblocked)), origin=origin,
                    payload={"blocked": blocked, "unblocked": unblocked}))
            return Blocklist(app_id=app_id, user_id=user_id, blocked_ids=after.blocked_ids,
                             default_list=after.default_list, lists=after.lists,
                             version=before.version + 1)
        raise ConflictError("the block list changed meanwhile, try again")


def _added(current: tuple[int, ...], ids: tuple[int, ...]) -> tuple[int, ...]:
    return current + tuple(u for u in ids if u not in current)


def _with(state: Blocklist, blocked: tuple[int, ...] | None = None, default: str | None | bool = False,
          lists: dict[str, tuple[int, ...]] | None = None) -> Blocklist:
    """`state` changed; the same object when nothing changes (no write)."""
    new_blocked = state.blocked_ids if blocked is None else tuple(blocked)
    new_default = state.default_list if default is False else default
    new_lists = state.lists if lists is None else lists
    if (new_blocked, new_default, new_lists) == (state.blocked_ids, state.default_list, state.lists):
        return state
    return Blocklist(app_id=state.app_id, user_id=state.user_id, blocked_ids=new_blocked,
                     default_list=new_default,  # type: ignore[arg-type]
                     lists=new_lists, version=state.version)


def _check_name(name: str) -> None:
    if not name or len(name) > MAX_LIST_NAME:
        raise InvalidError(f"a list name has 1 to {MAX_LIST_NAME} characters", field="list")
