"""`cc_roster`: the XMPP roster is the contact list (`ContactService`, models/services/contacts.py).

config/mod_chatbridge_roster.lua sends us, from the server's domain:
- `<roster xmlns="urn:chatbridge:roster:0" user="{localpart}"/>` (get): Prosody loads a roster
  (its storage driver); we answer `<roster ver="N">` with one `<item jid subscription ask name>`
  (+ `<group>`) per contact in the list and one `<pending jid/>` per unanswered request;
- a roster set (RFC 6121 §2.3, `jabber:iq:roster`) in mod_delegation's wrapper: an item is added
  or updated (name, groups) or removed (`subscription="remove"`: both subscriptions end);
- `<subscription xmlns="urn:chatbridge:roster:0" user to type id/>` (set): a subscription
  presence the user sent (subscribe, subscribed, unsubscribe, unsubscribed).
What a change does (`RosterEffects`) goes back to Prosody as one `<apply>` IQ: the roster items
to update in memory and push (`<push user jid ver pending>` with the `<item>`, none when it left
the list), the subscription presences to deliver to the contact's available resources
(`<deliver type from to/>`), and whose current presence a contact now sees or stops seeing
(`<share user to/>`, `<hide user to/>`). Every change, ours and REST's, reaches Prosody that way
from its `contacts_changed` event, through the outbox relay (`contacts_changed`), which delivers
them whatever their origin: a batch is marked done only once Prosody confirmed it, so a change is
not lost when the component link drops between the write and the `<apply>` (the first try
applied XMPP-caused changes at once and lost them on such a drop). A deleted account
(`user_deleted`) leaves every list.

A roster set is read with slixmpp's `RosterItem` (a cold path); the roster Prosody loads at each
login (up to `CHAT_LIMITS__MAX_CONTACTS` items) and the `<apply>` are written as pre-escaped
strings (as the archive's results are): the roster is answered on every login.
"""
from __future__ import annotations

import logging
from typing import Any
from xml.etree.ElementTree import Element

from slixmpp.jid import InvalidJID
from slixmpp.stanza.roster import RosterItem

from bridge.convert import attr, esc, localname, namespace
from bridge.errors import CONDITIONS, INTERNAL, condition_for
from bridge.plugins.base import BridgePlugin
from models.contacts import Contact, PresenceRequest, RosterEffects
from models.errors import ChatError, ErrorCode
from models.events import Origin
from models.jids import parse_user, split

logger = logging.getLogger(__name__)

NS = "urn:chatbridge:roster:0"
NS_ROSTER = "jabber:iq:roster"


