"""REST → XMPP: domain events from the Mongo outbox, delivered in the formats the SDK parses
(docs/xmpp.md; the stanzas are pinned by tests/bridge/test_relay.py).

| event | private dialog (as the user, XEP-0356, to bare JIDs) | group / public / broadcast |
|---|---|---|
| message_created + send_to_chat | `type=chat` message | `type=groupchat` from `room/sender` |
| message_updated | `<replace id last>` (+ custom keys, attachments after an edit of them) | same, from `room/editor` |
| message_deleted (force) | `<remove xmlns=message-delete:0 id>` | same, from `room/deleter` |
| reactions_updated | `<reactions message_id user_id>` from the reacting user | from the room JID |
| messages_read / _delivered | `<displayed>` / `<received>` to each author, `type=chat` (both kinds) |
| system_message | `type=headline` with `moduleIdentifier=SystemNotifications` to each recipient |
| dialog_updated / _deleted | room cache invalidated; removed occupants kicked (status 301); each of its `notices` (conversation events) a `type=headline` `SystemNotifications` from the actor to each recipient and the actor's online resources (docs/xmpp.md, "Conversation events") |
| sessions_ended | `<end xmlns=urn:chatbridge:sessions:0>` to `sessions@{component}`: Prosody closes the connections that logged in with those sessions' tokens |
| new_device_login | `type=headline` `SystemNotifications` (`notification_type=new_login`) from the user to each of their online resources |
| contacts_changed | one `<apply>` to mod_chatbridge_roster: roster pushes, subscription presences (bridge/plugins/roster.py) |
| user_deleted | the account leaves every contact list (`ContactService.forget_user`; its `contacts_changed` follows) |
| blocklist_updated (not of XMPP origin) | the XMPP server's cache updated, XEP-0191 pushes (bridge/plugins/blocklist.py) |

Blocks: a room event skips the recipients who blocked its actor (messages, edits, reactions;
removals reach everyone); a 1:1 event, a receipt or a system message skips a recipient with a
block either way.

Group deliveries go to every online resource of the recipients (Prosody refuses groupchat to
bare JIDs); in a broadcast dialog, to every online user of the app but those who deleted it for
themselves (the event's `recipient_ids` stay its occupants: the room tells who else).
User-originated ones go through Prosody to bare JIDs, so offline recipients get them from
mod_offline at login.

The flow is one way: an event whose origin is XMPP (`event.origin.transport == "xmpp"`, stamped by
the plugin that handled the causing stanza) was delivered already, by Prosody (1:1 copies) or by
the plugin's own fan-out (rooms), and is skipped; nothing is remembered, no time window. Dialog
events are never skipped (they invalidate the room cache and kick), nor are `contacts_changed`
events (Prosody's rosters change only through them, at least once). What the relay sends as a user
is not copied back to the bridge (mod_chatbridge_copies skips what no client session sent). A batch is marked done only after Prosody confirmed it (ping round trip); when the
link drops, the batch is delivered again after the reconnect (at least once, in order). A
stalled Prosody is waited for (`relay_confirm_timeout_seconds`), then the link is dropped and
made again.
Confirmations are pipelined: up to `IN_FLIGHT` delivered batches wait for theirs while the next
ones go out, so a busy link adds no round trip per batch.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timezone
from typing import Any

from bridge.component import Component
from bridge.convert import attr, body_xml, extra_params_xml, stanza_id_xml
from bridge.plugins.base import BridgeState
from bridge.plugins.blocklist import BlocklistPlugin
from bridge.plugins.bookmarks import BookmarksPlugin
from bridge.plugins.groupchat import GroupChatPlugin
from bridge.plugins.roster import RosterPlugin
from models.conversation import TOLD_TO_THE_REMOVED
from models.errors import NotFoundError
from models.events import Origin
from models.dialogs import DialogType

BROADCAST, PRIVATE = DialogType.BROADCAST, DialogType.PRIVATE
from models.services.outbox import OutboxReader
from models.services.rooms import Room

logger = logging.getLogger(__name__)

CONSUMER = "bridge"
BATCH = 200
IN_FLIGHT = 64  # batches delivered and not yet confirmed (CONFIRM_DELAY lets several share a ping)
POLL_SECONDS = 1.0
MAX_RECEIPTS_PER_EVENT = 200
ROOM_KINDS = ("message_created", "message_updated", "message_deleted", "reactions_updated")
NS_SESSIONS = "urn:chatbridge:sessions:0"  # config/mod_chatbridge_sessions.lua
DELIVERED_BY_XMPP = "xmpp"  # Origin.transport of what the bridge (or Prosody) delivered itself


class Relay:
    def __init__(self, component: Component, state: BridgeState) -> None:
        self._xmpp = component
        self._state = state
        self._outbox = state.services.outbox
        self._task: asyncio.Task | None = None
        self._reader = OutboxReader(self._outbox, CONSUMER, BATCH, POLL_SECONDS)
        self.delivered = 0
        self.skipped = 0
        self.last_error: str | None = None
        self._rooms: dict[tuple[int, str], Room | None] = {}  # broadcast rooms of this batch
        # per event of this batch (by id()): recipients a block keeps it from, and the XMPP
        # server's update for a block list change (read before the synchronous delivery)
        self._blocked: dict[int, set[int]] = {}
        self._updates: dict[int, str] = {}
        # How long a batch waits for Prosody's confirmation while the link is up. A stall is not
        # a loss: Prosody handles the link's stanzas in order once it resumes, so a batch is not
        # delivered again while the link is up (repeats only kept Prosody busy and the relay
        # behind: docs/benchmarks.md, "Why the code is the way it is").
        self.confirm_timeout = state.settings.relay_confirm_timeout_seconds
        self._lost_in_session = -1  # the link session whose loss was last logged

    @property
    def in_flight(self) -> int:
        """Events delivered and waiting for Prosody's confirmation."""
        return self._reader.in_flight

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        await self._reader.start()
        self._task = asyncio.create_task(self._run(), name="bridge-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._reader.close()

    async def _run(self) -> None:
        in_flight: asyncio.Queue = asyncio.Queue(IN_FLIGHT)
        confirmer = asyncio.create_task(self._confirm_loop(in_flight), name="bridge-relay-confirm")
        try:
            while True:
                try:
                    if not self._xmpp.linked:
                        self._reader.restart()
                        await asyncio.sleep(0.05)
                        continue
                    events = await self._reader.next_batch(POLL_SECONDS)
                    if not events:
                        continue
                    await self._load_rooms(events)
                    await self._load_blocks(events)
                    for event in events:
                        self._deliver(event)
                    # waits when IN_FLIGHT batches are unconfirmed (back-pressure)
                    await in_flight.put((self._xmpp.confirm_later(), events))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the relay must survive store hiccups
                    self.last_error = str(exc)
                    self._reader.restart()
                    logger.exception("relay failed; retrying")
                    await asyncio.sleep(1.0)
        finally:
            confirmer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await confirmer

    async def _confirm_loop(self, in_flight: asyncio.Queue) -> None:
        """Marks delivered batches done once Prosody confirmed them, in order; after a lost link,
        everything not confirmed is read again from the store (`restart`) and delivered again."""
        while True:
            pending, events = await in_flight.get()
            try:
                if await self._xmpp.confirmed(pending, self.confirm_timeout):
                    await self._reader.done(events)
                    continue
                timed_out = pending is not None and not pending[1].done()  # else the link dropped
                if timed_out and self._xmpp.linked:
                    # Prosody is alive but stalled (or lost the ping): what it has not handled is
                    # on a link we no longer trust. Reconnecting delivers it again, once.
                    self._xmpp.drop_link(f"Prosody did not confirm relayed stanzas within "
                                         f"{self.confirm_timeout:g}s")
                if self._lost_in_session != self._xmpp.sessions:  # once per link, not per batch
                    self._lost_in_session = self._xmpp.sessions
                    logger.warning("relay: XMPP link lost before Prosody confirmed %d events; they "
                                   "(and later unconfirmed batches) are delivered again after the "
                                   "reconnect", len(events))
                self._reader.restart()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - not marked done: delivered again later
                self.last_error = str(exc)
                self._reader.restart()
                logger.exception("relay: marking events done failed")

    async def _load_rooms(self, events: list[dict[str, Any]]) -> None:
        """The rooms of broadcast dialogs in this batch (who deleted them for themselves), read
        before the synchronous delivery."""
        self._rooms = {}
        for event in events:
            payload = event.get("payload") or {}
            if event.get("kind") not in ROOM_KINDS or not event.get("dialog_id") or \
                    int(payload.get("dialog_type") or 0) != BROADCAST:
                continue
            key = (int(event["app_id"]), str(event["dialog_id"]))
            if key not in self._rooms:
                try:
                    self._rooms[key] = await self._state.rooms.get(*key)
                except NotFoundError:  # deleted meanwhile: its occupants only
                    self._rooms[key] = None

    async def _load_blocks(self, events: list[dict[str, Any]]) -> None:
        """Who a block keeps each event of this batch from: in rooms, the recipients who blocked
        the actor (messages, edits, reactions; removals still reach everyone); 1:1 and receipts,
        a recipient with a block either way. And the update of each block list change."""
        self._blocked, self._updates = {}, {}
        service = self._state.services.blocklist
        for event in events:
            kind = event.get("kind")
            if _delivered_by_xmpp(event) and kind != "blocklist_updated":
                continue
            payload = event.get("payload") or {}
            try:
                app_id = int(event["app_id"])
                if kind == "blocklist_updated":
                    if not _delivered_by_xmpp(event):
                        self._updates[id(event)] = await self._blocklist().update_xml(
                            app_id, int(event["sender_id"]),
                            [int(u) for u in payload.get("blocked") or ()],
                            [int(u) for u in payload.get("unblocked") or ()])
                    continue
                if kind == "system_message":  # 1:1 notifications: not between a blocked pair
                    sender = int(payload.get("user_id") or event["sender_id"])
                    recipients = {int(u) for u in event.get("recipient_ids") or ()}
                    blocked = await service.related(app_id, sender, recipients) if recipients else set()
                    if blocked:
                        self._blocked[id(event)] = blocked
                    continue
                if kind in ("messages_read", "messages_delivered"):
                    reader = int(payload.get("user_id") or event["sender_id"])
                    authors = {int(a) for a in (payload.get("senders") or {}).values() if a}
                    if authors:
                        blocked = await service.related(app_id, reader, authors)
                        if blocked:
                            self._blocked[id(event)] = blocked
                    continue
                if kind not in ROOM_KINDS or kind == "message_deleted" or (
                        kind == "message_created" and not payload.get("send_to_chat")):
                    continue  # removals reach everyone; REST-only messages are not relayed
                actor = int(payload.get("user_id") or event.get("sender_id") or 0)
                recipients = {int(u) for u in event.get("recipient_ids") or ()}
                room = self._rooms.get((app_id, str(event.get("dialog_id"))))
                if room is not None:  # broadcast: whoever of the app receives it now
                    recipients = self._groupchat().receivers(room, recipients)
                if not actor or not recipients:
                    continue
                if self._private(event):
                    blocked = await service.related(app_id, actor, recipients)
                else:
                    blocked = await service.blockers(app_id, actor, recipients)
                if blocked:
                    self._blocked[id(event)] = blocked
            except (KeyError, TypeError, ValueError):
                continue  # malformed: _deliver skips it

    def _blocklist(self) -> BlocklistPlugin:
        return self._xmpp.plugin[BlocklistPlugin.name]

    # -- one event ----------------------------------------------------------------------------------
    def _deliver(self, event: dict[str, Any]) -> None:
        kind = event.get("kind")
        created = event.get("created_at")
        if isinstance(created, datetime):
            if created.tzinfo is None:
                created = created.replace(tzinfo=timezone.utc)
            if time.time() - created.timestamp() > self._state.settings.relay_max_age_seconds:
                self.skipped += 1
                return
        if kind in ("dialog_created", "dialog_updated", "dialog_deleted"):
            self._dialog_changed(event)
            return
        if kind == "contacts_changed":  # whatever its origin: the bridge applies none itself
            self._contacts_changed(event)
            self.delivered += 1
            return
        if kind == "blocklist_updated":  # of XMPP origin: Prosody was told before the answer
            update = self._updates.get(id(event))
            if update:
                self._xmpp.write(update)
                self.delivered += 1
            return
        if _delivered_by_xmpp(event):
            self.skipped += 1
            return
        handler = {
            "message_created": self._message_created,
            "message_updated": self._message_updated,
            "message_deleted": self._message_deleted,
            "reactions_updated": self._reactions_updated,
            "messages_read": self._receipts,
            "messages_delivered": self._receipts,
            "system_message": self._system_message,
            "sessions_ended": self._sessions_ended,
            "new_device_login": self._new_device_login,
            "user_deleted": self._user_deleted,
        }.get(kind or "")
        if handler is None:
            return
        try:
            handler(event)
            self.delivered += 1
        except (KeyError, TypeError, ValueError) as exc:  # a malformed event is skipped, not retried
            self.skipped += 1
            logger.warning("relay: cannot deliver %s event %s: %s", kind, event.get("_id"), exc)

    def _groupchat(self) -> GroupChatPlugin:
        return self._xmpp.plugin[GroupChatPlugin.name]

    def _as_user(self, app_id: int, from_user: int, to_user: int, kind: str, stanza_id: str,
                 content: str, blocked: set[int] | None = None) -> None:
        if blocked and to_user in blocked:
            return
        plugin = self._groupchat()
        plugin.send_as_user(
            f'<message xmlns="jabber:client" from="{attr(plugin.user_jid(app_id, from_user))}" '
            f'to="{attr(plugin.user_jid(app_id, to_user))}" type="{kind}" id="{attr(stanza_id)}">'
            f"{content}</message>")

    def _to_room(self, event: dict[str, Any], nick: Any, stanza_id: str, content: str,
                 include_sender: bool) -> None:
        plugin = self._groupchat()
        app_id, dialog_id = int(event["app_id"]), str(event["dialog_id"])
        users = set(event.get("recipient_ids") or [])
        if include_sender and event.get("sender_id"):
            users.add(int(event["sender_id"]))
        room = self._rooms.get((app_id, dialog_id))
        if room is not None:  # broadcast: every online user of the app who receives it
            users = plugin.receivers(room, users)
        blocked = self._blocked.get(id(event))
        if blocked:
            users -= blocked
        room_jid = plugin.room_jid(app_id, dialog_id, nick if nick not in (None, "", 0) else "")
        plugin.fan_out(plugin.full_jids(app_id, sorted(users)),
                       f'<message from="{attr(room_jid)}" type="groupchat" id="{attr(stanza_id)}"',
                       f">{content}</message>")

    @staticmethod
    def _private(event: dict[str, Any]) -> bool:
        return int((event.get("payload") or {}).get("dialog_type") or 0) == PRIVATE

    def _message_created(self, event: dict[str, Any]) -> None:
        payload = event["payload"]
        if not payload.get("send_to_chat"):
            return  # sent over XMPP (already delivered) or REST-only
        message = payload["message"]
        params: dict[str, Any] = dict(payload.get("custom") or {})
        for key in ("save_to_history", "dialog_id", "date_sent"):
            params.pop(key, None)
        if payload.get("save_to_history", True):
            params["save_to_history"] = "1"
        params["dialog_id"] = message["chat_dialog_id"]
        if message.get("date_sent") is not None:
            params["date_sent"] = str(int(message["date_sent"]))
        content = body_xml(message.get("message")) + extra_params_xml(params, message.get("attachments") or [])
        sender, app_id = int(event["sender_id"]), int(event["app_id"])
        stored = bool(payload.get("save_to_history", True))
        plugin = self._groupchat()
        # XEP-0359 <stanza-id>: the stored id, assigned by the recipient's archive (1:1) or the room
        if self._private(event):
            for recipient in event.get("recipient_ids") or []:
                stamp = stanza_id_xml(plugin.user_jid(app_id, int(recipient)), message["_id"]) if stored else ""
                self._as_user(app_id, sender, int(recipient), "chat", message["_id"], content + stamp,
                              self._blocked.get(id(event)))
        else:
            stamp = stanza_id_xml(plugin.room_jid(app_id, str(event["dialog_id"])), message["_id"]) if stored else ""
            # a service message about the sender leaving does not go back to the sender's devices
            self._to_room(event, sender, message["_id"], content + stamp,
                          include_sender=payload.get("to_sender", True))

    def _message_updated(self, event: dict[str, Any]) -> None:
        payload = event["payload"]
        last = "true" if payload.get("last") else "false"
        params: dict[str, Any] = {"dialog_id": event["dialog_id"]}
        attachments: list[dict[str, Any]] = []
        if "custom" in payload or "attachments" in payload:
            # an edit beyond the body: the message's custom parameters and attachments after it
            # (the SDK's onMessageUpdateListener hands them over as its `extension`)
            params = {k: v for k, v in (payload.get("custom") or {}).items()
                      if k not in ("save_to_history", "dialog_id", "date_sent")}
            params["dialog_id"] = event["dialog_id"]
            if payload.get("edited_at") is not None:
                params["edited_at"] = str(int(payload["edited_at"]))
            attachments = list(payload.get("attachments") or [])
        content = (body_xml(payload.get("message")) +
                   f'<replace xmlns="urn:xmpp:message-correct:0" id="{attr(payload["message_id"])}" '
                   f'last="{last}"/>' + extra_params_xml(params, attachments))
        self._user_or_room(event, int(payload.get("user_id") or event["sender_id"]), content, "edit")

    def _message_deleted(self, event: dict[str, Any]) -> None:
        payload = event["payload"]
        for message_id in payload.get("message_ids") or []:
            content = (f'<remove xmlns="urn:xmpp:message-delete:0" id="{attr(message_id)}"/>'
                       + extra_params_xml({"dialog_id": event["dialog_id"]}))
            self._user_or_room(event, int(payload.get("user_id") or event["sender_id"]), content, "remove")

    def _user_or_room(self, event: dict[str, Any], actor: int, content: str, prefix: str) -> None:
        if self._private(event):
            for recipient in event.get("recipient_ids") or []:
                self._as_user(int(event["app_id"]), actor, int(recipient), "chat",
                              self._xmpp.next_id(prefix), content, self._blocked.get(id(event)))
        else:  # the actor's other devices learn about it too
            self._to_room(event, actor, self._xmpp.next_id(prefix), content, include_sender=True)

    def _reactions_updated(self, event: dict[str, Any]) -> None:
        payload = event["payload"]
        user = int(payload.get("user_id") or event["sender_id"])
        items = ""
        if payload.get("add"):
            items += f'<reaction add="true" type="{attr(payload["add"])}"/>'
        removed = payload.get("removed")
        if removed is None:
            removed = [payload["remove"]] if payload.get("remove") else []
        for emoji in removed:
            if emoji != payload.get("add"):
                items += f'<reaction remove="true" type="{attr(emoji)}"/>'
        content = (extra_params_xml({"dialog_id": event["dialog_id"]}) +
                   f'<reactions message_id="{attr(payload["message_id"])}" user_id="{user}">{items}'
                   "</reactions>")
        if self._private(event):
            for recipient in event.get("recipient_ids") or []:
                self._as_user(int(event["app_id"]), user, int(recipient), "chat",
                              self._xmpp.next_id("react"), content, self._blocked.get(id(event)))
        else:
            self._to_room(event, "", self._xmpp.next_id("react"), content, include_sender=False)

    def _receipts(self, event: dict[str, Any]) -> None:
        """Receipts are always 1:1 to each author's bare JID, also for group messages."""
        payload = event["payload"]
        reader = int(payload.get("user_id") or event["sender_id"])
        name = "displayed" if event["kind"] == "messages_read" else "received"
        senders = payload.get("senders") or {}
        ids = list(payload.get("message_ids") or [])[-MAX_RECEIPTS_PER_EVENT:]
        for message_id in ids:
            author = senders.get(message_id)
            if not author or int(author) == reader:
                continue
            content = (f'<{name} xmlns="urn:xmpp:chat-markers:0" id="{attr(message_id)}"/>'
                       + extra_params_xml({"dialog_id": event["dialog_id"]}))
            self._as_user(int(event["app_id"]), reader, int(author), "chat",
                          self._xmpp.next_id("mark"), content, self._blocked.get(id(event)))

    def _system_message(self, event: dict[str, Any]) -> None:
        payload = event["payload"]
        extension = dict(payload.get("extension") or {})
        body = extension.pop("body", None) if isinstance(extension.get("body"), str) else None
        params = {"moduleIdentifier": "SystemNotifications", **extension}
        if event.get("dialog_id"):
            params.setdefault("dialog_id", event["dialog_id"])
        content = body_xml(body) + extra_params_xml(params)
        sender = int(payload.get("user_id") or event["sender_id"])
        for recipient in event.get("recipient_ids") or []:
            self._as_user(int(event["app_id"]), sender, int(recipient), "headline",
                          str(payload.get("id") or self._xmpp.next_id("sys")), content,
                          self._blocked.get(id(event)))

    def _sessions_ended(self, event: dict[str, Any]) -> None:
        """config/mod_chatbridge_sessions.lua closes the user's connections of those sessions."""
        ids = " ".join(str(int(i)) for i in event["payload"].get("session_ids") or [])
        if not ids or not event.get("sender_id"):
            return
        plugin = self._groupchat()
        user = plugin.user_jid(int(event["app_id"]), int(event["sender_id"])).split("@", 1)[0]
        self._xmpp.write(
            f'<message from="{attr(plugin.muc_domain)}" to="sessions@{attr(plugin.muc_domain)}" '
            f'id="{self._xmpp.next_id("end")}"><end xmlns="{NS_SESSIONS}" user="{attr(user)}" '
            f'sessions="{ids}"/></message>')

    def _new_device_login(self, event: dict[str, Any]) -> None:
        """The messenger's new-login notice: a system message from the user to each of their
        online resources (Prosody drops a headline from a user to their own bare JID), not kept
        for offline devices."""
        payload = event["payload"]
        device = payload.get("device") or {}
        params = {"moduleIdentifier": "SystemNotifications", "notification_type": "new_login",
                  "session_id": str(int(payload["session_id"])), "date": str(int(payload["date"]))}
        for key in ("udid", "platform", "user_agent"):
            if device.get(key):
                params[key] = str(device[key])
        app_id, user = int(event["app_id"]), int(event["sender_id"])
        plugin = self._groupchat()
        content = body_xml("New login to your account") + extra_params_xml(params)
        stanza_id = self._xmpp.next_id("login")
        for target in plugin.full_jids(app_id, [user]):
            plugin.send_as_user(
                f'<message xmlns="jabber:client" from="{attr(plugin.user_jid(app_id, user))}" '
                f'to="{attr(target)}" type="headline" id="{attr(stanza_id)}">{content}</message>')

    def _contacts_changed(self, event: dict[str, Any]) -> None:
        """A REST change of contacts: roster pushes and subscription presences in Prosody."""
        self._xmpp.plugin[RosterPlugin.name].contacts_changed(event)

    def _user_deleted(self, event: dict[str, Any]) -> None:
        """A deleted account leaves every contact list (its owners' rosters are pushed)."""
        self._xmpp.plugin[RosterPlugin.name].user_deleted(event)

    def _dialog_changed(self, event: dict[str, Any]) -> None:
        app_id, dialog_id = int(event["app_id"]), event.get("dialog_id")
        if not dialog_id:
            return
        self._state.rooms.invalidate(app_id, dialog_id)
        payload = event.get("payload") or {}
        try:
            self._conversation_events(event)
        except (KeyError, TypeError, ValueError) as exc:  # the room changes below still happen
            logger.warning("relay: cannot deliver the conversation events of %s: %s",
                           event.get("_id"), exc)
        if event["kind"] == "dialog_deleted":
            removed = list(self._state.occupancy.occupants((app_id, dialog_id)))
        else:
            removed = list(payload.get("removed_ids") or [])
        actor = int(event.get("sender_id") or 0)
        for user_id in removed:
            self._groupchat().kick(app_id, dialog_id, int(user_id), actor)
        self._xmpp.plugin[BookmarksPlugin.name].dialog_changed(event)

    def _conversation_events(self, event: dict[str, Any]) -> None:
        """Each notice of a dialog event (models/conversation.py) as a ConnectyCube system
        message: a headline with `moduleIdentifier=SystemNotifications` from the actor, to every
        recipient's bare JID (Prosody hands a headline to every online resource and keeps none
        offline) and to the actor's own online resources. Users the change removed get only the
        notice of their removal."""
        payload = event.get("payload") or {}
        notices = payload.get("notices") or []
        if not notices:
            return
        app_id, actor = int(event["app_id"]), int(event.get("sender_id") or 0)
        removed = {int(u) for u in payload.get("removed_ids") or []}
        recipients = [int(u) for u in event.get("recipient_ids") or [] if int(u) != actor]
        plugin = self._groupchat()
        sender = plugin.user_jid(app_id, actor) if actor else plugin.muc_domain
        for notice in notices:
            params = {"moduleIdentifier": "SystemNotifications",
                      **{k: str(v) for k, v in notice.items()
                         if k not in ("id", "text") and v is not None},
                      "dialog_id": str(event["dialog_id"])}
            content = body_xml(notice.get("text")) + extra_params_xml(params)
            stanza_id = str(notice.get("id") or self._xmpp.next_id("conv"))
            told_removed = notice.get("notification_type") in TOLD_TO_THE_REMOVED
            for user in recipients:
                if user in removed and not told_removed:
                    continue
                self._headline(sender, plugin.user_jid(app_id, user), stanza_id, content, actor)
            if actor:  # the actor's other devices (Prosody drops a headline to one's own bare JID)
                for target in plugin.full_jids(app_id, [actor]):
                    self._headline(sender, target, stanza_id, content, actor)
            self.delivered += 1

    def _headline(self, sender: str, target: str, stanza_id: str, content: str,
                  actor: int) -> None:
        stanza = (f'from="{attr(sender)}" to="{attr(target)}" type="headline" '
                  f'id="{attr(stanza_id)}">{content}</message>')
        if actor:
            self._groupchat().send_as_user('<message xmlns="jabber:client" ' + stanza)
        else:  # the application's admin: from the component itself
            self._xmpp.write("<message " + stanza)


def _delivered_by_xmpp(event: dict[str, Any]) -> bool:
    """The event's origin (the outbox keeps it as {"transport", "stanza_id"}) is XMPP traffic
    the bridge handled and delivered."""
    origin = event.get("origin")
    if isinstance(origin, Origin):
        return origin.transport == DELIVERED_BY_XMPP
    return isinstance(origin, dict) and origin.get("transport") == DELIVERED_BY_XMPP
