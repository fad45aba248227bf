-- chatbridge: no 1:1 copy is lost on the component link (loaded on the bridge's Component).
--
-- mod_chatbridge_copies (on the VirtualHost) hands every copy here as a string (event
-- "chatbridge-copy"). Each is numbered (`id="cbs-N"`), kept until the bridge acknowledges it with
--   <message to="spool@{component}"><ack xmlns="urn:chatbridge:spool:0" h="N"/></message>
-- (everything up to N is persisted) and written to the component link when it is up. While the
-- component is disconnected new copies are only kept; when it authenticates again every
-- unacknowledged copy is sent again, in order (copies that were in flight when the link dropped
-- included). The bridge de-duplicates by message id; for a message whose client id is not a
-- ConnectyCube id it derives one from the copy's `boot` (this module's instance), number and
-- `stamp` (when it was spooled): a copy sent again carries the same attributes, so it is stored once.
-- At most chatbridge_spool_max copies are kept (the oldest go first, with a warning).
-- Stanzas routed to chat@{component} by anyone else are dropped: copies come only from here.
-- Room traffic is not spooled: mod_component bounces it so the sending client learns about it.

local xml_escape = require "util.stanza".xml_escape;

local max_spooled = module:get_option_number("chatbridge_spool_max", 10000);
-- Prosody writes a connection's buffer only when epoll next reports it writable, after every
-- readable connection of the current batch was handled: a burst from many clients (up to 64 KiB
-- read from each) kept every copy from the bridge while it sat idle (docs/benchmarks.md).
-- Every `flush_every` copies the component link is written at once instead.
local flush_every = module:get_option_number("chatbridge_spool_flush_every", 32);
local copy_part, ack_part = "chat", "spool";
local xmlns_spool = "urn:chatbridge:spool:0";
local copy_to = xml_escape(copy_part .. "@" .. module.host);

local queue, head, tail = {}, 1, 0; -- queue[i] = { seq = n, xml = copy }
local next_seq = 0;
-- numbers restart with the module: `boot` tells this instance's copies from an earlier one's
local boot = string.format("%x%06x", os.time(), math.random(0, 0xffffff));
local dropped = 0;
local unflushed = 0;
local blocked = false; -- the last eager write left data behind: the bridge is not reading

local function component_env()
	local host = prosody.hosts[module.host];
	return host and host.modules and host.modules.component;
end

local function has_pending(conn)
	local buffer = conn.writebuffer;
	if type(buffer) == "table" then return buffer[1] ~= nil; end
	return buffer ~= nil and buffer ~= "";
end

local function flush(session)
	local conn = session.conn;
	if not (conn and conn.onwritable) or conn._writing or conn._write_lock then return; end -- not server_epoll, busy
	if blocked and has_pending(conn) then return; end -- epoll writes it when the bridge reads
	if has_pending(conn) then conn:onwritable(); end
	blocked = has_pending(conn);
end

local function acknowledge(h)
	while head <= tail and queue[head].seq <= h do
		queue[head] = nil;
		head = head + 1;
	end
end

module:hook("chatbridge-copy", function (event)
	next_seq = next_seq + 1;
	local xml = "<message to='" .. copy_to .. "' from='" .. xml_escape(event.from) .. "' id='cbs-" .. next_seq
		.. "' boot='" .. boot .. "' stamp='" .. os.time()
		.. "'><forwarded xmlns='urn:xmpp:forward:0'>" .. event.xml .. "</forwarded></message>";
	if tail - head + 1 >= max_spooled then
		queue[head] = nil;
		head = head + 1;
		dropped = dropped + 1;
		if dropped == 1 or dropped % 1000 == 0 then
			module:log("warn", "bridge component not acknowledging: %d copies dropped", dropped);
		end
	end
	tail = tail + 1;
	queue[tail] = { seq = next_seq, xml = xml };
	local env = component_env();
	local session = env and env.connected and env.session;
	if session then
		session.send(xml);
		unflushed = unflushed + 1;
		if unflushed >= flush_every then
			unflushed = 0;
			flush(session);
		end
	end
	return true;
end);

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
	if node == copy_part then
		return true; -- only mod_chatbridge_copies makes copies
	end
	-- anything else: mod_component handles it
end

module:hook("message/bare", handle, 10);
module:hook("message/full", handle, 10);

module:hook("component-authenticated", function (event)
	local count = tail - head + 1;
	unflushed, blocked = 0, false;
	if count <= 0 then return; end
	module:log("info", "bridge component connected: sending %d unacknowledged copies", count);
	for i = head, tail do
		event.session.send(queue[i].xml);
	end
	dropped = 0;
end, -10);
