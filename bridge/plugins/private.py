"""`cc_private`: 1:1 chat, from the firewall's copies (config/templates/chatbridge.pfw).

Prosody delivers 1:1 messages itself; mod_firewall forwards us a XEP-0297 copy of each one
(`<message from="{domain}" to="chat@muc.{domain}"><forwarded><message .../>`). From the copy:
- messages with a body / attachments go through `MessageService.send` (stored when
  `save_to_history=1`, in the private dialog of the pair, created on first message; the client's
  id is the stored id, so a repeated copy is stored once), which also publishes the push trigger;
- `<received>` / `<displayed>` markers update `delivered_ids` / `read_ids` and unread counts;
- `<replace>` edits the author's stored message.
Copies are only accepted from the server itself; copies of stanzas the relay injected are skipped.
Work for one pair of users runs in order.

Prosody's mod_chatbridge_spool numbers the copies (`id="cbs-N"`) and keeps them until we
acknowledge them (`<ack h="N"/>`: every copy up to N is handled); unacknowledged ones are sent
again after a reconnect, so a dropped link loses nothing (repeats are de-duplicated by message id).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from xml.etree.ElementTree import Element

from bridge.convert import NS_FORWARD, attr, child, draft_from_stanza, localname, parse_extra_params, text_of
from bridge.jids import UserAddress, parse_user
from bridge.plugins.base import BridgePlugin
from bridge.rooms import Overloaded
from models.errors import ChatError, NotFoundError

logger = logging.getLogger(__name__)

NS_SPOOL = "urn:chatbridge:spool:0"
ACK_INTERVAL = 0.1
RETRIES = 4
PAIR_CACHE = 100_000


class PrivateChatPlugin(BridgePlugin):
    name = "cc_private"
    description = "chatbridge: 1:1 message copies"

    def plugin_init(self) -> None:
        super().plugin_init()
        self.stored = 0
        self.ignored = 0
        self._dialogs: OrderedDict[tuple[int, int, int], str] = OrderedDict()  # pair → dialog id
        # spool acknowledgements, per component session (Prosody renumbers after a restart)
        self._session = 0
        self._highest = 0
        self._inflight: set[int] = set()
        self._acked = 0
        self._ack_task: asyncio.Task | None = None
        self.xmpp.add_session_listener(self._new_session)

    def _new_session(self) -> None:
        self._session += 1
        self._highest, self._acked = 0, 0
        self._inflight = set()
        if self._ack_task is None or self._ack_task.done():
            self._ack_task = asyncio.ensure_future(self._ack_loop())

    async def _ack_loop(self) -> None:
        while True:
            await asyncio.sleep(ACK_INTERVAL)
            if not self.xmpp.linked:
                continue
            done = min(self._inflight) - 1 if self._inflight else self._highest
            if done > self._acked:
                self._acked = done
                self.xmpp.write(f'<message from="{attr(self.muc_domain)}" to="spool@{attr(self.muc_domain)}">'
                                f'<ack xmlns="{NS_SPOOL}" h="{done}"/></message>')

    async def close(self) -> None:
        if self._ack_task is not None:
            self._ack_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ack_task

    def handle_copy(self, element: Element) -> None:
        if element.get("from") != self.domain:
            logger.info("ignoring a forged copy from %s", element.get("from"))
            return
        seq = _spool_seq(element.get("id"))
        if seq is not None:
            self._highest = max(self._highest, seq)
        forwarded = child(element, "forwarded", NS_FORWARD)
        inner = forwarded[0] if forwarded is not None and len(forwarded) else None
        if inner is None or localname(inner.tag) != "message" or inner.get("type") != "chat":
            return
        if self.state.echoes.is_injected(inner.get("id")):
            return
        sender = parse_user(inner.get("from"), self.domain)
        recipient = parse_user(inner.get("to"), self.domain)
        if sender is None or recipient is None or sender.app_id != recipient.app_id \
                or sender.user_id == recipient.user_id:
            self.ignored += 1
            return
        pair = (sender.app_id, min(sender.user_id, recipient.user_id),
                max(sender.user_id, recipient.user_id))
        token = (self._session, seq)
        if seq is not None:
            self._inflight.add(seq)
        try:
            self.state.serializer.submit(("pair",) + pair,
                                         lambda: self._handle(inner, sender, recipient, token))
        except Overloaded:
            self._done(token)
            logger.error("bridge overloaded: 1:1 copy %s not persisted", inner.get("id"))

    def _done(self, token: tuple[int, int | None]) -> None:
        session, seq = token
        if seq is not None and session == self._session:
            self._inflight.discard(seq)

    async def _handle(self, inner: Element, sender: UserAddress, recipient: UserAddress,
                      token: tuple[int, int | None]) -> None:
        try:
            for attempt in range(RETRIES):
                try:
                    await self._dispatch(inner, sender, recipient)
                    return
                except ChatError as exc:  # already delivered by Prosody: nobody to answer
                    self.ignored += 1
                    logger.info("1:1 message %s from user %s not recorded: %s", inner.get("id"),
                                sender.user_id, exc.message)
                    return
                except Exception:  # noqa: BLE001 - the store may be back in a moment
                    if attempt == RETRIES - 1:
                        raise
                    logger.warning("1:1 copy %s failed (attempt %d); retrying", inner.get("id"),
                                   attempt + 1, exc_info=True)
                    await asyncio.sleep(0.5 * 2 ** attempt)
        finally:
            self._done(token)

    async def _dispatch(self, inner: Element, sender: UserAddress, recipient: UserAddress) -> None:
        messages = self.state.services.messages
        requester = self.requester((sender.app_id, sender.user_id))
        echoes = self.state.echoes
        for name, kind, mark in (("received", "messages_delivered", messages.mark_delivered),
                                 ("displayed", "messages_read", messages.mark_read)):
            marker = child(inner, name)
            if marker is not None:
                target = marker.get("id") or ""
                if target:
                    expected = echoes.expect(kind, sender.app_id, sender.user_id, [target])
                    try:
                        await mark(requester, [target])
                    except ChatError:
                        echoes.cancel(expected)
                        raise
                return
        replace = child(inner, "replace")
        if replace is not None:
            target = replace.get("id") or ""
            expected = echoes.expect("message_updated", sender.app_id, sender.user_id, [target])
            try:
                await messages.edit(requester, target, text_of(child(inner, "body")) or "")
            except ChatError:
                echoes.cancel(expected)
                raise
            return
        if child(inner, "remove") is not None or child(inner, "reactions") is not None:
            return  # notifications only: history changes come through REST
        if child(inner, "body") is None and child(inner, "extraParams") is None:
            return
        params = parse_extra_params(child(inner, "extraParams"))
        save = str(params.get("save_to_history", "")).strip().lower() in ("1", "true")
        draft = draft_from_stanza(inner, recipient_id=recipient.user_id, save_to_history=save)
        if not draft.body and not draft.attachments:
            return  # extraParams alone (e.g. call signalling on type=chat): nothing to keep
        # The pair decides the dialog: a client-side dialog_id is not trusted for 1:1 copies. The
        # pair's dialog id is remembered (looking it up by pair is the costly part of a send).
        pair = (sender.app_id, min(sender.user_id, recipient.user_id),
                max(sender.user_id, recipient.user_id))
        known = self._dialogs.get(pair)
        if known is not None:
            try:
                stored = await messages.send(requester, draft.model_copy(update={"dialog_id": known}))
                self.stored += 1
                return
            except NotFoundError:  # the dialog was deleted: find or create it again
                self._dialogs.pop(pair, None)
        stored = await messages.send(requester, draft.model_copy(update={"dialog_id": None}))
        self._remember(pair, stored["chat_dialog_id"])
        self.stored += 1

    def _remember(self, pair: tuple[int, int, int], dialog_id: str) -> None:
        self._dialogs[pair] = dialog_id
        self._dialogs.move_to_end(pair)
        while len(self._dialogs) > PAIR_CACHE:
            self._dialogs.popitem(last=False)


def _spool_seq(stanza_id: str | None) -> int | None:
    if stanza_id and stanza_id.startswith("cbs-") and stanza_id[4:].isdigit():
        return int(stanza_id[4:])
    return None
