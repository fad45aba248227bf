-- chatbridge: a XEP-0297 copy of every 1:1 chat message for the bridge (loaded on the VirtualHost).
--
-- The bridge persists 1:1 messages (save_to_history=1), records delivered/read markers and edits
-- from these copies. Each copy is one string handed to mod_chatbridge_spool on the bridge's
-- component host (option `chatbridge_copy_host`), which numbers it, keeps it until the bridge
-- acknowledges it and writes it to the component link:
--   <message to="chat@{component}" from="{this host}" id="cbs-N">
--     <forwarded xmlns="urn:xmpp:forward:0"><message xmlns="jabber:client" ...>...</message></forwarded>
--   </message>
-- Delivery of the original is never touched: the copy is made in a protected call and the
-- handler returns nothing, so the message goes on to its recipient whatever happens here.
-- Typing notifications (chat states without a body) are not copied: they are never stored.
-- Neither are messages no client sent: the bridge's own, sent as a user through mod_privilege
-- (their origin is a session that never bound a resource), are stored already and would only
-- come back to it (a copy, a parse and an acknowledgement per REST message, all for nothing).
--
-- Messages the bridge will store (a body, and `save_to_history=1` in extraParams, or no
-- extraParams at all while `chatbridge_store_plain` is on) get their stored id before delivery, as
-- XEP-0359 `<stanza-id xmlns="urn:xmpp:sid:0" by="{recipient bare JID}" id="..."/>`: the client's
-- id when it is a ConnectyCube (ObjectId-shaped) id, else a new ObjectId-shaped one. The copy
-- carries it, and bridge/plugins/private.py stores the message under that id. A `<stanza-id>`
-- a client put in with the same `by` is removed first (XEP-0359 §6). Sent carbons are made
-- before this hook (mod_carbons' pre-message handlers), so they carry no stanza-id.
--
-- (This replaced a mod_firewall FORWARD rule, which built, cloned and serialised a stanza tree per
-- copy; one serialisation of the original here costs much less. The numbers are in
-- docs/benchmarks.md.)

local copy_host = module:get_option_string("chatbridge_copy_host");
local store_plain = module:get_option_boolean("chatbridge_store_plain", true);
local xmlns_chatstates = "http://jabber.org/protocol/chatstates";
local xmlns_sid = "urn:xmpp:sid:0";
local pcall, tostring = pcall, tostring;
local st = require "util.stanza";
local jid_bare = require "util.jid".bare;
local random_bytes = require "util.random".bytes;
local hex = require "util.hex".encode;
local time, format, match = os.time, string.format, string.match;

-- children that make a message a notification, never stored (bridge/plugins/private.py: _draft)
local not_stored = { replace = true, remove = true, reactions = true, received = true, displayed = true };

local failures = 0;
local unhandled = false;

local function serialise(stanza)
	local attr = stanza.attr;
	local ns = attr.xmlns;
	attr.xmlns = "jabber:client"; -- the copy travels inside another stream's element
	local ok, xml = pcall(tostring, stanza);
	attr.xmlns = ns;
	if not ok then error(xml, 0); end
	return xml;
end

local function copy(stanza)
	local host = prosody.hosts[copy_host];
	local events = host and host.events;
	local xml = serialise(stanza);
	if not (events and events.fire_event("chatbridge-copy", { xml = xml, from = module.host })) then
		if not unhandled then
			unhandled = true;
			module:log("error", "no mod_chatbridge_spool on %s: 1:1 copies are not reaching the bridge", copy_host);
		end
	end
end

local function stored(stanza)
	local body = stanza:get_child_text("body");
	if not body or body == "" then return false; end
	local params;
	for _, tag in ipairs(stanza.tags) do
		if not_stored[tag.name] then return false; end
		if tag.name == "extraParams" then params = tag; end
	end
	if not params then return store_plain; end
	for _, tag in ipairs(params.tags) do
		if tag.name == "save_to_history" then
			local value = tag:get_text();
			return value == "1" or value == "true";
		end
	end
	return false;
end

local function stamp(stanza)
	local by = jid_bare(stanza.attr.to);
	if not by then return; end
	stanza:maptags(function (tag)
		if tag.name == "stanza-id" and tag.attr.xmlns == xmlns_sid and tag.attr.by == by then return nil; end
		return tag;
	end);
	if not stored(stanza) then return; end
	local id = stanza.attr.id;
	if not (id and #id == 24 and match(id, "^%x+$")) then
		id = format("%08x", time() % 4294967296) .. hex(random_bytes(8));
	end
	stanza:add_direct_child(st.stanza("stanza-id", { xmlns = xmlns_sid, by = by, id = id }));
end

local function on_message(event)
	local stanza, origin = event.stanza, event.origin;
	if stanza.attr.type ~= "chat" then return; end
	if origin and origin.type == "c2s" and not origin.full_jid then return; end -- injected by the bridge
	if not stanza:get_child("body") and stanza:get_child(nil, xmlns_chatstates) then return; end
	local ok, err = pcall(stamp, stanza);
	if not ok then
		module:log("error", "stanza-id not added (the message itself is delivered): %s", err);
	end
	ok, err = pcall(copy, stanza);
	if not ok then
		failures = failures + 1;
		if failures == 1 or failures % 1000 == 0 then
			module:log("error", "1:1 copy failed (%d so far; the message itself is delivered): %s", failures, err);
		end
	end
	-- nothing returned: delivery goes on
end

if not copy_host then
	module:log("error", "chatbridge_copy_host is not set: no 1:1 copies for the bridge");
else
	-- after mod_privacy_lists (500) has had its say, before delivery (mod_message, 0)
	module:hook("message/bare", on_message, 0.1);
	module:hook("message/full", on_message, 0.1);
end
