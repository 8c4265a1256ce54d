--[[ Library/File > Plug-in Extras > Train style from selected photos... ]]

local LrTasks = import "LrTasks"

local Main = require("Main")

LrTasks.startAsyncTask(Main.train, "autoretouch.train")
