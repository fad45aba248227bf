"""Who is reachable in real time right now, in this process: the one online registry.

The XMPP bridge feeds it (available / unavailable presences of local users, and the Tigase-style
`<active/>` / `<inactive/>` of mobile clients) and reads the connections (XMPP resources) of each
user from it for its deliveries; the push fan-out asks it who is offline, REST who is online. It
is in memory: nobody registered means everybody is offline, so push works before the bridge runs.

Two questions, two words:
- *connected*: at least one connection (the bridge delivers to it, last activity answers 0);
- *online*: at least one **active** connection (a mobile client in the background stays
  connected but gets pushes, so it is not online).
"""
from __future__ import annotations

import time
from typing import Iterable, Mapping

UserKey = tuple[int, int]  # (app_id, user_id)

_NONE: Mapping[str, bool] = {}


class PresenceRegistry:
    __slots__ = ("_connections", "_by_app", "_last_seen")

    def __init__(self) -> None:
        # (app_id, user_id) -> {connection id (XMPP resource): active}
        self._connections: dict[UserKey, dict[str, bool]] = {}
        self._by_app: dict[int, set[int]] = {}  # connected users of each application
        self._last_seen: dict[UserKey, float] = {}  # when each user's last connection closed

    # -- changes ------------------------------------------------------------------------------------
    def connected(self, app_id: int, user_id: int, connection: str) -> bool:
        """Records an (active) connection; True when the user was not connected before."""
        key = (app_id, user_id)
        connections = self._connections.get(key)
        if connections is None:
            self._connections[key] = {connection: True}
            self._by_app.setdefault(app_id, set()).add(user_id)
            return True
        connections[connection] = True
        return False

    def disconnected(self, app_id: int, user_id: int, connection: str,
                     now: float | None = None) -> bool:
        """Forgets a connection; True when it was the user's last one (then `now`, by default
        the current time, becomes their `last_seen`)."""
        key = (app_id, user_id)
        connections = self._connections.get(key)
        if connections is None or connection not in connections:
            return False
        del connections[connection]
        if connections:
            return False
        del self._connections[key]
        app_users = self._by_app.get(app_id)
        if app_users is not None:
            app_users.discard(user_id)
            if not app_users:
                del self._by_app[app_id]
        self._last_seen[key] = time.time() if now is None else now
        return True

    def set_active(self, app_id: int, user_id: int, connection: str, active: bool) -> None:
        """A mobile client in the background stays connected but should get pushes."""
        connections = self._connections.get((app_id, user_id))
        if connections is not None and connection in connections:
            connections[connection] = active

    def clear(self) -> None:
        """Forgets every connection (the bridge's link was made again: the XMPP server re-sends
        every current presence); `last_seen` stays."""
        self._connections.clear()
        self._by_app.clear()

    # -- questions ----------------------------------------------------------------------------------
    def is_online(self, app_id: int, user_id: int) -> bool:
        """At least one active connection."""
        return any(self._connections.get((app_id, user_id), _NONE).values())

    def is_connected(self, key: UserKey) -> bool:
        return key in self._connections

    def connections(self, key: UserKey) -> Mapping[str, bool]:
        """The user's connections (iterating gives their ids); empty when not connected. The live
        mapping: copy it to keep it."""
        return self._connections.get(key, _NONE)

    def last_seen(self, key: UserKey) -> float | None:
        return self._last_seen.get(key)

    def users(self) -> list[UserKey]:
        """Every connected user."""
        return list(self._connections)

    def users_of(self, app_id: int) -> set[int]:
        """Ids of the application's connected users (the live set: copy it to keep it)."""
        return self._by_app.get(app_id) or set()

    def offline_among(self, app_id: int, user_ids: Iterable[int]) -> list[int]:
        return [uid for uid in user_ids if not self.is_online(app_id, uid)]

    def online_ids(self, app_id: int) -> list[int]:
        """Users of the application with at least one active connection, by id."""
        return sorted(uid for uid in self._by_app.get(app_id, ())
                      if any(self._connections[(app_id, uid)].values()))

    def __len__(self) -> int:
        """Connected users."""
        return len(self._connections)
