"""Pure parts of the bridge: JIDs, extraParams, escaping, drafts, errors, echoes, serialisation."""
from __future__ import annotations

import asyncio
import string
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, settings, strategies as st

from bridge.convert import (attr, clean, draft_from_stanza, esc, extra_params_xml, message_params,
                            parse_extra_params)
from bridge.echoes import Echoes
from bridge.errors import CONDITIONS, error_reply, to_xmpp_error
from bridge.jids import parse_room, parse_user, room_jid, user_jid
from bridge.rooms import Occupancy, Online, Overloaded, Serializer
from models.errors import ErrorCode, ForbiddenError, InvalidError

KEYS = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_-]{0,20}\Z")
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)
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


@settings(max_examples=100)
@given(st.text(max_size=200))
def test_escaped_text_always_parses_back(text):
    """Whatever a stored message holds, the XML we write parses (characters XML 1.0 cannot carry
    are dropped), so no message can break the component stream."""
    element = ET.fromstring(f'<m a="{attr(text)}">{esc(text)}</m>')
    cleaned = clean(text)
    assert (element.text or "") == cleaned.replace("\r\n", "\n").replace("\r", "\n")
    assert element.get("a") == cleaned


@settings(max_examples=50)
@given(st.dictionaries(KEYS.filter(lambda k: k not in ("attachment", "moduleIdentifier")),
                       st.one_of(TEXT, st.dictionaries(KEYS, TEXT, min_size=1, max_size=3)),
                       max_size=8),
       st.lists(st.dictionaries(KEYS, st.text(alphabet=string.ascii_letters, max_size=10), max_size=3),
                max_size=3))
def test_extra_params_round_trip(params, attachments):
    xml = extra_params_xml(params, attachments)
    parsed = parse_extra_params(ET.fromstring(xml))
    expected = dict(params)
    if attachments:
        expected["attachments"] = attachments
    assert parsed == expected


def test_draft_from_stanza_is_lax_like_rest_and_names_bad_fields():
    message = ET.fromstring(
        '<message xmlns="jabber:client" id="65a1b2c3d4e5f6a7b8c9d0e1" type="chat"><body>hi</body>'
        '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history>'
        '<date_sent>1700000000</date_sent><attachment type="image" uid="u" size="10"/>'
        '<nested><a>1</a><empty/></nested><moduleIdentifier>x</moduleIdentifier></extraParams></message>')
    draft = draft_from_stanza(message, recipient_id=8)
    assert draft.id == "65a1b2c3d4e5f6a7b8c9d0e1" and draft.body == "hi" and draft.recipient_id == 8
    assert draft.date_sent == 1700000000 and draft.save_to_history
    assert draft.attachments == [{"type": "image", "uid": "u", "size": 10}]
    assert draft.custom == {"nested": {"a": "1"}}
    bad = ET.fromstring('<message id="x"><body>hi</body><extraParams><date_sent>soon</date_sent>'
                        "</extraParams></message>")
    with pytest.raises(InvalidError) as err:
        draft_from_stanza(bad, recipient_id=8)
    assert err.value.field == "date_sent"
    assert draft_from_stanza(ET.fromstring('<message id="not-hex"><body>x</body></message>'),
                             recipient_id=8).id is None  # the server assigns one


def test_message_params_stamp_the_server_fields():
    doc = {"chat_dialog_id": "d1", "date_sent": 17.0, "custom": {"k": "v", "dialog_id": "forged"}}
    assert message_params(doc) == {"k": "v", "save_to_history": "1", "dialog_id": "d1", "date_sent": "17"}


def test_errors_keep_the_id_and_the_legacy_code():
    xml = error_reply("message", 'i"d', "room@muc", "u@localhost/r", CONDITIONS[ErrorCode.forbidden], "no <")
    element = ET.fromstring(xml)
    assert element.get("id") == 'i"d' and element.get("type") == "error"
    error = element.find("error")
    assert error.get("code") == "403" and error.get("type") == "auth"
    assert error.find("{urn:ietf:params:xml:ns:xmpp-stanzas}forbidden") is not None
    assert error.find("{urn:ietf:params:xml:ns:xmpp-stanzas}text").text == "no <"
    assert to_xmpp_error(ForbiddenError("x")).condition == "forbidden"
    assert to_xmpp_error(RuntimeError("secret detail")).text == "Internal server error"


def test_echoes_match_once_and_only_their_own_events():
    echoes = Echoes()
    echoes.expect("messages_read", 1, 7, ["AA", "bb"])
    other = {"kind": "messages_read", "app_id": 1, "sender_id": 8, "payload": {"message_ids": ["aa"]}}
    mine = {"kind": "messages_read", "app_id": 1, "sender_id": 7, "payload": {"message_ids": ["aa"]}}
    assert not echoes.consume(other)
    assert echoes.consume(mine)
    assert not echoes.consume(mine)  # once
    echoes.injected("x1")
    assert echoes.is_injected("x1") and not echoes.is_injected("x2") and not echoes.is_injected(None)


def test_online_and_occupancy_bookkeeping():
    online = Online()
    assert online.available((1, 7), "a") and not online.available((1, 7), "b")
    assert not online.unavailable((1, 7), "a", 10.0) and online.unavailable((1, 7), "b", 11.0)
    assert not online.is_online((1, 7)) and online.last_seen((1, 7)) == 11.0
    rooms = Occupancy()
    assert rooms.join((1, "d"), 7, "u/a") and not rooms.join((1, "d"), 7, "u/a")
    rooms.join((1, "d"), 7, "u/b")
    assert not rooms.leave((1, "d"), 7, "u/a")  # still there from another device
    assert rooms.remove_user((1, "d"), 7) == {"u/b"}
    assert rooms.occupants((1, "d")) == {} and rooms.rooms_of("u/b") == set()


async def test_serializer_keeps_order_per_key_and_bounds_the_backlog():
    serializer = Serializer(limit=5)
    seen: list[tuple[str, int]] = []

    def job(key, n, delay):
        async def run():
            await asyncio.sleep(delay)
            seen.append((key, n))
        return run

    for n in range(3):
        serializer.submit("a", job("a", n, 0.02 * (3 - n)))
    serializer.submit("b", job("b", 0, 0))
    serializer.submit("b", job("b", 1, 0))
    with pytest.raises(Overloaded):
        serializer.submit("c", job("c", 0, 0))
    assert await serializer.idle(2)
    assert [n for k, n in seen if k == "a"] == [0, 1, 2]
    assert seen.index(("b", 1)) < seen.index(("a", 0))  # keys run concurrently
    assert serializer.pending == 0
