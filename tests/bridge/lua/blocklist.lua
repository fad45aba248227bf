-- mod_chatbridge_blocklist on its own: relations loaded from the component's <peers> answer,
-- refusals (which error, which way), updates kept on both sides, a reload after an update that
-- came while a load was on its way, and the XEP-0191 pushes an update carries.
local env = dofile((arg[0]:match("^(.*/)") or "./") .. "prosody_env.lua")
local st = require "util.stanza"
env.options.chatbridge_blocklist_host = "muc.localhost"
local sent, timers = {}, {}
module.send = function (_, stanza) sent[#sent + 1] = stanza end
module.add_timer = function (_, _, fn) timers[#timers + 1] = fn end
module.unhook = function (_, event) env.hooks[event] = nil end
module.add_feature = function () end
local sessions = {}
prosody.hosts["localhost"] = { sessions = sessions }
dofile(arg[1])

local function session(user, resource)
	local s = { type = "c2s", username = user, host = "localhost", full_jid = user .. "@localhost/" .. resource,
		sent = {} }
	s.send = function (stanza) s.sent[#s.sent + 1] = stanza end
	sessions[user] = sessions[user] or { sessions = {} }
	sessions[user].sessions[resource] = s
	return s
end

local function answer_peers(index, items)
	local ask = sent[index]
	local reply = st.iq({ type = "result", id = ask.attr.id, from = "muc.localhost", to = "localhost" })
		:tag("peers", { xmlns = "urn:chatbridge:blocklist:0", jid = ask.tags[1].attr.jid })
	for jid, dir in pairs(items) do reply:tag("item", { jid = jid, dir = dir }):up() end
	return env.fire("iq-result/host/" .. ask.attr.id, { stanza = reply })
end

local function try(origin, name, to, kind)
	local stanza = st.stanza(name, { to = to, type = kind, id = "s" .. tostring(#origin.sent) })
	local stopped = env.fire("pre-" .. name .. "/bare", { origin = origin, stanza = stanza })
	local reply = origin.sent[#origin.sent]
	local err = reply and reply.attr.id == stanza.attr.id and reply:get_child("error") or nil
	local condition = err and err.tags[1].name or "-"
	local blocked = err and err:get_child("blocked", "urn:xmpp:blocking:errors") and "blocked" or "-"
	print("try", origin.username, name, to, tostring(stopped), condition, err and err.attr.code or "-", blocked)
end

-- alice binds: her relations are asked for; bob (who blocked her) and carol (whom she blocked)
local alice = session("1-1", "a")
env.fire("resource-bind", { session = alice })
print("asked", sent[1].attr.to, sent[1].tags[1].name, sent[1].tags[1].attr.jid)
answer_peers(1, { ["2-1@localhost"] = "in", ["3-1@localhost"] = "out" })
try(alice, "message", "2-1@localhost", "chat")   -- they blocked her: service-unavailable 503
try(alice, "message", "3-1@localhost", "chat")   -- she blocked them: not-acceptable + blocked
try(alice, "iq", "2-1@localhost", "get")
try(alice, "presence", "3-1@localhost", nil)     -- dropped, no answer
try(alice, "message", "4-1@localhost", "chat")   -- nobody: delivered

-- dave binds; an update comes while his relations are on their way: asked again
local dave = session("4-1", "d")
env.fire("resource-bind", { session = dave })
local update = st.message({ from = "muc.localhost", to = "localhost" })
	:tag("update", { xmlns = "urn:chatbridge:blocklist:0", user = "1-1@localhost" })
	:tag("item", { jid = "4-1@localhost", dir = "out" }):up()
	:tag("item", { jid = "3-1@localhost", dir = "none" }):up()
	:tag("block", { xmlns = "urn:xmpp:blocking" }):tag("item", { jid = "4-1@localhost" }):up():up()
	:tag("unblock", { xmlns = "urn:xmpp:blocking" }):tag("item", { jid = "3-1@localhost" }):up():up()
alice.chatbridge_blocklist = true -- she asked for her block list
print("update", tostring(env.fire("message/host", { stanza = update })))
answer_peers(2, {})
print("asked again", #sent, sent[3] and sent[3].tags[1].attr.jid)
answer_peers(3, { ["1-1@localhost"] = "in" })
try(alice, "message", "4-1@localhost", "chat")   -- she blocked dave now
try(alice, "message", "3-1@localhost", "chat")   -- and unblocked carol
try(dave, "message", "1-1@localhost", "chat")    -- dave's side: she blocked him
for _, push in ipairs(alice.sent) do
	if push.name == "iq" and push.attr.type == "set" then print("push", push.attr.type, push.attr.to, push.tags[1].name, push.tags[1].tags[1].attr.jid) end
end
-- an update from anyone but the component is dropped and changes nothing
local forged = st.message({ from = "2-1@localhost", to = "localhost" })
	:tag("update", { xmlns = "urn:chatbridge:blocklist:0", user = "1-1@localhost" })
	:tag("item", { jid = "2-1@localhost", dir = "none" }):up()
print("forged", tostring(env.fire("message/host", { stanza = forged })))
try(alice, "message", "2-1@localhost", "chat")
