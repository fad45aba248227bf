"""The bridge component's behaviour, as slixmpp plugins: this is the one list of them (the
component registers and routes to these, the bridge configures them)."""
from __future__ import annotations

from slixmpp.plugins.base import register_plugin

from bridge.plugins.archive import ArchivePlugin
from bridge.plugins.base import BridgePlugin
from bridge.plugins.blocklist import BlocklistPlugin
from bridge.plugins.bookmarks import BookmarksPlugin
from bridge.plugins.groupchat import GroupChatPlugin
from bridge.plugins.presence import PresencePlugin
from bridge.plugins.private import PrivateChatPlugin
from bridge.plugins.roster import RosterPlugin
from bridge.plugins.upload import UploadPlugin
from bridge.plugins.vcard import VCardPlugin

PLUGINS: tuple[type[BridgePlugin], ...] = (PresencePlugin, GroupChatPlugin, PrivateChatPlugin,
                                            UploadPlugin, VCardPlugin, BookmarksPlugin,
                                            ArchivePlugin, BlocklistPlugin, RosterPlugin)
PLUGIN_NAMES: tuple[str, ...] = tuple(plugin.name for plugin in PLUGINS)

for _plugin in PLUGINS:
    register_plugin(_plugin)

__all__ = ["PLUGINS", "PLUGIN_NAMES", "ArchivePlugin", "BlocklistPlugin", "BookmarksPlugin",
           "BridgePlugin", "GroupChatPlugin", "PresencePlugin", "PrivateChatPlugin", "RosterPlugin",
           "UploadPlugin",
           "VCardPlugin"]
