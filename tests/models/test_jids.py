"""The pure JID module: ConnectyCube user and room addresses (used by the bridge, sessions and
the XMPP auth endpoint)."""
from __future__ import annotations

import string

import pytest
from hypothesis import given, strategies as st

from models.jids import parse_room, parse_user, parse_user_local, room_jid, user_jid, user_local

HEX24 = st.text(alphabet="0123456789abcdef", min_size=24, max_size=24)


@given(st.integers(1, 10**9), HEX24, st.integers(1, 10**9))
def test_room_jids_round_trip(app_id, dialog_id, user_id):
    parsed = parse_room(room_jid(app_id, dialog_id, "muc.localhost", user_id), "muc.localhost")
    assert (parsed.app_id, parsed.dialog_id, parsed.nick) == (app_id, dialog_id, str(user_id))
    assert parse_user(room_jid(app_id, dialog_id, "muc.localhost"), "localhost") is None


@given(st.integers(1, 10**9), st.integers(1, 10**9), st.text(alphabet=string.ascii_letters, max_size=20))
def test_user_jids_round_trip(user_id, app_id, resource):
    parsed = parse_user(user_jid(user_id, app_id, "localhost", resource), "localhost")
    assert (parsed.user_id, parsed.app_id, parsed.resource) == (user_id, app_id, resource)


@pytest.mark.parametrize("jid", ["", None, "7@localhost", "0-1@localhost", "7-1@other", "a-b@localhost",
                                 "7-1-2@localhost", "1_xyz@muc.localhost", "@localhost", "7-1@"])
def test_junk_jids_are_none(jid):
    assert parse_user(jid, "localhost") is None
    assert parse_room(jid, "muc.localhost") is None



@given(st.integers(1, 10**18), st.integers(1, 10**18))
def test_user_local_parts_round_trip(user_id, app_id):
    assert parse_user_local(user_local(user_id, app_id)) == (app_id, user_id)
    assert user_jid(user_id, app_id, "d").split("@")[0] == user_local(user_id, app_id)


@pytest.mark.parametrize("local", ["", None, "7", "7-", "-1", "0-1", "07-1", "7-01", "+7-1", " 7-1",
                                   "7-1 ", "7-1\n", "7_1", "a-b", "7-1-2", "7-1@localhost", 71])
def test_junk_local_parts_are_none(local):
    """What the XMPP server's auth asks about is taken only in the exact form the bridge parses
    (a `07-1` login would be a user the bridge never recognises)."""
    assert parse_user_local(local) is None
