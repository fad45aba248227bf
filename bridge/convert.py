"""Stanza <-> domain conversions and the XML of everything the bridge sends.

Incoming: `<extraParams>` children become a params dict (the SDK's rules: elements with content
become string values or nested objects, `<attachment .../>` attributes become attachment objects),
then `draft_from_stanza` hands them to the same lax parser REST uses (`draft_from_params`).

Outgoing: hot paths (fan-out, relay) build escaped strings, not stanza objects (which cost
measurably more per stanza: docs/benchmarks.md, "Why the code is the way it is"). Text is cleaned of
characters XML 1.0 cannot carry, so no stored message can break the component stream.
"""
from __future__ import annotations

import re
from datetime import timezone
from typing import Any, Iterable, Mapping
from xml.etree.ElementTree import Element

from models.messages import MAX_CLIENT_ID, KEY_RE, Message, MessageDraft, draft_from_params

NS_CLIENT = "jabber:client"
NS_MARKERS = "urn:xmpp:chat-markers:0"
NS_CORRECT = "urn:xmpp:message-correct:0"
NS_DELETE = "urn:xmpp:message-delete:0"
NS_CHATSTATES = "http://jabber.org/protocol/chatstates"
NS_FORWARD = "urn:xmpp:forward:0"
NS_PRIVILEGE = "urn:xmpp:privilege:2"
NS_DELEGATION = "urn:xmpp:delegation:2"
NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
NS_DELAY = "urn:xmpp:delay"
NS_SID = "urn:xmpp:sid:0"
NS_NICK = "http://jabber.org/protocol/nick"
NS_ACK = "urn:chatbridge:ack:0"
NS_REPLY = "urn:xmpp:reply:0"
NS_FALLBACK = "urn:xmpp:fallback:0"
MAX_DEPTH = 4
MAX_CHILDREN = 200

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
CONTROL_PARAMS = ("save_to_history", "dialog_id", "date_sent")


