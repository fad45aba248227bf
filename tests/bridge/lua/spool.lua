-- mod_chatbridge_spool: numbering, acknowledgements, eager writes, resend after a reconnect.
local env = dofile((arg[0]:match("^(.*/)") or "./") .. "prosody_env.lua")
local st = require "util.stanza"
module.host = "muc.localhost"
env.options.chatbridge_spool_flush_every = 2
env.options.chatbridge_spool_max = 3
local sent, writes = {}, 0
local conn = { writebuffer = nil, accepts = true }
function conn:onwritable()
	writes = writes + 1
	if self.accepts then self.writebuffer = nil end
end
local session = { conn = conn, send = function (data)
	sent[#sent + 1] = data
	conn.writebuffer = (conn.writebuffer or "") .. data
end }
local component = { connected = true, session = session }
prosody.hosts["muc.localhost"] = { modules = { component = component } }
dofile(arg[1])
local function copy(n) return env.fire("chatbridge-copy", { xml = "<message id='m" .. n .. "'/>", from = "localhost" }) end
print("handled", tostring(copy(1)), tostring(copy(2)))
print("sent", #sent, sent[1])
print("writes", writes)
conn.accepts = false -- the bridge stops reading: one more try, then epoll's job
copy(3); copy(4); copy(5); copy(6)
print("writes while blocked", writes)
local function routed(to, from_component)
	local stanza = st.message({ to = to, from = "muc.localhost" }):tag("ack", { xmlns = "urn:chatbridge:spool:0", h = "4" })
	return env.fire("message/bare", { stanza = stanza, origin = { type = from_component and "component" or "c2s", host = "muc.localhost" } })
end
print("forged copy", tostring((routed("chat@muc.localhost", false))))
print("room message", tostring((routed("1_abc@muc.localhost", false))))
print("ack from a user", tostring((routed("spool@muc.localhost", false))))
sent = {}
env.hooks["component-authenticated"].handler({ session = session })
print("resent before ack", #sent, sent[1])
routed("spool@muc.localhost", true) -- h=4 from the component
sent = {}
env.hooks["component-authenticated"].handler({ session = session })
print("resent after ack", #sent, sent[1], sent[2])
component.connected = false
sent = {}
copy(7)
print("sent while disconnected", #sent)
for _, line in ipairs(env.logs) do print("log", line) end
