"""What every bridge plugin shares: the services, the in-memory state and the output helpers.

Each plugin declares the stanzas it handles (`handles`: (stanza, target) → method name); the
component routes to them by that table and knows no plugin by name (bridge/component.py).
Targets: `room` (a room JID), `copies` (mod_chatbridge_copies' `chat@muc.{domain}`),
`component` (the component's own domain) and `delegation` (a XEP-0355 wrapper from the server).
IQs can be routed by their payload's namespace too: `("iq", "delegation urn:xmpp:mam:2")` or
`("iq", "room urn:xmpp:mam:2")` win over the plain target for that namespace (the delegated
namespace is the wrapped IQ's). `delegated_features`: features this plugin answers for
delegated namespaces (Prosody's disco nesting adds them to the server's and every account's
disco#info); `room_features`: features rooms offer, for the rooms' disco#info;
`component_disco()`: what a service of the component's own (HTTP upload) adds to its disco#info.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from slixmpp.plugins import BasePlugin

from xml.etree.ElementTree import Element

from bridge.convert import NS_DELEGATION, NS_FORWARD, NS_PRIVILEGE, attr, child, localname
from bridge.errors import CONDITIONS, Condition, error_xml
from bridge.rooms import NameCache, Occupancy, RoomCache, Serializer, UserKey
from config.settings import XmppSettings
from models.errors import ErrorCode
from models.jids import UserAddress, parse_user, room_jid, user_jid
from models.requester import Requester
from models.services.container import Services
from models.services.presence import PresenceRegistry

if TYPE_CHECKING:
    from bridge.component import Component

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=65536)
def _requester(app_id: int, user_id: int) -> Requester:
    return Requester(app_id=app_id, user_id=user_id)  # frozen: one per user is enough


# slixmpp event between plugins, data (user key, full JID): a user's connection went away
CONNECTION_GONE = "cc_connection_gone"


@dataclass
class BridgeState:
    services: Services
    settings: XmppSettings
    occupancy: Occupancy = field(default_factory=Occupancy)
    serializer: Serializer = None  # type: ignore[assignment]
    rooms: RoomCache = None  # type: ignore[assignment]
    names: NameCache = None  # type: ignore[assignment]

    @property
    def online(self) -> PresenceRegistry:
        """Who is connected where: the one registry, shared with push and REST."""
        return self.services.presence

    def __post_init__(self) -> None:
        if self.serializer is None:
            self.serializer = Serializer(self.settings.max_pending_stanzas)
        if self.rooms is None:
            self.rooms = RoomCache(self.services.rooms.get)
        if self.names is None:
            users = self.services.users

            async def load(app_id: int, ids: list[int]) -> list[tuple[int, str | None, str | None]]:
                return [(u.id, u.full_name, u.login) for u in await users.get_many(app_id, ids)]
            self.names = NameCache(load)


class BridgePlugin(BasePlugin):
    """A slixmpp plugin of the bridge component; `plugin_config={"state": BridgeState}`."""

    default_config: dict[str, Any] = {"state": None}
    xmpp: "Component"
    # (stanza, target) → the method handling it, `handle_x(element) -> None` (see the module doc)
    handles: ClassVar[dict[tuple[str, str], str]] = {}
    status_key: ClassVar[str | None] = None  # this plugin's counters in the health status
    delegated_features: ClassVar[dict[str, tuple[str, ...]]] = {}  # namespace → features
    room_features: ClassVar[tuple[str, ...]] = ()

    def plugin_init(self) -> None:
        if self.config.get("state") is None:
            raise RuntimeError(f"{self.name} needs plugin_config['state']")
        self.state: BridgeState = self.config["state"]
        self.domain = self.xmpp.domain
        self.muc_domain = self.xmpp.muc_domain

    # -- addressing --------------------------------------------------------------------------------
    def user_jid(self, app_id: int, user_id: int, resource: str = "") -> str:
        return user_jid(user_id, app_id, self.domain, resource)

    def room_jid(self, app_id: int, dialog_id: str, nick: str | int = "") -> str:
        return room_jid(app_id, dialog_id, self.muc_domain, nick)

    def full_jids(self, app_id: int, user_ids: Any) -> list[str]:
        """Every online resource of these users."""
        connections = self.state.online.connections
        out: list[str] = []
        for uid in user_ids:
            for resource in connections((app_id, uid)):
                out.append(user_jid(uid, app_id, self.domain, resource))
        return out

    @staticmethod
    def requester(key: UserKey) -> Requester:
        return _requester(key[0], key[1])

    # -- lifecycle (the bridge calls these on every plugin) ----------------------------------------
    @property
    def pending(self) -> int:
        """Stanzas received and not handled yet, outside the shared serializer."""
        return 0

    async def idle(self, timeout: float) -> bool:
        """Waits (up to `timeout`) until nothing is pending; False if something still is."""
        return True

    async def close(self) -> None:
        """Stops this plugin's own tasks."""

    def status(self) -> dict[str, Any]:
        return {}

    def component_disco(self) -> str:
        """Identities, features and forms this plugin adds to the component's disco#info."""
        return ""

    # -- output ------------------------------------------------------------------------------------
    def fan_out(self, targets: list[str], head: str, tail: str) -> int:
        """Writes `head + to="T" + tail` for each full JID T (see Component.fan_out)."""
        return self.xmpp.fan_out(targets, head, tail)

    def send_as_user(self, inner: str) -> None:
        """XEP-0356: a `jabber:client` <message> (from a bare user JID) sent by Prosody for us."""
        wrapper_id = self.xmpp.next_id("priv")
        self.xmpp.write(
            f'<message from="{attr(self.muc_domain)}" to="{attr(self.domain)}" id="{wrapper_id}">'
            f'<privilege xmlns="{NS_PRIVILEGE}"><forwarded xmlns="{NS_FORWARD}">{inner}'
            "</forwarded></privilege></message>")

    # -- delegated IQs (XEP-0355) --------------------------------------------------------------------
    @staticmethod
    def delegated_iq(element: Element) -> Element | None:
        """The user's IQ inside a delegation wrapper (None: not a well-formed one)."""
        if not len(element):
            return None
        forwarded = child(element[0], "forwarded", NS_FORWARD)
        inner = forwarded[0] if forwarded is not None and len(forwarded) else None
        if inner is None or localname(inner.tag) != "iq" or not len(inner):
            return None
        return inner

    def delegated_request(self, element: Element) -> tuple[Element, UserAddress] | None:
        """The user's IQ inside a delegation wrapper and the user who sent it; None when the
        request is answered already: `bad-request` for a malformed wrapper, `forbidden` for a
        sender who is not one of our users."""
        inner = self.delegated_iq(element)
        if inner is None:
            self.xmpp.reply_error(element, CONDITIONS[ErrorCode.bad_request])
            return None
        user = parse_user(inner.get("from"), self.domain)
        if user is None:
            self.answer_delegated(element, inner, error=CONDITIONS[ErrorCode.forbidden])
            return None
        return inner, user

    def answer_delegated(self, element: Element, inner: Element, payload: str = "",
                         error: Condition | None = None, sender: str | None = None) -> None:
        """The wrapped result Prosody's mod_delegation checks: one child at each level, the inner
        IQ addressed back to the original sender with the original id."""
        inner_id = attr(inner.get("id") or "")
        to = attr(inner.get("from") or "")
        source = attr(sender or inner.get("to") or self.domain)
        if error is not None:
            body = f'<iq xmlns="jabber:client" type="error" id="{inner_id}" from="{source}" to="{to}">' \
                   f"{error_xml(error)}</iq>"
        else:
            body = f'<iq xmlns="jabber:client" type="result" id="{inner_id}" from="{source}" to="{to}">' \
                   f"{payload}</iq>"
        self.xmpp.write(f'<iq type="result" id="{attr(element.get("id") or "")}" '
                        f'from="{attr(self.muc_domain)}" to="{attr(element.get("from") or "")}">'
                        f'<delegation xmlns="{NS_DELEGATION}"><forwarded xmlns="{NS_FORWARD}">{body}'
                        "</forwarded></delegation></iq>")
