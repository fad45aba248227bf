"""`cc_blocklist`: the user's block list over XMPP, answered from the store, and the XMPP server's
cache of it.

config/mod_chatbridge_blocklist.lua hands us (in XEP-0355 wrappers) what a user asks of their own
account in two namespaces, both read and written through `BlocklistService` (one list):
- XEP-0191 Blocking Command: `<blocklist/>` (get), `<block>` / `<unblock>` (set; an `<unblock/>`
  without items unblocks everyone);
- XEP-0016 privacy lists as the ConnectyCube SDK uses them: the names (`<active>`, `<default>`,
  `<list>`), a list's items, a list set (its `deny` items of `type="jid"` name users: their bare
  JID, or `muc.{domain}/{user id}`, the SDK's second item per user), `<default name>` /
  `<default/>` and a list deleted (an empty `<list name>`). The default list is the block list;
  other lists are kept until one becomes the default. A list is read back as the SDK wrote it:
  two items per user (the JID, then the room nickname), orders 1, 2, 3, …, each with
  `<message/><presence-in/><presence-out/><iq/>` (a deny blocks everything, whatever a client
  chose). `allow` items change nothing (nobody is blocked unless denied) and are not kept; items
  of another type (group, subscription, a fall-through item) are refused
  (`feature-not-implemented`), as is `<active>` with any list but the default (the default list
  is everyone's active list here).
A JID that is not a user of the requester's application answers `item-not-found` (as REST
answers 404), the requester's own `not-acceptable`.

The Lua module also asks for a user's relations when they log in (`<peers
xmlns="urn:chatbridge:blocklist:0" jid="..."/>` to the component: `handle_peers`) and gets an
`<update>` from us for each change: before we answer a change made over XMPP, or when the outbox
relay delivers a `blocklist_updated` event of another origin (`update_xml`). The update carries
the XEP-0191 pushes the Lua module sends to the user's sessions that asked for their list.
"""
from __future__ import annotations

import logging
from xml.etree.ElementTree import Element

from slixmpp.plugins.xep_0016.stanza import List as PrivacyList
from slixmpp.plugins.xep_0191.stanza import Block, BlockItem, BlockList, Unblock
from slixmpp.xmlstream import register_stanza_plugin

from bridge.convert import attr, localname, namespace
from bridge.errors import CONDITIONS, INTERNAL, Condition, condition_for
from bridge.plugins.base import BridgePlugin
from models.blocklist import Blocklist
from models.errors import ChatError, ErrorCode, InvalidError, NotFoundError
from models.events import Origin
from models.jids import UserAddress, parse_user, split

logger = logging.getLogger(__name__)

NS_BLOCKING = "urn:xmpp:blocking"
NS_PRIVACY = "jabber:iq:privacy"
NS_CB = "urn:chatbridge:blocklist:0"
NOT_IMPLEMENTED = Condition("feature-not-implemented", "cancel", 501)
DENY_ALL = {"message": True, "iq": True, "presence_in": True, "presence_out": True}

for _list in (BlockList, Block, Unblock):
    register_stanza_plugin(_list, BlockItem, iterable=True)


