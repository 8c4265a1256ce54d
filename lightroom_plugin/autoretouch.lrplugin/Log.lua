--[[----------------------------------------------------------------------------
Log.lua -- the plug-in's logger: autoretouch.log in Lightroom's log folder.
------------------------------------------------------------------------------]]

local LrLogger = import "LrLogger"

local logger = LrLogger("autoretouch")
logger:enable("logfile")

return logger
