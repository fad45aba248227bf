-- chatbridge: a user's bookmarks are answered by the bridge, from their dialogs (loaded on the
-- VirtualHost).
--
-- What a user asks of their own account about bookmarks goes to the bridge component (option
-- `chatbridge_bookmarks_host`) in the XEP-0355 wrapper mod_delegation uses, and the component's
-- answer goes back to the user (bridge/plugins/bookmarks.py):
--   * XEP-0402: pubsub on the PEP node `urn:xmpp:bookmarks:1`;
--   * XEP-0048 in XEP-0049 private storage (`<query xmlns="jabber:iq:private"><storage
--     xmlns="storage:bookmarks"/>`) and on the PEP node `storage:bookmarks`.
-- Everything else in pubsub and private storage stays Prosody's (mod_pep, mod_private when
-- loaded): delegating those whole namespaces with mod_delegation would take PEP (avatars, OMEMO)
-- away from Prosody. Only a user's requests to their own account are taken (`to_self`); another
-- user's PEP is never asked here. Accounts announce `urn:xmpp:bookmarks:1#compat` (XEP-0402: the
-- server keeps both forms in step; here both are computed from the same dialogs).

local st = require "util.stanza";
local new_id = require "util.id".short;

local bridge = module:get_option_string("chatbridge_bookmarks_host");
local timeout = module:get_option_number("chatbridge_bookmarks_timeout", 10);

local NS_PUBSUB = "http://jabber.org/protocol/pubsub";
local NS_PRIVATE = "jabber:iq:private";
local NS_DELEGATION = "urn:xmpp:delegation:2";
local NS_FORWARD = "urn:xmpp:forward:0";
local NODES = { ["urn:xmpp:bookmarks:1"] = true; ["storage:bookmarks"] = true };

local pending = {}; -- wrapper id -> { origin, stanza }

local function is_bookmarks(stanza)
	local payload = stanza.tags[1];
	if #stanza.tags ~= 1 or not payload then return false; end
	local first = payload.tags[1];
	if not first then return false; end
	if payload.attr.xmlns == NS_PRIVATE and payload.name == "query" then
		return first.name == "storage" and first.attr.xmlns == "storage:bookmarks";
	end
	if payload.attr.xmlns == NS_PUBSUB and payload.name == "pubsub" then
		return NODES[first.attr.node or ""] == true;
	end
	return false;
end

local function answer(id, result)
	local entry = pending[id];
	if not entry then return; end
	pending[id] = nil;
	module:unhook("iq-result/host/" .. id, entry.on_result);
	module:unhook("iq-error/host/" .. id, entry.on_error);
	local original = entry.stanza;
	local iq = result;
	if iq == nil then
		entry.origin.send(st.error_reply(original, "wait", "service-unavailable",
			"the chat service does not answer"));
		return;
	end
	local reply = st.stanza("iq", { type = iq.attr.type, id = original.attr.id,
		from = original.attr.to, to = original.attr.from });
	for _, tag in ipairs(iq.tags) do reply:add_child(tag); end
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
	if (stanza.attr.type ~= "get" and stanza.attr.type ~= "set") or not is_bookmarks(stanza) then
		return;
	end
	if not bridge then
		origin.send(st.error_reply(stanza, "cancel", "service-unavailable"));
		return true;
	end
	local id = new_id();
	local inner = st.clone(stanza);
	inner.attr.xmlns = "jabber:client";
	local entry = { origin = origin, stanza = stanza };
	entry.on_result = function(reply_event)
		local reply = reply_event.stanza;
		if reply.attr.from ~= bridge then return; end
		answer(id, unwrap(reply) or nil);
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

-- Prosody fires iq/bare before iq/self for what a user sends to their own account (core/
-- stanza_router.lua); mod_pep and mod_bookmarks answer there (through mod_iq, priority 0): take
-- ours first. mod_delegation (2^32) delegates other namespaces only.
module:hook("iq/bare", forward, 1000);

module:hook("account-disco-info", function(event)
	event.reply:tag("feature", { var = "urn:xmpp:bookmarks:1#compat" }):up();
end);
