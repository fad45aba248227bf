-- chatbridge token authentication for Prosody (shipped with chatbridge, loaded via plugin_paths).
--
-- SASL PLAIN only: the password (a ConnectyCube session token or the user's own password) is
-- checked by the chatbridge REST app:
--   GET {chatbridge_auth_url}/check_password?user=LOCALPART&server=HOST&pass=PASSWORD
--   Authorization: Basic base64(chatbridge_auth_user:chatbridge_auth_password)
--   -> 200 with body "true" accepts; anything else (or no answer in time) refuses.
-- When the password is a session token, the answer names its session (header
-- X-Chatbridge-Session): it is kept on the c2s session as `chatbridge_session`, so that
-- mod_chatbridge_sessions can close the connections of a session that ended.
-- Non-blocking: the request runs on Prosody's event loop while the session's async runner waits.
-- The URL carries the password, so it is never logged (suppress_url); keep Prosody's log level
-- above debug in production and use TLS on c2s / wss:// (PLAIN sends the token in clear).

local new_sasl = require "util.sasl".new;
local http = require "net.http";
local async = require "util.async";
local base64 = require "util.encodings".base64;
local urlencode = require "util.http".urlencode;

local auth_url = module:get_option_string("chatbridge_auth_url");
local auth_user = module:get_option_string("chatbridge_auth_user", "prosody");
local auth_password = module:get_option_string("chatbridge_auth_password", "");
local timeout = module:get_option_number("chatbridge_auth_timeout", 10);
local authorization = "Basic " .. base64.encode(auth_user .. ":" .. auth_password);
local host = module.host;

if not auth_url then
	module:log("error", "chatbridge_auth_url is not set: every login will be refused");
end

-- JIDs are {userId}-{appId}@domain
local function well_formed(username)
	return type(username) == "string" and username:match("^%d+%-%d+$") ~= nil;
end

-- GET {auth_url}/{path}?... from inside an async runner; returns true only for 200 "true", and
-- the session id the answer names (nil: none).
local function ask(path, query)
	if not auth_url then return false; end
	local wait, done = async.waiter();
	local finished, accepted, session_id = false, false, nil;
	local url = auth_url .. "/" .. path .. "?" .. query;
	local request = http.request(url, {
		headers = { Authorization = authorization; Accept = "text/plain" };
		suppress_url = true;
	}, function (body, code, response)
		if finished then return; end
		finished = true;
		accepted = code == 200 and body == "true";
		if accepted and type(response) == "table" and response.headers then
			session_id = tonumber(response.headers["x-chatbridge-session"]);
		end
		if code ~= 200 and code ~= 401 and code ~= 403 and code ~= 404 then
			module:log("warn", "chatbridge auth check %s failed: %s", path, tostring(code));
		end
		done();
	end);
	module:add_timer(timeout, function ()
		if not finished then
			finished = true;
			module:log("warn", "chatbridge auth check %s timed out after %ss", path, timeout);
			if request and request.conn then pcall(function () request.conn:close(); end); end
			done();
		end
	end);
	wait();
	return accepted, session_id;
end

local provider = {};

-- `session`: the c2s session logging in (from the SASL handler), which is tagged with the
-- chatbridge session whose token it used.
function provider.test_password(username, password, session)
	if not well_formed(username) or type(password) ~= "string" or password == "" then
		return nil, "Auth failed. Invalid username or password.";
	end
	local accepted, session_id = ask("check_password", "user=" .. urlencode(username)
		.. "&server=" .. urlencode(host) .. "&pass=" .. urlencode(password));
	if accepted then
		if type(session) == "table" then
			session.chatbridge_session = session_id;
		end
		return true;
	end
	return nil, "Auth failed. Invalid username or password.";
end

-- Used by mod_message to decide between offline storage and a bounce. Outside an async runner
-- (e.g. stanzas routed from a component) only the JID shape can be checked.
local known = {};
function provider.user_exists(username)
	if not well_formed(username) then return nil, "No such user"; end
	local now = os.time();
	local cached = known[username];
	if cached and cached > now then return true; end
	if not async.ready() then return true; end
	if ask("user_exists", "user=" .. urlencode(username) .. "&server=" .. urlencode(host)) then
		known[username] = now + 300;
		return true;
	end
	return nil, "No such user";
end

function provider.get_password()
	return nil, "Passwords are not available";
end

function provider.set_password()
	return nil, "Passwords are managed by chatbridge";
end

function provider.create_user()
	return nil, "Accounts are managed by chatbridge";
end

function provider.delete_user()
	return nil, "Accounts are managed by chatbridge";
end

function provider.users()
	return function () return nil; end;
end

function provider.get_sasl_handler(session)
	return new_sasl(host, {
		plain_test = function (_, username, password, _)
			return provider.test_password(username, password, session) == true, true;
		end;
	});
end

module:provides("auth", provider);
