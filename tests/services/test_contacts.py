"""ContactService on the real stores: RFC 6121 subscription states on both sides of a pair, what
each change does outside the store (RosterEffects, the `contacts_changed` event), roster versions,
pre-approval, unknown and other applications' users, limits, a deleted account."""
from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings as settings_h, strategies as st

from models.contacts import ContactChanges, PresenceRequest as P, RosterEffects, Subscription
from models.errors import BadRequestError, ForbiddenError, InvalidError, NotFoundError
from models.events import Origin, RecordingPublisher
from models.requester import Requester
from models.services.container import build_services


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def recorded(services, settings, database, clock, publisher):
    return build_services(settings, database, clock=clock, publisher=publisher)


@pytest.fixture
def contacts(recorded):
    return recorded.contacts


@pytest.fixture
async def users(services) -> dict[str, Requester]:
    out = {}
    for name in ("ann", "ben", "cat"):
        user = await services.users.create_guest(1, name)
        out[name] = Requester(app_id=1, user_id=user.id)
    other = await services.users.create_guest(2, "zed")
    out["zed"] = Requester(app_id=2, user_id=other.id)
    return out


async def state(contacts, owner: Requester, other: Requester):
    roster = await contacts.roster(owner)
    [entry] = [e for e in roster.items if e.contact_id == other.user_id] or [None]
    return (entry.subscription.value if entry else None, bool(entry and entry.ask),
            other.user_id in roster.pending)


async def test_the_subscription_handshake_on_both_sides(contacts, users, publisher):
    ann, ben = users["ann"], users["ben"]
    effects = await contacts.presence(ann, ben.user_id, P.subscribe)
    assert effects.presences == [(ann.user_id, ben.user_id, P.subscribe)]
    assert await state(contacts, ann, ben) == ("none", True, False)
    assert await state(contacts, ben, ann) == (None, False, True)  # a request, not an item
    effects = await contacts.presence(ben, ann.user_id, P.subscribed)
    assert effects.presences == [(ben.user_id, ann.user_id, P.subscribed)]
    assert effects.share == [(ben.user_id, ann.user_id)]  # ann sees ben's presence now
    assert await state(contacts, ann, ben) == ("to", False, False)
    assert await state(contacts, ben, ann) == ("from", False, False)  # approved: in ben's list
    await contacts.presence(ben, ann.user_id, P.subscribe)
    await contacts.presence(ann, ben.user_id, P.subscribed)
    assert await state(contacts, ann, ben) == ("both", False, False)
    assert await state(contacts, ben, ann) == ("both", False, False)
    # ann stops seeing ben; then ben stops ann seeing... nothing left but the items
    effects = await contacts.presence(ann, ben.user_id, P.unsubscribe)
    assert effects.hide == [(ben.user_id, ann.user_id)]
    assert await state(contacts, ann, ben) == ("from", False, False)
    assert await state(contacts, ben, ann) == ("to", False, False)
    effects = await contacts.presence(ann, ben.user_id, P.unsubscribed)
    assert effects.hide == [(ann.user_id, ben.user_id)]
    assert await state(contacts, ann, ben) == ("none", False, False)
    assert await state(contacts, ben, ann) == ("none", False, False)
    # every change is one event with what it did; none has an origin here
    assert set(publisher.kinds()) == {"contacts_changed"} and len(publisher.events) == 6
    last = publisher.events[-1]
    assert RosterEffects.from_payload(1, last.payload).hide == [(ann.user_id, ben.user_id)]
    assert sorted(last.recipient_ids) == sorted([ann.user_id, ben.user_id])


async def test_repeats_change_nothing_and_versions_count_changes(contacts, users, publisher):
    ann, ben = users["ann"], users["ben"]
    assert (await contacts.roster(ann)).version == 1
    first = await contacts.presence(ann, ben.user_id, P.subscribe)
    [(_, owner, _, ver)] = [p for p in first.pushes if p[1] == ann.user_id]
    assert owner == ann.user_id and ver == 2 == (await contacts.roster(ann)).version
    events = len(publisher.events)
    again = await contacts.presence(ann, ben.user_id, P.subscribe)
    # the same request again: nothing stored changes, the request goes out again
    assert again.pushes == [] and again.presences == [(ann.user_id, ben.user_id, P.subscribe)]
    assert (await contacts.roster(ann)).version == 2
    assert len(publisher.events) == events + 1
    # unsubscribed without anything to cancel: nothing at all
    nothing = await contacts.presence(ann, users["cat"].user_id, P.unsubscribed)
    assert not nothing and len(publisher.events) == events + 1


