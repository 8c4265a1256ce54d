--[[ Library/File > Plug-in Extras > Auto-retouch (learned style). ]]

local LrTasks = import "LrTasks"

local Main = require("Main")

LrTasks.startAsyncTask(Main.autoRetouch, "autoretouch.apply")
