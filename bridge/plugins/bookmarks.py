"""`cc_bookmarks`: bookmarks computed from the user's dialogs, so a stock client shows its rooms.

config/mod_chatbridge_bookmarks.lua hands us (in XEP-0355 wrappers) what a user asks of their
own account about bookmarks, and nothing else of pubsub or private storage:
- XEP-0402: items of the PEP node `urn:xmpp:bookmarks:1`, one item per room, id = room JID,
  `<conference autojoin="true" name="{dialog name}"><nick>{user id}</nick>`;
- XEP-0048: `storage:bookmarks` in private storage (XEP-0049) and on its PEP node (item
  `current`), the same rooms.
Rooms are the user's group dialogs and subscribed public dialogs (`BookmarkService`,
models/services/bookmarks.py). Publishing or retracting bookmarks is refused (`not-allowed`):
they follow the dialogs; join or leave a dialog instead.

Live updates: a connection that fetched the XEP-0402 node gets the XEP-0060 event notifications
of its changes (new, renamed and removed rooms) when a dialog is created, renamed, deleted or
its occupants change (`dialog_changed`, called by the outbox relay for dialog events). They are
sent from the user's bare JID, as PEP sends them, through XEP-0356 (`send_as_user`).
"""
from __future__ import annotations

import logging
from typing import Any
from xml.etree.ElementTree import Element

from slixmpp.plugins.xep_0048.stanza import Bookmarks as LegacyStorage
from slixmpp.plugins.xep_0402.stanza import Conference

from bridge.convert import attr, esc, localname, namespace
from bridge.errors import CONDITIONS, INTERNAL, Condition, condition_for
from bridge.plugins.base import CONNECTION_GONE, BridgePlugin
from bridge.rooms import UserKey
from models.bookmarks import Bookmark
from models.errors import ChatError, ErrorCode
from models.jids import UserAddress, split

logger = logging.getLogger(__name__)

NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event"
NS_PRIVATE = "jabber:iq:private"
NS_BOOKMARKS = "urn:xmpp:bookmarks:1"
NS_LEGACY = "storage:bookmarks"
NOT_ALLOWED = Condition("not-allowed", "cancel", 405)
DIALOG_KINDS = ("dialog_created", "dialog_updated", "dialog_deleted")


