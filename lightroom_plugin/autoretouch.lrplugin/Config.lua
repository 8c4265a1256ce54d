--[[----------------------------------------------------------------------------
Config.lua -- the plug-in's settings (Plug-in Manager section), with defaults.

Preferences: daemonUrl, token, command (the autoretouch program for
"Start daemon"), roots ("DIR;DIR", folders the started daemon may read),
lastStyle, lastStrength (0..100), overwrite (sidecars), processVersion
("refuse" or "update": what to do with photos older than process version 2012).
------------------------------------------------------------------------------]]

local LrPrefs = import "LrPrefs"

local Config = {}

Config.DEFAULT_URL = "http://127.0.0.1:50052"
Config.DEFAULT_COMMAND = "autoretouch"
Config.DEFAULT_STRENGTH = 100
Config.BATCH_SIZE = 8
Config.TIMEOUT_S = 120
--- Minutes a training from the selection may take unless the user says otherwise.
Config.TRAIN_MINUTES = 5

local function trim(text)
  return (tostring(text or ""):gsub("^%s+", ""):gsub("%s+$", ""))
end

--- A daemon URL as typed by the user -> "http://host:port" (no trailing slash).
-- @param text string or nil
-- @return string
function Config.normalizeUrl(text)
  local url = trim(text)
  if url == "" then
    return Config.DEFAULT_URL
  end
  if not url:find("^%a[%w+.-]*://") then
    url = "http://" .. url
  end
  return (url:gsub("/+$", ""))
end

--- The port of a daemon URL (default 80 for http).
-- @param url string
-- @return number or nil
function Config.port(url)
  local port = url:match("^%a[%w+.-]*://[^/]*:(%d+)")
  if port then
    return tonumber(port)
  end
  if url:find("^http://") then
    return 80
  end
  return nil
end

--- "DIR;DIR" (or one per line) -> list of folders, empty entries removed.
-- @param text string or nil
-- @return list of strings
function Config.splitRoots(text)
  local roots = {}
  for part in tostring(text or ""):gmatch("[^;\r\n]+") do
    local root = trim(part)
    if root ~= "" then
      roots[#roots + 1] = root
    end
  end
  return roots
end

--- The current settings.
-- @return table { url, token (nil when empty), command, roots (list), lastStyle, strength (0..100), overwrite,
--   processVersion ("refuse" or "update") }
function Config.load()
  local prefs = LrPrefs.prefsForPlugin()
  local token = trim(prefs.token)
  local command = trim(prefs.command)
  local strength = tonumber(prefs.lastStrength) or Config.DEFAULT_STRENGTH
  return {
    url = Config.normalizeUrl(prefs.daemonUrl),
    token = token ~= "" and token or nil,
    command = command ~= "" and command or Config.DEFAULT_COMMAND,
    roots = Config.splitRoots(prefs.roots),
    lastStyle = prefs.lastStyle,
    strength = math.max(0, math.min(100, strength)),
    overwrite = prefs.overwrite == true,
    processVersion = prefs.processVersion == "update" and "update" or "refuse",
  }
end

--- Remembers the choices of the last dialog.
-- @param choice table { style, strength (0..1), overwrite (optional) }
function Config.remember(choice)
  local prefs = LrPrefs.prefsForPlugin()
  prefs.lastStyle = choice.style
  prefs.lastStrength = math.floor(choice.strength * 100 + 0.5)
  if choice.overwrite ~= nil then
    prefs.overwrite = choice.overwrite
  end
end

return Config
