"""Round trips of conversation events and edits (Hypothesis): a notice's keys survive the headline
the relay writes and the SDK-rule parsing of its extraParams; an edit's custom changes merge as
documented (set, `None` removes, the rest kept)."""
from __future__ import annotations

from xml.etree import ElementTree as ET

from hypothesis import given, strategies as st

from bridge.convert import body_xml, extra_params_xml, parse_extra_params
from models.conversation import PROFILE_NOTICES, Notice, NoticeType
from models.messages import Message, make_edit

KEYS = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_-]{0,20}\Z")
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn")), min_size=1, max_size=40)
VALUES = st.one_of(TEXT, st.integers(-10**6, 10**6), st.booleans())


@given(st.sampled_from(list(NoticeType)), st.lists(st.integers(1, 10**9), max_size=5, unique=True),
       st.one_of(st.none(), TEXT), st.integers(0, 10**9))
def test_a_notice_survives_the_headline(kind, user_ids, value, actor):
    notice = Notice(kind, tuple(user_ids), value if kind in PROFILE_NOTICES.values() else None)
    keys = notice.extension(actor)
    xml = ('<message xmlns="jabber:client" type="headline">' + body_xml("x")
           + extra_params_xml({"moduleIdentifier": "SystemNotifications", **keys}) + "</message>")
    parsed = parse_extra_params(ET.fromstring(xml).find("{jabber:client}extraParams"))
    # the SDK's rules: every key comes back as the string sent (moduleIdentifier is removed)
    assert parsed == keys
    assert parsed["notification_type"] == kind.value and parsed["actor_id"] == str(actor)
    assert [int(u) for u in parsed.get("user_ids", "").split(",") if u] == user_ids


@given(st.dictionaries(KEYS, VALUES, max_size=8), st.dictionaries(KEYS, st.one_of(st.none(), VALUES),
                                                                  max_size=8))
def test_an_edit_merges_custom_parameters(before, change):
    message = Message(id="65a1b2c3d4e5f6a7b8c9d0e1", app_id=1, dialog_id="d", sender_id=1,
                      body="b", custom=before, attachments=({"type": "image"},))
    edited = make_edit(None, change).applied(message, None)
    for key, value in change.items():
        if value is None:
            assert key not in edited.custom
        else:
            assert edited.custom[key] == value
    for key, value in before.items():
        if key not in change:
            assert edited.custom[key] == value
    assert edited.body == "b" and edited.attachments == message.attachments
