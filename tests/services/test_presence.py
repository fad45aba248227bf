"""The one online registry: connections (the bridge's delivery targets), active ones (push, REST
online lists), last seen."""
from __future__ import annotations

from models.services.presence import PresenceRegistry


def test_connections_and_last_seen_bookkeeping():
    online = PresenceRegistry()
    assert online.connected(1, 7, "a") and not online.connected(1, 7, "b")
    assert set(online.connections((1, 7))) == {"a", "b"} and online.users_of(1) == {7}
    assert not online.disconnected(1, 7, "a", 10.0) and online.disconnected(1, 7, "b", 11.0)
    assert not online.disconnected(1, 7, "b", 12.0)  # already gone
    assert not online.is_connected((1, 7)) and online.last_seen((1, 7)) == 11.0
    assert dict(online.connections((1, 7))) == {} and online.users_of(1) == set() and len(online) == 0


def test_inactive_connections_are_connected_but_not_online():
    online = PresenceRegistry()
    online.connected(1, 7, "phone")
    online.connected(1, 8, "web")
    online.connected(2, 7, "other-app")
    online.set_active(1, 7, "phone", False)
    assert online.is_connected((1, 7)) and not online.is_online(1, 7)
    assert online.online_ids(1) == [8] and online.offline_among(1, [7, 8, 9]) == [7, 9]
    online.connected(1, 7, "phone")  # available again: active again
    assert online.online_ids(1) == [7, 8]
    online.set_active(1, 9, "nobody", False)  # unknown: nothing happens
    assert sorted(online.users()) == [(1, 7), (1, 8), (2, 7)]


def test_clear_forgets_connections_but_not_last_seen():
    online = PresenceRegistry()
    online.connected(1, 7, "a")
    online.disconnected(1, 7, "a", 5.0)
    online.connected(1, 8, "b")
    online.clear()
    assert len(online) == 0 and online.users_of(1) == set() and not online.is_online(1, 8)
    assert online.last_seen((1, 7)) == 5.0
