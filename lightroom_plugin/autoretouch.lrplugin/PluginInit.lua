--[[ Runs when Lightroom loads or reloads the plug-in. ]]

local Log = require("Log")

Log:info("autoretouch plug-in loaded")
