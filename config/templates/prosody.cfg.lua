-- Prosody configuration rendered by chatbridge (bridge/prosody.py) from
-- config/templates/prosody.cfg.lua. Edit the template, not this copy: it is rewritten at each start.
-- c2s: STARTTLS on the client port, direct TLS on its own port, SASL PLAIN only after TLS (it
-- carries the session token). The websocket stays plain on loopback: serve it as wss:// behind a
-- TLS proxy.

pidfile = "$pidfile"
certificates = "$certs"
data_path = "$data_path"
plugin_paths = { "$plugin_path" }
run_as_root = $run_as_root
log = {
	{ levels = { min = "$log_level" }, to = "file", filename = "$log_file" };
	{ levels = { min = "warn" }, to = "console" };
}

-- Lua's collector: incremental, with Lua's own pace (a cycle when the heap has doubled) instead
-- of Prosody's default (threshold 105, speed 500: twice the collector work). Generational mode
-- gave the same throughput but stop-the-world major collections: after a burst of 1:1 copies it
-- stayed in its "bad collection" state and collected the whole heap every second, which was the
-- REST -> XMPP latency tail (docs/benchmarks.md).
gc = { mode = "incremental", threshold = 200, speed = 200 }
network_default_read_size = 65536
-- TCP_NODELAY on every connection: with Nagle left on (Prosody's default) small stanzas wait for
-- the peer's delayed ACK, up to 40 ms (docs/benchmarks.md).
network_settings = { nagle = false }

-- c2s and websocket listen on CHAT_XMPP__HOST; the component port stays on loopback (it trusts
-- whoever knows the secret).
interfaces = { "$component_host" }
c2s_ports = { $c2s_port }
c2s_interfaces = { "$host" }
c2s_direct_tls_ports = { $direct_tls_ports }
c2s_direct_tls_interfaces = { "$host" }
legacy_ssl_ports = {}
http_ports = { $http_port }
http_interfaces = { "$host" }
https_ports = {}
https_interfaces = {}
component_ports = { $component_port }
component_interfaces = { "$component_host" }
s2s_ports = {}
-- XEP-0065 file transfer proxy (the proxy65 component below); loopback unless configured
proxy65_ports = { $proxy65_ports }
proxy65_interfaces = { "$proxy65_interface" }

-- The certificate for c2s (bridge/certificates.py: the operator's, or a self-signed one kept
-- under the data directory)
ssl = { certificate = "$tls_certificate"; key = "$tls_key"; }

modules_enabled = {
	"saslauth"; "tls"; "disco"; "ping"; "carbons"; "smacks"; "offline"; "posix";
	-- what standard clients (Conversations, Dino, Gajim) expect: roster versioning, client
	-- state indication, PEP with publish-options (OMEMO), push registration (XEP-0357),
	-- STUN / TURN discovery (XEP-0215) and contact addresses (XEP-0157)
	"roster"; "csi_simple"; "pep"; "cloud_notify"; "external_services"; "server_contact_info";
	"http"; "websocket"; "privilege"; "delegation";
	-- ours: a copy of every 1:1 chat message for the bridge (config/mod_chatbridge_copies.lua)
	"chatbridge_copies";
	-- ours: bookmarks (XEP-0402, XEP-0048) answered by the bridge from the user's dialogs
	"chatbridge_bookmarks";
	-- ours: rosters are the contact lists in MongoDB, kept by the bridge
	-- (config/mod_chatbridge_roster.lua; the roster store below is its driver)
	"chatbridge_roster";
	-- ours: block lists from chatbridge's store, enforced here (config/mod_chatbridge_blocklist.lua):
	-- XEP-0191 and XEP-0016 privacy lists (the SDK's chat.privacylist.*) answered by the bridge.
	-- It replaces mod_privacy_lists and mod_blocklist (their lists were Prosody's files).
	"chatbridge_blocklist";
	-- c2s bandwidth (mod_limits) unless CHAT_RATE_LIMITS__XMPP_C2S_RATE is empty
	$limits_module
}
modules_disabled = { "s2s" }

-- Token auth against the chatbridge REST app (config/mod_auth_chatbridge.lua), SASL PLAIN only.
authentication = "chatbridge"
chatbridge_auth_url = "$auth_url"
chatbridge_auth_user = "$auth_user"
chatbridge_auth_password = "$auth_password"
c2s_require_encryption = $require_encryption
allow_unencrypted_plain_auth = $allow_unencrypted_plain
consider_websocket_secure = true

-- History lives in MongoDB: no mod_mam here (its file archive rewrites on every message).
storage = "internal"
-- but rosters: the contact lists in MongoDB (mod_chatbridge_roster's driver, on the VirtualHost)
smacks_hibernation_time = $hibernation_seconds
-- Bandwidth of each client connection (mod_limits; CHAT_RATE_LIMITS__XMPP_C2S_RATE): a client past
-- it is read more slowly, not disconnected. The component link is not a c2s session: unlimited.
limits = { c2s = { rate = $c2s_rate; burst = $c2s_burst; } }
c2s_stanza_size_limit = $stanza_size_limit

VirtualHost "$domain"
	-- The bridge component sees every user's presence (online map) and may send messages as a
	-- user (REST -> XMPP relay of 1:1 messages, receipts, edits, deletes, system messages).
	privileged_entities = {
		["$muc_domain"] = { presence = "managed_entity"; message = "outgoing"; };
	}
	-- Server-addressed IQs the component answers: last activity, ConnectyCube's status
	-- streaming, the Tigase-style mobile active/inactive switch and the message archive
	-- (XEP-0313, answered from MongoDB by bridge/plugins/archive.py; the component's disco
	-- nesting answer puts urn:xmpp:mam:2 in the server's and every account's disco#info).
	delegations = {
		["urn:xmpp:mam:2"] = { jid = "$muc_domain" };
		["jabber:iq:last"] = { jid = "$muc_domain" };
		["https://connectycube.com/protocol/status_streaming"] = { jid = "$muc_domain" };
		["http://tigase.org/protocol/mobile#v2"] = { jid = "$muc_domain" };
		-- vCards (XEP-0054) are answered from the chatbridge profile
		["vcard-temp"] = { jid = "$muc_domain" };
	}
	chatbridge_bookmarks_host = "$muc_domain"
	storage = { roster = "chatbridge_roster" }
	default_storage = "internal"
	chatbridge_roster_host = "$muc_domain"
	chatbridge_blocklist_host = "$muc_domain"
	chatbridge_copy_host = "$muc_domain"
	chatbridge_store_plain = $store_plain -- plain clients' 1:1 messages are stored (stanza-id)
	external_services = $external_services
	contact_info = $contact_info

Component "$muc_domain"
	component_secret = "$component_secret"
	modules_enabled = { "privilege"; "delegation"; "chatbridge_spool"; "chatbridge_fanout";
		-- ours: closes the XMPP connections of ended sessions (config/mod_chatbridge_sessions.lua)
		"chatbridge_sessions" }
	chatbridge_spool_max = $spool_max
	chatbridge_sessions_user_host = "$domain"
$proxy65_component