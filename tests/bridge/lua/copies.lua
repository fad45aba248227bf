-- mod_chatbridge_copies with a spool that works, fails or is missing (arg[2]).
local env = dofile((arg[0]:match("^(.*/)") or "./") .. "prosody_env.lua")
local st = require "util.stanza"
local mode = arg[2]
env.options.chatbridge_copy_host = "muc.localhost"
if mode ~= "missing" then
	prosody.hosts["muc.localhost"] = { events = { fire_event = function (name, data)
		if mode == "failing" then error("spool broke") end
		print("handed", name, data.from, data.xml)
		return true
	end } }
end
dofile(arg[1])
local client = { type = "c2s", full_jid = "1-1@localhost/r" }
local function send(stanza, origin)
	local ret = env.fire("message/bare", { stanza = stanza, origin = origin or client })
	print("returned", tostring(ret), "xmlns", tostring(stanza.attr.xmlns))
end
local attrs = { to = "2-1@localhost", from = "1-1@localhost/r", type = "chat" }
local function message(id, type) return st.message({ to = attrs.to, from = attrs.from, type = type or "chat", id = id }) end
send(message("m1"):body("hi <&>"):tag("extraParams", { xmlns = "jabber:client" }):text_tag("save_to_history", "1"))
send(message("m2"):tag("composing", { xmlns = "http://jabber.org/protocol/chatstates" }))
send(message("m3", "groupchat"):body("g"))
send(message("m4"):body("with state"):tag("active", { xmlns = "http://jabber.org/protocol/chatstates" }))
send(message("m5"):tag("displayed", { xmlns = "urn:xmpp:chat-markers:0", id = "m1" }))
-- sent by the bridge as the user (mod_privilege's session never binds a resource): not copied
send(message("m6"):body("relayed"), { type = "c2s", username = "1-1", host = "localhost" })
-- a client's own stanza-id in the recipient's name is removed; not stored (no save_to_history): none added
send(message("m7"):body("forged"):tag("stanza-id", { xmlns = "urn:xmpp:sid:0", by = "2-1@localhost", id = "aaaaaaaaaaaaaaaaaaaaaaaa" }):up()
	:tag("extraParams", { xmlns = "jabber:client" }):text_tag("dialog_id", "x"))
-- a ConnectyCube id is the stored id
send(message("65a1b2c3d4e5f60718293a4b"):body("sdk"):tag("extraParams", { xmlns = "jabber:client" }):text_tag("save_to_history", "1"))
print("priorities", env.hooks["message/bare"].priority, env.hooks["message/full"].priority)
for _, line in ipairs(env.logs) do print("log", line) end
