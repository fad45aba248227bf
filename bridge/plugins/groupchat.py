"""`cc_groupchat`: rooms `{appId}_{dialogId}@muc.{domain}` for group, public and broadcast dialogs.

- Join (presence to `room/nick`): only occupants (subscribers of public dialogs; every user of the
  app for a broadcast dialog) get in, named by
  their numeric user id whatever nick they asked for (status 210 when they asked for another).
  The self-presence carries status 110 both
  the standard way and as `<xmlns><code>110</code></xmlns>` (what the ConnectyCube SDK reads) and
  echoes the join id; `<history maxstanzas>` is honoured (capped), then the subject (the dialog
  name) follows for stock clients; errors are presence errors with
  the join id and a `<x xmlns=".../muc"/>` child, as the SDK expects. The rooms are
  non-anonymous: items carry real JIDs and dialog-role affiliations, presences and messages a
  XEP-0172 `<nick>`; `disco#info` tells the name and `ROOM_FEATURES`.
- Messages: persisted through `MessageService.send` (the same call REST makes; stored when
  `save_to_history=1`, or without `<extraParams>` when `store_plain_messages`), then fanned out with the stored id, `dialog_id` and `date_sent` to every
  online resource of every dialog occupant, the sender's own included (joined or not: the SDK no
  longer joins). Broadcast dialogs accept messages only from admins and deliver them (and their
  edits and removals) to every online user of the app, but those who deleted the dialog for
  themselves.
- Edits (`<replace>`) update the stored body, deletes (`<remove>`) are relayed (history deletion
  is REST's job), typing is relayed to the other occupants and never stored.
- `disco#items` lists the room's online occupants; kicks (status 301) follow dialog changes.
Everything for one room runs in order (`Serializer`). A refused stanza gets its error; a job that
fails unexpectedly answers `internal-server-error` and is logged (once).

What the plugin delivers itself (fan-out of messages and edits) is stamped with its origin
(`Origin("xmpp", stanza id)`), so the relay does not deliver it again; receipts sent to a room
are not delivered here, so they carry no origin and the relay tells each author.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Iterable
from xml.etree.ElementTree import Element

from bridge.convert import (NS_CHATSTATES, NS_DELAY, NS_MUC, NS_MUC_USER, NS_SID, attr, body_xml,
                            child, draft_from_stanza, esc, extra_params_xml, localname,
                            message_params, namespace, nick_xml, origin_id_of, origin_id_xml, parse_extra_params, reply_xml,
                            stanza_id_xml, stanza_params, text_of, wants_history)
from bridge.errors import CONDITIONS, Condition, condition_for, error_xml, public_text
from bridge.plugins.base import CONNECTION_GONE, BridgePlugin
from bridge.rooms import Overloaded, RoomKey, UserKey
from models.errors import ChatError, ErrorCode, InvalidError, NotFoundError
from models.events import Origin
from models.jids import RoomAddress, UserAddress, parse_room, parse_user
from models.messages import HistoryQuery
from models.services.rooms import Room

logger = logging.getLogger(__name__)


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("announcing a room departure failed", exc_info=task.exception())

NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
CHAT_STATES = ("active", "composing", "paused", "inactive", "gone")
SELF_110 = '<status code="110"/><xmlns><code>110</code></xmlns>'
# A room's disco#info features (XEP-0045 §6.4). Features another plugin serves for rooms
# (MAM: urn:xmpp:mam:2) are added here, in this one list.
ROOM_FEATURES = ("http://jabber.org/protocol/muc", "muc_membersonly", "muc_persistent",
                 "muc_nonanonymous", "muc_unmoderated", "muc_unsecured",
                 NS_SID, NS_DISCO_INFO, NS_DISCO_ITEMS)


def _iso(ts: Any) -> str:
    try:
        return datetime.fromtimestamp(int(ts), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError, OverflowError):
        return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class GroupChatPlugin(BridgePlugin):
    name = "cc_groupchat"
    description = "chatbridge: dialog rooms"
    handles = {("message", "room"): "handle_message", ("presence", "room"): "handle_presence",
               ("iq", "room"): "handle_iq"}

    def plugin_init(self) -> None:
        super().plugin_init()
        self.xmpp.add_session_listener(self._schedule_prune)
        self.xmpp.add_event_handler(CONNECTION_GONE, self._connection_gone)

    # -- helpers ------------------------------------------------------------------------------------
    def _addresses(self, element: Element) -> tuple[UserAddress | None, RoomAddress | None]:
        return (parse_user(element.get("from"), self.domain),
                parse_room(element.get("to"), self.muc_domain))

    def _submit(self, element: Element, room: RoomAddress, job: Callable[[], Awaitable[None]],
                refuse: Callable[[Condition, str], None] | None = None) -> None:
        """Queues the job on the room. Its refusal (a ChatError) and any unexpected failure
        (`internal-server-error`, logged here, once) answer the sender, through `refuse` when
        given (joins answer with a presence error)."""
        answer = refuse or (lambda cond, text: self.xmpp.reply_error(element, cond, text))

        async def run() -> None:
            try:
                await job()
            except ChatError as exc:
                answer(condition_for(exc), public_text(exc))
            except Exception as exc:  # noqa: BLE001 - the sender gets an answer, the queue goes on
                logger.exception("<%s> %s from %s to %s failed", localname(element.tag),
                                 element.get("id"), element.get("from"), element.get("to"))
                answer(condition_for(exc), public_text(exc))  # internal-server-error
        try:
            self.state.serializer.submit(("room", room.app_id, room.dialog_id), run)
        except Overloaded:
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.rate_limited], "server busy, retry")

    async def _room_for(self, sender: UserAddress, room: RoomAddress) -> Room:
        """The room, if this user receives its messages: the decision is the dialog's access
        rules (`Room.may_join`), a refusal is worded by the access service itself."""
        if room.app_id != sender.app_id:
            raise NotFoundError("Dialog not found")
        found = await self.state.rooms.get(room.app_id, room.dialog_id)
        if found.may_join(sender.user_id):
            return found
        # refused by the cached room: the service answers (raises), unless the user was just
        # added, when the room is read again
        await self.state.services.rooms.check_reader(self.requester((sender.app_id, sender.user_id)),
                                                     room.dialog_id)
        self.state.rooms.invalidate(room.app_id, room.dialog_id)
        found = await self.state.rooms.get(room.app_id, room.dialog_id)
        if not found.may_join(sender.user_id):  # removed again meanwhile
            raise NotFoundError("Dialog not found")
        return found

    def audience_jids(self, room: Room, also: Iterable[int] = ()) -> list[str]:
        """Online resources of everyone who receives the room's messages, and of `also`."""
        return self.full_jids(room.app_id, self.receivers(room, also))

    async def unblocked_jids(self, room: Room, actor: int, also: Iterable[int] = ()) -> list[str]:
        """`audience_jids` without the users who blocked `actor` (they get nothing of theirs in
        real time; one read of the block lists)."""
        users = self.receivers(room, also)
        blockers = await self.state.services.blocklist.blockers(room.app_id, actor, users)
        return self.full_jids(room.app_id, users - blockers if blockers else users)

    def receivers(self, room: Room, also: Iterable[int] = ()) -> set[int]:
        users = set(room.audience) | set(also)
        if room.everyone:  # broadcast: every online user of the app
            users |= {u for u in self.state.online.users_of(room.app_id) if room.receives(u)}
        return users

    @staticmethod
    def _item(room: Room | None, user_id: int, full_jid: str = "") -> str:
        """The occupant's `muc#user` item: affiliation from the dialog's roles (owner, admins,
        members), and the real JID (the rooms are non-anonymous)."""
        admin = room is not None and room.is_admin(user_id)
        owner = room is not None and room.owner_id == user_id
        affiliation = "owner" if owner else "admin" if admin else "member"
        role = "moderator" if admin or owner else "participant"
        jid = f' jid="{attr(full_jid)}"' if full_jid else ""
        return f'<item affiliation="{affiliation}" role="{role}"{jid}/>'

    # -- presence: join / leave ---------------------------------------------------------------------
    def handle_presence(self, element: Element) -> None:
        sender, room = self._addresses(element)
        if room is None:
            return
        if sender is None or not sender.resource:
            if element.get("type") not in ("error", "unavailable"):
                self._join_error(element, room, CONDITIONS[ErrorCode.forbidden], "Unknown user")
            return
        kind = element.get("type")
        if kind == "unavailable":
            self._submit(element, room, lambda: self._leave(element, sender, room),
                         refuse=lambda cond, text: None)  # nobody to answer: logged only
        elif kind in (None, "available"):
            self._submit(element, room, lambda: self._join(element, sender, room),
                         refuse=lambda cond, text: self._join_error(element, room, cond, text))

    def _join_error(self, element: Element, room: RoomAddress, cond: Condition, text: str) -> None:
        ident = f' id="{attr(element.get("id"))}"' if element.get("id") else ""
        nick = room.nick or "0"
        self.xmpp.write(f'<presence type="error"{ident} from="{attr(self.room_jid(room.app_id, room.dialog_id, nick))}" '
                        f'to="{attr(element.get("from") or "")}"><x xmlns="{NS_MUC}"/>'
                        f"{error_xml(cond, text)}</presence>")

    async def _join(self, element: Element, sender: UserAddress, address: RoomAddress) -> None:
        room = await self._room_for(sender, address)
        key: RoomKey = (room.app_id, room.dialog_id)
        me, full = sender.user_id, element.get("from") or ""
        occupancy = self.state.occupancy
        present = occupancy.occupants(key)
        was_present = me in present
        occupancy.join(key, me, full)
        room_jid = self.room_jid(room.app_id, room.dialog_id)
        names = await self.state.names.names(room.app_id, set(present) | {me})
        # neither of a blocked pair sees the other's presence
        hidden = await self.state.services.blocklist.related(room.app_id, me, present)
        # the SDK takes the first child named x: the XEP-0172 <nick> goes after it
        for uid in sorted(present):
            if uid != me and uid not in hidden:
                self.xmpp.write(f'<presence from="{attr(room_jid)}/{uid}" to="{attr(full)}">'
                                f'<x xmlns="{NS_MUC_USER}">{self._item(room, uid, min(present[uid]))}</x>'
                                f'{nick_xml(names.get(uid))}</presence>')
        if not was_present:
            others = [jid for uid, jids in present.items() if uid != me and uid not in hidden
                      for jid in jids]
            self.fan_out(others, f'<presence from="{attr(room_jid)}/{me}"',
                         f'><x xmlns="{NS_MUC_USER}">{self._item(room, me, full)}</x>'
                         f'{nick_xml(names.get(me))}</presence>')
        ident = f' id="{attr(element.get("id"))}"' if element.get("id") else ""
        # 100: non-anonymous; 210: the nick is the user id, whatever was asked for. 110 comes
        # first: the SDK's join() reads only the first <status> (connectycube dist/index.js)
        renamed = '<status code="210"/>' if address.nick != str(me) else ""
        self.xmpp.write(f'<presence{ident} from="{attr(room_jid)}/{me}" to="{attr(full)}">'
                        f'<x xmlns="{NS_MUC_USER}">{self._item(room, me, full)}{SELF_110}'
                        f'<status code="100"/>{renamed}</x>{nick_xml(names.get(me))}</presence>')
        await self._send_history(element, room, sender, full)
        if not (element.get("id") or "").endswith(":join"):
            # XEP-0045 §7.2.15: the subject ends the join for stock clients; the SDK (whose join
            # ids end in ":join", reference/connectycube-protocol.md §5.9) would show it as an
            # empty message
            self.xmpp.write(f'<message type="groupchat" from="{attr(room_jid)}" to="{attr(full)}" '
                            f'id="{attr(self.xmpp.next_id("subject"))}"><subject>{esc(room.name)}</subject>'
                            "</message>")

    async def _send_history(self, element: Element, room: Room, sender: UserAddress, full: str) -> None:
        muc = child(element, "x", NS_MUC)
        history = child(muc, "history") if muc is not None else None
        if history is None:
            return
        try:
            wanted = int(history.get("maxstanzas") or 0)
        except ValueError:
            return
        limit = min(max(wanted, 0), self.state.settings.max_history_stanzas)
        if limit <= 0:
            return
        page = await self.state.services.messages.history(
            self.requester((sender.app_id, sender.user_id)),
            HistoryQuery(dialog_id=room.dialog_id, sort=(("date_sent", -1), ("_id", -1)),
                         limit=limit, mark_read=False))
        room_jid = self.room_jid(room.app_id, room.dialog_id)
        names = await self.state.names.names(room.app_id, {message.sender_id for message in page.items})
        for message in reversed(page.items):
            self.xmpp.write(
                f'<message from="{attr(room_jid)}/{message.sender_id}" to="{attr(full)}" '
                f'type="groupchat" id="{attr(message.id)}">{body_xml(message.body)}'
                f'{extra_params_xml(message_params(message), message.attachments)}'
                f'{stanza_id_xml(room_jid, message.id)}{nick_xml(names.get(message.sender_id))}'
                f'<delay xmlns="{NS_DELAY}" from="{attr(room_jid)}" stamp="{_iso(message.date_sent)}"/>'
                "</message>")

    async def _leave(self, element: Element, sender: UserAddress, address: RoomAddress) -> None:
        key: RoomKey = (address.app_id, address.dialog_id)
        full = element.get("from") or ""
        room_jid = self.room_jid(address.app_id, address.dialog_id)
        gone = self.state.occupancy.leave(key, sender.user_id, full)
        self.xmpp.write(f'<presence type="unavailable" from="{attr(room_jid)}/{sender.user_id}" '
                        f'to="{attr(full)}"><x xmlns="{NS_MUC_USER}"><item affiliation="member" '
                        f'role="none"/>{SELF_110}</x></presence>')
        if gone:
            await self._announce_unavailable(key, sender.user_id)

    async def _announce_unavailable(self, key: RoomKey, user_id: int, status: str = "") -> None:
        """`_broadcast_unavailable` but to those with a block between them and the user (they
        never saw the user join: neither of a blocked pair sees the other's presence)."""
        present = list(self.state.occupancy.occupants(key))
        hidden = await self.state.services.blocklist.related(key[0], user_id, present) \
            if present else set()
        self._broadcast_unavailable(key, user_id, status, hidden=hidden)

    def _broadcast_unavailable(self, key: RoomKey, user_id: int, status: str = "",
                               hidden: set[int] | frozenset[int] = frozenset()) -> None:
        room_jid = self.room_jid(key[0], key[1])
        others = [jid for uid, jids in self.state.occupancy.occupants(key).items()
                  if uid != user_id and uid not in hidden for jid in jids]
        self.fan_out(others, f'<presence type="unavailable" from="{attr(room_jid)}/{user_id}"',
                     f'><x xmlns="{NS_MUC_USER}"><item affiliation="member" role="none"/>{status}'
                     "</x></presence>")

    def _connection_gone(self, gone: tuple[UserKey, str]) -> None:
        """The connection went away (cc_presence tells): it leaves every room it had joined."""
        user, full_jid = gone
        for key in self.state.occupancy.rooms_of(full_jid):
            if self.state.occupancy.leave(key, user[1], full_jid):
                task = asyncio.ensure_future(self._announce_unavailable(key, user[1]))
                task.add_done_callback(_log_failure)

    def kick(self, app_id: int, dialog_id: str, user_id: int, actor_id: int) -> int:
        """Removed from the dialog: status 301 to each of the user's joined devices (the SDK reads
        `<xmlns><code>301</code></xmlns>` and the actor from `presence/item/actor`)."""
        key: RoomKey = (app_id, dialog_id)
        jids = self.state.occupancy.remove_user(key, user_id)
        room_jid = self.room_jid(app_id, dialog_id)
        actor = f'<actor jid="{attr(self.user_jid(app_id, actor_id))}"/>' if actor_id else ""
        self.fan_out(sorted(jids), f'<presence type="unavailable" from="{attr(room_jid)}/{user_id}"',
                     f'><x xmlns="{NS_MUC_USER}"><xmlns><code>301</code></xmlns><status code="301"/>'
                     f'<status code="110"/></x><item affiliation="none" role="none">{actor}</item>'
                     "</presence>")
        if jids:
            task = asyncio.ensure_future(self._announce_unavailable(key, user_id, '<status code="301"/>'))
            task.add_done_callback(_log_failure)
        return len(jids)

    def _schedule_prune(self) -> None:
        """After a reconnect, forget joins of connections that did not come back."""
        self.xmpp.loop.call_later(3.0, self._prune)

    def _prune(self) -> None:
        occupancy, online = self.state.occupancy, self.state.online
        for full_jid in list(occupancy._by_jid):  # noqa: SLF001 - same package
            user = parse_user(full_jid, self.domain)
            if user is None or user.resource not in online.connections((user.app_id, user.user_id)):
                for key in occupancy.rooms_of(full_jid):
                    if user is not None and occupancy.leave(key, user.user_id, full_jid):
                        task = asyncio.ensure_future(self._announce_unavailable(key, user.user_id))
                        task.add_done_callback(_log_failure)

    # -- messages -----------------------------------------------------------------------------------
    def handle_message(self, element: Element) -> None:
        sender, room = self._addresses(element)
        if room is None:
            return
        kind = element.get("type") or "normal"
        if kind == "error":
            return  # never answered (RFC 6120 §8.3.1)
        if sender is None:
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.forbidden], "Unknown user")
            return
        if kind not in ("groupchat", "chat"):
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.bad_request],
                                  "only groupchat messages are accepted")
            return
        if child(element, "subject") is not None:
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.forbidden],
                                  "the subject is the dialog's name: change it through the REST API")
            return
        if child(element, "replace") is not None:
            job = lambda: self._edit(element, sender, room)  # noqa: E731
        elif child(element, "remove") is not None:
            job = lambda: self._remove(element, sender, room)  # noqa: E731
        elif child(element, "received") is not None or child(element, "displayed") is not None:
            job = lambda: self._mark(element, sender)  # noqa: E731
        elif child(element, "body") is not None or child(element, "extraParams") is not None:
            job = lambda: self._send(element, sender, room)  # noqa: E731
        elif any(namespace(sub.tag) == NS_CHATSTATES for sub in element):
            job = lambda: self._typing(element, sender, room)  # noqa: E731
        else:
            return
        self._submit(element, room, job)

    @staticmethod
    def _origin(element: Element) -> Origin:
        """This stanza as the origin of what the service publishes (the relay skips it)."""
        return Origin(transport="xmpp", stanza_id=element.get("id"))

    async def _send(self, element: Element, sender: UserAddress, address: RoomAddress) -> None:
        room = await self._room_for(sender, address)
        extra = child(element, "extraParams")
        params = parse_extra_params(extra)  # once per stanza
        save = wants_history(extra, params, self.state.settings.store_plain_messages)
        draft = draft_from_stanza(element, params, dialog_id=room.dialog_id, save_to_history=save,
                                  origin=self._origin(element))
        if not draft.body and not draft.attachments and not draft.custom:
            raise InvalidError("can't be blank", field="message")
        requester = self.requester((sender.app_id, sender.user_id))
        message = await self.state.services.messages.send(requester, draft)
        params, attachments = stanza_params(params, room.dialog_id, int(message.date_sent or 0))
        room_jid = self.room_jid(room.app_id, room.dialog_id)
        targets = await self.unblocked_jids(room, sender.user_id, also=[sender.user_id])
        stored_id = message.id
        origin = origin_id_of(element)
        name = self.state.names.cached(sender.app_id, sender.user_id)
        if name is None:
            name = (await self.state.names.names(sender.app_id, [sender.user_id])).get(sender.user_id)
        # XEP-0359: the stored id as <stanza-id> for everyone (when stored); the origin-id kept
        stamp = stanza_id_xml(room_jid, stored_id) if draft.save_to_history else ""
        quoted = message.reply_to
        reply = reply_xml(f"{room_jid}/{quoted.get('sender_id')}", quoted) if quoted else ""
        tail = (f">{body_xml(draft.body)}{extra_params_xml(params, attachments)}{stamp}"
                f"{origin_id_xml(origin)}{reply}"
                f"{nick_xml(name)}</message>")
        head = f'<message from="{attr(room_jid)}/{sender.user_id}" type="groupchat" id="'
        own_id = element.get("id") or stored_id
        if own_id != stored_id:
            # a plain client's id: its own devices get the reflection under it (XEP-0045 §7.2.13),
            # everyone else the stored id (what the SDK reads, §5.9 of the protocol reference)
            mine = set(self.full_jids(sender.app_id, [sender.user_id]))
            self.fan_out([t for t in targets if t in mine], f'{head}{attr(own_id)}"', tail)
            targets = [t for t in targets if t not in mine]
        self.fan_out(targets, f'{head}{attr(stored_id)}"', tail)

    async def _edit(self, element: Element, sender: UserAddress, address: RoomAddress) -> None:
        room = await self._room_for(sender, address)
        replace = child(element, "replace")
        target = (replace.get("id") or "") if replace is not None else ""
        body = text_of(child(element, "body")) or ""
        requester = self.requester((sender.app_id, sender.user_id))
        await self.state.services.messages.edit(requester, target, body, origin=self._origin(element))
        last = "true" if (replace.get("last") or "").lower() == "true" else "false"
        params, _ = stanza_params(parse_extra_params(child(element, "extraParams")), room.dialog_id, 0)
        params.pop("date_sent", None)
        room_jid = self.room_jid(room.app_id, room.dialog_id)
        stanza_id = element.get("id") or self.xmpp.next_id("edit")
        self.fan_out(await self.unblocked_jids(room, sender.user_id, also=[sender.user_id]),
                     f'<message from="{attr(room_jid)}/{sender.user_id}" type="groupchat" '
                     f'id="{attr(stanza_id)}"',
                     f'>{body_xml(body)}<replace xmlns="urn:xmpp:message-correct:0" '
                     f'id="{attr(target)}" last="{last}"/>{extra_params_xml(params)}</message>')

    async def _remove(self, element: Element, sender: UserAddress, address: RoomAddress) -> None:
        """Notification only (the SDK deletes history through REST, which relays it too)."""
        room = await self._room_for(sender, address)
        remove = child(element, "remove")
        target = (remove.get("id") or "") if remove is not None else ""
        if not target:
            raise InvalidError("can't be blank", field="id")
        room_jid = self.room_jid(room.app_id, room.dialog_id)
        stanza_id = element.get("id") or self.xmpp.next_id("remove")
        params = {"dialog_id": room.dialog_id}
        self.fan_out(self.audience_jids(room, also=[sender.user_id]),
                     f'<message from="{attr(room_jid)}/{sender.user_id}" type="groupchat" '
                     f'id="{attr(stanza_id)}"',
                     f'><remove xmlns="urn:xmpp:message-delete:0" id="{attr(target)}"/>'
                     f"{extra_params_xml(params)}</message>")

    async def _mark(self, element: Element, sender: UserAddress) -> None:
        """Receipts sent to a room (the SDK sends them 1:1): recorded; the relay tells the author
        (nothing is delivered here, so no origin: the relay must not skip these events)."""
        displayed = child(element, "displayed")
        marker = displayed if displayed is not None else child(element, "received")
        if marker is None or not marker.get("id"):
            return
        target = marker.get("id") or ""
        requester = self.requester((sender.app_id, sender.user_id))
        if displayed is not None:
            await self.state.services.receipts.mark_read(requester, [target])
        else:
            await self.state.services.receipts.mark_delivered(requester, [target])

    async def _typing(self, element: Element, sender: UserAddress, address: RoomAddress) -> None:
        try:
            room = await self._room_for(sender, address)
        except ChatError:
            return  # typing is best effort: never an error
        states = "".join(f'<{localname(sub.tag)} xmlns="{NS_CHATSTATES}"/>' for sub in element
                         if namespace(sub.tag) == NS_CHATSTATES and localname(sub.tag) in CHAT_STATES)
        if not states:
            return
        room_jid = self.room_jid(room.app_id, room.dialog_id)
        audience = [u for u in room.audience if u != sender.user_id]
        blockers = await self.state.services.blocklist.blockers(room.app_id, sender.user_id, audience)
        others = self.full_jids(room.app_id, [u for u in audience if u not in blockers])
        self.fan_out(others, f'<message from="{attr(room_jid)}/{sender.user_id}" type="groupchat"',
                     f">{states}</message>")

    # -- iq -----------------------------------------------------------------------------------------
    def handle_iq(self, element: Element) -> None:
        sender, room = self._addresses(element)
        payload = element[0]
        if room is None or sender is None:
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.forbidden])
            return
        if element.get("type") == "get" and payload.tag == f"{{{NS_DISCO_ITEMS}}}query":
            self._submit(element, room, lambda: self._disco_items(element, sender, room))
        elif element.get("type") == "get" and payload.tag == f"{{{NS_DISCO_INFO}}}query" \
                and not room.nick and not payload.get("node"):
            self._submit(element, room, lambda: self._disco_info(element, sender, room))
        else:
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.unavailable])

    async def _disco_items(self, element: Element, sender: UserAddress, address: RoomAddress) -> None:
        room = await self._room_for(sender, address)
        room_jid = self.room_jid(room.app_id, room.dialog_id)
        joined = set(self.state.occupancy.occupants((room.app_id, room.dialog_id)))
        online = {u for u in room.audience if self.state.online.is_connected((room.app_id, u))}
        items = "".join(f'<item jid="{attr(room_jid)}/{uid}" name="{uid}"/>'
                        for uid in sorted(online | (joined & set(room.audience))))
        self.xmpp.write(f'<iq type="result" id="{attr(element.get("id") or "")}" from="{attr(room_jid)}" '
                        f'to="{attr(element.get("from") or "")}"><query xmlns="{NS_DISCO_ITEMS}">{items}'
                        "</query></iq>")


    async def _disco_info(self, element: Element, sender: UserAddress, address: RoomAddress) -> None:
        """XEP-0045 §6.4: the room's name (the dialog's) and features; its readers only."""
        room = await self._room_for(sender, address)
        room_jid = self.room_jid(room.app_id, room.dialog_id)
        features = "".join(f'<feature var="{attr(var)}"/>' for var in ROOM_FEATURES)
        occupants = len(self.state.occupancy.occupants((room.app_id, room.dialog_id)))
        self.xmpp.write(
            f'<iq type="result" id="{attr(element.get("id") or "")}" from="{attr(room_jid)}" '
            f'to="{attr(element.get("from") or "")}"><query xmlns="{NS_DISCO_INFO}">'
            f'<identity category="conference" type="text" name="{attr(room.name)}"/>{features}'
            '<x xmlns="jabber:x:data" type="result">'
            '<field var="FORM_TYPE" type="hidden"><value>http://jabber.org/protocol/muc#roominfo</value></field>'
            f'<field var="muc#roominfo_occupants"><value>{occupants}</value></field></x></query></iq>')
