-- chatbridge: one stanza from the bridge, many deliveries (loaded on the bridge's Component).
--
-- Room traffic (groupchat messages, occupant presence, receipts and edits in groups) goes to
-- every online resource of a dialog's occupants. Instead of one stanza per recipient the bridge
-- sends one wrapper
--   <message to="fanout@{component}">
--     <fanout xmlns="urn:chatbridge:fanout:0"><to>JID\nJID\n...</to><message xmlns="jabber:client" .../></fanout>
--   </message>
-- (one JID per line: a line break cannot occur in a JID; `<to jid="..."/>` per recipient is
-- accepted too, but costs a parsed element each: docs/benchmarks.md.)
-- and this module clones the inner stanza for each <to/> and routes it, as Prosody's own MUC does
-- for its occupants: Prosody parses one stanza per room event instead of one per recipient.
-- Only the component itself may use it; anything else addressed to fanout@ is dropped.

local st = require "util.stanza";

local xmlns_fanout = "urn:chatbridge:fanout:0";
local max_targets = module:get_option_number("chatbridge_fanout_max", 5000);

local function handle(event)
	local stanza, origin = event.stanza, event.origin;
	local node = (stanza.attr.to or ""):match("^([^@/]+)@");
	if node ~= "fanout" then
		return; -- not ours
	end
	if not (origin and origin.type == "component" and origin.host == module.host) then
		module:log("warn", "dropping a fan-out request that did not come from the component");
		return true;
	end
	local fanout = stanza:get_child("fanout", xmlns_fanout);
	if not fanout then return true; end
	local inner;
	for _, child in ipairs(fanout.tags) do -- any namespace (childtags() only yields fanout's own)
		if child.name == "message" or child.name == "presence" then
			inner = child;
			break;
		end
	end
	if not inner then return true; end
	-- One copy, readdressed for each recipient, as Prosody's MUC does (route_to_occupant):
	-- delivery serializes it at once, and what keeps stanzas (smacks, offline) copies them.
	local copy = st.clone(inner);
	copy.attr.xmlns = nil;
	local count = 0;
	local function deliver(jid)
		if count < max_targets then
			count = count + 1;
			copy.attr.to = jid;
			module:send(copy);
		end
	end
	for target in fanout:childtags("to") do
		if target.attr.jid then
			deliver(target.attr.jid);
		else
			for listed in (target:get_text() or ""):gmatch("[^\n]+") do
				deliver(listed);
			end
		end
	end
	return true;
end

module:hook("message/bare", handle, 20);
