"""The bridge component's behaviour, as slixmpp plugins (registered here by name)."""
from __future__ import annotations

from slixmpp.plugins.base import register_plugin

from bridge.plugins.groupchat import GroupChatPlugin
from bridge.plugins.presence import PresencePlugin
from bridge.plugins.private import PrivateChatPlugin

for _plugin in (PresencePlugin, GroupChatPlugin, PrivateChatPlugin):
    register_plugin(_plugin)

__all__ = ["GroupChatPlugin", "PresencePlugin", "PrivateChatPlugin"]
