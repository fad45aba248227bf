"""The bridge as one part of a process (`create_bridge`): the embedded Prosody (unless
`CHAT_XMPP__EMBEDDED=false`), the component and the outbox relay, started and stopped together.
`status()` is what the process's health check reports under "xmpp".
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from bridge.component import Component
from bridge.metrics import BridgeCollector
from bridge.plugins import PLUGIN_NAMES
from bridge.plugins.base import BridgeState
from bridge.prosody import ProsodyProcess, loopback
from bridge.relay import Relay
from models.services.container import Services

logger = logging.getLogger(__name__)


class Bridge:
    def __init__(self, services: Services) -> None:
        settings = services.settings
        self.settings = settings.xmpp
        self.state = BridgeState(services=services, settings=settings.xmpp)
        self.prosody = (ProsodyProcess(settings, store_id=services.store_id or None)
                        if settings.xmpp.embedded else None)
        # Embedded: Prosody's component port is on loopback whatever CHAT_XMPP__HOST binds.
        host = loopback(settings.xmpp.host) if settings.xmpp.embedded else settings.xmpp.host
        self.component = Component(settings.xmpp, {name: {"state": self.state} for name in PLUGIN_NAMES},
                                   host=host)
        self.relay = Relay(self.component, self.state)
        self._metrics = services.metrics
        self._collector = BridgeCollector(self)
        self._started = False

    async def start(self, connect_timeout: float | None = None) -> None:
        """Starts Prosody (embedded), connects the component (waiting up to `connect_timeout`;
        it keeps retrying in the background either way) and starts the relay."""
        if self.prosody is not None:
            await self.prosody.start()
        self.component.start()
        self._started = True
        self._metrics.register(self._collector)
        await self.relay.start()
        timeout = self.settings.start_timeout_seconds if connect_timeout is None else connect_timeout
        deadline = time.monotonic() + timeout
        while not self.component.linked and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if not self.component.linked:
            logger.error("bridge component not connected to %s:%s after %.0fs (%s); still retrying",
                         self.settings.host, self.settings.component_port, timeout,
                         self.component.last_error or "no answer")

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self._metrics.unregister(self._collector)
        await self.relay.stop()
        await self.state.serializer.idle(2.0)
        plugins = self.component.bridge_plugins()
        for plugin in plugins:
            await plugin.idle(2.0)
        for plugin in plugins:
            await plugin.close()
        await self.component.stop()
        await self.state.serializer.close()
        if self.prosody is not None:
            await self.prosody.stop()

    def status(self) -> dict[str, Any]:
        component = self.component
        plugins = component.bridge_plugins()
        status: dict[str, Any] = {
            "ok": component.linked,
            "component": self.settings.muc_domain,
            "connected": component.linked,
            "connected_since": component.connected_since,
            "sessions": component.sessions,
            "online_users": len(self.state.online),
            "rooms": self.state.occupancy.room_count(),
            "pending_stanzas": self.state.serializer.pending + sum(p.pending for p in plugins),
            "relay": {"running": self.relay.running, "delivered": self.relay.delivered,
                      "skipped": self.relay.skipped},
        }
        for plugin in plugins:
            if plugin.status_key:
                status[plugin.status_key] = plugin.status()
        if component.last_error and not component.linked:
            status["error"] = component.last_error
        if self.prosody is not None:
            status["prosody"] = self.prosody.status()
        return status

    async def health(self) -> dict[str, Any]:
        return self.status()


def create_bridge(services: Services) -> Bridge:
    return Bridge(services)