async def test_pre_approval_answers_the_later_request_at_once(contacts, users):
    ann, ben = users["ann"], users["ben"]
    effects = await contacts.presence(ben, ann.user_id, P.subscribed)  # nothing pending: pre-approval
    assert effects.presences == [] and await state(contacts, ben, ann) == ("none", False, False)
    effects = await contacts.presence(ann, ben.user_id, P.subscribe)
    assert effects.presences == [(ben.user_id, ann.user_id, P.subscribed)]
    assert effects.share == [(ben.user_id, ann.user_id)]
    assert await state(contacts, ann, ben) == ("to", False, False)
    assert await state(contacts, ben, ann) == ("from", False, False)


async def test_remove_cancels_both_ways_and_keeps_the_other_entry(contacts, users):
    ann, ben = users["ann"], users["ben"]
    await contacts.add(ann, [ben.user_id])
    await contacts.add(ben, [ann.user_id])
    await contacts.add(ann, [ben.user_id])
    assert await state(contacts, ann, ben) == ("both", False, False)
    effects = await contacts.remove(ann, ben.user_id, origin=Origin(transport="xmpp", stanza_id="r1"))
    assert sorted(k.value for _, _, k in effects.presences) == ["unsubscribe", "unsubscribed"]
    assert sorted(effects.hide) == sorted([(ben.user_id, ann.user_id), (ann.user_id, ben.user_id)])
    assert (await contacts.roster(ann)).items == []
    assert await state(contacts, ben, ann) == ("none", False, False)
    [mine] = [p for p in effects.pushes if p[1] == ann.user_id]
    assert mine[0] is None  # gone from ann's roster: a push with subscription="remove"
    with pytest.raises(NotFoundError):
        await contacts.remove(ann, ben.user_id)


async def test_roster_set_names_and_groups_and_rest_overrides(contacts, users):
    ann, ben = users["ann"], users["ben"]
    effects = await contacts.roster_set(ann, ben.user_id, " Benny ", ("Work", "Work", "", "Gym"))
    [(entry, _, _, _)] = effects.pushes
    assert entry.name == "Benny" and entry.groups == ("Work", "Gym")
    assert entry.subscription is Subscription.none and not entry.ask  # a roster set asks nothing
    view = await contacts.update(ann, ben.user_id, ContactChanges(
        fields=frozenset({"avatar"}), avatar="https://example.com/b.png"))
    assert view.contact.name == "Benny" and view.contact.avatar == "https://example.com/b.png"
    listed = await contacts.list(ann)
    assert [v.user.full_name for v in listed.items] == ["ben"] and listed.requests == []
    with pytest.raises(InvalidError):
        await contacts.roster_set(ann, ben.user_id, None, tuple(f"g{i}" for i in range(21)))


async def test_other_applications_unknown_users_and_oneself(contacts, users):
    ann, zed = users["ann"], users["zed"]
    result = await contacts.add(ann, [zed.user_id, 10**9, ann.user_id])
    assert result.added == [] and result.not_found == [zed.user_id, 10**9, ann.user_id]
    for call in (contacts.roster_set(ann, zed.user_id, "x", ()),
                 contacts.roster_set(ann, ann.user_id, "me", ()),
                 contacts.update(ann, zed.user_id, ContactChanges(fields=frozenset({"avatar"}))),
                 contacts.remove(ann, zed.user_id)):
        with pytest.raises(NotFoundError):
            await call
    # a request to an unknown account is answered "unsubscribed" (RFC 6121 §3.1.3), nothing stored
    effects = await contacts.presence(ann, zed.user_id, P.subscribe)
    assert effects.presences == [(zed.user_id, ann.user_id, P.unsubscribed)] and not effects.pushes
    assert (await contacts.roster(ann)).items == [] and (await contacts.roster(zed)).pending == []
    with pytest.raises(ForbiddenError):
        await contacts.list(Requester(app_id=1, user_id=0))
    with pytest.raises(BadRequestError):
        await contacts.add(ann, [])


async def test_limits_of_the_list(contacts, users, settings):
    settings.limits.max_contacts = 1
    ann, ben, cat = users["ann"], users["ben"], users["cat"]
    await contacts.add(ann, [ben.user_id])
    with pytest.raises(InvalidError):
        await contacts.add(ann, [cat.user_id])
    with pytest.raises(InvalidError):
        await contacts.roster_set(ann, cat.user_id, None, ())
    # ben is in the list already: adding him again is fine
    assert [v.contact.contact_id for v in (await contacts.add(ann, [ben.user_id])).added] == [ben.user_id]


