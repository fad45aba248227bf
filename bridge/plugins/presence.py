"""`cc_presence`: the online map, last activity and ConnectyCube's status streaming.

- XEP-0356 presence: Prosody forwards every local user's available / unavailable presence to us
  (and all current ones when the component connects). It feeds the one `PresenceRegistry`
  (each user's resources, for the bridge's deliveries; push decisions; REST `/users/online`); a
  connection that goes away is announced to the other plugins (`CONNECTION_GONE`: it leaves its
  rooms).
- XEP-0355 delegation hands us `jabber:iq:last` (XEP-0012), the status streaming subscription
  (`https://connectycube.com/protocol/status_streaming`) and the Tigase mobile switch; the answer
  goes back wrapped, and Prosody delivers it as if the server had answered.
- Status streaming pushes `<iq type="result" from="{uid}-{app}@muc.{domain}"><query
  xmlns="jabber:iq:last" seconds="N"/></iq>` to subscribers when a watched user comes online (0)
  or goes offline (seconds since last active, at least 1 so that 0 always means online).
"""
from __future__ import annotations

import logging
import time
from xml.etree.ElementTree import Element

from bridge.convert import NS_FORWARD, attr, child, localname, namespace
from bridge.errors import CONDITIONS, Condition
from bridge.plugins.base import CONNECTION_GONE, BridgePlugin
from bridge.rooms import UserKey
from models.errors import ErrorCode, NotFoundError
from models.jids import UserAddress, parse_user, split, user_jid

logger = logging.getLogger(__name__)

NS_LAST = "jabber:iq:last"
NS_STATUS = "https://connectycube.com/protocol/status_streaming"
NS_MOBILE = "http://tigase.org/protocol/mobile#v2"
MAX_SUBSCRIPTIONS = 1000  # per subscriber connection


