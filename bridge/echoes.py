"""Loop prevention between XMPP traffic and the outbox relay.

- Stanzas the relay injects as a user (XEP-0356) are not copied back to us by our Prosody module
  (config/mod_chatbridge_copies.lua); should a server copy them anyway, their ids are remembered
  so those copies are ignored.
- A receipt, edit or group message sent over XMPP is already delivered by Prosody (or by our own
  fan-out); the service still publishes its event (`messages_read`, `message_updated`, ...) for
  other consumers. The plugin announces the event it is about to cause and the relay skips it.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any


@dataclass
class _Expected:
    kind: str
    app_id: int
    user_id: int
    ids: frozenset[str]
    expires: float


class Echoes:
    def __init__(self, max_ids: int = 100_000, ttl: float = 120.0) -> None:
        self._injected: OrderedDict[str, None] = OrderedDict()
        self._max = max_ids
        self._ttl = ttl
        self._expected: list[_Expected] = []

    # -- stanzas we injected -----------------------------------------------------------------------
    def injected(self, stanza_id: str) -> None:
        self._injected[stanza_id] = None
        if len(self._injected) > self._max:
            self._injected.popitem(last=False)

    def is_injected(self, stanza_id: str | None) -> bool:
        return bool(stanza_id) and stanza_id in self._injected

    # -- events caused by XMPP traffic -------------------------------------------------------------
    def expect(self, kind: str, app_id: int, user_id: int, ids: list[str] | set[str]) -> _Expected:
        now = time.monotonic()
        self._expected = [e for e in self._expected if e.expires > now]
        entry = _Expected(kind, app_id, user_id, frozenset(i.lower() for i in ids), now + self._ttl)
        self._expected.append(entry)
        return entry

    def cancel(self, entry: _Expected) -> None:
        if entry in self._expected:
            self._expected.remove(entry)

    def consume(self, event: dict[str, Any]) -> bool:
        """True (once) when the event was caused by XMPP traffic the bridge already delivered."""
        payload = event.get("payload") or {}
        ids = payload.get("message_ids")
        if ids is None and payload.get("message_id") is not None:
            ids = [payload["message_id"]]
        if not ids:
            return False
        wanted = {str(i).lower() for i in ids}
        now = time.monotonic()
        for entry in self._expected:
            if (entry.kind == event.get("kind") and entry.app_id == event.get("app_id")
                    and entry.user_id == event.get("sender_id") and entry.expires > now
                    and wanted <= entry.ids):
                self._expected.remove(entry)
                return True
        return False
