"""SessionService: refresh tokens (rotation, reuse detection, idle and absolute expiry), the list
of a user's sessions and ending them, and the events the bridge acts on (sessions_ended,
new_device_login). Real stores; the clock and the publisher are the fakes."""
from __future__ import annotations

import pytest

from models.errors import ForbiddenError, NotFoundError, RateLimitedError, UnauthenticatedError
from models.events import RecordingPublisher
from models.services.container import build_services
from models.services.sessions import hash_token
from models.users import Credentials, Device, SessionRequest, UserDraft
from tests.conftest import AUTH_KEY

DAY = 24 * 60 * 60


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
async def services(settings, database, clock, publisher):
    settings.rate_limits.refresh_failures_per_address = "5/minute"
    built = build_services(settings, database, clock=clock, publisher=publisher)
    await built.start()
    await built.apps._apps.ensure({"_id": 2, "title": "other", "auth_key": "other-key",
                                   "auth_secret": "x", "created_at": clock.now()})
    return built


async def open_session(services, login="alice", app_id=1, auth_key=AUTH_KEY, **device):
    request = SessionRequest(application_id=app_id, auth_key=auth_key, device=Device(**device),
                             user=Credentials(login=login, password="password123"))
    return await services.sessions.create(request, "192.0.2.1")


@pytest.fixture
async def alice(services):
    return await services.users.signup(1, UserDraft(login="alice", password="password123"))


def ended(publisher) -> list[list[int]]:
    return [e.payload["session_ids"] for e in publisher.events if e.kind == "sessions_ended"]


async def test_a_user_session_has_a_refresh_token_stored_hashed(services, alice):
    session, _ = await open_session(services, udid="phone-1", platform="ios", user_agent="App/1")
    assert session.refresh_token and session.refresh_token != session.token
    doc = await services.database.db["refresh_tokens"].find_one({"_id": session.id})
    assert doc["token_hash"] == hash_token(session.refresh_token)
    assert session.refresh_token not in str(doc) and doc["device"]["udid"] == "phone-1"
    app_session, _ = await services.sessions.create(SessionRequest(application_id=1, auth_key=AUTH_KEY))
    assert app_session.refresh_token == ""


async def test_refresh_rotates_and_a_reused_token_ends_the_whole_login(services, alice, clock, publisher):
    first, _ = await open_session(services, udid="phone-1")
    second, user = await services.sessions.refresh(first.refresh_token)
    assert user.id == alice.id and second.id == first.id  # the same login
    assert second.token != first.token and second.refresh_token != first.refresh_token
    assert second.device == first.device
    with pytest.raises(UnauthenticatedError):  # the old access token ended with the rotation
        await services.sessions.resolve(first.token)
    third, _ = await services.sessions.refresh(second.refresh_token)
    assert (await services.sessions.resolve(third.token)).session_id == first.id
    # the first refresh token again: a reuse; the family (the live session included) ends
    with pytest.raises(UnauthenticatedError):
        await services.sessions.refresh(first.refresh_token)
    with pytest.raises(UnauthenticatedError):
        await services.sessions.refresh(third.refresh_token)
    services.sessions._cache.clear()
    with pytest.raises(UnauthenticatedError):
        await services.sessions.resolve(third.token)
    assert ended(publisher) == [[first.id]]


async def test_refresh_tokens_expire_idle_and_absolute(services, alice, clock, settings):
    session, _ = await open_session(services)
    clock.advance(settings.session.refresh_idle_seconds + 1)
    with pytest.raises(UnauthenticatedError):
        await services.sessions.refresh(session.refresh_token)
    # refreshed within the idle time it lives on, but never past the absolute limit
    session, _ = await open_session(services)
    for _ in range(3):  # 3 x 29 days = 87 days
        clock.advance(29 * DAY)
        session, _ = await services.sessions.refresh(session.refresh_token)
    clock.advance(4 * DAY)  # 91 days after the login
    with pytest.raises(UnauthenticatedError):
        await services.sessions.refresh(session.refresh_token)


async def test_failed_refreshes_are_limited_per_address(services, alice):
    session, _ = await open_session(services)
    for i in range(5):
        with pytest.raises(UnauthenticatedError):
            await services.sessions.refresh(f"guess-{i}", "198.51.100.7")
    with pytest.raises(RateLimitedError):
        await services.sessions.refresh(session.refresh_token, "198.51.100.7")
    assert (await services.sessions.refresh(session.refresh_token, "198.51.100.8"))[0].id == session.id


async def test_list_and_end_sessions(services, alice, clock, publisher):
    phone, _ = await open_session(services, udid="phone-1", platform="ios")
    clock.advance(60)
    laptop, _ = await open_session(services, udid="laptop-1", platform="web", user_agent="Firefox")
    me = await services.sessions.resolve(laptop.token)
    listed = await services.sessions.list_sessions(me)
    assert [(s.id, s.current, s.device.udid) for s in listed] == [
        (laptop.id, True, "laptop-1"), (phone.id, False, "phone-1")]
    assert listed[0].device == Device(udid="laptop-1", platform="web", user_agent="Firefox")
    # an access token that expired still lists its login while the refresh token lives
    clock.advance(3 * 60 * 60)
    services.sessions._cache.clear()
    me = await services.sessions.resolve((await services.sessions.refresh(laptop.refresh_token))[0].token)
    assert {s.id for s in await services.sessions.list_sessions(me)} == {phone.id, laptop.id}
    await services.sessions.end(me, phone.id)
    assert [s.id for s in await services.sessions.list_sessions(me)] == [laptop.id]
    with pytest.raises(UnauthenticatedError):
        await services.sessions.refresh(phone.refresh_token)
    assert ended(publisher)[-1] == [phone.id]
    with pytest.raises(NotFoundError):
        await services.sessions.end(me, phone.id)


