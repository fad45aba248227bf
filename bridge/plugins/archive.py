"""`cc_archive`: Message Archive Management (XEP-0313, `urn:xmpp:mam:2`) answered from the store.

- The user's own archive: a query to their bare JID (or to no one: their account) reaches us
  through XEP-0355 delegation (config/templates/prosody.cfg.lua); the user is the sender of the
  wrapped IQ, never anything the query says. A query to another user's bare JID is refused
  (forbidden). Results come from the user's bare JID to the querying resource, sent through
  XEP-0356 (`send_as_user`), then the wrapped `<fin>`.
- A room's archive: a query to the room JID, for its readers only (forbidden otherwise); results
  come from the room.
- Filters: `with` (own archive: the other user's bare JID), `start` / `end`; RSM `max`,
  `after`, `before` (empty: the last page). `<fin complete="true">` on the last page, RSM
  `first` / `last` the stored ids of the page.
- Each result is the stored message as it was delivered live (`bridge/convert.py`: body,
  extraParams with `dialog_id` / `date_sent`, attachments), with `<delay>` (its `date_sent`)
  and XEP-0359 `<stanza-id by=archive>` carrying the stored id, which is also the result id.
- Disco: `urn:xmpp:mam:2` for Prosody's disco nesting (server and bare-JID disco#info) and in
  the rooms' features (`room_features`).
This is a cold path: the query is parsed with slixmpp's own XEP-0313 / XEP-0059 stanza classes.
"""
from __future__ import annotations

import functools
import logging
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any
from xml.etree.ElementTree import Element

from slixmpp.plugins.xep_0004.stanza import Form
from slixmpp.plugins.xep_0059.stanza import Set
from slixmpp.plugins.xep_0313.stanza import MAM
from slixmpp.xmlstream import register_stanza_plugin

from bridge.convert import (NS_DELAY, NS_FORWARD, attr, body_xml, extra_params_xml, message_params,
                            namespace)
from bridge.errors import CONDITIONS, Condition, condition_for, error_xml
from bridge.plugins.base import BridgePlugin
from models.archive import DEFAULT_PAGE, ArchivePage, ArchiveQuery
from models.errors import ChatError, ErrorCode, InvalidError
from models.jids import UserAddress, parse_room, parse_user, split
from models.messages import Message

logger = logging.getLogger(__name__)

NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_SID = "urn:xmpp:sid:0"
FORBIDDEN = CONDITIONS[ErrorCode.forbidden]

register_stanza_plugin(MAM, Form)
register_stanza_plugin(MAM, Set)


@functools.lru_cache(maxsize=4096)
def stamp(date_sent: Any) -> str:
    """XEP-0082 time of a stored `date_sent` (Unix seconds)."""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(date_sent)))
    except (TypeError, ValueError, OverflowError, OSError):
        return "1970-01-01T00:00:00Z"


def _seconds(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp())


def query_from_stanza(payload: Element, **scope: Any) -> tuple[str, str | None, ArchiveQuery]:
    """(queryid, `with` JID or None, ArchiveQuery) of a `<query xmlns="urn:xmpp:mam:2">`;
    raises InvalidError."""
    mam = MAM(xml=payload)
    try:
        start, end = mam["start"], mam["end"]
    except (ValueError, TypeError) as exc:
        raise InvalidError("start and end must be XEP-0082 times", field="start") from exc
    rsm = mam["rsm"]
    limit = rsm["max"]
    try:
        limit = int(limit) if limit not in ("", None) else DEFAULT_PAGE
    except ValueError as exc:
        raise InvalidError("max must be a number", field="max") from exc
    before = rsm["before"]
    with_jid = mam["with"]
    return mam["queryid"] or "", str(with_jid) if with_jid else None, ArchiveQuery(
        start=_seconds(start), end=_seconds(end), after_id=rsm["after"] or None,
        before_id=before if isinstance(before, str) and before else None,
        last_page=before is True, limit=max(0, limit), **scope)


