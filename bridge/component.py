"""The XEP-0114 component serving `muc.{domain}`: connection, reconnection, dispatch, output.

slixmpp >= 1.9 has no `process()` and components get no auto-reconnect: `Component.start()`
connects and keeps reconnecting with capped exponential backoff (0.1 s doubling up to
`reconnect_backoff_max_seconds`) until `stop()`. Incoming stanzas are dispatched by address to the
plugins (`bridge/plugins`); outgoing XML is buffered and written once per event-loop tick.
Routing: each plugin declares the (stanza, target) pairs it handles (`BridgePlugin.handles`);
the component classifies a stanza's target once and calls the one handler declared for it.
`confirm()` round-trips a ping to Prosody: Prosody handles a link's stanzas in order, so its answer
proves everything written before it was routed.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any, Callable
from xml.etree.ElementTree import Element

from slixmpp import ComponentXMPP

from bridge.convert import NS_FORWARD, attr, child, esc, localname, namespace
from bridge.errors import CONDITIONS, Condition, error_reply
from bridge.plugins import PLUGIN_NAMES, BridgePlugin
from config.logging import request_id
from config.settings import XmppSettings
from models.errors import ErrorCode
from models.jids import parse_room

logger = logging.getLogger(__name__)

NS = "jabber:component:accept"
NS_PING = "urn:xmpp:ping"
NS_FANOUT = "urn:chatbridge:fanout:0"
FANOUT_CHUNK = 1000  # recipients per wrapper (mod_chatbridge_fanout accepts up to 5000)
FANOUT_REMEMBERED = 256  # wrappers kept to resend one by one if the server lacks the module
CONFIRM_DELAY = 0.02  # seconds: relay batches confirmed by one ping (see confirm_later)
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
# disco nesting (XEP-0355 § 7.2): Prosody asks the component for the features of each delegated
# namespace, for the server itself (main) and for every account's bare JID (bare)
NESTING_PREFIXES = ("urn:xmpp:delegation:2::", "urn:xmpp:delegation:2:bare:")
UNAVAILABLE = CONDITIONS[ErrorCode.unavailable]


class Component(ComponentXMPP):
    def __init__(self, settings: XmppSettings, plugin_config: dict[str, Any],
                 host: str | None = None) -> None:
        super().__init__(settings.muc_domain, settings.component_secret.get_secret_value(),
                         host or settings.host, settings.component_port, plugin_config=plugin_config)
        self.settings = settings
        self.domain = settings.domain
        self.muc_domain = settings.muc_domain
        self._stopping = False
        self._backoff = 0.0
        self._retry: asyncio.TimerHandle | None = None
        self._buffer: list[str] = []
        self._flush_scheduled = False
        self._pings: dict[str, asyncio.Future] = {}
        self._next_confirm: tuple[str, asyncio.Future] | None = None
        self._ids = itertools.count(1)
        self.connected_since: float | None = None
        self.sessions = 0
        self.written = 0
        self.dropped = 0
        # for the metrics (bridge/metrics.py): stanzas in by element tag, out by the first
        # letter of their element (m, p, i), recipients of room fan-outs
        self.received: dict[str, int] = {}
        self.sent: dict[str, int] = {}
        self.deliveries = 0
        self.last_error: str | None = None
        self._session_listeners: list[Callable[[], None]] = []
        self.fanout_module = settings.fanout_module
        self._sent_fanouts: dict[str, tuple[list[str], str, str]] = {}
        # slixmpp's stock handlers would build stanza objects and rosters for every user's
        # presence; the plugins read the raw XML instead (see `_spawn_event`).
        for name in ("IM", "IMError", "Presence"):
            self.remove_handler(name)
        self._dispatch: dict[str, Callable[[Element], None]] = {}
        for ns in (NS, "jabber:client"):
            self._dispatch.update({f"{{{ns}}}message": self._on_message,
                                   f"{{{ns}}}presence": self._on_presence, f"{{{ns}}}iq": self._on_iq})
        self.add_event_handler("session_start", self._cb_session_start)
        self.add_event_handler("disconnected", self._cb_disconnected)
        self.add_event_handler("connection_failed", self._cb_connection_failed)
        self.add_event_handler("stream_error", self._cb_stream_error)
        self._routes: dict[tuple[str, str], Callable[[Element], None]] = {}
        self.delegated_features: dict[str, tuple[str, ...]] = {}
        self.room_features: tuple[str, ...] = ()  # what rooms offer (their disco#info)
        for name in PLUGIN_NAMES:
            self.register_plugin(name)
            plugin = self.plugin[name]
            for route, method in plugin.handles.items():
                if route in self._routes:
                    raise RuntimeError(f"{name} and another plugin both handle {route}")
                self._routes[route] = getattr(plugin, method)
            self.delegated_features.update(plugin.delegated_features)
            self.room_features += plugin.room_features

    def bridge_plugins(self) -> list[BridgePlugin]:
        return [self.plugin[name] for name in PLUGIN_NAMES]

    # -- connection ---------------------------------------------------------------------------------
    @property
    def linked(self) -> bool:
        return self.connected_since is not None and self.transport is not None

    def start(self) -> None:
        self._stopping = False
        self.connect()

    async def stop(self) -> None:
        self._stopping = True
        if self._retry is not None:
            self._retry.cancel()
        self.cancel_connection_attempt()
        self._flush()
        if self.transport is not None:
            try:
                await asyncio.wait_for(self.disconnect(wait=1.0), 3.0)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - best effort at shutdown
                self.abort()
        self._fail_pings("stopping")

    def add_session_listener(self, listener: Callable[[], None]) -> None:
        self._session_listeners.append(listener)

    def reschedule_connection_attempt(self):  # slixmpp's own backoff grows to 300 s: cap it
        if self._current_connection_attempt is None or self._stopping:
            return None
        self._backoff = min(self.settings.reconnect_backoff_max_seconds, max(0.1, self._backoff * 2))
        self._connect_loop_wait = self._backoff
        self._current_connection_attempt = asyncio.ensure_future(self._connect_loop(), loop=self.loop)
        return self._current_connection_attempt

    def _cb_session_start(self, _event: Any) -> None:
        self._backoff = 0.0
        self.connected_since = time.time()
        self.sessions += 1
        self.last_error = None
        if self.sessions > 1:
            logger.warning("bridge component reconnected to %s:%s as %s", self.server_host,
                           self.settings.component_port, self.muc_domain)
        else:
            logger.info("bridge component connected to %s:%s as %s", self.server_host,
                        self.settings.component_port, self.muc_domain)
        for listener in self._session_listeners:
            listener()

    def _cb_disconnected(self, reason: Any) -> None:
        was_connected = self.connected_since is not None
        self.connected_since = None
        self._buffer.clear()
        self._fail_pings("disconnected")
        if self._stopping:
            return
        self._backoff = min(self.settings.reconnect_backoff_max_seconds, max(0.1, self._backoff * 2))
        if was_connected:
            logger.warning("bridge component disconnected (%s); reconnecting in %.1fs",
                           reason or "connection lost", self._backoff)
        if self._retry is not None:
            self._retry.cancel()
        self._retry = self.loop.call_later(self._backoff, self._reconnect)

    def _reconnect(self) -> None:
        self._retry = None
        if not self._stopping and self.transport is None:
            self.connect()
            self._connect_loop_wait = 0

    def _cb_connection_failed(self, error: Any) -> None:
        self.last_error = str(error)
        logger.debug("bridge component connection failed: %s", error)

    def _cb_stream_error(self, error: Any) -> None:
        self.last_error = str(error.get("condition") if hasattr(error, "get") else error)
        logger.warning("bridge component stream error: %s", self.last_error)

    # -- output -------------------------------------------------------------------------------------
    def write(self, xml: str) -> bool:
        """Queues raw XML for the next write; False (and counted) when the link is down."""
        if self.transport is None or self.connected_since is None:
            self.dropped += 1
            return False
        self._buffer.append(xml)
        kind = xml[1:2]
        self.sent[kind] = self.sent.get(kind, 0) + 1
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)
        return True

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._buffer:
            return
        data, count = "".join(self._buffer), len(self._buffer)
        self._buffer.clear()
        if self.transport is None:
            self.dropped += count
            return
        self.transport.write(data.encode("utf-8"))
        self.written += count

    def pause_input(self) -> bool:
        """Stops reading from Prosody (it keeps what it cannot send); False when not connected."""
        if self.transport is None:
            return False
        self.transport.pause_reading()
        return True

    def resume_input(self) -> None:
        if self.transport is not None and self.transport.is_reading() is False:
            self.transport.resume_reading()

    def fan_out(self, targets: list[str], head: str, tail: str) -> int:
        """Writes `head + to="T" + tail` for each full JID T (pre-rendered common parts); to
        several recipients as one mod_chatbridge_fanout wrapper when the server has it."""
        if not targets:
            return 0
        self.deliveries += len(targets)
        if not self.fanout_module or len(targets) < self.settings.fanout_min_targets:
            for target in targets:
                self.write(f'{head} to="{attr(target)}"{tail}')
            return len(targets)
        inner = f'{head} xmlns="jabber:client"{tail}'
        for start in range(0, len(targets), FANOUT_CHUNK):
            chunk = targets[start:start + FANOUT_CHUNK]
            wrapper_id = self.next_id("fan")
            self._sent_fanouts[wrapper_id] = (chunk, head, tail)
            while len(self._sent_fanouts) > FANOUT_REMEMBERED:
                self._sent_fanouts.pop(next(iter(self._sent_fanouts)))
            recipients = f'<to>{esc(chr(10).join(chunk))}</to>'  # one JID per line (none holds one)
            self.write(f'<message from="{attr(self.muc_domain)}" to="fanout@{attr(self.muc_domain)}" '
                       f'id="{wrapper_id}"><fanout xmlns="{NS_FANOUT}">{recipients}{inner}'
                       "</fanout></message>")
        return len(targets)

    def _fanout_returned(self, element: Element) -> None:
        """Our own fan-out wrapper came back: the server has no mod_chatbridge_fanout. Deliver
        what it carried one stanza per recipient, and stop using wrappers."""
        if self.fanout_module:
            self.fanout_module = False
            logger.error("the XMPP server does not run mod_chatbridge_fanout (config/): sending "
                         "one stanza per recipient from now on (set CHAT_XMPP__FANOUT_MODULE=false)")
        sent = self._sent_fanouts.pop(element.get("id") or "", None)
        if sent is not None:
            targets, head, tail = sent
            for target in targets:
                self.write(f'{head} to="{attr(target)}"{tail}')

    def next_id(self, prefix: str = "cb") -> str:
        return f"{prefix}-{next(self._ids)}-{int(time.time() * 1000) % 100000000}"

    async def confirm(self, timeout: float = 5.0) -> bool:
        """True once Prosody has handled everything written so far."""
        return await self.confirmed(self.confirm_later(), timeout)

    def confirm_later(self) -> tuple[str, asyncio.Future] | None:
        """Asks Prosody to confirm everything written so far (a ping: Prosody answers stanzas in
        order) without waiting; `confirmed` waits for the answer. None when the link is down.
        Callers within CONFIRM_DELAY share one ping, written after all of their stanzas: at 500
        relayed messages a second a ping each meant one more stanza each way per message."""
        if not self.linked:
            return None
        if self._next_confirm is None:
            ping_id = self.next_id("confirm")
            future: asyncio.Future = self.loop.create_future()
            self._pings[ping_id] = future
            self._next_confirm = (ping_id, future)
            self.loop.call_later(CONFIRM_DELAY, self._send_confirm, ping_id)
        return self._next_confirm

    def _send_confirm(self, ping_id: str) -> None:
        if self._next_confirm is None or self._next_confirm[0] != ping_id:
            return  # the link dropped meanwhile: its waiters were failed
        self._next_confirm = None
        if not self.write(f'<iq type="get" id="{ping_id}" from="{attr(self.muc_domain)}" '
                          f'to="{attr(self.domain)}"><ping xmlns="{NS_PING}"/></iq>'):
            future = self._pings.pop(ping_id, None)
            if future is not None and not future.done():
                future.set_exception(ConnectionError("disconnected"))

    async def confirmed(self, pending: tuple[str, asyncio.Future] | None, timeout: float = 5.0) -> bool:
        if pending is None:
            return False
        ping_id, future = pending
        try:
            # shielded: batches within CONFIRM_DELAY share the future, and a timeout must not
            # cancel it under the others (their wait then raised CancelledError)
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except (asyncio.TimeoutError, ConnectionError):
            return False
        finally:
            if future.done():  # else another batch sharing it still waits for the answer
                self._pings.pop(ping_id, None)

    def drop_link(self, reason: str) -> None:
        """Closes a link that no longer answers; the usual reconnect follows (and what waited for
        a confirmation is delivered again)."""
        if self.transport is None:
            return
        logger.error("bridge component: %s; dropping the link to reconnect", reason)
        self.last_error = reason
        self.abort()

    def _fail_pings(self, reason: str) -> None:
        self._next_confirm = None
        for future in self._pings.values():
            if not future.done():
                future.set_exception(ConnectionError(reason))
        self._pings.clear()

    def reply_error(self, element: Element, cond: Condition, text: str = "", extra: str = "") -> None:
        """An error reply to any stanza (never to an error), original id kept."""
        if element.get("type") == "error":
            return
        kind = localname(element.tag)
        sender = element.get("to") or self.muc_domain
        recipient = element.get("from")
        if not recipient:
            return
        self.write(error_reply(kind, element.get("id"), sender, recipient, cond, text, extra))

    # -- dispatch -----------------------------------------------------------------------------------
    def _spawn_event(self, xml: Element) -> None:
        """Stanzas go to the plugins as raw elements: slixmpp would build a stanza object and try
        every registered matcher on each one (the cost is in docs/benchmarks.md, "Why the code is
        the way it is"). Everything else (handshake, stream errors) takes slixmpp's path."""
        handler = self._dispatch.get(xml.tag)
        if handler is None:
            super()._spawn_event(xml)
            return
        received = self.received
        received[xml.tag] = received.get(xml.tag, 0) + 1
        try:
            handler(xml)
        except Exception:  # noqa: BLE001 - a hostile stanza must never stop the stream
            logger.exception("cannot dispatch <%s> from %s", localname(xml.tag), xml.get("from"))

    def _guard(self, handler: Callable[[Element], None], element: Element) -> None:
        token = request_id.set(element.get("id") or "-")
        try:
            handler(element)
        except Exception:  # noqa: BLE001 - a hostile stanza must never stop the component
            logger.exception("cannot handle <%s> from %s", localname(element.tag), element.get("from"))
            self.reply_error(element, CONDITIONS[ErrorCode.bad_request], "malformed stanza")
        finally:
            request_id.reset(token)

    def _route(self, stanza: str, target: str, ns: str = "") -> Callable[[Element], None] | None:
        """The handler for (stanza, target); for an IQ payload's namespace `ns`, one declared
        for "target ns" wins."""
        if ns:
            handler = self._routes.get((stanza, f"{target} {ns}"))
            if handler is not None:
                return handler
        return self._routes.get((stanza, target))

    def _disco_info(self, element: Element, payload: Element) -> None:
        """The component's disco#info, and the answers to Prosody's disco nesting (a node per
        delegated namespace: the features the plugins answer for it)."""
        node = payload.get("node") or ""
        to = element.get("to") or ""
        if node:
            features = ()
            for prefix in NESTING_PREFIXES:
                if node.startswith(prefix):
                    features = self.delegated_features.get(node[len(prefix):], ())
            inner = "".join(f'<feature var="{attr(f)}"/>' for f in features)
            query = f'<query xmlns="{NS_DISCO_INFO}" node="{attr(node)}">{inner}</query>'
        else:
            # rooms' own features (e.g. urn:xmpp:mam:2) stand here until rooms answer
            # disco#info themselves
            inner = "".join(f'<feature var="{attr(f)}"/>' for f in self.room_features)
            inner += "".join(plugin.component_disco() for plugin in self.bridge_plugins())
            query = (f'<query xmlns="{NS_DISCO_INFO}"><identity category="conference" type="text" '
                     f'name="chatbridge rooms"/><feature var="http://jabber.org/protocol/muc"/>'
                     f"{inner}</query>")
        self.write(f'<iq type="result" id="{attr(element.get("id") or "")}" from="{attr(to)}" '
                   f'to="{attr(element.get("from") or "")}">{query}</iq>')

    def _on_message(self, element: Element) -> None:
        to = element.get("to") or ""
        if element.get("type") == "error":
            return
        local = to.split("@", 1)[0] if "@" in to else ""
        handler = None
        if local == "fanout" and element.get("from") == self.muc_domain:
            self._fanout_returned(element)
            return
        if local == "chat" and to.split("/", 1)[0] == f"chat@{self.muc_domain}":
            handler = self._route("message", "copies")
        elif parse_room(to, self.muc_domain) is not None:
            handler = self._route("message", "room")
        elif child(element, "privilege") is not None and element.get("from") == self.domain:
            return  # XEP-0356 advertisement of our privileges
        if handler is not None:
            self._guard(handler, element)
        else:
            self.reply_error(element, CONDITIONS[ErrorCode.not_found], "no such room")

    def _on_presence(self, element: Element) -> None:
        to = element.get("to") or ""
        handler = None
        if to == self.muc_domain:
            handler = self._route("presence", "component")
        elif parse_room(to, self.muc_domain) is not None:
            handler = self._route("presence", "room")
        if handler is not None:
            self._guard(handler, element)
        elif element.get("type") not in ("error", "unavailable"):
            self.reply_error(element, CONDITIONS[ErrorCode.not_found], "no such room")

    def _on_iq(self, element: Element) -> None:
        kind = element.get("type")
        if kind in ("result", "error"):
            future = self._pings.pop(element.get("id") or "", None)
            if future is not None and not future.done():
                future.set_result(kind == "result")
            return
        if kind not in ("get", "set") or len(element) != 1:
            self.reply_error(element, CONDITIONS[ErrorCode.bad_request])
            return
        payload = element[0]
        to = element.get("to") or ""
        if localname(payload.tag) == "ping":
            self.write(f'<iq type="result" id="{attr(element.get("id") or "")}" from="{attr(to)}" '
                       f'to="{attr(element.get("from") or "")}"/>')
            return
        if to == self.muc_domain and payload.tag == f"{{{NS_DISCO_INFO}}}query":
            self._disco_info(element, payload)
            return
        handler = None
        if localname(payload.tag) == "delegation" and element.get("from") == self.domain:
            handler = self._route("iq", "delegation", _delegated_namespace(payload))
        elif parse_room(to, self.muc_domain) is not None:
            handler = self._route("iq", "room", namespace(payload.tag))
        elif to == self.muc_domain:
            handler = self._route("iq", "component", namespace(payload.tag))
        if handler is not None:
            self._guard(handler, element)
        else:
            self.reply_error(element, UNAVAILABLE)


def _delegated_namespace(delegation: Element) -> str:
    """The namespace of the user's IQ payload inside a delegation wrapper ("" if none)."""
    forwarded = child(delegation, "forwarded", NS_FORWARD)
    inner = forwarded[0] if forwarded is not None and len(forwarded) else None
    return namespace(inner[0].tag) if inner is not None and len(inner) else ""
