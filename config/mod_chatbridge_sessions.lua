-- chatbridge: close the XMPP connections of ended sessions (loaded on the bridge's Component).
--
-- mod_auth_chatbridge tags each c2s session that logged in with a session token with that
-- session's id (`chatbridge_session`). When sessions end (DELETE /session, /sessions/{id},
-- /sessions, logout, a password change, a reused refresh token, a deleted account), the bridge
-- sends
--   <message to="sessions@{component}">
--     <end xmlns="urn:chatbridge:sessions:0" user="{userId}-{appId}" sessions="12 13"/>
--   </message>
-- and this module closes that user's c2s and websocket sessions tagged with one of those ids,
-- with a <policy-violation/> stream error. Closing revokes stream-management resumption
-- (mod_smacks' pre-session-close), and a reconnect with the ended token is refused by
-- mod_auth_chatbridge. Connections that logged in with the user's password belong to no session
-- and stay. Only the component itself may use it; anything else addressed to sessions@ is dropped.

local xmlns_sessions = "urn:chatbridge:sessions:0";
-- the VirtualHost whose users' sessions are closed
local user_host = module:get_option_string("chatbridge_sessions_user_host");
if not user_host then
	module:log("error", "chatbridge_sessions_user_host is not set: ended sessions stay connected");
end

local function handle(event)
	local stanza, origin = event.stanza, event.origin;
	local node = (stanza.attr.to or ""):match("^([^@/]+)@");
	if node ~= "sessions" then
		return; -- not ours
	end
	if not (origin and origin.type == "component" and origin.host == module.host) then
		module:log("warn", "dropping a session request that did not come from the component");
		return true;
	end
	local request = stanza:get_child("end", xmlns_sessions);
	if not request then return true; end
	local username = request.attr.user;
	local ids = {};
	for id in (request.attr.sessions or ""):gmatch("%d+") do
		ids[tonumber(id)] = true;
	end
	local host = user_host and prosody.hosts[user_host];
	local user = host and username and host.sessions and host.sessions[username];
	if not user then return true; end
	local closing = {};
	for _, session in pairs(user.sessions or {}) do
		if session.chatbridge_session and ids[session.chatbridge_session] then
			closing[#closing + 1] = session;
		end
	end
	for _, session in ipairs(closing) do -- not while iterating: closing unbinds the resource
		module:log("info", "closing %s: its chatbridge session ended", session.full_jid or username);
		session:close({ condition = "policy-violation", text = "This session has ended" });
	end
	return true;
end

module:hook("message/bare", handle, 20);
