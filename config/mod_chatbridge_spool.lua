-- chatbridge: keep the firewall's message copies for the bridge component while its link is down.
--
-- mod_component bounces stanzas for a disconnected component; for the forwarded copies of 1:1
-- messages (addressed to {localpart}@component, see config/templates/chatbridge.pfw) that would
-- mean the copy, and so the stored history, is lost while the component reconnects. This module
-- (loaded on the Component host) holds such copies in memory, up to chatbridge_spool_max, and
-- hands them over in order as soon as the component authenticates again. Everything else (room
-- traffic) is still bounced so the sending client learns about it.

local st = require "util.stanza";

local max_spooled = module:get_option_number("chatbridge_spool_max", 10000);
local spooled_parts = module:get_option_set("chatbridge_spool_localparts", { "chat" });
local queue = {};
local dropped = 0;

local function component_env()
	local modules = prosody.hosts[module.host] and prosody.hosts[module.host].modules;
	return modules and modules.component;
end

local function connected()
	local env = component_env();
	return env and env.connected;
end

local function spool(event)
	local stanza = event.stanza;
	local node = (stanza.attr.to or ""):match("^([^@/]+)@");
	if not node or not spooled_parts:contains(node) or connected() then
		return; -- mod_component handles it
	end
	if #queue >= max_spooled then
		dropped = dropped + 1;
		if dropped == 1 or dropped % 1000 == 0 then
			module:log("warn", "bridge component offline: spool full, %d copies dropped", dropped);
		end
		return true;
	end
	queue[#queue + 1] = st.clone(stanza);
	return true;
end

module:hook("message/bare", spool, 10);
module:hook("message/full", spool, 10);

module:hook("component-authenticated", function (event)
	if #queue == 0 then return; end
	local pending = queue;
	queue = {};
	module:log("info", "bridge component back: delivering %d spooled copies", #pending);
	for _, stanza in ipairs(pending) do
		stanza.attr.xmlns = nil;
		event.session.send(stanza);
	end
	dropped = 0;
end, -10);