class RosterPlugin(BridgePlugin):
    name = "cc_roster"
    description = "chatbridge: rosters and presence subscriptions from the contact lists"
    handles = {("iq", f"component {NS}"): "handle_request",
               ("iq", f"delegation {NS_ROSTER}"): "handle_roster_set"}

    # -- what Prosody asks --------------------------------------------------------------------------
    def handle_request(self, element: Element) -> None:
        if element.get("from") != self.domain:  # only our Prosody module asks this
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.forbidden])
            return
        payload = element[0]
        user = parse_user(f"{payload.get('user') or ''}@{self.domain}", self.domain)
        if user is None:
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.not_found])
            return
        key = (user.app_id, user.user_id)
        kind = localname(payload.tag)
        if kind == "roster" and element.get("type") == "get":
            self.state.serializer.submit(("roster", key), lambda: self._answer_roster(element, key))
        elif kind == "subscription" and element.get("type") == "set":
            try:
                request = PresenceRequest(payload.get("type") or "")
            except ValueError:
                self.xmpp.reply_error(element, CONDITIONS[ErrorCode.bad_request])
                return
            contact = parse_user(payload.get("to"), self.domain)
            self.state.serializer.submit(
                ("roster", key), lambda: self._subscription(element, key, contact, request,
                                                            payload.get("id")))
        else:
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.bad_request])

    async def _answer_roster(self, element: Element, key: tuple[int, int]) -> None:
        try:
            roster = await self.state.services.contacts.roster(self.requester(key))
        except Exception:  # noqa: BLE001 - Prosody refuses the login rather than lose the roster
            logger.exception("roster of user %s of app %s failed", key[1], key[0])
            self.xmpp.reply_error(element, INTERNAL)
            return
        app_id = key[0]
        items = "".join(self.item_xml(app_id, entry) for entry in roster.items)
        pending = "".join(f'<pending jid="{attr(self.user_jid(app_id, uid))}"/>'
                          for uid in roster.pending)
        self._result(element, f'<roster xmlns="{NS}" ver="{roster.version}">{items}{pending}</roster>')

    async def _subscription(self, element: Element, key: tuple[int, int], contact,
                            request: PresenceRequest, stanza_id: str | None) -> None:
        if contact is None or contact.app_id != key[0]:
            # not a user of this application: an unknown account (RFC 6121 §3.1.3)
            self._result(element)
            if request is PresenceRequest.subscribe:
                to = element[0].get("to") or ""
                self.apply(RosterEffects(app_id=key[0]), extra=(
                    f'<deliver type="unsubscribed" from="{attr(split(to).bare)}" '
                    f'to="{attr(self.user_jid(*key))}"/>'))
            return
        try:
            await self.state.services.contacts.presence(
                self.requester(key), contact.user_id, request, origin=Origin(
                    transport="xmpp", stanza_id=stanza_id))
        except ChatError as exc:
            logger.info("subscription %s of user %s refused: %s", request.value, key[1], exc.message)
            self._result(element)
            return
        except Exception:  # noqa: BLE001 - logged; the client's presence has no answer
            logger.exception("subscription %s of user %s failed", request.value, key[1])
            self._result(element)
            return
        self._result(element)  # what it changed goes to Prosody from its event (the relay)

    # -- roster sets ------------------------------------------------------------------------------
    def handle_roster_set(self, element: Element) -> None:
        request = self.delegated_request(element)
        if request is None:
            return
        inner, requester = request
        key = (requester.app_id, requester.user_id)
        self.state.serializer.submit(("roster", key), lambda: self._roster_set(element, inner, key))

    async def _roster_set(self, element: Element, inner: Element, key: tuple[int, int]) -> None:
        query = inner[0]
        items = [c for c in query if localname(c.tag) == "item" and namespace(c.tag) == NS_ROSTER]
        # RFC 6121 §2.3.3: exactly one item, a bare JID, not the user's own
        if inner.get("type") != "set" or len(items) != 1 or len(query) != 1:
            self.answer_delegated(element, inner, error=CONDITIONS[ErrorCode.bad_request])
            return
        item = RosterItem(xml=items[0])  # a cold path: slixmpp's own parsing of the item
        try:
            jid = str(item["jid"])
        except InvalidJID:
            self.answer_delegated(element, inner, error=CONDITIONS[ErrorCode.bad_request])
            return
        contact = parse_user(jid, self.domain)
        if contact is None or contact.resource or contact.app_id != key[0] or \
                contact.user_id == key[1]:
            self.answer_delegated(element, inner, error=CONDITIONS[ErrorCode.not_found])
            return
        origin = Origin(transport="xmpp", stanza_id=inner.get("id"))
        contacts = self.state.services.contacts
        try:
            if item["subscription"] == "remove":
                await contacts.remove(self.requester(key), contact.user_id, origin=origin)
            else:
                await contacts.roster_set(self.requester(key), contact.user_id,
                                                    item["name"] or None, tuple(item["groups"]),
                                                    origin=origin)
        except ChatError as exc:
            self.answer_delegated(element, inner, error=condition_for(exc))
            return
        except Exception:  # noqa: BLE001 - logged, answered without detail
            logger.exception("roster set of %s failed", inner.get("from"))
            self.answer_delegated(element, inner, error=INTERNAL)
            return
        self.answer_delegated(element, inner)  # the push follows from the event (the relay)

    # -- changes ------------------------------------------------------------------------------------
    def contacts_changed(self, event: dict[str, Any]) -> None:
        """A `contacts_changed` event from the outbox (a REST change)."""
        self.apply(RosterEffects.from_payload(int(event["app_id"]), event.get("payload") or {}))

    def user_deleted(self, event: dict[str, Any]) -> None:
        """A `user_deleted` event: out of every list (the service publishes what that changes,
        which comes back here as `contacts_changed`)."""
        app_id, user_id = int(event["app_id"]), int(event.get("sender_id") or 0)
        if user_id:
            self.state.serializer.submit(("roster-forget", (app_id, user_id)),
                                         lambda: self._forget(app_id, user_id))

    async def _forget(self, app_id: int, user_id: int) -> None:
        try:
            await self.state.services.contacts.forget_user(app_id, user_id)
        except Exception:  # noqa: BLE001 - the lists leave the account out when read anyway
            logger.exception("removing user %s of app %s from contact lists failed", user_id, app_id)

    def apply(self, effects: RosterEffects, extra: str = "") -> None:
        app_id = effects.app_id
        parts: list[str] = []
        for entry, owner, contact, ver in effects.pushes:
            item = self.item_xml(app_id, entry) if entry is not None and entry.in_roster else ""
            pending = "1" if entry is not None and entry.pending_in else "0"
            parts.append(f'<push user="{attr(self._local(app_id, owner))}" '
                         f'jid="{attr(self.user_jid(app_id, contact))}" ver="{ver}" '
                         f'pending="{pending}">{item}</push>')
        for sender, recipient, kind in effects.presences:
            parts.append(f'<deliver type="{kind.value}" from="{attr(self.user_jid(app_id, sender))}" '
                         f'to="{attr(self.user_jid(app_id, recipient))}"/>')
        for user, to in effects.share:
            parts.append(f'<share user="{attr(self._local(app_id, user))}" '
                         f'to="{attr(self.user_jid(app_id, to))}"/>')
        for user, to in effects.hide:
            parts.append(f'<hide user="{attr(self._local(app_id, user))}" '
                         f'to="{attr(self.user_jid(app_id, to))}"/>')
        if not parts and not extra:
            return
        self.xmpp.write(f'<iq type="set" id="{self.xmpp.next_id("roster")}" '
                        f'from="{attr(self.muc_domain)}" to="{attr(self.domain)}">'
                        f'<apply xmlns="{NS}">{"".join(parts)}{extra}</apply></iq>')

    # -- XML ----------------------------------------------------------------------------------------
    def item_xml(self, app_id: int, entry: Contact) -> str:
        name = f' name="{attr(entry.name)}"' if entry.name else ""
        ask = ' ask="subscribe"' if entry.ask else ""
        groups = "".join(f"<group>{esc(g)}</group>" for g in entry.groups)
        return (f'<item jid="{attr(self.user_jid(app_id, entry.contact_id))}" '
                f'subscription="{entry.subscription.value}"{ask}{name}>{groups}</item>')

    def _local(self, app_id: int, user_id: int) -> str:
        return self.user_jid(app_id, user_id).split("@", 1)[0]

    def _result(self, element: Element, payload: str = "") -> None:
        self.xmpp.write(f'<iq type="result" id="{attr(element.get("id") or "")}" '
                        f'from="{attr(self.muc_domain)}" to="{attr(element.get("from") or "")}">'
                        f"{payload}</iq>")
