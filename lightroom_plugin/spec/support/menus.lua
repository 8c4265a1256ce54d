--[[----------------------------------------------------------------------------
menus.lua -- the plug-in's menu commands as the specs run them: each menu
script run as Lightroom runs it (against the stubbed SDK, see sdk.lua), with
the options dialog answered for it, and the last message it showed. Each
command fails when it called a yielding API (LrHttp, LrDialogs, LrTasks.execute
or sleep) inside a write gate (sdk.outsideWriteGate).

  local menus = require("menus")
  menus.apply()                               -- sdk.modalHandler answers the dialog
  menus.train { name = "mine", minutes = 3 }  -- the dialog's fields set, then OK
  assert.matches("...", menus.lastMessage().info, 1, true)
------------------------------------------------------------------------------]]

local sdk = require("sdk")

local menus = {}

--- The menu scripts (Info.lua's LrLibraryMenuItems), by command.
local SCRIPTS = {
  apply = "AutoRetouchMenu.lua",
  revert = "RevertMenu.lua",
  sidecars = "SidecarsMenu.lua",
  train = "TrainMenu.lua",
}

for command, script in pairs(SCRIPTS) do
  --- Runs the command's menu script.
  -- @param answers table property -> value set in the options dialog before it is answered "ok";
  --   nil leaves sdk.modalHandler as it is
  menus[command] = function(answers)
    if answers then
      sdk.modalHandler = function(_, props)
        for key, value in pairs(answers) do
          props[key] = value
        end
        return "ok"
      end
    end
    dofile(sdk.pluginDir .. "/" .. script)
    -- the fake raises on these, but a gate's per-photo LrTasks.pcall may have caught that (sdk.outsideWriteGate)
    assert(#sdk.gateViolations == 0, "yielding API called inside withWriteAccessDo: " .. table.concat(sdk.gateViolations, ", "))
  end
end

--- The last LrDialogs.message record (a summary, or why the command stopped), or nil.
function menus.lastMessage()
  local messages = sdk.dialogsOf "message"
  return messages[#messages]
end

return menus
