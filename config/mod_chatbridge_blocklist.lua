-- chatbridge: block lists (loaded on the VirtualHost). It replaces mod_privacy_lists and
-- mod_blocklist, which kept their lists in Prosody's files: the lists live in chatbridge's store
-- (MongoDB), and this module
--   * hands a user's XEP-0191 (`urn:xmpp:blocking`) and XEP-0016 (`jabber:iq:privacy`) requests
--     to their own account to the bridge component (option `chatbridge_blocklist_host`) in the
--     XEP-0355 wrapper mod_delegation uses, and its answer back (bridge/plugins/blocklist.py);
--   * enforces the lists on what users' sessions send, from a cache of the relations of every user
--     with a session: `peers[bare JID] = { [other bare JID] = "out" | "in" | "both" }` ("out": I
--     blocked them, "in": they blocked me). A relation is kept on both sides, so the sender's own
--     table answers for both directions: one table lookup per stanza, nothing when it is empty.
--     The table is asked from the component when a resource binds (and waited for, in the
--     session's async runner, by a stanza sent before it came), kept while the user has sessions
--     (and 30 s after) and changed by the component's updates
--     (`<message from="{component}"><update xmlns="urn:chatbridge:blocklist:0" user="...">`),
--     which it sends before answering a change made over XMPP and, for a change made elsewhere
--     (REST), when the outbox relay delivers the `blocklist_updated` event;
--   * sends the XEP-0191 pushes (`<iq type="set"><block/>` / `<unblock/>`) the updates carry to
--     the user's sessions that asked for their block list.
-- Blocked stanzas: a message or IQ to someone who blocked the sender gets `service-unavailable`
-- (what a privacy-list deny answered; legacy code 503, which the SDK reads); to someone the
-- sender blocked, `not-acceptable` with XEP-0191's `<blocked xmlns="urn:xmpp:blocking:errors"/>`;
-- presence either way is dropped. Hooked on the `pre-*` events (stanzas from c2s sessions), above
-- mod_carbons and before delivery, so nothing blocked is copied, carbon-copied or stored offline.
-- What the component sends as a user (REST messages relayed through mod_privilege) is filtered by
-- the bridge before it is sent.

local st = require "util.stanza";
local new_id = require "util.id".short;
local jid_bare = require "util.jid".bare;
local async = require "util.async";
local time = os.time;

local bridge = module:get_option_string("chatbridge_blocklist_host");
local timeout = module:get_option_number("chatbridge_blocklist_timeout", 10);
local keep_seconds = module:get_option_number("chatbridge_blocklist_keep", 30);

local NS_BLOCKING = "urn:xmpp:blocking";
local NS_BLOCKED = "urn:xmpp:blocking:errors";
local NS_PRIVACY = "jabber:iq:privacy";
local NS_CB = "urn:chatbridge:blocklist:0";
local NS_DELEGATION = "urn:xmpp:delegation:2";
local NS_FORWARD = "urn:xmpp:forward:0";
local MIRROR = { out = "in"; ["in"] = "out"; both = "both" };
local RETRY_SECONDS = 5;

local peers = {};    -- bare JID -> relations (loaded users only)
local loading = {};  -- bare JID -> { waiters = { done, ... }, dirty = bool }
local failed = {};   -- bare JID -> time of the last failed load
local pending = {};  -- delegation wrapper id -> { origin, stanza, on_result, on_error }

local function sessions_of(bare)
	local node = bare:match("^([^@]+)@");
	local user = node and prosody.hosts[module.host].sessions[node];
	return user and user.sessions;
end

-- -- the cache ---------------------------------------------------------------------------------
local load;

local function loaded(bare, relations)
	local entry = loading[bare];
	loading[bare] = nil;
	if relations then
		failed[bare] = nil;
		peers[bare] = relations;
	else
		failed[bare] = time();
	end
	if entry and entry.dirty and relations then
		load(bare); -- an update came while the answer was on its way: ask again
		loading[bare].waiters = entry.waiters;
		return;
	end
	if entry then
		for _, done in ipairs(entry.waiters) do done(); end
	end
end

function load(bare)
	if loading[bare] then return; end
	local entry = { waiters = {}, dirty = false };
	loading[bare] = entry;
	if not bridge then loaded(bare, nil); return; end
	local id = new_id();
	local finished = false;
	local function finish(relations)
		if finished then return; end
		finished = true;
		module:unhook("iq-result/host/" .. id, entry.on_result);
		module:unhook("iq-error/host/" .. id, entry.on_error);
		loaded(bare, relations);
	end
	entry.on_result = function(event)
		local reply = event.stanza;
		if reply.attr.from ~= bridge then return; end
		local list = reply:get_child("peers", NS_CB);
		local relations = {};
		for item in (list and list:childtags("item") or function() end) do
			if item.attr.jid and MIRROR[item.attr.dir or ""] then
				relations[item.attr.jid] = item.attr.dir;
			end
		end
		finish(relations);
		return true;
	end;
	entry.on_error = function(event)
		if event.stanza.attr.from ~= bridge then return; end
		module:log("warn", "block list of %s not loaded (the bridge answered an error)", bare);
		finish(nil);
		return true;
	end;
	module:hook("iq-result/host/" .. id, entry.on_result);
	module:hook("iq-error/host/" .. id, entry.on_error);
	module:add_timer(timeout, function()
		if not finished then module:log("warn", "block list of %s not loaded (timeout)", bare); end
		finish(nil);
	end);
	module:send(st.iq({ type = "get", id = id, from = module.host, to = bridge })
		:tag("peers", { xmlns = NS_CB, jid = bare }));
end

-- The relations of a user who sends something: loaded, or waited for in the session's runner.
-- nil when they cannot be had now (the bridge is away): the stanza passes, and a later one asks
-- again after RETRY_SECONDS.
local function relations_of(bare)
	local known = peers[bare];
	if known then return known; end
	if failed[bare] and time() - failed[bare] < RETRY_SECONDS then return nil; end
	load(bare);
	if peers[bare] then return peers[bare]; end
	if not async.ready() then return nil; end
	local entry = loading[bare];
	if not entry then return peers[bare]; end
	local wait, done = async.waiter();
	table.insert(entry.waiters, done);
	wait();
	return peers[bare];
end

module:hook("resource-bind", function(event)
	local session = event.session;
	local bare = session.username .. "@" .. session.host;
	if not peers[bare] then load(bare); end
end);

module:hook("resource-unbind", function(event)
	local session = event.session;
	local bare = session.username .. "@" .. session.host;
	module:add_timer(keep_seconds, function()
		if not sessions_of(bare) then peers[bare] = nil; end
	end);
end);

-- -- enforcement -------------------------------------------------------------------------------
local function refuse(origin, stanza, direction)
	local kind = stanza.attr.type;
	if stanza.name == "presence" or kind == "error" or kind == "result" then return true; end
	local reply;
	if direction == "in" then
		reply = st.error_reply(stanza, "cancel", "service-unavailable");
		reply:get_child("error").attr.code = "503";
	else
		reply = st.error_reply(stanza, "cancel", "not-acceptable");
		reply:get_child("error").attr.code = "406";
		reply:get_child("error"):tag("blocked", { xmlns = NS_BLOCKED }):up();
	end
	origin.send(reply);
	return true;
end

local function check(event)
	local origin, stanza = event.origin, event.stanza;
	local to = stanza.attr.to;
	if not to or origin.type ~= "c2s" or not origin.username then return; end
	local bare = origin.username .. "@" .. origin.host;
	local relations = peers[bare];
	if relations == nil then
		relations = relations_of(bare);
		if relations == nil then return; end
	end
	if next(relations) == nil then return; end
	local direction = relations[jid_bare(to)];
	if direction then return refuse(origin, stanza, direction); end
end

for _, kind in ipairs({ "message", "presence", "iq" }) do
	for _, target in ipairs({ "bare", "full" }) do
		module:hook("pre-" .. kind .. "/" .. target, check, 1000);
	end
end

-- -- updates from the component ------------------------------------------------------------------
local function set_relation(owner, other, direction)
	local relations = peers[owner];
	if relations then relations[other] = direction; end
	if loading[owner] then loading[owner].dirty = true; end
end

local function push(bare, change)
	local sessions = sessions_of(bare);
	if not sessions then return; end
	for _, session in pairs(sessions) do
		if session.chatbridge_blocklist and session.full_jid then
			session.send(st.iq({ type = "set", id = new_id(), to = session.full_jid })
				:add_child(st.clone(change)));
		end
	end
end

module:hook("message/host", function(event)
	local stanza = event.stanza;
	local update = stanza:get_child("update", NS_CB);
	if not update then return; end
	if stanza.attr.from ~= bridge then return true; end -- only the component may say so
	local owner = update.attr.user;
	if not owner then return true; end
	for item in update:childtags("item") do
		local other = item.attr.jid;
		local direction = MIRROR[item.attr.dir or ""] and item.attr.dir or nil; -- "none": gone
		if other then
			set_relation(owner, other, direction);
			set_relation(other, owner, direction and MIRROR[direction]);
		end
	end
	for change in update:childtags(nil, NS_BLOCKING) do push(owner, change); end
	return true;
end, 10);

-- -- requests: to the component ------------------------------------------------------------------
local function answer(id, result)
	local entry = pending[id];
	if not entry then return; end
	pending[id] = nil;
	module:unhook("iq-result/host/" .. id, entry.on_result);
	module:unhook("iq-error/host/" .. id, entry.on_error);
	local original = entry.stanza;
	if result == nil then
		entry.origin.send(st.error_reply(original, "wait", "service-unavailable",
			"the chat service does not answer"));
		return;
	end
	if result.attr.type == "result" and entry.requests_list then
		entry.origin.chatbridge_blocklist = true; -- XEP-0191 §3.3: it gets the pushes
	end
	local reply = st.stanza("iq", { type = result.attr.type, id = original.attr.id,
		to = original.attr.from });
	for _, tag in ipairs(result.tags) do reply:add_child(tag); end
	entry.origin.send(reply);
end

local function unwrap(stanza)
	local delegation = stanza:get_child("delegation", NS_DELEGATION);
	local forwarded = delegation and delegation:get_child("forwarded", NS_FORWARD);
	local iq = forwarded and forwarded:get_child("iq", "jabber:client");
	if iq and (iq.attr.type == "result" or iq.attr.type == "error") then return iq; end
end

local function forward(event)
	local origin, stanza = event.origin, event.stanza;
	if not event.to_self then return; end -- another account's: never ours
	local payload = stanza.tags[1];
	if #stanza.tags ~= 1 or not payload then return; end
	local ns = payload.attr.xmlns;
	if ns ~= NS_BLOCKING and ns ~= NS_PRIVACY then return; end
	if stanza.attr.type ~= "get" and stanza.attr.type ~= "set" then return; end
	if not bridge then
		origin.send(st.error_reply(stanza, "cancel", "service-unavailable"));
		return true;
	end
	local id = new_id();
	local inner = st.clone(stanza);
	inner.attr.xmlns = "jabber:client";
	inner.attr.from = origin.full_jid or stanza.attr.from;
	local entry = { origin = origin, stanza = stanza,
		requests_list = ns == NS_BLOCKING and payload.name == "blocklist" };
	entry.on_result = function(reply_event)
		if reply_event.stanza.attr.from ~= bridge then return; end
		answer(id, unwrap(reply_event.stanza) or nil);
		return true;
	end;
	entry.on_error = function(reply_event)
		if reply_event.stanza.attr.from ~= bridge then return; end
		answer(id, nil);
		return true;
	end;
	pending[id] = entry;
	module:hook("iq-result/host/" .. id, entry.on_result);
	module:hook("iq-error/host/" .. id, entry.on_error);
	module:add_timer(timeout, function() answer(id, nil); end);
	module:send(st.iq({ type = "set", id = id, from = module.host, to = bridge })
		:tag("delegation", { xmlns = NS_DELEGATION })
		:tag("forwarded", { xmlns = NS_FORWARD })
		:add_child(inner));
	return true;
end

-- iq/bare comes before iq/self for what a user sends to their own account (or to no one)
module:hook("iq/bare", forward, 1000);

module:add_feature(NS_BLOCKING);
module:add_feature(NS_PRIVACY);
module:hook("account-disco-info", function(event)
	event.reply:tag("feature", { var = NS_BLOCKING }):up();
end);
