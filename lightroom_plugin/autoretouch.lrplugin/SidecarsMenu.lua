--[[ Library/File > Plug-in Extras > Write XMP sidecars for selection. ]]

local LrTasks = import "LrTasks"

local Main = require("Main")

LrTasks.startAsyncTask(Main.writeSidecars, "autoretouch.sidecars")
