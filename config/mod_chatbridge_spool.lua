-- chatbridge: no firewall copy is lost on the component link (loaded on the bridge's Component).
--
-- The forwarded copies of 1:1 messages (addressed to {localpart}@component, see
-- config/templates/chatbridge.pfw) are numbered (`id="cbs-N"`) and kept here until the bridge
-- acknowledges them with
--   <message to="spool@{component}"><ack xmlns="urn:chatbridge:spool:0" h="N"/></message>
-- (everything up to N is persisted). While the component is disconnected new copies are only
-- kept; when it authenticates again every unacknowledged copy is sent again, in order (copies
-- that were in flight when the link dropped included). The bridge de-duplicates by message id.
-- At most chatbridge_spool_max copies are kept (the oldest go first, with a warning).
-- Room traffic is not spooled: mod_component bounces it so the sending client learns about it.

local st = require "util.stanza";

local max_spooled = module:get_option_number("chatbridge_spool_max", 10000);
local spooled_parts = module:get_option_set("chatbridge_spool_localparts", { "chat" });
local ack_part = "spool";
local xmlns_spool = "urn:chatbridge:spool:0";

local queue, head, tail = {}, 1, 0; -- queue[i] = { seq = n, stanza = copy }
local next_seq = 0;
local dropped = 0;

local function component_env()
	local host = prosody.hosts[module.host];
	return host and host.modules and host.modules.component;
end

local function connected()
	local env = component_env();
	return env and env.connected;
end

local function acknowledge(h)
	while head <= tail and queue[head].seq <= h do
		queue[head] = nil;
		head = head + 1;
	end
end

local function handle(event)
	local stanza, origin = event.stanza, event.origin;
	local node = (stanza.attr.to or ""):match("^([^@/]+)@");
	if node == ack_part then
		if origin and origin.type == "component" and origin.host == module.host then
			local ack = stanza:get_child("ack", xmlns_spool);
			local h = ack and tonumber(ack.attr.h);
			if h then acknowledge(h); end
		end
		return true;
	end
	if not node or not spooled_parts:contains(node) then
		return; -- mod_component handles it
	end
	next_seq = next_seq + 1;
	stanza.attr.id = "cbs-" .. next_seq;
	if tail - head + 1 >= max_spooled then
		queue[head] = nil;
		head = head + 1;
		dropped = dropped + 1;
		if dropped == 1 or dropped % 1000 == 0 then
			module:log("warn", "bridge component not acknowledging: %d copies dropped", dropped);
		end
	end
	tail = tail + 1;
	queue[tail] = { seq = next_seq, stanza = st.clone(stanza) };
	if connected() then
		return; -- mod_component sends it now; it stays here until acknowledged
	end
	return true;
end

module:hook("message/bare", handle, 10);
module:hook("message/full", handle, 10);

module:hook("component-authenticated", function (event)
	local count = tail - head + 1;
	if count <= 0 then return; end
	module:log("info", "bridge component connected: sending %d unacknowledged copies", count);
	for i = head, tail do
		local copy = st.clone(queue[i].stanza);
		copy.attr.xmlns = nil;
		event.session.send(copy);
	end
	dropped = 0;
end, -10);
