--[[----------------------------------------------------------------------------
Daemon.lua -- make sure the daemon answers; when it does not, say how to start
it and offer to start it ("Start daemon", through LrTasks.execute).
------------------------------------------------------------------------------]]

local LrDialogs = import "LrDialogs"
local LrPathUtils = import "LrPathUtils"
local LrProgressScope = import "LrProgressScope"
local LrTasks = import "LrTasks"

local Config = require("Config")
local Log = require("Log")
local S = require("Strings")
local Shell = require("Shell")

local Daemon = {}

Daemon.START_WAIT_S = 30
Daemon.POLL_S = 0.5
Daemon.LOG_NAME = "autoretouch-daemon.log"

--- The folders the started daemon may read: the configured ones, else the
-- catalog's top-level folders, else the folders of the given photos.
-- @param config table from Config.load
-- @param catalog LrCatalog
-- @param photos list of LrPhoto
-- @return list of paths
function Daemon.roots(config, catalog, photos)
  if #config.roots > 0 then
    return config.roots
  end
  local roots, seen = {}, {}
  local function add(path)
    if type(path) == "string" and path ~= "" and not seen[path] then
      seen[path] = true
      roots[#roots + 1] = path
    end
  end
  local ok, folders = LrTasks.pcall(catalog.getFolders, catalog)
  if ok and type(folders) == "table" then
    for _, folder in ipairs(folders) do
      add(folder:getPath())
    end
  end
  if #roots == 0 then
    for _, photo in ipairs(photos or {}) do
      local got, path = LrTasks.pcall(photo.getRawMetadata, photo, "path")
      add(got and type(path) == "string" and LrPathUtils.parent(path) or nil)
    end
  end
  return roots
end

--- The daemon's argument list: PROGRAM serve --http-port P --root DIR ... [--token T].
-- @param config table from Config.load
-- @param roots list of folders
-- @return list of strings
function Daemon.argv(config, roots)
  local argv = { config.command, "serve", "--http-port", tostring(Config.port(config.url) or 50052) }
  for _, root in ipairs(roots) do
    argv[#argv + 1] = "--root"
    argv[#argv + 1] = root
  end
  if config.token then
    argv[#argv + 1] = "--token"
    argv[#argv + 1] = config.token
  end
  return argv
end

--- Where the started daemon's output goes (POSIX).
function Daemon.logFile()
  return LrPathUtils.child(LrPathUtils.getStandardFilePath("temp"), Daemon.LOG_NAME)
end

local function masked(text, token)
  if not token or token == "" then
    return text
  end
  local plain = token:gsub("%p", "%%%0")
  return (text:gsub(plain, "***"))
end

local function windows()
  return WIN_ENV == true
end

--- Waits until the daemon answers /healthz or the wait is over.
-- @return true when it answers
function Daemon.waitUntilServing(client, progress)
  local waited = 0
  while waited < Daemon.START_WAIT_S do
    if progress and progress:isCanceled() then
      return false
    end
    LrTasks.sleep(Daemon.POLL_S)
    waited = waited + Daemon.POLL_S
    if client:health() then
      return true
    end
  end
  return false
end

--- Starts the daemon in the background and waits for it.
-- @param client DaemonClient
-- @param config table from Config.load
-- @param roots list of folders
-- @param context LrFunctionContext or nil (for a progress scope)
-- @return true when it answers
function Daemon.start(client, config, roots, context)
  local argv = Daemon.argv(config, roots)
  local command, err = Shell.background(argv, { windows = windows(), logFile = Daemon.logFile() })
  if not command then
    LrDialogs.message(S.startFailedTitle, err, "critical")
    return false
  end
  Log:info("starting the daemon: " .. masked(command, config.token))
  local status = LrTasks.execute(command)
  if status ~= 0 then
    LrDialogs.message(S.startFailedTitle, S.startFailedStatus(status) .. "\n" .. S.startFailedPath, "critical")
    return false
  end
  local progress
  if context then
    progress = LrProgressScope { title = S.progressStarting, functionContext = context }
    progress:setCancelable(true)
  end
  local ok = Daemon.waitUntilServing(client, progress)
  if progress then
    progress:done()
  end
  if not ok then
    local where = windows() and S.startFailedWindow or S.startFailedLog(Daemon.logFile())
    local info = table.concat({ S.startFailedTimeout(Daemon.START_WAIT_S), where, S.startFailedPath }, "\n")
    LrDialogs.message(S.startFailedTitle, info, "critical")
  end
  return ok
end

--- Checks that the daemon answers; when nothing listens, explains how to start
-- it and offers "Start daemon".
-- @param client DaemonClient
-- @param config table from Config.load
-- @param findRoots function returning the folders for a daemon started from here (see Daemon.roots)
-- @param context LrFunctionContext or nil
-- @return true when the daemon is serving
function Daemon.ensure(client, config, findRoots, context)
  local ok, err = client:health()
  if ok then
    return true
  end
  if err.kind ~= "down" then
    LrDialogs.message(S.daemonErrorTitle, err.message, "critical")
    return false
  end
  local roots = findRoots()
  local argv = Daemon.argv(config, roots)
  local display = Shell.commandLine(argv, windows()) or table.concat(argv, " ")
  local info = table.concat({
    S.daemonDownNoAnswer(client.url),
    "",
    S.daemonDownHowTo,
    display,
    "",
    S.daemonDownButton,
  }, "\n")
  Log:warn("daemon down at " .. client.url)
  local answer = LrDialogs.confirm(S.daemonDownTitle, info, S.startDaemonVerb, S.cancelVerb)
  if answer ~= "ok" then
    return false
  end
  return Daemon.start(client, config, roots, context)
end

return Daemon
