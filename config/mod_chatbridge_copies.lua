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
-- What the ConnectyCube SDK needs on the recipient's copy (issue 15 §9, protocol reference §5.8):
-- a message the bridge will store that has `<extraParams>` (an SDK message with
-- save_to_history=1) gets the server's `<date_sent>` (Unix seconds) when
-- the client left it out, and the pair's private dialog as `<dialog_id>` when the client sent
-- none (a first message to a user, before the app knows the dialog): without it the SDK sends no
-- automatic delivered receipt. The dialog id comes from a cache of pairs
-- (`chatbridge_dialog_cache_size`, entries kept `chatbridge_dialog_cache_seconds`), else from the
-- bridge: `<iq type="get"><dialog xmlns="urn:chatbridge:dialog:0" from="{uid}-{app}"
-- to="{uid}-{app}"/></iq>`, which finds or creates the dialog (bridge/plugins/private.py). The
-- message waits for that answer in the sender's session runner (later stanzas of that session
-- wait behind it, so they keep their order), at most `chatbridge_dialog_timeout` seconds; without
-- an answer (or outside a runner) it is delivered without `<dialog_id>`, as before. A dialog_id
-- the client sent is kept (the bridge stores by the pair either way). Plain clients' messages (no
-- extraParams) are left as they are: adding extraParams would change what is stored.
--
-- (This replaced a mod_firewall FORWARD rule, which built, cloned and serialised a stanza tree per
-- copy; one serialisation of the original here costs much less. The numbers are in
-- docs/benchmarks.md.)

local copy_host = module:get_option_string("chatbridge_copy_host");
local dialog_timeout = module:get_option_number("chatbridge_dialog_timeout", 5);
local dialog_ttl = module:get_option_number("chatbridge_dialog_cache_seconds", 300);
local dialog_cache = require "util.cache".new(module:get_option_number("chatbridge_dialog_cache_size", 10000));
local async = require "util.async";
local new_id = require "util.id".short;
local jid_node = require "util.jid".node;
local xmlns_dialog = "urn:chatbridge:dialog:0";
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

-- -- the pair's dialog (the SDK's extraParams/dialog_id) ------------------------------------------
local function pair_of(stanza)
	local a, b = jid_node(stanza.attr.from), jid_node(stanza.attr.to);
	local ua, app_a = match(a or "", "^(%d+)%-(%d+)$");
	local ub, app_b = match(b or "", "^(%d+)%-(%d+)$");
	if not ua or not ub or app_a ~= app_b or ua == ub then return nil; end
	ua, ub = tonumber(ua), tonumber(ub);
	if ua > ub then ua, ub = ub, ua; end
	return app_a .. ":" .. ua .. ":" .. ub, a, b;
end

local function ask_dialog(from, to)
	-- the bridge finds or creates the pair's dialog; waits in the session's runner
	local wait, done = async.waiter();
	local id, answer, finished = new_id(), nil, false;
	local on_result;
	local function finish(stanza)
		if finished then return; end
		finished = true;
		module:unhook("iq-result/host/" .. id, on_result);
		module:unhook("iq-error/host/" .. id, on_result);
		local dialog = stanza and stanza.attr.type == "result" and stanza:get_child("dialog", xmlns_dialog);
		answer = dialog and dialog.attr.id;
		done();
	end
	on_result = function(event)
		if event.stanza.attr.from ~= copy_host then return; end
		finish(event.stanza);
		return true;
	end;
	module:hook("iq-result/host/" .. id, on_result);
	module:hook("iq-error/host/" .. id, on_result);
	module:add_timer(dialog_timeout, function() finish(nil); end);
	module:send(st.iq({ type = "get", id = id, from = module.host, to = copy_host })
		:tag("dialog", { xmlns = xmlns_dialog, from = from, to = to }));
	wait();
	return answer;
end

local function sdk_params(stanza)
	-- the extraParams of an SDK message the bridge will store (save_to_history=1, a body, no
	-- notification child); other messages are delivered as sent
	if not stored(stanza) then return nil; end
	for _, tag in ipairs(stanza.tags) do
		if tag.name == "extraParams" then return tag; end
	end
	return nil;
end

local function complete(stanza)
	local params = sdk_params(stanza);
	if not params then return; end
	local has_date, has_dialog = false, false;
	for _, tag in ipairs(params.tags) do
		local name = tag.name;
		if name == "date_sent" and (tag:get_text() or "") ~= "" then has_date = true;
		elseif name == "dialog_id" and (tag:get_text() or "") ~= "" then has_dialog = true; end
	end
	if not has_date then
		params:add_direct_child(st.stanza("date_sent"):text(tostring(time())));
	end
	if has_dialog then return; end
	local key, from, to = pair_of(stanza);
	if not key then return; end
	local cached = dialog_cache:get(key);
	local now = time();
	local dialog = cached and cached.expires > now and cached.id;
	if not dialog and async.ready() then
		dialog = ask_dialog(from, to);
		if dialog then dialog_cache:set(key, { id = dialog, expires = now + dialog_ttl }); end
	end
	if dialog then
		params:add_direct_child(st.stanza("dialog_id"):text(dialog));
	end
end

local function on_message(event)
	local stanza, origin = event.stanza, event.origin;
	if stanza.attr.type ~= "chat" then return; end
	if origin and origin.type == "c2s" and not origin.full_jid then return; end -- injected by the bridge
	if not stanza:get_child("body") and stanza:get_child(nil, xmlns_chatstates) then return; end
	-- a protected call that may wait (the dialog lookup yields the session's runner: Lua 5.4
	-- yields across pcall)
	local ok, err = pcall(complete, stanza);
	if not ok then
		module:log("error", "date_sent / dialog_id not added (the message itself is delivered): %s", err);
	end
	ok, err = pcall(stamp, stanza);
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
