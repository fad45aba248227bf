"""ConnectyCube addressing on XMPP, pure (no transport): the bridge, sessions and the XMPP
server's auth endpoint build and parse JIDs here only.

- users: `{userId}-{appId}@{domain}` (any resource; the SDK binds a long random one); the local
  part alone, `{userId}-{appId}`, is the user name the XMPP server authenticates;
- rooms: `{appId}_{dialogId}@muc.{domain}`, occupants named by numeric user id
  (`{appId}_{dialogId}@muc.{domain}/{userId}`).
Parsing is strict: anything else is None, never an exception.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_USER_RE = re.compile(r"^([1-9][0-9]{0,18})-([1-9][0-9]{0,18})\Z")
_ROOM_RE = re.compile(r"^([1-9][0-9]{0,18})_([0-9a-fA-F]{24})\Z")
MAX_RESOURCE = 1023


@dataclass(frozen=True)
class Jid:
    local: str
    domain: str
    resource: str = ""

    @property
    def bare(self) -> str:
        return f"{self.local}@{self.domain}" if self.local else self.domain

    @property
    def full(self) -> str:
        return f"{self.bare}/{self.resource}" if self.resource else self.bare


def split(jid: str | None) -> Jid | None:
    if not jid or not isinstance(jid, str) or len(jid) > 3071:
        return None
    bare, _, resource = jid.partition("/")
    local, at, domain = bare.rpartition("@")
    if not at:
        local, domain = "", bare
    if not domain or len(resource) > MAX_RESOURCE:
        return None
    return Jid(local, domain.lower(), resource)


@dataclass(frozen=True)
class UserAddress:
    app_id: int
    user_id: int
    resource: str = ""


@dataclass(frozen=True)
class RoomAddress:
    app_id: int
    dialog_id: str
    nick: str = ""  # the occupant's resource (a numeric user id for the SDK)


def user_local(user_id: int, app_id: int) -> str:
    """The local part of a user's JID (the user name the XMPP server authenticates)."""
    return f"{user_id}-{app_id}"


def parse_user_local(local: str | None) -> tuple[int, int] | None:
    """`{userId}-{appId}` → (app_id, user_id); None for anything else."""
    if not isinstance(local, str):
        return None
    match = _USER_RE.match(local)
    if match is None:
        return None
    return int(match.group(2)), int(match.group(1))


def user_jid(user_id: int, app_id: int, domain: str, resource: str = "") -> str:
    jid = f"{user_id}-{app_id}@{domain}"  # inline, not user_local(): fan-out builds one per resource
    return f"{jid}/{resource}" if resource else jid


def room_jid(app_id: int, dialog_id: str, muc_domain: str, nick: str | int = "") -> str:
    jid = f"{app_id}_{dialog_id}@{muc_domain}"
    return f"{jid}/{nick}" if nick != "" else jid


def parse_user(jid: str | None, domain: str) -> UserAddress | None:
    if not isinstance(jid, str) or not isinstance(domain, str):
        return None
    return _parse_user(jid, domain)


@functools.lru_cache(maxsize=65536)  # the same few full JIDs send most stanzas
def _parse_user(jid: str, domain: str) -> UserAddress | None:
    parts = split(jid)
    if parts is None or parts.domain != domain.lower():
        return None
    ids = parse_user_local(parts.local)
    if ids is None:
        return None
    return UserAddress(app_id=ids[0], user_id=ids[1], resource=parts.resource)


def parse_room(jid: str | None, muc_domain: str) -> RoomAddress | None:
    parts = split(jid)
    if parts is None or parts.domain != muc_domain.lower():
        return None
    match = _ROOM_RE.match(parts.local)
    if match is None:
        return None
    return RoomAddress(app_id=int(match.group(1)), dialog_id=match.group(2).lower(), nick=parts.resource)