class ArchivePlugin(BridgePlugin):
    name = "cc_archive"
    description = "chatbridge: message archive management (XEP-0313)"
    handles = {("iq", f"delegation {NS_MAM}"): "handle_delegation",
               ("iq", f"room {NS_MAM}"): "handle_room_query"}
    delegated_features = {NS_MAM: (NS_MAM,)}
    room_features = (NS_MAM,)

    # -- own archive (delegated) -------------------------------------------------------------------
    def handle_delegation(self, element: Element) -> None:
        request = self.delegated_request(element)
        if request is None:
            return
        inner, user = request
        payload = inner[0]
        if not user.resource:
            self.answer_delegated(element, inner, error=FORBIDDEN)
            return
        target = inner.get("to")
        own = split(self.user_jid(user.app_id, user.user_id)).bare
        if target and split(target).bare != own:
            self.answer_delegated(element, inner, error=FORBIDDEN, sender=split(target).bare)
            return
        if inner.get("type") != "set" or namespace(payload.tag) != NS_MAM:
            self.answer_delegated(element, inner, error=CONDITIONS[ErrorCode.unavailable], sender=own)
            return

        async def run() -> None:
            try:
                await self._own_archive(element, inner, payload, user, own)
            except ChatError as exc:
                self.answer_delegated(element, inner, error=condition_for(exc), sender=own)
            except Exception as exc:  # noqa: BLE001 - the user gets an answer, logged once
                logger.exception("MAM query %s from %s failed", inner.get("id"), inner.get("from"))
                self.answer_delegated(element, inner, error=condition_for(exc), sender=own)
        self.state.serializer.submit(("mam", inner.get("from")), run)

    async def _own_archive(self, element: Element, inner: Element, payload: Element,
                           user: UserAddress, own: str) -> None:
        query_id, with_jid, query = query_from_stanza(payload)
        if with_jid is not None:
            other = parse_user(with_jid, self.domain)
            if other is None or other.app_id != user.app_id:
                raise InvalidError("with must be a user of this application", field="with")
            query = replace(query, with_user=other.user_id)
        page = await self.state.services.archive.query(self.requester((user.app_id, user.user_id)),
                                                       query)
        full = inner.get("from") or ""
        for message in page.items:
            self.send_as_user(self._result(message, query_id, own, full, own, user.app_id, room=None))
        self.answer_delegated(element, inner, _fin(page), sender=own)

    # -- room archives -------------------------------------------------------------------------------
    def handle_room_query(self, element: Element) -> None:
        user = parse_user(element.get("from"), self.domain)
        room = parse_room(element.get("to"), self.muc_domain)
        if user is None or room is None or room.nick or room.app_id != user.app_id:
            self.xmpp.reply_error(element, FORBIDDEN)
            return
        if element.get("type") != "set":
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.unavailable])
            return
        room_jid = self.room_jid(room.app_id, room.dialog_id)

        async def run() -> None:
            try:
                query_id, _, query = query_from_stanza(element[0], dialog_id=room.dialog_id)
                page = await self.state.services.archive.query(
                    self.requester((user.app_id, user.user_id)), query)
            except ChatError as exc:
                self._room_error(element, room_jid, condition_for(exc))
                return
            except Exception as exc:  # noqa: BLE001 - the user gets an answer, logged once
                logger.exception("room MAM query %s from %s failed", element.get("id"),
                                 element.get("from"))
                self._room_error(element, room_jid, condition_for(exc))
                return
            full = element.get("from") or ""
            for message in page.items:
                self.xmpp.write(self._result(message, query_id, room_jid, full, room_jid, user.app_id,
                                             room=room_jid))
            self.xmpp.write(f'<iq type="result" id="{attr(element.get("id") or "")}" '
                            f'from="{attr(room_jid)}" to="{attr(full)}">{_fin(page)}</iq>')
        self.state.serializer.submit(("room", room.app_id, room.dialog_id), run)

    def _room_error(self, element: Element, room_jid: str, cond: Condition) -> None:
        self.xmpp.write(f'<iq type="error" id="{attr(element.get("id") or "")}" '
                        f'from="{attr(room_jid)}" to="{attr(element.get("from") or "")}">'
                        f"{error_xml(cond)}</iq>")

    # -- results -------------------------------------------------------------------------------------
    def _result(self, message: Message, query_id: str, sender: str, to: str, archive: str,
                app_id: int, room: str | None) -> str:
        """One `<message><result>` carrying the stored message as it was delivered."""
        mid = attr(message.id)
        if room is not None:
            head = f'<message xmlns="jabber:client" from="{attr(room)}/{message.sender_id}" type="groupchat"'
        else:
            author = self.user_jid(app_id, message.sender_id)
            peer = self.user_jid(app_id, message.recipient_id)
            head = f'<message xmlns="jabber:client" from="{attr(author)}" to="{attr(peer)}" type="chat"'
        original = (f'{head} id="{mid}">{body_xml(message.body)}'
                    f'{extra_params_xml(message_params(message), message.attachments)}'
                    f'<stanza-id xmlns="{NS_SID}" id="{mid}" by="{attr(archive)}"/></message>')
        outer = "" if room is not None else ' xmlns="jabber:client"'  # XEP-0356 needs it
        return (f'<message{outer} from="{attr(sender)}" to="{attr(to)}">'
                f'<result xmlns="{NS_MAM}" queryid="{attr(query_id)}" id="{mid}">'
                f'<forwarded xmlns="{NS_FORWARD}"><delay xmlns="{NS_DELAY}" '
                f'stamp="{stamp(message.date_sent)}"/>{original}</forwarded></result></message>')


def _fin(page: ArchivePage) -> str:
    complete = ' complete="true"' if page.complete else ""
    if page.items:
        rsm = (f'<set xmlns="{NS_RSM}"><first>{attr(page.first)}</first>'
               f"<last>{attr(page.last)}</last></set>")
    else:
        rsm = f'<set xmlns="{NS_RSM}"><count>0</count></set>'
    return f'<fin xmlns="{NS_MAM}"{complete}>{rsm}</fin>'