async def test_a_deleted_account_leaves_every_list(contacts, users, recorded, publisher):
    ann, ben, cat = users["ann"], users["ben"], users["cat"]
    await contacts.add(ann, [ben.user_id])
    await contacts.add(cat, [ben.user_id])
    await contacts.add(ben, [ann.user_id])
    await recorded.users.delete_self(ben, None)
    # read before the clean-up: left out already
    assert (await contacts.list(ann)).items == [] and (await contacts.roster(cat)).items == []
    effects = await contacts.forget_user(1, ben.user_id)
    assert sorted((owner, entry) for entry, owner, _, _ in effects.pushes) == \
        sorted([(ann.user_id, None), (cat.user_id, None)])
    assert publisher.events[-1].kind == "contacts_changed"
    assert (await contacts.roster(ann)).pending == []
    assert await recorded.database.db["contacts"].count_documents({"contact_id": ben.user_id}) == 0
    assert await recorded.database.db["contacts"].count_documents({"user_id": ben.user_id}) == 0


OPS = ("subscribe", "subscribed", "unsubscribe", "unsubscribed", "remove", "roster_set", "add")


async def _run_ops(settings, ops) -> None:
    from models.clock import FakeClock
    from models.storage.mongo import memory_database

    built = build_services(settings, memory_database(), clock=FakeClock(),
                           publisher=RecordingPublisher())
    await built.start()
    a = Requester(app_id=1, user_id=(await built.users.create_guest(1, "a")).id)
    b = Requester(app_id=1, user_id=(await built.users.create_guest(1, "b")).id)
    contacts, store = built.contacts, built.contacts._contacts
    last_version = {a.user_id: 1, b.user_id: 1}
    for who, op in ops:
        me, other = (a, b) if who == 0 else (b, a)
        if op in P.__members__:
            effects = await contacts.presence(me, other.user_id, P(op))
        elif op == "remove":
            try:
                effects = await contacts.remove(me, other.user_id)
            except NotFoundError:
                continue
        elif op == "roster_set":
            effects = await contacts.roster_set(me, other.user_id, "n", ("g",))
        else:
            await contacts.add(me, [other.user_id])
            effects = None
        mine = await store.get(1, a.user_id, b.user_id)
        theirs = await store.get(1, b.user_id, a.user_id)
        for x, y in ((mine, theirs), (theirs, mine)):
            x_sub = x.subscription if x else Subscription.none
            y_sub = y.subscription if y else Subscription.none
            # both entries of a pair tell the same story (RFC 6121's states on each side)
            assert x_sub.has_to == y_sub.has_from, ops
            assert bool(x and x.ask) == bool(y and y.pending_in), ops
            if x is not None and not x.in_roster:
                assert x.subscription is Subscription.none and not x.ask, ops
        for user in (a, b):
            version = (await contacts.roster(user)).version
            assert version >= last_version[user.user_id]
            last_version[user.user_id] = version
        if effects is not None:  # what the bridge is told is what is stored
            for entry, owner, contact, ver in effects.pushes:
                stored = await store.get(1, owner, contact)
                assert (entry is None) == (stored is None)
                if entry is not None:
                    assert entry.to_fields() == stored.to_fields()
                assert ver <= last_version[owner]
            assert RosterEffects.from_payload(1, effects.to_payload()).to_payload() == \
                effects.to_payload()


@settings_h(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.sampled_from(OPS)), max_size=10))
def test_any_sequence_keeps_both_sides_consistent(tmp_path_factory, ops):
    from config.settings import Settings
    from pydantic import SecretStr

    path = tmp_path_factory.mktemp("contacts")
    settings = Settings(_env_file=None, data_dir=path, blobs={"path": path / "blobs"},
                        app={"id": 1, "auth_key": SecretStr("k"), "auth_secret": SecretStr("s")})
    asyncio.run(_run_ops(settings, ops))


async def test_both_sides_adding_at_once_stay_consistent(contacts, users, services):
    ann, ben = users["ann"], users["ben"]
    await asyncio.gather(contacts.add(ann, [ben.user_id]), contacts.add(ben, [ann.user_id]))
    store = services.contacts._contacts
    mine = await store.get(1, ann.user_id, ben.user_id)
    theirs = await store.get(1, ben.user_id, ann.user_id)
    assert mine.in_roster and theirs.in_roster
    assert mine.subscription.has_to == theirs.subscription.has_from
    assert mine.subscription.has_from == theirs.subscription.has_to
    assert mine.ask == theirs.pending_in and theirs.ask == mine.pending_in
    # whoever came second approved the first: at least one way is subscribed
    assert mine.subscription is not Subscription.none
