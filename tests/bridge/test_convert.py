"""Pure parts of the bridge: extraParams, escaping, drafts, errors, the relay's origin skip,
occupancy, serialisation (JIDs: tests/models/test_jids.py)."""
from __future__ import annotations

import asyncio
import string
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, settings, strategies as st

from bridge.convert import (attr, clean, draft_from_stanza, esc, extra_params_xml, message_params,
                            parse_extra_params, stanza_params)
from bridge.errors import CONDITIONS, error_reply, to_xmpp_error
from bridge.relay import _delivered_by_xmpp
from bridge.rooms import Occupancy, Overloaded, Serializer
from models.errors import ErrorCode, ForbiddenError, InvalidError
from models.events import Origin
from models.messages import Message

KEYS = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_-]{0,20}\Z")
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


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
    message = Message(id="m1", app_id=1, dialog_id="d1", sender_id=7, date_sent=17.0,  # type: ignore[arg-type]
                      custom={"k": "v", "dialog_id": "forged"})
    assert message_params(message) == {"k": "v", "save_to_history": "1", "dialog_id": "d1", "date_sent": "17"}


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


def test_the_relay_skips_exactly_what_xmpp_delivered():
    """By origin, deterministically: no table, no time window, no matching of ids."""
    mine = {"kind": "messages_read", "app_id": 1, "sender_id": 7, "payload": {"message_ids": ["aa"]},
            "origin": {"transport": "xmpp", "stanza_id": "s1"}}
    assert _delivered_by_xmpp(mine) and _delivered_by_xmpp(mine)  # every time, not once
    assert _delivered_by_xmpp({**mine, "origin": Origin(transport="xmpp")})
    for origin in (None, {"transport": "rest", "stanza_id": None}, Origin(transport="rest"), "xmpp", {}):
        assert not _delivered_by_xmpp({**mine, "origin": origin})
    assert not _delivered_by_xmpp({k: v for k, v in mine.items() if k != "origin"})


def test_stanza_params_stamp_without_changing_the_parsed_params():
    parsed = parse_extra_params(ET.fromstring(
        '<extraParams><k>v</k><date_sent>5</date_sent><attachment type="image"/></extraParams>'))
    before = {**parsed, "attachments": list(parsed["attachments"])}
    params, attachments = stanza_params(parsed, "d1", 17)
    assert params == {"k": "v", "date_sent": "5", "dialog_id": "d1"} and attachments == [{"type": "image"}]
    assert parsed == before  # parsed once, used twice (the draft and the fan-out)
    assert stanza_params({}, "d1", 17)[0] == {"dialog_id": "d1", "date_sent": "17"}


def test_occupancy_bookkeeping():
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