# -- element helpers (children are matched by local name, like the SDK) ----------------------------
def localname(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def namespace(tag: Any) -> str:
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def child(element: Element, name: str, ns: str | None = None) -> Element | None:
    for sub in element:
        if localname(sub.tag) == name and (ns is None or namespace(sub.tag) == ns):
            return sub
    return None


def text_of(element: Element | None) -> str | None:
    if element is None:
        return None
    return "".join(element.itertext())


# -- escaping ---------------------------------------------------------------------------------------
def clean(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return _INVALID_XML.sub("", text)


def esc(value: Any) -> str:
    return clean(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def attr(value: Any) -> str:
    return esc(value).replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;") \
        .replace("\t", "&#9;")


# -- extraParams ------------------------------------------------------------------------------------
def _value(element: Element, depth: int) -> Any:
    subs = [sub for sub in element if localname(sub.tag)]
    if not subs or depth >= MAX_DEPTH:
        return text_of(element) or ""
    out: dict[str, Any] = {}
    for sub in subs[:MAX_CHILDREN]:
        name = localname(sub.tag)
        if not KEY_RE.match(name):
            continue
        value = _value(sub, depth + 1)
        if value not in ("", {}):
            out[name] = value
    return out


def parse_extra_params(element: Element | None) -> dict[str, Any]:
    """`<extraParams>` → params (string values, nested objects, `attachments` list)."""
    params: dict[str, Any] = {}
    if element is None:
        return params
    attachments: list[dict[str, Any]] = []
    for sub in list(element)[:MAX_CHILDREN]:
        name = localname(sub.tag)
        if name == "attachment":
            item: dict[str, Any] = {}
            for key, value in sub.attrib.items():
                key = localname(key)
                if KEY_RE.match(key):
                    item[key] = int(value) if key == "size" and value.isdigit() else value
            attachments.append(item)
            continue
        if not name or not KEY_RE.match(name) or name == "moduleIdentifier":
            continue
        value = _value(sub, 1)
        if value not in ("", {}):
            params[name] = value
    if attachments:
        params["attachments"] = attachments
    return params


def children(element: Element) -> dict[str, Element]:
    """The first child of each local name (one pass instead of one `child` call per name)."""
    out: dict[str, Element] = {}
    for sub in element:
        name = localname(sub.tag)
        if name not in out:
            out[name] = sub
    return out


def draft_from_stanza(message: Element, params: dict[str, Any] | None = None,
                      body: Element | None = None, **overrides: Any) -> MessageDraft:
    """A `<message>` (id, body, extraParams) as a MessageDraft; raises InvalidError (field named).
    `params` / `body`: the already parsed extraParams and the `<body>` element, when the caller
    has them."""
    params = dict(params) if params is not None else parse_extra_params(child(message, "extraParams"))
    params.pop("send_to_chat", None)
    body = text_of(body if body is not None else child(message, "body"))
    stanza_id = message.get("id") or None
    # the client's own id (issue 15 §5): its XEP-0359 origin-id, else a stanza id that is not a
    # ConnectyCube id (that one is the stored id itself, idempotent already)
    client_id = origin_id_of(message)
    if stanza_id is not None and not _looks_like_object_id(stanza_id):
        client_id = client_id or stanza_id
        stanza_id = None  # not a ConnectyCube id: the server assigns one
    if client_id is not None and len(client_id) > MAX_CLIENT_ID:
        client_id = None  # too long to be a key: only the server's id then
    overrides.setdefault("client_id", client_id)
    reply = child(message, "reply", NS_REPLY)
    if reply is not None:  # XEP-0461: the quoted message's id (ours: the stored, ObjectId one)
        target = reply.get("id") or ""
        if _looks_like_object_id(target):
            overrides.setdefault("reply_to", target)
        body = strip_reply_fallback(message, body)
    return draft_from_params(params, id=stanza_id, body=body, **overrides)


def strip_reply_fallback(message: Element, body: str | None) -> str | None:
    """The body without the quote a stock client put in for clients without XEP-0461
    (XEP-0428 `<fallback for="urn:xmpp:reply:0"><body start end/>`, code-point offsets)."""
    if not body:
        return body
    for fallback in message:
        if fallback.tag != f"{{{NS_FALLBACK}}}fallback" or fallback.get("for") != NS_REPLY:
            continue
        for part in fallback:
            if localname(part.tag) != "body":
                continue
            try:
                start, end = int(part.get("start") or 0), int(part.get("end") or len(body))
            except ValueError:
                continue
            if 0 <= start <= end <= len(body):
                return body[:start] + body[end:]
    return body


def reply_xml(to: str, quote: Any) -> str:
    """XEP-0461 `<reply>` of a message that quotes another (`quote`: the stored preview or the
    wire's id); `to`: the quoted author's JID (a room occupant's, or a user's)."""
    quoted = quote.get("_id") if isinstance(quote, Mapping) else quote
    return f'<reply xmlns="{NS_REPLY}" to="{attr(to)}" id="{attr(quoted)}"/>' if quoted else ""


_OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")


def _looks_like_object_id(value: str) -> bool:
    return _OBJECT_ID.fullmatch(value) is not None


def wants_history(extra: Element | None, params: dict[str, Any], store_plain: bool) -> bool:
    """Whether a message is to be stored: an SDK message (one with `<extraParams>`) when it says
    `save_to_history=1`, as ConnectyCube does; a plain XMPP client's (no `<extraParams>`) when
    `store_plain` (XmppSettings.store_plain_messages)."""
    if extra is None:
        return store_plain
    return str(params.get("save_to_history", "")).strip().lower() in ("1", "true")


def stanza_id_of(message: Element, by: str) -> str | None:
    """The ObjectId-shaped XEP-0359 `<stanza-id>` that `by` assigned (config/
    mod_chatbridge_copies.lua adds it to 1:1 messages before delivery, for the recipient)."""
    for sub in message:
        if sub.tag == f"{{{NS_SID}}}stanza-id" and sub.get("by") == by:
            value = sub.get("id") or ""
            return value if _looks_like_object_id(value) else None
    return None


def origin_id_of(message: Element) -> str | None:
    """The sender's XEP-0359 `<origin-id>`, if any."""
    for sub in message:
        if sub.tag == f"{{{NS_SID}}}origin-id":
            return sub.get("id") or None
    return None


def ack_xml(client_stanza_id: str | None, message: Message, stored: bool) -> str:
    """The acknowledgement of one 1:1 message sent over XMPP (issue 15 §5; SAMA's
    `ack {mid, server_mid, t}`): the client's stanza id (`mid`), the stored id (`server_mid`), the
    server's time (`t`, Unix seconds: when it was stored), the message's `date_sent`, the dialog,
    the client_id when it has one, and `stored="0"` for a message not kept in history. Sent in
    `acks_xml` (docs/xmpp.md, "Client ids and acknowledgements")."""
    extra = f' client_id="{attr(message.client_id)}"' if message.client_id is not None else ""
    if not stored:
        extra += ' stored="0"'
    mid = f' mid="{attr(client_stanza_id)}"' if client_stanza_id else ""
    created = message.created_at
    if created is not None and created.tzinfo is None:  # stored times are UTC
        created = created.replace(tzinfo=timezone.utc)
    stored_at = int(created.timestamp()) if created is not None else message.date_sent or 0
    return (f'<ack xmlns="{NS_ACK}"{mid} server_mid="{attr(message.id)}" t="{stored_at}" '
            f'date_sent="{message.date_sent or 0}" dialog_id="{attr(message.dialog_id)}"{extra}/>')


def acks_xml(component: str, sender_bare: str, acks: list[str]) -> str:
    """The acknowledgements of one sender's messages of a batch, in one headline to all of the
    sender's devices (never kept offline; one without extraParams the ConnectyCube SDK ignores):
    one stanza per sender and batch, not per message, because Prosody routes each one."""
    return (f'<message from="{attr(component)}" to="{attr(sender_bare)}" type="headline">'
            f'{"".join(acks)}</message>')


def stanza_id_xml(by: str, stored_id: str) -> str:
    return f'<stanza-id xmlns="{NS_SID}" by="{attr(by)}" id="{attr(stored_id)}"/>'


def origin_id_xml(origin: str | None) -> str:
    return f'<origin-id xmlns="{NS_SID}" id="{attr(origin)}"/>' if origin else ""


def nick_xml(name: str | None) -> str:
    """XEP-0172 user nickname (the display name; room nicknames stay numeric user ids)."""
    return f'<nick xmlns="{NS_NICK}">{esc(name)}</nick>' if name else ""


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(_scalar(v) for v in value)
    return clean(value)


def _element(name: str, value: Any, depth: int = 1) -> str:
    if isinstance(value, dict) and depth < MAX_DEPTH:
        inner = "".join(_element(k, v, depth + 1) for k, v in value.items() if KEY_RE.match(str(k)))
        return f"<{name}>{inner}</{name}>"
    text = esc(_scalar(value if not isinstance(value, dict) else ""))
    return f"<{name}>{text}</{name}>" if text else f"<{name}/>"


def extra_params_xml(params: dict[str, Any], attachments: Iterable[dict[str, Any]] = ()) -> str:
    """`<extraParams xmlns="jabber:client">` with one element per key, then the attachments."""
    parts = ['<extraParams xmlns="jabber:client">']
    for key, value in params.items():
        if key == "attachments" or not KEY_RE.match(str(key)):
            continue
        parts.append(_element(key, value))
    for item in attachments:
        attrs = "".join(f' {k}="{attr(_scalar(v) if not isinstance(v, dict) else "[object Object]")}"'
                        for k, v in item.items() if KEY_RE.match(str(k)))
        parts.append(f"<attachment{attrs}/>")
    parts.append("</extraParams>")
    return "".join(parts)


def message_params(message: Message, save_to_history: bool = True) -> dict[str, Any]:
    """extraParams of a stored (or just sent) message: custom keys, then the server's stamps."""
    params: dict[str, Any] = dict(message.custom)
    for key in CONTROL_PARAMS:
        params.pop(key, None)
    if save_to_history:
        params["save_to_history"] = "1"
    params["dialog_id"] = message.dialog_id
    if message.date_sent is not None:
        params["date_sent"] = str(int(message.date_sent))
    return params


def stanza_params(parsed: dict[str, Any], dialog_id: str, date_sent: int) -> tuple[dict[str, Any], list]:
    """The client's own extraParams (as `parse_extra_params` gave them; not changed) with
    `dialog_id` and `date_sent` stamped (as the real server), and the attachments apart."""
    params = dict(parsed)
    attachments = params.pop("attachments", [])
    params["dialog_id"] = dialog_id
    params.setdefault("date_sent", str(date_sent))
    return params, attachments


def body_xml(body: str | None) -> str:
    return f"<body>{esc(body)}</body>" if body else ""