class BookmarksPlugin(BridgePlugin):
    name = "cc_bookmarks"
    description = "chatbridge: bookmarks (XEP-0402, XEP-0048) from the user's dialogs"
    handles = {("iq", f"delegation {NS_PUBSUB}"): "handle_delegation",
               ("iq", f"delegation {NS_PRIVATE}"): "handle_delegation"}

    def plugin_init(self) -> None:
        super().plugin_init()
        # user → their connections that fetched the XEP-0402 node, and what those were told
        self._watchers: dict[UserKey, set[str]] = {}
        self._known: dict[UserKey, dict[str, str | None]] = {}
        self.xmpp.add_event_handler(CONNECTION_GONE, self._connection_gone)

    # -- requests ---------------------------------------------------------------------------------
    def handle_delegation(self, element: Element) -> None:
        request = self.delegated_request(element)
        if request is None:
            return
        inner, requester = request
        own = inner.get("to") is None or split(inner.get("to")).bare == \
            self.user_jid(requester.app_id, requester.user_id)
        if not own:  # only one's own bookmarks, ever
            self.answer_delegated(element, inner, error=CONDITIONS[ErrorCode.forbidden])
            return
        payload = inner[0]
        request = payload[0] if len(payload) else None
        if inner.get("type") != "get" or request is None:
            self.answer_delegated(element, inner, error=NOT_ALLOWED, sender=self._bare(requester))
            return
        self.state.serializer.submit(("bookmarks", inner.get("from")),
                                     lambda: self._answer(element, inner, requester, payload, request))

    async def _answer(self, element: Element, inner: Element, requester: UserAddress,
                      payload: Element, request: Element) -> None:
        sender = self._bare(requester)
        key = (requester.app_id, requester.user_id)
        try:
            marks = await self.state.services.bookmarks.list(self.requester(key))
        except ChatError as exc:
            self.answer_delegated(element, inner, error=condition_for(exc), sender=sender)
            return
        except Exception:  # noqa: BLE001 - logged, answered without detail
            logger.exception("bookmarks of %s failed", inner.get("from"))
            self.answer_delegated(element, inner, error=INTERNAL, sender=sender)
            return
        app_id, user_id = key
        if namespace(payload.tag) == NS_PRIVATE:
            result = f'<query xmlns="{NS_PRIVATE}">{self.legacy_xml(app_id, user_id, marks)}</query>'
        elif localname(request.tag) != "items":
            self.answer_delegated(element, inner, error=NOT_ALLOWED, sender=sender)
            return
        elif request.get("node") == NS_LEGACY:
            result = (f'<pubsub xmlns="{NS_PUBSUB}"><items node="{NS_LEGACY}"><item id="current">'
                      f"{self.legacy_xml(app_id, user_id, marks)}</item></items></pubsub>")
        else:
            wanted = {item.get("id") for item in request if localname(item.tag) == "item"}
            chosen = [m for m in marks if not wanted or self.room_jid(app_id, m.dialog_id) in wanted]
            items = "".join(self.item_xml(app_id, user_id, m) for m in chosen)
            result = f'<pubsub xmlns="{NS_PUBSUB}"><items node="{NS_BOOKMARKS}">{items}</items></pubsub>'
            resource = requester.resource
            if resource:
                self._watchers.setdefault(key, set()).add(self.user_jid(app_id, user_id, resource))
                self._known[key] = {m.dialog_id: m.name for m in marks}
        self.answer_delegated(element, inner, result, sender=sender)

    # -- the XML --------------------------------------------------------------------------------
    def item_xml(self, app_id: int, user_id: int, mark: Bookmark) -> str:
        conference = Conference()
        if mark.name:
            conference["name"] = mark.name
        conference["autojoin"] = True
        conference["nick"] = str(user_id)
        return f'<item id="{attr(self.room_jid(app_id, mark.dialog_id))}">{conference}</item>'

    def legacy_xml(self, app_id: int, user_id: int, marks: list[Bookmark]) -> str:
        storage = LegacyStorage()
        for mark in marks:
            storage.add_conference(self.room_jid(app_id, mark.dialog_id), str(user_id),
                                   name=mark.name or None, autojoin=True)
        return str(storage)

    def _bare(self, user: UserAddress) -> str:
        return self.user_jid(user.app_id, user.user_id)

    # -- live updates -----------------------------------------------------------------------------
    def _connection_gone(self, gone: tuple[UserKey, str]) -> None:
        key, full_jid = gone
        watchers = self._watchers.get(key)
        if watchers is not None:
            watchers.discard(full_jid)
            if not watchers:
                del self._watchers[key]
                self._known.pop(key, None)

    def dialog_changed(self, event: dict[str, Any]) -> None:
        """A dialog event from the outbox: the watching users it may concern get their changes."""
        if event.get("kind") not in DIALOG_KINDS or not self._watchers:
            return
        payload = event.get("payload") or {}
        if event["kind"] == "dialog_updated" and not (
                payload.get("added_ids") or payload.get("removed_ids")
                or "name" in (payload.get("fields") or ())):
            return
        app_id = int(event["app_id"])
        users = set(event.get("recipient_ids") or ()) | set(payload.get("added_ids") or ()) | \
            set(payload.get("removed_ids") or ())
        for user_id in sorted(int(u) for u in users):
            key = (app_id, user_id)
            if key in self._watchers:
                self.state.serializer.submit(("bookmarks-push", key), lambda k=key: self._push(k))

    async def _push(self, key: UserKey) -> None:
        try:
            marks = await self.state.services.bookmarks.list(self.requester(key))
        except Exception:  # noqa: BLE001 - the next fetch is right anyway
            logger.exception("bookmarks of user %s of app %s failed", key[1], key[0])
            return
        watchers = self._watchers.get(key)
        if not watchers:
            return
        before = self._known.get(key, {})
        now = {m.dialog_id: m.name for m in marks}
        self._known[key] = now
        app_id, user_id = key
        changes = [f'<items node="{NS_BOOKMARKS}">{self.item_xml(app_id, user_id, m)}</items>'
                   for m in marks if m.dialog_id not in before or before[m.dialog_id] != m.name]
        changes += [f'<items node="{NS_BOOKMARKS}"><retract id="{attr(self.room_jid(app_id, d))}"/>'
                    "</items>" for d in before if d not in now]
        bare = self.user_jid(app_id, user_id)
        for change in changes:
            for target in sorted(watchers):
                self.send_as_user(
                    f'<message xmlns="jabber:client" from="{attr(bare)}" to="{esc(target)}" '
                    f'type="headline" id="{self.xmpp.next_id("bm")}">'
                    f'<event xmlns="{NS_PUBSUB_EVENT}">{change}</event></message>')
