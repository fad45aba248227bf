"""`cc_private`: 1:1 chat, from Prosody's copies (config/mod_chatbridge_copies.lua).

Prosody delivers 1:1 messages itself; mod_chatbridge_copies forwards us a XEP-0297 copy of each one
(`<message from="{domain}" to="chat@muc.{domain}"><forwarded><message .../>`). From the copy:
- messages with a body / attachments go through `MessageService.send` (stored when
  `save_to_history=1`, or when a plain XMPP client's message has no extraParams at all and
  `store_plain_messages` is on; in the private dialog of the pair, created on first message; the
  client's id is the stored id, else the XEP-0359 stanza-id Prosody gave the recipient, so a
  repeated copy is stored once), which also publishes the push trigger;
- `<received>` / `<displayed>` markers update `delivered_ids` / `read_ids` and unread counts;
- `<replace>` edits the author's stored message.
The sender's devices get an acknowledgement of each message handled (`ack_xml`: the stored id and
the server's time). Before delivery, mod_chatbridge_copies asks for the pair's private dialog of
an SDK message without `extraParams/dialog_id` (`handle_dialog_lookup`: found or created), so the
recipient's copy carries it and the SDK sends its delivered receipt.
Copies are only accepted from the server itself (mod_chatbridge_copies does not copy what the
relay sends as a user; should a server copy it anyway, storing and marking are idempotent, and
what that publishes again carries the bridge's origin, so nothing loops). Copies are handled in
arrival order, in batches: the messages of a batch are stored together.

Prosody delivered the original, so everything the service publishes for a copy carries its
origin (`Origin("xmpp", id of the client's stanza)`) and the relay does not deliver it again.

Prosody's mod_chatbridge_spool numbers the copies (`id="cbs-N"`) and keeps them until we
acknowledge them (`<ack h="N"/>`: every copy up to N is handled); unacknowledged ones are sent
again after a reconnect, so a dropped link loses nothing (repeats are de-duplicated by message id;
a plain XMPP client's message gets an id derived from its copy, `copy_message_id`).
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable
from xml.etree.ElementTree import Element

from bridge.convert import (NS_FORWARD, ack_xml, acks_xml, attr, child, children, draft_from_stanza, localname,
                            parse_extra_params, stanza_id_of, text_of, wants_history)
from bridge.errors import CONDITIONS, INTERNAL, condition_for
from bridge.plugins.base import BridgePlugin
from models.errors import ChatError, ErrorCode, NotFoundError
from models.events import Origin
from models.jids import UserAddress, parse_user
from models.messages import MessageDraft

logger = logging.getLogger(__name__)

NS_SPOOL = "urn:chatbridge:spool:0"
NS_DIALOG = "urn:chatbridge:dialog:0"
ACK_INTERVAL = 0.1
RETRIES = 4
BATCH = 256  # copies per store batch


@dataclass(slots=True)
class _Copy:
    inner: Element
    sender: UserAddress
    recipient: UserAddress
    token: tuple[int, int | None]  # (link session, spool number)
    spooled: tuple[str, str] | None = None  # the spool's (boot, stamp): see `copy_message_id`

    @property
    def pair(self) -> tuple[int, int, int]:
        a, b = self.sender.user_id, self.recipient.user_id
        return (self.sender.app_id, a, b) if a < b else (self.sender.app_id, b, a)


async def _nothing() -> None:
    return None


class PrivateChatPlugin(BridgePlugin):
    name = "cc_private"
    description = "chatbridge: 1:1 message copies"
    handles = {("message", "copies"): "handle_copy",
               ("iq", f"component {NS_DIALOG}"): "handle_dialog_lookup"}
    status_key = "private"

    def plugin_init(self) -> None:
        super().plugin_init()
        self.stored = 0
        self.ignored = 0
        self.pauses = 0  # times reading stopped because copies came faster than they were stored
        # spool acknowledgements, per component session (Prosody renumbers after a restart)
        self._session = 0
        self._highest = 0
        self._inflight: set[int] = set()
        self._acked = 0
        self._ack_task: asyncio.Task | None = None
        self._queue: list[_Copy] = []
        self._worker: asyncio.Task | None = None
        self._paused = False
        self.xmpp.add_session_listener(self._new_session)

    def _new_session(self) -> None:
        self._session += 1
        self._highest, self._acked = 0, 0
        self._inflight = set()
        self._paused = False  # a new connection reads
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
        for task in (self._ack_task, self._worker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    @property
    def pending(self) -> int:
        return len(self._queue)

    def status(self) -> dict[str, int]:
        return {"stored": self.stored, "ignored": self.ignored, "pauses": self.pauses}

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
        sender = parse_user(inner.get("from"), self.domain)
        recipient = parse_user(inner.get("to"), self.domain)
        if sender is None or recipient is None or sender.app_id != recipient.app_id \
                or sender.user_id == recipient.user_id:
            self.ignored += 1
            return
        token = (self._session, seq)
        if seq is not None:
            self._inflight.add(seq)
        boot, stamp = element.get("boot"), element.get("stamp")
        spooled = (boot, stamp) if boot and stamp and seq is not None else None
        self._queue.append(_Copy(inner, sender, recipient, token, spooled))
        if len(self._queue) >= self.state.settings.max_pending_stanzas and not self._paused:
            # back-pressure, never loss: Prosody keeps what it cannot send us (and the spool
            # keeps every unacknowledged copy for a reconnect)
            self._paused = self.xmpp.pause_input()
            self.pauses += 1
            logger.warning("bridge behind on 1:1 copies (%d queued): reading paused", len(self._queue))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._drain())

    def handle_dialog_lookup(self, element: Element) -> None:
        """mod_chatbridge_copies asks for a pair's private dialog before it delivers an SDK
        message without `extraParams/dialog_id` (issue 15 §9a): `<dialog from="{uid}-{app}"
        to="{uid}-{app}"/>`, answered `<dialog id="..."/>` (found or created)."""
        if element.get("from") != self.domain or element.get("type") != "get" or not len(element):
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.forbidden if element.get("from")
                                                      != self.domain else ErrorCode.bad_request])
            return
        payload = element[0]
        sender = parse_user(f"{payload.get('from') or ''}@{self.domain}", self.domain)
        recipient = parse_user(f"{payload.get('to') or ''}@{self.domain}", self.domain)
        if sender is None or recipient is None or sender.app_id != recipient.app_id:
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.bad_request])
            return
        self.state.serializer.submit(("dialog", sender.app_id, min(sender.user_id, recipient.user_id),
                                      max(sender.user_id, recipient.user_id)),
                                     lambda: self._answer_dialog(element, sender, recipient))

    async def _answer_dialog(self, element: Element, sender: UserAddress,
                             recipient: UserAddress) -> None:
        try:
            dialog_id = await self.state.services.dialogs.private_dialog_id(
                self.requester((sender.app_id, sender.user_id)), recipient.user_id)
        except ChatError as exc:
            self.xmpp.reply_error(element, condition_for(exc))
            return
        except Exception:  # noqa: BLE001 - the message goes on without a dialog_id
            logger.exception("private dialog of users %s and %s not found", sender.user_id,
                             recipient.user_id)
            self.xmpp.reply_error(element, INTERNAL)
            return
        self.xmpp.write(f'<iq type="result" id="{attr(element.get("id") or "")}" '
                        f'from="{attr(self.muc_domain)}" to="{attr(element.get("from") or "")}">'
                        f'<dialog xmlns="{NS_DIALOG}" id="{attr(dialog_id)}"/></iq>')

    def _done(self, token: tuple[int, int | None]) -> None:
        session, seq = token
        if seq is not None and session == self._session:
            self._inflight.discard(seq)

    async def _drain(self) -> None:
        """Copies are handled in arrival order, a batch at a time: the copies of one read from
        the stream (and whatever arrives while a batch is stored) form the next batch."""
        await asyncio.sleep(0)
        while self._queue:
            batch, self._queue = self._queue[:BATCH], self._queue[BATCH:]
            try:
                await self._run(batch)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one bad batch must not stop the queue
                logger.exception("1:1 copies %s... not recorded", batch[0].inner.get("id"))
            finally:
                for copy in batch:
                    self._done(copy.token)
                if self._paused and len(self._queue) <= self.state.settings.max_pending_stanzas // 2:
                    self._paused = False
                    self.xmpp.resume_input()

    async def idle(self, timeout: float) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        while (self._queue or (self._worker is not None and not self._worker.done())) \
                and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        return not self._queue

    async def _run(self, batch: list[_Copy]) -> None:
        """New messages are stored together (`MessageService.send_batch`); a marker or an edit
        first waits for the messages before it, so it always finds them."""
        sends: list[tuple[_Copy, MessageDraft]] = []
        for copy in batch:
            kids = children(copy.inner)
            try:
                op = self._operation(copy, kids)
                if op is None:
                    draft = self._draft(copy, kids)
                    if draft is not None:
                        sends.append((copy, draft))
                    continue
            except ChatError as exc:
                self._ignore(copy, exc)
                continue
            if sends:
                await self._send(sends)
                sends = []
            try:
                await self._retrying(copy, op)
            except Exception:  # noqa: BLE001 - the rest of the batch still goes in
                logger.exception("1:1 copy %s not recorded (the store keeps failing)", copy.inner.get("id"))
        if sends:
            await self._send(sends)

    def _ignore(self, copy: _Copy, exc: ChatError) -> None:
        self.ignored += 1  # already delivered by Prosody: nobody to answer
        logger.info("1:1 message %s from user %s not recorded: %s", copy.inner.get("id"),
                    copy.sender.user_id, exc.message)

    async def _retrying(self, copy: _Copy, op: Callable[[], Awaitable[None]]) -> None:
        for attempt in range(RETRIES):
            try:
                await op()
                return
            except ChatError as exc:
                self._ignore(copy, exc)
                return
            except Exception:  # noqa: BLE001 - the store may be back in a moment
                if attempt == RETRIES - 1:
                    raise
                logger.warning("1:1 copy %s failed (attempt %d); retrying", copy.inner.get("id"),
                               attempt + 1, exc_info=True)
                await asyncio.sleep(0.5 * 2 ** attempt)

    def _operation(self, copy: _Copy, kids: dict[str, Element]) -> Callable[[], Awaitable[None]] | None:
        """A marker or an edit as a call to make, or None for a message to store."""
        if "received" not in kids and "displayed" not in kids and "replace" not in kids:
            return None
        sender = copy.sender
        messages = self.state.services.messages
        receipts = self.state.services.receipts
        requester = self.requester((sender.app_id, sender.user_id))
        origin = _origin(copy)
        for name, mark in (("received", receipts.mark_delivered), ("displayed", receipts.mark_read)):
            marker = kids.get(name)
            if marker is not None:
                target = marker.get("id") or ""
                if not target:
                    return _nothing
                return lambda mark=mark, target=target: mark(requester, [target], origin=origin)
        replace = kids.get("replace")
        if replace is not None:
            target = replace.get("id") or ""

            async def edit() -> None:
                await messages.edit(requester, target, text_of(kids.get("body")) or "", origin=origin)
            return edit
        return None

    def _draft(self, copy: _Copy, kids: dict[str, Element]) -> MessageDraft | None:
        """The message to store, or None (notifications, signalling). The pair decides the
        dialog (`_resolve_pairs`): a client-side dialog_id is not trusted for 1:1 copies."""
        if "remove" in kids or "reactions" in kids:
            return None  # notifications only: history changes come through REST
        if "body" not in kids and "extraParams" not in kids:
            return None
        extra = kids.get("extraParams")
        params = parse_extra_params(extra)
        save = wants_history(extra, params, self.state.settings.store_plain_messages)
        params.pop("dialog_id", None)
        params.pop("chat_dialog_id", None)
        draft = draft_from_stanza(copy.inner, params, kids.get("body"), recipient_id=copy.recipient.user_id,
                                  save_to_history=save, origin=_origin(copy))
        if not draft.body and not draft.attachments:
            return None  # extraParams alone (e.g. call signalling on type=chat): nothing to keep
        if draft.id is None:  # a plain XMPP client's id (or none)
            assigned = stanza_id_of(copy.inner, (copy.inner.get("to") or "").split("/", 1)[0])
            if assigned is not None:  # what Prosody told the recipient (mod_chatbridge_copies)
                draft = draft.model_copy(update={"id": assigned})
            elif copy.spooled is not None:
                draft = draft.model_copy(update={"id": copy_message_id(*copy.spooled, copy.token[1])})
        return draft

    async def _send(self, sends: list[tuple[_Copy, MessageDraft]], recover: bool = True) -> None:
        """Stores a batch of new messages. A pair's dialog deleted since it was looked up fails
        with "Dialog not found" (and the service forgets it): those are sent once more, to the
        pair's dialog found or created again."""
        messages = self.state.services.messages
        sends = await self._resolve_pairs(sends)
        for attempt in range(RETRIES):
            results = await messages.send_batch(
                [(self.requester((copy.sender.app_id, copy.sender.user_id)), draft) for copy, draft in sends])
            again: list[tuple[_Copy, MessageDraft]] = []
            failed: list[tuple[_Copy, MessageDraft]] = []
            acks: dict[str, list[str]] = {}  # sender's bare JID -> its acknowledgements
            for (copy, draft), result in zip(sends, results):
                if isinstance(result, NotFoundError) and draft.dialog_id is not None and recover \
                        and draft.reply_to is None and draft.forwarded_from is None:
                    again.append((copy, draft.model_copy(update={"dialog_id": None})))
                elif isinstance(result, ChatError) and (draft.reply_to or draft.forwarded_from):
                    # Prosody delivered it already: kept without a quote that does not check out
                    again.append((copy, draft.model_copy(update={"reply_to": None,
                                                                 "forwarded_from": None,
                                                                 "dialog_id": None})))
                elif isinstance(result, ChatError):
                    self._ignore(copy, result)
                elif isinstance(result, BaseException):
                    failed.append((copy, draft))
                else:
                    self.stored += 1
                    # the sender's devices learn the stored id and the server's time
                    acks.setdefault((copy.inner.get("from") or "").split("/", 1)[0], []).append(
                        ack_xml(copy.inner.get("id"), result, draft.save_to_history))
            if acks:
                self.xmpp.write("".join(acks_xml(self.muc_domain, sender, items)
                                        for sender, items in acks.items()))
            if again:
                await self._send(again, recover=False)
            if not failed:
                return
            if attempt == RETRIES - 1:
                logger.error("%d 1:1 copies not recorded (the store keeps failing), first %s",
                             len(failed), failed[0][0].inner.get("id"))
                return
            logger.warning("%d 1:1 copies failed (attempt %d); retrying", len(failed), attempt + 1)
            await asyncio.sleep(0.5 * 2 ** attempt)
            sends = failed

    async def _resolve_pairs(self, sends: list[tuple[_Copy, MessageDraft]]
                             ) -> list[tuple[_Copy, MessageDraft]]:
        """Gives each draft its pair's dialog, looked up once per pair of the batch, not once per
        message (`DialogService.private_dialog_id`: from memory for a known pair, else found or
        created). A pair that fails here is left for the send to report."""
        pairs = {copy.pair: copy for copy, draft in sends if draft.dialog_id is None}
        if not pairs:
            return sends
        dialogs = self.state.services.dialogs
        known: dict[tuple[int, int, int], str] = {}
        for pair, copy in pairs.items():
            try:
                known[pair] = await dialogs.private_dialog_id(
                    self.requester((copy.sender.app_id, copy.sender.user_id)), copy.recipient.user_id)
            except ChatError:
                continue
        return [(copy, draft.model_copy(update={"dialog_id": known[copy.pair]}))
                if draft.dialog_id is None and copy.pair in known else (copy, draft)
                for copy, draft in sends]


def _origin(copy: _Copy) -> Origin:
    """The client's stanza as the origin of what the service publishes for its copy."""
    return Origin(transport="xmpp", stanza_id=copy.inner.get("id"))


def copy_message_id(boot: str, stamp: str, seq: int | None) -> str:
    """The stored id of a copied message whose client id is not a ConnectyCube id: the same for
    every resend of the copy (the spool keeps its attributes), so a repeat after a reconnect is
    stored once. Shaped like an ObjectId: the spool's time, then a hash of (boot, number)."""
    seconds = int(stamp) if stamp.isdigit() and int(stamp) < 2 ** 32 else 0
    digest = hashlib.blake2b(f"{boot}:{seq}".encode(), digest_size=8).digest()
    return (seconds.to_bytes(4, "big") + digest).hex()


def _spool_seq(stanza_id: str | None) -> int | None:
    if stanza_id and stanza_id.startswith("cbs-") and stanza_id[4:].isdigit():
        return int(stanza_id[4:])
    return None
