--[[----------------------------------------------------------------------------
PluginInfo.lua -- the Plug-in Manager section: daemon URL, token, the program
and folders for "Start daemon", what to do with photos in an older process
version, and a "Test connection" button.
------------------------------------------------------------------------------]]

local LrPrefs = import "LrPrefs"
local LrTasks = import "LrTasks"
local LrView = import "LrView"

local Config = require("Config")
local DaemonClient = require("DaemonClient")
local S = require("Strings")

local PluginInfo = {}

local FIELDS = { "daemonUrl", "token", "command", "roots", "processVersion" }

--- Copies the preferences into the dialog's property table.
function PluginInfo.startDialog(props)
  local prefs = LrPrefs.prefsForPlugin()
  for _, key in ipairs(FIELDS) do
    props[key] = prefs[key] or ""
  end
  if props.daemonUrl == "" then
    props.daemonUrl = Config.DEFAULT_URL
  end
  if props.processVersion ~= "update" then
    props.processVersion = "refuse"
  end
  props.status = ""
end

--- Stores the dialog's values (the URL normalised).
function PluginInfo.endDialog(props)
  local prefs = LrPrefs.prefsForPlugin()
  for _, key in ipairs(FIELDS) do
    prefs[key] = props[key]
  end
  prefs.daemonUrl = Config.normalizeUrl(props.daemonUrl)
end

--- Asks the daemon for /healthz and its styles (which checks the token); writes the outcome to props.status.
-- Runs inside a task.
function PluginInfo.testConnection(props)
  props.status = S.testing
  local token = tostring(props.token or ""):gsub("^%s+", ""):gsub("%s+$", "")
  local client = DaemonClient.new {
    url = Config.normalizeUrl(props.daemonUrl),
    token = token ~= "" and token or nil,
    timeout = 10,
  }
  local ok, err = client:health()
  local styles
  if ok then
    styles, err = client:listStyles()
  end
  if styles then
    props.status = S.connected(styles.serverVersion, #styles.names)
  elseif err.kind == "auth" then
    props.status = S.connectionFailed(S.authTitle)
  else
    props.status = S.connectionFailed(tostring(err.message))
  end
  return props.status
end

--- The section above the standard ones.
function PluginInfo.sectionsForTopOfDialog(f, props)
  local bind = LrView.bind
  local label = LrView.share "autoretouch_settings_label"
  local function labelled(title, control)
    return f:row { f:static_text { title = title, alignment = "right", width = label }, control }
  end
  return {
    {
      title = S.settingsSection,
      bind_to_object = props,
      labelled(S.urlLabel, f:edit_field { value = bind "daemonUrl", width_in_chars = 32 }),
      labelled(S.tokenLabel, f:password_field { value = bind "token", width_in_chars = 32 }),
      labelled(S.commandLabel, f:edit_field { value = bind "command", width_in_chars = 32 }),
      labelled(S.rootsLabel, f:edit_field { value = bind "roots", width_in_chars = 32 }),
      f:row { f:static_text { title = S.rootsHint, fill_horizontal = 1 } },
      labelled(
        S.processVersionLabel,
        f:popup_menu {
          value = bind "processVersion",
          items = {
            { title = S.processVersionRefuse, value = "refuse" },
            { title = S.processVersionUpdate, value = "update" },
          },
        }
      ),
      f:row {
        f:push_button {
          title = S.testConnection,
          action = function()
            LrTasks.startAsyncTask(function()
              PluginInfo.testConnection(props)
            end, "autoretouch.test")
          end,
        },
        f:static_text { title = bind "status", fill_horizontal = 1 },
      },
      f:row { f:static_text { title = S.logHint, fill_horizontal = 1 } },
    },
  }
end

return PluginInfo
