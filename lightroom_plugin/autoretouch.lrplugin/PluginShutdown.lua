--[[ Runs when the plug-in is disabled, removed or reloaded. It leaves the daemon running: other tools may use it. ]]

local Log = require("Log")

Log:info("autoretouch plug-in unloaded")
