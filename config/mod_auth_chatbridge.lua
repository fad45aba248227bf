-- chatbridge token authentication for Prosody (shipped with chatbridge, loaded via plugin_paths).
--
-- SASL PLAIN only: the password (a ConnectyCube session token or the user's own password) is
-- checked by the chatbridge REST app:
--   GET {chatbridge_auth_url}/check_password?user=LOCALPART&server=HOST&pass=PASSWORD
--   Authorization: Basic base64(chatbridge_auth_user:chatbridge_auth_password)
--   -> 200 with body "true" accepts; anything else (or no answer in time) refuses.
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

-- GET {auth_url}/{path}?... from inside an async runner; returns true only for 200 "true".
local function ask(path, query)
	if not auth_url then return false; end
	local wait, done = async.waiter();
	local finished, accepted = false, false;
	local url = auth_url .. "/" .. path .. "?" .. query;
	local request = http.request(url, {
		headers = { Authorization = authorization; Accept = "text/plain" };
		suppress_url = true;
	}, function (body, code)
		if finished then return; end
		finished = true;
		accepted = code == 200 and body == "true";
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
	return accepted;
end

local provider = {};

function provider.test_password(username, password)
	if not well_formed(username) or type(password) ~= "string" or password == "" then
		return nil, "Auth failed. Invalid username or password.";
	end
	if ask("check_password", "user=" .. urlencode(username) .. "&server=" .. urlencode(host)
			.. "&pass=" .. urlencode(password)) then
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

function provider.get_sasl_handler()
	return new_sasl(host, {
		plain_test = function (_, username, password, _)
			return provider.test_password(username, password) == true, true;
		end;
	});
end

module:provides("auth", provider);