class BlocklistPlugin(BridgePlugin):
    name = "cc_blocklist"
    description = "chatbridge: block lists (XEP-0191, XEP-0016) from the store"
    handles = {("iq", f"delegation {NS_BLOCKING}"): "handle_delegation",
               ("iq", f"delegation {NS_PRIVACY}"): "handle_delegation",
               ("iq", f"component {NS_CB}"): "handle_peers"}

    # -- the XMPP server's cache --------------------------------------------------------------------
    def handle_peers(self, element: Element) -> None:
        payload = element[0]
        user = parse_user(payload.get("jid"), self.domain)
        if element.get("from") != self.domain or element.get("type") != "get" or user is None:
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.bad_request])
            return
        self.state.serializer.submit(("blocklist", user.app_id, user.user_id),
                                     lambda: self._peers(element, user))

    async def _peers(self, element: Element, user: UserAddress) -> None:
        try:
            peers = await self.state.services.blocklist.peers(user.app_id, user.user_id)
        except Exception:  # noqa: BLE001 - Prosody retries at the user's next stanza
            logger.exception("block list relations of user %s failed", user.user_id)
            self.xmpp.reply_error(element, INTERNAL)
            return
        items = "".join(f'<item jid="{attr(self.user_jid(user.app_id, uid))}" dir="{d}"/>'
                        for uid, d in sorted(peers.items()))
        self.xmpp.write(f'<iq type="result" id="{attr(element.get("id") or "")}" '
                        f'from="{attr(self.muc_domain)}" to="{attr(self.domain)}">'
                        f'<peers xmlns="{NS_CB}" jid="{attr(self.user_jid(user.app_id, user.user_id))}">'
                        f"{items}</peers></iq>")

    async def update_xml(self, app_id: int, user_id: int, blocked: list[int],
                         unblocked: list[int]) -> str:
        """The `<update>` telling Prosody how `user_id` and each changed user now stand (from
        the store, after the change), with the XEP-0191 pushes for the user's sessions."""
        changed = list(dict.fromkeys([*blocked, *unblocked]))
        if not changed:
            return ""
        service = self.state.services.blocklist
        mine = set(await service.ids_of(app_id, user_id))
        theirs = await service.blockers(app_id, user_id, changed)
        items = ""
        for uid in changed:
            out, into = uid in mine, uid in theirs
            direction = "both" if out and into else "out" if out else "in" if into else "none"
            items += f'<item jid="{attr(self.user_jid(app_id, uid))}" dir="{direction}"/>'
        pushes = ""
        for kind, ids in ((Block, blocked), (Unblock, unblocked)):
            if ids:
                change = kind()
                for uid in ids:
                    item = BlockItem()
                    item["jid"] = self.user_jid(app_id, uid)
                    change.append(item)
                pushes += str(change)
        return (f'<message from="{attr(self.muc_domain)}" to="{attr(self.domain)}" '
                f'id="{self.xmpp.next_id("blk")}"><update xmlns="{NS_CB}" '
                f'user="{attr(self.user_jid(app_id, user_id))}">{items}{pushes}</update></message>')

    # -- requests ---------------------------------------------------------------------------------
    def handle_delegation(self, element: Element) -> None:
        inner = self.delegated_iq(element)
        if inner is None:
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.bad_request])
            return
        requester = parse_user(inner.get("from"), self.domain)
        own = requester is not None and (inner.get("to") is None or split(inner.get("to")).bare ==
                                         self.user_jid(requester.app_id, requester.user_id))
        if requester is None or not own:  # only one's own list, ever
            self.answer_delegated(element, inner, error=CONDITIONS[ErrorCode.forbidden])
            return
        self.state.serializer.submit(("blocklist", requester.app_id, requester.user_id),
                                     lambda: self._answer(element, inner, requester))

    async def _answer(self, element: Element, inner: Element, requester: UserAddress) -> None:
        payload = inner[0]
        try:
            if namespace(payload.tag) == NS_BLOCKING:
                result = await self._blocking(inner, payload, requester)
            else:
                result = await self._privacy(inner, payload, requester)
        except _Refused as exc:
            self.answer_delegated(element, inner, error=exc.condition)
            return
        except ChatError as exc:
            logger.debug("block list request of %s refused: %s", inner.get("from"), exc.message)
            self.answer_delegated(element, inner, error=condition_for(exc))
            return
        except Exception:  # noqa: BLE001 - logged, answered without detail
            logger.exception("block list request of %s failed", inner.get("from"))
            self.answer_delegated(element, inner, error=INTERNAL)
            return
        self.answer_delegated(element, inner, result)

    def _origin(self, inner: Element) -> Origin:
        return Origin(transport="xmpp", stanza_id=inner.get("id"))

    async def _changed(self, requester: UserAddress, before: Blocklist, after: Blocklist) -> None:
        """Prosody learns of the change before the client gets its answer (same link, in order)."""
        old, new = set(before.blocked_ids), set(after.blocked_ids)
        xml = await self.update_xml(requester.app_id, requester.user_id,
                                    [u for u in after.blocked_ids if u not in old],
                                    [u for u in before.blocked_ids if u not in new])
        if xml:
            self.xmpp.write(xml)

    # -- XEP-0191 ---------------------------------------------------------------------------------
    async def _blocking(self, inner: Element, payload: Element, requester: UserAddress) -> str:
        service = self.state.services.blocklist
        me = self.requester((requester.app_id, requester.user_id))
        kind, name = inner.get("type"), localname(payload.tag)
        if kind == "get" and name == "blocklist":
            state = await service.get(me)
            listing = BlockList()
            for uid in state.blocked_ids:
                item = BlockItem()
                item["jid"] = self.user_jid(requester.app_id, uid)
                listing.append(item)
            return str(listing)
        if kind != "set" or name not in ("block", "unblock"):
            raise _Refused(CONDITIONS[ErrorCode.bad_request])
        stanza = (Block if name == "block" else Unblock)(xml=payload)
        jids = [str(item["jid"]) for item in stanza["items"]]
        if name == "block" and not jids:
            raise _Refused(CONDITIONS[ErrorCode.bad_request])  # XEP-0191 §3.3
        before = await service.get(me)
        if name == "block":
            after = await service.block(me, self._user_ids(requester, jids), self._origin(inner))
        else:
            ids = None if not jids else self._user_ids(requester, jids, known_only=True)
            after = await service.unblock(me, ids, self._origin(inner))
        await self._changed(requester, before, after)
        return ""

    def _user_ids(self, requester: UserAddress, jids: list[str], known_only: bool = False) -> list[int]:
        """User ids of these JIDs: a user's (bare or full) JID of this app, or `muc.{domain}/{id}`
        (the SDK's item for the user's room nickname)."""
        out: list[int] = []
        for jid in jids:
            uid = self._user_id(requester, jid)
            if uid is None:
                if known_only:
                    continue  # not on the list anyway
                raise NotFoundError("User not found")
            if uid not in out:
                out.append(uid)
        return out

    def _user_id(self, requester: UserAddress, jid: str) -> int | None:
        user = parse_user(jid, self.domain)
        if user is not None:
            return user.user_id if user.app_id == requester.app_id else None
        parts = split(jid)
        if parts is not None and not parts.local and parts.domain == self.muc_domain and \
                parts.resource.isdigit():
            return int(parts.resource)
        return None

    # -- XEP-0016 ---------------------------------------------------------------------------------
    async def _privacy(self, inner: Element, payload: Element, requester: UserAddress) -> str:
        service = self.state.services.blocklist
        me = self.requester((requester.app_id, requester.user_id))
        children = [c for c in payload if namespace(c.tag) == NS_PRIVACY]
        if inner.get("type") == "get":
            state = await service.get(me)
            if not children:
                return self._names_xml(state)
            if len(children) != 1 or localname(children[0].tag) != "list":
                raise _Refused(CONDITIONS[ErrorCode.bad_request])
            name = children[0].get("name") or ""
            ids = state.list_named(name)
            if ids is None:
                raise NotFoundError("Privacy list not found")
            return f'<query xmlns="{NS_PRIVACY}">{self._list_xml(requester, name, ids)}</query>'
        if len(children) != 1:  # XEP-0016 §2.6: one element per set
            raise _Refused(CONDITIONS[ErrorCode.bad_request])
        request = children[0]
        kind, name = localname(request.tag), request.get("name")
        before = await service.get(me)
        if kind == "active":
            if name is not None and name != before.default_name:
                raise _Refused(NOT_IMPLEMENTED)
            return ""  # the default list is every session's active list
        if kind == "default":
            after = await service.set_default(me, name or None, self._origin(inner))
        elif kind == "list" and name:
            items = PrivacyList(xml=request)["items"]
            if not items:
                after = await service.delete_privacy_list(me, name, self._origin(inner))
            else:
                after = await service.set_privacy_list(me, name, self._denied(requester, items),
                                                       self._origin(inner))
        else:
            raise _Refused(CONDITIONS[ErrorCode.bad_request])
        await self._changed(requester, before, after)
        return ""

    def _denied(self, requester: UserAddress, items) -> list[int]:
        """The users a list's items deny (in order); allow items change nothing."""
        out: list[int] = []
        for item in sorted(items, key=lambda i: _order(i["order"])):
            if item["type"] != "jid":
                raise _Refused(NOT_IMPLEMENTED)  # groups, subscriptions, fall-through items
            if item["action"] != "deny":
                continue
            uid = self._user_id(requester, str(item["value"]))
            if uid is None:
                raise NotFoundError("User not found")
            if uid == requester.user_id:
                raise InvalidError("can't block yourself", field="list")
            if uid not in out:
                out.append(uid)
        return out

    def _names_xml(self, state: Blocklist) -> str:
        default = state.default_name
        head = f'<active name="{attr(default)}"/><default name="{attr(default)}"/>' \
            if default is not None else ""
        lists = "".join(f'<list name="{attr(n)}"/>' for n in state.names())
        return f'<query xmlns="{NS_PRIVACY}">{head}{lists}</query>'

    def _list_xml(self, requester: UserAddress, name: str, ids: tuple[int, ...]) -> str:
        listing = PrivacyList()
        listing["name"] = name
        order = 0
        for uid in ids:
            for value in (self.user_jid(requester.app_id, uid), f"{self.muc_domain}/{uid}"):
                order += 1
                listing.add_item(value, "deny", str(order), itype="jid", **DENY_ALL)
        return str(listing)


class _Refused(Exception):
    def __init__(self, condition: Condition) -> None:
        super().__init__(condition.name)
        self.condition = condition


def _order(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0

