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
-- (This replaced a mod_firewall FORWARD rule, which built, cloned and serialised a stanza tree per
-- copy; one serialisation of the original here costs much less. The numbers are in
-- docs/benchmarks.md.)

local copy_host = module:get_option_string("chatbridge_copy_host");
local xmlns_chatstates = "http://jabber.org/protocol/chatstates";
local pcall, tostring = pcall, tostring;

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

local function on_message(event)
	local stanza, origin = event.stanza, event.origin;
	if stanza.attr.type ~= "chat" then return; end
	if origin and origin.type == "c2s" and not origin.full_jid then return; end -- injected by the bridge
	if not stanza:get_child("body") and stanza:get_child(nil, xmlns_chatstates) then return; end
	local ok, err = pcall(copy, stanza);
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
