-- chatbridge: rosters live in MongoDB and the bridge owns them (loaded on the VirtualHost).
--
-- The contact list of a user (REST /contacts) is their roster. The bridge component (option
-- `chatbridge_roster_host`) keeps it, with the presence subscriptions (RFC 6121), in MongoDB
-- (bridge/plugins/roster.py, models/services/contacts.py). This module makes Prosody use it:
--
--   * a storage driver for the `roster` store (`storage = { roster = "chatbridge_roster" }`):
--     loading a roster asks the component (`<roster xmlns="urn:chatbridge:roster:0" user=.../>`,
--     waiting in the session's async runner, 10 s timeout); Prosody's own writes are not kept
--     anywhere but in its memory (nothing writes once the two hooks below take the changes).
--     Prosody keeps using the roster as ever: mod_roster answers roster gets (with XEP-0237
--     versions: the component's), mod_presence broadcasts presence to `from` / `both` contacts,
--     probes `to` / `both` ones and re-sends pending requests at login;
--   * a roster set (jabber:iq:roster) goes to the component in mod_delegation's wrapper and its
--     answer back (as mod_chatbridge_bookmarks does);
--   * the subscription presences a client sends (subscribe, subscribed, unsubscribe,
--     unsubscribed) go to the component instead of mod_presence's state machine;
--   * the component's `<apply xmlns="urn:chatbridge:roster:0">` (after any change, REST's too)
--     updates the rosters Prosody holds in memory (online users, the offline-roster cache),
--     sends roster pushes to the resources that asked for the roster, delivers subscription
--     presences to the contact's available resources and shares (or withdraws) the current
--     presence of a user's resources with a contact.

local st = require "util.stanza";
local async = require "util.async";
local new_id = require "util.id".short;
local new_cache = require "util.cache".new;
local jid_split, jid_bare, jid_prep = require "util.jid".split, require "util.jid".bare,
	require "util.jid".prep;
local rostermanager = require "core.rostermanager";

local bare_sessions = prosody.bare_sessions;
local core_post_stanza = prosody.core_post_stanza;

local bridge = module:get_option_string("chatbridge_roster_host");
local timeout = module:get_option_number("chatbridge_roster_timeout", 10);

local NS = "urn:chatbridge:roster:0";
local NS_ROSTER = "jabber:iq:roster";
local NS_DELEGATION = "urn:xmpp:delegation:2";
local NS_FORWARD = "urn:xmpp:forward:0";
local SUBSCRIPTION = { subscribe = true; subscribed = true; unsubscribe = true; unsubscribed = true };

-- Rosters loaded for users who were offline, when a load happens outside an async runner
-- (a timer): the last copy the component gave, kept in step by `apply`.
local known = new_cache(1024);

-- -- asking the component ---------------------------------------------------------------------
local pending = {}; -- iq id -> callback(result stanza or nil)

local function finish(id, stanza)
	local callback = pending[id];
	if not callback then return; end
	pending[id] = nil;
	module:unhook("iq-result/host/" .. id, callback.on_result);
	module:unhook("iq-error/host/" .. id, callback.on_error);
	callback.done(stanza);
end

local function ask(kind, payload, done)
	if not bridge then done(nil); return; end
	local id = new_id();
	local entry = { done = done };
	entry.on_result = function(event)
		if event.stanza.attr.from ~= bridge then return; end
		finish(id, event.stanza);
		return true;
	end;
	entry.on_error = function(event)
		if event.stanza.attr.from ~= bridge then return; end
		finish(id, nil);
		return true;
	end;
	pending[id] = entry;
	module:hook("iq-result/host/" .. id, entry.on_result);
	module:hook("iq-error/host/" .. id, entry.on_error);
	module:add_timer(timeout, function() finish(id, nil); end);
	module:send(st.iq({ type = kind, id = id, from = module.host, to = bridge }):add_child(payload));
end

-- -- the roster table Prosody uses ----------------------------------------------------------------
local function item_from(tag)
	local groups = {};
	for group in tag:childtags("group") do
		local name = group:get_text();
		if name and name ~= "" then groups[name] = true; end
	end
	return { subscription = tag.attr.subscription or "none", ask = tag.attr.ask,
		name = tag.attr.name, groups = groups };
end

local function roster_from(answer)
	local roster = { [false] = { version = tonumber(answer.attr.ver) or 1, pending = {} } };
	for tag in answer:childtags("item") do
		if tag.attr.jid then roster[tag.attr.jid] = item_from(tag); end
	end
	for tag in answer:childtags("pending") do
		if tag.attr.jid then roster[false].pending[tag.attr.jid] = true; end
	end
	return roster;
end

local function fetch(username)
	if not async.ready() then return nil, "not in an async runner"; end
	local wait, done = async.waiter();
	local answer;
	ask("get", st.stanza("roster", { xmlns = NS, user = username }), function(stanza)
		answer = stanza and stanza:get_child("roster", NS);
		done();
	end);
	wait();
	if not answer then return nil, "the chat service does not answer"; end
	return roster_from(answer);
end

-- -- the storage driver -------------------------------------------------------------------------
local keyval = {};
function keyval:get(username)
	local roster, err = fetch(username);
	if roster then
		known:set(username, roster);
		return roster;
	end
	local copy = known:get(username);
	if copy then return copy; end
	module:log("warn", "roster of %s not loaded: %s", username, err);
	-- loads but is marked, so the next roster get in a runner loads it again (below)
	return { [false] = { version = 0, pending = {}, chatbridge_stale = true } };
end
function keyval:set(username, data) -- luacheck: ignore 212
	module:log("debug", "roster of %s changed inside Prosody: kept in memory only", username);
	return true;
end

local map = {};
function map:get(username, key)
	local roster = keyval:get(username);
	return roster and roster[key];
end
function map:set_keys(username, keys) return keyval:set(username, keys); end
function map:set(username, key, value) return keyval:set(username, { [key] = value }); end

module:provides("storage", {
	name = "chatbridge_roster";
	open = function(_, store, typ)
		if store ~= "roster" then return nil, "unsupported-store"; end
		if typ == "map" then return map; end
		if typ == nil or typ == "keyval" then return keyval; end
		return nil, "unsupported-store";
	end;
});

local function replace_contents(roster, fresh)
	for key in pairs(roster) do roster[key] = nil; end
	for key, value in pairs(fresh) do roster[key] = value; end
end

-- -- roster requests ------------------------------------------------------------------------------
local function unwrap(stanza)
	local delegation = stanza:get_child("delegation", NS_DELEGATION);
	local forwarded = delegation and delegation:get_child("forwarded", NS_FORWARD);
	return forwarded and forwarded:get_child("iq", "jabber:client");
end

module:hook("iq/self/jabber:iq:roster:query", function(event)
	local origin, stanza = event.origin, event.stanza;
	if stanza.attr.type == "get" then
		-- a roster loaded while the component was away: load it again before mod_roster answers
		local roster = origin.roster;
		if roster and roster[false] and roster[false].chatbridge_stale then
			local fresh = fetch(origin.username);
			if fresh then
				replace_contents(roster, fresh);
				known:set(origin.username, roster);
			end
		end
		return; -- mod_roster answers from the loaded roster
	end
	if not bridge then
		origin.send(st.error_reply(stanza, "cancel", "service-unavailable"));
		return true;
	end
	local inner = st.clone(stanza);
	inner.attr.xmlns = "jabber:client";
	ask("set", st.stanza("delegation", { xmlns = NS_DELEGATION })
		:tag("forwarded", { xmlns = NS_FORWARD }):add_child(inner), function(reply)
		local iq = reply and unwrap(reply);
		if not iq or (iq.attr.type ~= "result" and iq.attr.type ~= "error") then
			origin.send(st.error_reply(stanza, "wait", "service-unavailable",
				"the chat service does not answer"));
			return;
		end
		local answer = st.stanza("iq", { type = iq.attr.type, id = stanza.attr.id,
			to = stanza.attr.from });
		for _, tag in ipairs(iq.tags) do answer:add_child(tag); end
		origin.send(answer);
	end);
	return true;
end, 100); -- before mod_roster (0)

-- -- subscription presences -----------------------------------------------------------------------
local function outbound_subscription(event)
	local origin, stanza = event.origin, event.stanza;
	if not SUBSCRIPTION[stanza.attr.type or ""] then return; end
	if origin.type ~= "c2s" or not origin.username then
		-- Prosody's own, in a user's name: mod_presence answers a probe from someone its roster
		-- does not show as subscribed with `unsubscribed`. The subscriptions are the bridge's:
		-- such a stanza would only change rosters in memory, against the store. Dropped.
		if jid_split(stanza.attr.from or "") then
			module:log("debug", "dropped a %s from %s that no client sent", stanza.attr.type,
				stanza.attr.from);
			return true;
		end
		return;
	end
	local to = jid_prep(jid_bare(stanza.attr.to or ""));
	if not to then return true; end
	local _, host = jid_split(to);
	if host ~= module.host then
		origin.send(st.error_reply(stanza, "cancel", "remote-server-not-found"));
		return true;
	end
	ask("set", st.stanza("subscription", { xmlns = NS, user = origin.username, to = to,
		type = stanza.attr.type, id = stanza.attr.id }), function(reply)
		if not reply then
			module:log("warn", "the chat service did not take %s from %s", stanza.attr.type,
				origin.username);
		end
	end);
	return true; -- not mod_presence's: the component keeps the subscriptions
end
module:hook("pre-presence/bare", outbound_subscription, 100);
module:hook("pre-presence/full", outbound_subscription, 100);

-- -- what the component changed -------------------------------------------------------------------
local function rosters_of(username)
	local out, seen = {}, {};
	local function add(roster)
		if roster and not seen[roster] then seen[roster] = true; out[#out + 1] = roster; end
	end
	local user = bare_sessions[username .. "@" .. module.host];
	add(user and user.roster);
	local cache = prosody.hosts[module.host].roster_cache;
	add(cache and cache:get(username .. "@" .. module.host));
	add(known:get(username));
	return out, user;
end

local function apply_push(push)
	local username, jid = push.attr.user, push.attr.jid;
	if not username or not jid then return; end
	local item = push:get_child("item");
	local rosters, user = rosters_of(username);
	local was_item = false;
	for _, roster in ipairs(rosters) do
		if roster[false] then
			was_item = was_item or roster[jid] ~= nil;
			roster[jid] = item and item_from(item) or nil;
			roster[false].version = tonumber(push.attr.ver) or roster[false].version;
			roster[false].pending = roster[false].pending or {};
			roster[false].pending[jid] = push.attr.pending == "1" or nil;
		end
	end
	if user and user.roster and (was_item or item) then
		rostermanager.roster_push(username, module.host, jid);
	end
end

local function to_available(bare, stanza)
	local user = bare_sessions[bare];
	for _, session in pairs(user and user.sessions or {}) do
		if session.presence then session.send(st.clone(stanza)); end
	end
end

local function share(username, to, unavailable)
	local user = bare_sessions[username .. "@" .. module.host];
	for _, session in pairs(user and user.sessions or {}) do
		if session.presence then
			local presence = unavailable and st.presence({ type = "unavailable" }) or st.clone(session.presence);
			presence.attr.from, presence.attr.to = session.full_jid, to;
			core_post_stanza(session, presence, true);
		end
	end
end

module:hook("iq-set/host/" .. NS .. ":apply", function(event)
	local origin, stanza = event.origin, event.stanza;
	if not bridge or stanza.attr.from ~= bridge then
		origin.send(st.error_reply(stanza, "auth", "forbidden"));
		return true;
	end
	for tag in stanza.tags[1]:childtags() do
		local ok, err = pcall(function()
			if tag.name == "push" then
				apply_push(tag);
			elseif tag.name == "deliver" then
				local presence = st.presence({ type = tag.attr.type, from = tag.attr.from,
					to = tag.attr.to });
				to_available(tag.attr.to, presence);
			elseif tag.name == "share" or tag.name == "hide" then
				share(tag.attr.user, tag.attr.to, tag.name == "hide");
			end
		end);
		if not ok then module:log("error", "applying a roster change failed: %s", err); end
	end
	origin.send(st.reply(stanza));
	return true;
end);
