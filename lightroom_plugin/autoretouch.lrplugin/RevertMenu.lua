--[[ Library/File > Plug-in Extras > Revert auto-retouch. ]]

local LrTasks = import "LrTasks"

local Main = require("Main")

LrTasks.startAsyncTask(Main.revert, "autoretouch.revert")
