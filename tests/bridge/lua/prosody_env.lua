-- A minimal stand-in for Prosody's module environment, enough to load one of our modules with
-- Prosody's own util.stanza: `module` records hooks and log lines, `prosody.hosts` is a table.
package.path = "/usr/lib/prosody/?.lua;" .. package.path
package.cpath = "/usr/lib/prosody/?.so;" .. package.cpath

local env = { hooks = {}, logs = {}, options = {} }
prosody = { hosts = {} }
module = {
	host = "localhost",
	get_option_string = function (_, name, default) return env.options[name] or default end,
	get_option_number = function (_, name, default) return env.options[name] or default end,
	get_option_boolean = function (_, name, default)
		if env.options[name] == nil then return default end
		return env.options[name]
	end,
	hook = function (_, event, handler, priority) env.hooks[event] = { handler = handler, priority = priority } end,
	log = function (_, level, fmt, ...) env.logs[#env.logs + 1] = level .. " " .. string.format(fmt, ...) end,
}
function env.fire(event, data)
	return env.hooks[event].handler(data)
end
return env