async def test_end_others_keeps_the_current_one(services, alice, publisher):
    sessions = [(await open_session(services, udid=f"d{i}"))[0] for i in range(3)]
    me = await services.sessions.resolve(sessions[1].token)
    assert await services.sessions.end_others(me) == 2
    assert [s.id for s in await services.sessions.list_sessions(me)] == [sessions[1].id]
    assert sorted(ended(publisher)[-1]) == sorted([sessions[0].id, sessions[2].id])
    assert await services.sessions.end_others(me) == 0


async def test_nobody_lists_or_ends_another_users_sessions(services, alice):
    await services.users.signup(1, UserDraft(login="bob", password="password123"))
    await services.users.signup(2, UserDraft(login="alice", password="password123"))
    mine, _ = await open_session(services)
    bobs, _ = await open_session(services, "bob")
    other_app, _ = await open_session(services, app_id=2, auth_key="other-key")
    me = await services.sessions.resolve(mine.token)
    assert [s.id for s in await services.sessions.list_sessions(me)] == [mine.id]
    for foreign in (bobs.id, other_app.id, 10**9):
        with pytest.raises(NotFoundError):
            await services.sessions.end(me, foreign)
    assert (await services.sessions.resolve(bobs.token)).user_id == bobs.user_id
    app_session, _ = await services.sessions.create(SessionRequest(application_id=1, auth_key=AUTH_KEY))
    app_caller = await services.sessions.resolve(app_session.token)
    with pytest.raises(ForbiddenError):
        await services.sessions.list_sessions(app_caller)
    with pytest.raises(ForbiddenError):
        await services.sessions.end(app_caller, mine.id)


async def test_logout_destroy_and_password_change_revoke_refresh_tokens(services, alice, publisher):
    from models.users import UserChanges

    a, _ = await open_session(services)
    await services.sessions.destroy(await services.sessions.resolve(a.token))
    with pytest.raises(UnauthenticatedError):
        await services.sessions.refresh(a.refresh_token)
    b, _ = await open_session(services)
    await services.sessions.logout(await services.sessions.resolve(b.token))
    with pytest.raises(UnauthenticatedError):
        await services.sessions.refresh(b.refresh_token)
    assert (await services.sessions.resolve(b.token)).user_id == 0  # an application session now
    keep, _ = await open_session(services)
    other, _ = await open_session(services)
    me = await services.sessions.resolve(keep.token)
    await services.users.update_self(me, None, UserChanges(password="new-password1",
                                                           old_password="password123"))
    await services.sessions.password_changed(me)
    with pytest.raises(UnauthenticatedError):
        await services.sessions.refresh(other.refresh_token)
    services.sessions._cache.clear()
    with pytest.raises(UnauthenticatedError):
        await services.sessions.resolve(other.token)
    assert (await services.sessions.refresh(keep.refresh_token))[0].id == keep.id
    assert ended(publisher) == [[a.id], [b.id], [other.id]]


async def test_xmpp_login_names_the_session(services, alice):
    session, _ = await open_session(services)
    name = f"{alice.id}-1"
    assert await services.sessions.xmpp_login(name, session.token) == session.id
    assert await services.sessions.xmpp_login(name, "password123") == 0
    assert await services.sessions.xmpp_login(name, "wrong") is None
    assert await services.sessions.xmpp_login(f"{alice.id}-2", session.token) is None


async def test_a_new_device_is_announced_once(services, alice, publisher):
    def notices():
        return [e for e in publisher.events if e.kind == "new_device_login"]

    await open_session(services, udid="phone-1")
    assert notices() == []  # the first device tells nobody
    laptop, _ = await open_session(services, udid="laptop-1", platform="web", user_agent="Firefox")
    [notice] = notices()
    assert notice.recipient_ids == [alice.id] and notice.sender_id == alice.id
    assert notice.payload["session_id"] == laptop.id
    assert notice.payload["device"] == {"udid": "laptop-1", "platform": "web", "user_agent": "Firefox"}
    await open_session(services, udid="laptop-1")
    await open_session(services, udid="phone-1")
    assert len(notices()) == 1
    # no device id: the user agent tells devices apart
    await open_session(services, user_agent="Browser/2")
    await open_session(services, user_agent="Browser/2")
    assert len(notices()) == 2
    # POST /login on an application session counts too
    app_session, _ = await services.sessions.create(SessionRequest(application_id=1, auth_key=AUTH_KEY))
    caller = await services.sessions.resolve(app_session.token)
    await services.sessions.login(caller, Credentials(login="alice", password="password123"),
                                  device=Device(udid="tablet-1"))
    assert len(notices()) == 3 and notices()[-1].payload["session_id"] == app_session.id


async def test_deleting_the_account_ends_every_session(services, alice, publisher):
    a, _ = await open_session(services)
    b, _ = await open_session(services)
    await services.sessions.forget_user(1, alice.id)
    for session in (a, b):
        with pytest.raises(UnauthenticatedError):
            await services.sessions.refresh(session.refresh_token)
    assert sorted(ended(publisher)[-1]) == sorted([a.id, b.id])
