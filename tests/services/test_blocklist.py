"""BlocklistService on real stores: one list per user; privacy lists (XEP-0016) mapped onto it;
the relations the XMPP server caches; events; concurrent writes; enforcement helpers."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from models.errors import ForbiddenError, InvalidError, NotFoundError
from models.events import RecordingPublisher
from models.requester import Requester
from models.services.container import build_services
from models.users import UserDraft


@pytest.fixture
async def svc(settings, database, clock):
    built = build_services(settings, database, clock=clock, publisher=RecordingPublisher())
    await built.start()
    return built


async def _users(svc, n: int, app_id: int = 1) -> list[int]:
    out = []
    for _ in range(n):
        user = await svc.users.signup(app_id, UserDraft(login=f"u-{uuid.uuid4().hex[:12]}",
                                                        password="password123"))
        out.append(user.id)
    return out


def me(user_id: int, app_id: int = 1) -> Requester:
    return Requester(app_id=app_id, user_id=user_id)


async def test_block_unblock_events_and_order(svc):
    a, b, c = await _users(svc, 3)
    state = await svc.blocklist.block(me(a), [c, b, c])
    assert state.blocked_ids == (c, b)
    assert [u.id for u in await svc.blocklist.list(me(a))] == [c, b]
    await svc.blocklist.block(me(a), [b])  # nothing new: no write, no event
    await svc.blocklist.unblock(me(a), [c, 999])
    await svc.blocklist.unblock(me(a), None)
    kinds = [(e.kind, e.payload) for e in svc.publisher.events if e.kind == "blocklist_updated"]
    assert kinds == [("blocklist_updated", {"blocked": [c, b], "unblocked": []}),
                     ("blocklist_updated", {"blocked": [], "unblocked": [c]}),
                     ("blocklist_updated", {"blocked": [], "unblocked": [b]})]
    assert (await svc.blocklist.get(me(a))).blocked_ids == ()


async def test_unknown_self_other_app_and_limit(svc):
    a, b = await _users(svc, 2)
    [stranger] = await _users(svc, 1, app_id=2)
    with pytest.raises(NotFoundError):
        await svc.blocklist.block(me(a), [b, 424242])
    with pytest.raises(NotFoundError):
        await svc.blocklist.block(me(a), [stranger])
    with pytest.raises(InvalidError):
        await svc.blocklist.block(me(a), [a])
    assert (await svc.blocklist.get(me(a))).blocked_ids == ()
    svc.settings.limits.max_blocked_users = 1
    await svc.blocklist.block(me(a), [b])
    [c] = await _users(svc, 1)
    with pytest.raises(InvalidError):
        await svc.blocklist.block(me(a), [c])


async def test_concurrent_writes_lose_nothing(svc):
    a, *others = await _users(svc, 9)
    await asyncio.gather(*(svc.blocklist.block(me(a), [u]) for u in others))
    assert sorted((await svc.blocklist.get(me(a))).blocked_ids) == sorted(others)


async def test_peers_pairs_blockers_related(svc):
    a, b, c, d = await _users(svc, 4)
    await svc.blocklist.block(me(a), [b, c])
    await svc.blocklist.block(me(c), [a])
    await svc.blocklist.block(me(d), [b])
    assert await svc.blocklist.peers(1, a) == {b: "out", c: "both"}
    assert await svc.blocklist.peers(1, b) == {a: "in", d: "in"}
    assert await svc.blocklist.blockers(1, b, [a, c, d]) == {a, d}
    assert await svc.blocklist.related(1, a, [b, c, d]) == {b, c}
    assert await svc.blocklist.blocked_pairs(1, [(b, a), (c, d), (a, c)]) == {
        frozenset((a, b)), frozenset((a, c))}
    assert await svc.blocklist.between(1, b, a) and not await svc.blocklist.between(1, c, d)
    with pytest.raises(ForbiddenError, match="You blocked"):
        await svc.blocklist.check_pair(1, a, b)
    with pytest.raises(ForbiddenError, match="can't chat"):
        await svc.blocklist.check_pair(1, b, a)
    await svc.blocklist.check_pair(1, c, d)


async def test_privacy_lists_as_the_sdk_uses_them(svc):
    """create, set as default, update = decline + re-create + default; delete."""
    a, b, c = await _users(svc, 3)
    state = await svc.blocklist.set_privacy_list(me(a), "mine", [b])
    assert state.blocked_ids == () and state.lists == {"mine": (b,)}  # not enforced yet
    assert state.names() == ["mine"] and state.default_name is None
    state = await svc.blocklist.set_default(me(a), "mine")
    assert state.blocked_ids == (b,) and state.default_name == "mine" and state.lists == {}
    state = await svc.blocklist.set_default(me(a), None)  # decline: kept, not enforced
    assert state.blocked_ids == () and state.lists == {"mine": (b,)}
    await svc.blocklist.set_privacy_list(me(a), "mine", [b, c])
    state = await svc.blocklist.set_default(me(a), "mine")
    assert state.blocked_ids == (b, c)
    # the default list written directly is the block list; REST sees it
    state = await svc.blocklist.set_privacy_list(me(a), "mine", [c])
    assert [u.id for u in await svc.blocklist.list(me(a))] == [c]
    # deleting the default list unblocks everyone
    state = await svc.blocklist.delete_privacy_list(me(a), "mine")
    assert state.blocked_ids == () and state.names() == []
    with pytest.raises(NotFoundError):
        await svc.blocklist.set_default(me(a), "nothing")
    with pytest.raises(NotFoundError):
        await svc.blocklist.delete_privacy_list(me(a), "nothing")


async def test_a_rest_block_list_is_the_default_privacy_list(svc):
    a, b = await _users(svc, 2)
    await svc.blocklist.block(me(a), [b])
    state = await svc.blocklist.get(me(a))
    assert state.default_name == "blocklist" and state.list_named("blocklist") == (b,)
    assert state.names() == ["blocklist"]