class PresencePlugin(BridgePlugin):
    name = "cc_presence"
    description = "chatbridge: online map, last activity, status streaming"
    handles = {("presence", "component"): "handle_presence", ("iq", "delegation"): "handle_delegation"}

    def plugin_init(self) -> None:
        super().plugin_init()
        self.started = time.time()
        # watched user -> subscriber full JIDs; subscriber full JID -> watched users
        self._watchers: dict[UserKey, set[str]] = {}
        self._watching: dict[str, set[UserKey]] = {}
        self.xmpp.add_session_listener(self._resync)

    def _resync(self) -> None:
        """A new component session: Prosody re-sends every current presence right away."""
        self.state.online.clear()

    # -- presence -----------------------------------------------------------------------------------
    def handle_presence(self, element: Element) -> None:
        sender = parse_user(element.get("from"), self.domain)
        if sender is None or not sender.resource:
            return
        kind = element.get("type")
        key = (sender.app_id, sender.user_id)
        online = self.state.online
        if kind is None or kind == "available":
            if online.connected(sender.app_id, sender.user_id, sender.resource):
                logger.debug("user %s of app %s online", sender.user_id, sender.app_id)
                self._notify(key, 0)
        elif kind == "unavailable":
            full = user_jid(sender.user_id, sender.app_id, self.domain, sender.resource)
            self.xmpp.event(CONNECTION_GONE, (key, full))
            self._unsubscribe_all(full)
            if online.disconnected(sender.app_id, sender.user_id, sender.resource, time.time()):
                logger.debug("user %s of app %s offline", sender.user_id, sender.app_id)
                self._notify(key, 1)

    def _notify(self, key: UserKey, seconds: int) -> None:
        watchers = self._watchers.get(key)
        if not watchers:
            return
        # in order per watched user; nobody with a block either way is told (one read)
        self.state.serializer.submit(("last-notify", key),
                                     lambda: self._notify_unblocked(key, seconds))

    async def _notify_unblocked(self, key: UserKey, seconds: int) -> None:
        watchers = list(self._watchers.get(key) or ())
        if not watchers:
            return
        by_user = {w: parse_user(w, self.domain) for w in watchers}
        hidden = await self.state.services.blocklist.related(
            key[0], key[1], {u.user_id for u in by_user.values() if u is not None})
        sender = user_jid(key[1], key[0], self.muc_domain)
        for target in watchers:
            watcher = by_user[target]
            if watcher is not None and watcher.user_id in hidden:
                continue
            self.xmpp.write(f'<iq type="result" id="{self.xmpp.next_id("last")}" from="{sender}" '
                            f'to="{attr(target)}"><query xmlns="{NS_LAST}" seconds="{seconds}"/></iq>')

    def _unsubscribe_all(self, subscriber: str) -> None:
        for key in self._watching.pop(subscriber, set()):
            watchers = self._watchers.get(key)
            if watchers is not None:
                watchers.discard(subscriber)
                if not watchers:
                    del self._watchers[key]

    # -- delegated IQs ------------------------------------------------------------------------------
    def handle_delegation(self, element: Element) -> None:
        forwarded = child(element[0], "forwarded", NS_FORWARD)
        inner = forwarded[0] if forwarded is not None and len(forwarded) else None
        if inner is None or localname(inner.tag) != "iq" or not len(inner):
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.bad_request])
            return
        requester = parse_user(inner.get("from"), self.domain)
        payload = inner[0]
        ns = namespace(payload.tag)
        if requester is None:
            self._answer(element, inner, error=CONDITIONS[ErrorCode.forbidden])
        elif ns == NS_LAST and inner.get("type") == "get":
            self.state.serializer.submit(("last", inner.get("from")),
                                         lambda: self._last_activity(element, inner, requester))
        elif ns == NS_STATUS and inner.get("type") == "set":
            self._status_streaming(element, inner, payload, requester)
        elif ns == NS_MOBILE and inner.get("type") == "set":
            inactive = (payload.get("enable") or "").lower() == "true"
            self.state.online.set_active(requester.app_id, requester.user_id,
                                                    requester.resource, not inactive)
            self._answer(element, inner)
        else:
            self._answer(element, inner, error=CONDITIONS[ErrorCode.unavailable])

    async def _last_activity(self, element: Element, inner: Element, requester: UserAddress) -> None:
        target_jid = inner.get("to") or ""
        target = parse_user(target_jid, self.domain)
        if target is None or target.app_id != requester.app_id:
            self._answer(element, inner, error=CONDITIONS[ErrorCode.not_found])
            return
        if await self.state.services.blocklist.between(target.app_id, requester.user_id,
                                                       target.user_id):
            # as for a privacy-list deny (the XMPP server refuses these before they get here)
            self._answer(element, inner, error=CONDITIONS[ErrorCode.unavailable])
            return
        seconds = await self.seconds_idle((target.app_id, target.user_id))
        if seconds is None:
            self._answer(element, inner, error=CONDITIONS[ErrorCode.not_found])
            return
        self._answer(element, inner, f'<query xmlns="{NS_LAST}" seconds="{seconds}"/>',
                     sender=split(target_jid).bare)

    async def seconds_idle(self, key: UserKey) -> int | None:
        """0 while online; else seconds since the last presence / REST request; None: no user."""
        if self.state.online.is_connected(key):
            return 0
        seen = self.state.online.last_seen(key)
        if seen is None:
            try:
                user = await self.state.services.users.get_entity(key[0], key[1])
            except NotFoundError:
                return None
            last = user.last_request_at or user.updated_at
            seen = last.timestamp() if last is not None else self.started
        return max(1, int(time.time() - seen))

    def _status_streaming(self, element: Element, inner: Element, payload: Element,
                          requester: UserAddress) -> None:
        target = parse_user(payload.get("user_jid"), self.domain)
        subscriber = inner.get("from") or ""
        if target is None or target.app_id != requester.app_id or not requester.resource:
            self._answer(element, inner, error=CONDITIONS[ErrorCode.bad_request])
            return
        key = (target.app_id, target.user_id)
        if (payload.get("enable") or "true").lower() == "false":
            self._watchers.get(key, set()).discard(subscriber)
            self._watching.get(subscriber, set()).discard(key)
            self._answer(element, inner)
            return
        watching = self._watching.setdefault(subscriber, set())
        if key not in watching and len(watching) >= MAX_SUBSCRIPTIONS:
            self._answer(element, inner, error=CONDITIONS[ErrorCode.rate_limited])
            return
        watching.add(key)
        self._watchers.setdefault(key, set()).add(subscriber)
        self._answer(element, inner)

    def _answer(self, element: Element, inner: Element, payload: str = "",
                error: Condition | None = None, sender: str | None = None) -> None:
        self.answer_delegated(element, inner, payload, error, sender)
