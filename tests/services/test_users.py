"""UserService and SessionService on real stores, driven by the commands of models/users.py:
sign-up rules, field-set updates, list queries compiled in storage, logins and guest sessions."""
from __future__ import annotations

import pytest

from models.errors import ForbiddenError, InvalidError, UnauthenticatedError
from models.queries import Condition, Op
from models.requester import Requester
from models.users import Credentials, GuestLogin, SessionRequest, UserChanges, UserDraft, UserQuery
from tests.conftest import AUTH_KEY


async def test_signup_rules_and_profile(services):
    users = services.users
    user = await users.signup(1, UserDraft(login="neo", email="Neo@Example.COM", password="password123",
                                           full_name="Neo", user_tags=("a", "b" * 120), timezone=2))
    assert user.email == "neo@example.com" and user.user_tags == ["a", "b" * 100] and user.timezone == 2
    cases = [
        (UserDraft(login="ab", password="password123"), "login", "is too short (minimum is 3 characters)"),
        (UserDraft(login="neo", password="password123"), "login", "has already been taken"),
        (UserDraft(email="NEO@example.com", password="password123"), "email", "has already been taken"),
        (UserDraft(email="nope", password="password123"), "email", "is invalid"),
        (UserDraft(password="password123"), "base", "login or email required"),
        (UserDraft(login="trinity"), "password", "can't be blank"),
        (UserDraft(login="trinity", password="x" * 129), "password", "is too long (maximum is 128 characters)"),
        (UserDraft(login="trinity", password="password123", phone="1" * 51), "phone",
         "is too long (maximum is 50 characters)"),
        (UserDraft(login="trinity", password="password123", user_tags=tuple("abcdefghijk")), "tag_list",
         "too many tags (maximum is 10)"),
    ]
    for draft, field, message in cases:
        with pytest.raises(InvalidError) as info:
            await users.signup(1, draft)
        assert (info.value.field, info.value.message) == (field, message), draft
    # another application has its own logins
    assert (await users.signup(2, UserDraft(login="neo", password="password123"))).app_id == 2


async def test_update_changes_only_the_given_fields(services):
    users = services.users
    user = await users.signup(1, UserDraft(login="morpheus", password="password123", phone="1", website="w"))
    me = Requester(app_id=1, user_id=user.id)
    updated = await users.update_self(me, None, UserChanges(phone=None, full_name="M"))
    assert (updated.phone, updated.website, updated.full_name) == (None, "w", "M")
    with pytest.raises(ForbiddenError):
        await users.update_self(me, user.id + 1, UserChanges(full_name="x"))
    with pytest.raises(InvalidError) as info:
        await users.update_self(me, user.id, UserChanges(password="newpassword1", old_password="wrong"))
    assert info.value.field == "old_password"
    await users.update_self(me, user.id, UserChanges(password="newpassword1", old_password="password123"))
    assert (await users.authenticate(1, Credentials(login="morpheus", password="newpassword1"))).id == user.id
    with pytest.raises(UnauthenticatedError):
        await users.authenticate(1, Credentials(login="morpheus", password="password123"))


async def test_list_query_conditions_sort_and_cap(services):
    users = services.users
    ids = []
    for i, tags in enumerate((("x",), ("x", "y"), ("y",), ())):
        user = await users.signup(1, UserDraft(login=f"lister{i}", password="password123", user_tags=tags,
                                               external_user_id=100 + i))
        ids.append(user.id)
    me = Requester(app_id=1, user_id=ids[0])
    found, total, skip, limit = await users.list(me, UserQuery(
        conditions=(Condition("user_tags", Op.in_, ("x", "y")), Condition("external_user_id", Op.gte, 101)),
        sort=(("_id", -1),), skip=0, limit=10_000))
    assert [u.id for u in found] == [ids[2], ids[1]] and total == 2
    assert (skip, limit) == (0, services.settings.limits.max_list_limit)
    found, total, _, _ = await users.list(me, UserQuery(
        conditions=(Condition("login", Op.starts_with, "LISTER"),), skip=1, limit=2))
    assert [u.id for u in found] == ids[1:3] and total == 4


async def test_sessions_from_requests(services):
    await services.users.signup(1, UserDraft(login="seraph", password="password123"))
    session, user = await services.sessions.create(SessionRequest(
        application_id=1, auth_key=AUTH_KEY, user=Credentials(email=None, login="seraph", password="password123")))
    assert session.user_id == user.id and user.last_request_at is not None
    session, guest = await services.sessions.create(SessionRequest(
        application_id=1, auth_key=AUTH_KEY, user=GuestLogin(full_name="g" * 300)))
    assert session.is_guest and guest.is_guest and guest.full_name == "g" * 200
    with pytest.raises(UnauthenticatedError):
        await services.sessions.create(SessionRequest(application_id=1, auth_key="wrong", provider="facebook"))
    with pytest.raises(InvalidError) as info:
        await services.sessions.create(SessionRequest(application_id=1, auth_key=AUTH_KEY, provider="facebook"))
    assert info.value.field == "provider"
    session, _ = await services.sessions.create(SessionRequest(application_id=1, auth_key=AUTH_KEY))
    requester = await services.sessions.resolve(session.token)
    with pytest.raises(InvalidError) as info:
        await services.sessions.login(requester, Credentials(login="seraph"))
    assert (info.value.field, info.value.message) == ("password", "can't be blank")
    assert (await services.sessions.login(requester, Credentials(login="seraph", password="password123"))).login == "seraph"
