"""Who is reachable in real time right now, in this process.

The XMPP bridge feeds it (available / unavailable presences of local users, and the Tigase-style
`<active/>` / `<inactive/>` of mobile clients); the push fan-out asks it who is offline. It is
in memory: nobody registered means everybody is offline, so push works before the bridge runs.
A user counts as online while at least one of their connections is active.
"""
from __future__ import annotations

from collections import defaultdict


class PresenceRegistry:
    def __init__(self) -> None:
        # (app_id, user_id) -> {connection id: active}
        self._online: dict[tuple[int, int], dict[str, bool]] = defaultdict(dict)

    def connected(self, app_id: int, user_id: int, connection: str) -> None:
        self._online[(app_id, user_id)][connection] = True

    def disconnected(self, app_id: int, user_id: int, connection: str) -> None:
        key = (app_id, user_id)
        connections = self._online.get(key)
        if connections is None:
            return
        connections.pop(connection, None)
        if not connections:
            del self._online[key]

    def set_active(self, app_id: int, user_id: int, connection: str, active: bool) -> None:
        """A mobile client in the background stays connected but should get pushes."""
        connections = self._online.get((app_id, user_id))
        if connections is not None and connection in connections:
            connections[connection] = active

    def is_online(self, app_id: int, user_id: int) -> bool:
        return any(self._online.get((app_id, user_id), {}).values())

    def offline_among(self, app_id: int, user_ids: list[int]) -> list[int]:
        return [uid for uid in user_ids if not self.is_online(app_id, uid)]

    def online_ids(self, app_id: int) -> list[int]:
        """Users of the application with at least one active connection, by id."""
        return sorted(uid for (app, uid), connections in self._online.items()
                      if app == app_id and any(connections.values()))

    def online_count(self) -> int:
        return sum(1 for connections in self._online.values() if any(connections.values()))
