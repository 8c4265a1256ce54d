--[[----------------------------------------------------------------------------
Daemon.lua -- make sure the daemon answers; when it does not, say how to start
it and offer to start it ("Start daemon", through LrTasks.execute).

A background start always "succeeds" (the shell returns before the program
runs), so the start checks first that the program is there (a path: it
exists; a bare name on macOS: `command -v` finds it), and, on macOS, reads the
daemon's log while it waits: a program that ends at once (missing, refused
arguments, port in use) is reported with its output instead of after the
whole wait.
------------------------------------------------------------------------------]]

local LrDialogs = import "LrDialogs"
local LrFileUtils = import "LrFileUtils"
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
--- How many of the last lines of a daemon that ended at once its failure dialog shows.
Daemon.LOG_LINES = 10
--- The extensions cmd.exe tries for a program named without one (the default PATHEXT's).
Daemon.WINDOWS_EXTENSIONS = { ".com", ".exe", ".bat", ".cmd" }

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

--- Why the autoretouch program cannot be started, or nil when it can be (or this cannot be told: a bare name on
-- Windows, where `start` reports a program it cannot find itself).
-- @param command the program setting (a path, or a name looked up on Lightroom's PATH)
-- @return message or nil
function Daemon.programProblem(command)
  if tostring(command):find("[/\\]") then
    local found = LrFileUtils.exists(command) == "file"
    if not found and windows() and not command:find("%.[^/\\.]*$") then
      -- cmd.exe's start also finds C:\...\autoretouch as autoretouch.exe (PATHEXT)
      for _, extension in ipairs(Daemon.WINDOWS_EXTENSIONS) do
        found = found or LrFileUtils.exists(command .. extension) == "file"
      end
    end
    if not found then
      return S.startFailedMissing(command)
    end
  elseif not windows() then
    local status = LrTasks.execute("command -v " .. Shell.quotePosix(command) .. " >/dev/null 2>&1")
    if status ~= 0 then
      return S.startFailedNotFound(command)
    end
  end
  return nil
end

--- How the started program ended, from its log (POSIX); nil while it runs or when there is no log.
-- @return exit status, its output
local function exited(logFile)
  if not logFile or LrFileUtils.exists(logFile) ~= "file" then
    return nil
  end
  return Shell.exitStatus(LrFileUtils.readFile(logFile))
end

--- Waits until the daemon answers /healthz, the program ends (its log says so), or the wait is over.
-- @param client DaemonClient
-- @param progress LrProgressScope or nil
-- @param logFile the started program's log (POSIX), or nil
-- @return true when it answers; else false, and the exit status and output when the program ended
function Daemon.waitUntilServing(client, progress, logFile)
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
    local status, output = exited(logFile)
    if status then
      return false, status, output
    end
  end
  return false
end

--- The last lines of a program's output (at most `count`), with the token masked.
local function lastLines(output, count, token)
  local lines = {}
  for line in tostring(output or ""):gmatch("[^\r\n]+") do
    lines[#lines + 1] = masked(line, token)
  end
  return { unpack(lines, math.max(1, #lines - count + 1)) }
end

--- The failure dialog of a start.
local function startFailed(lines)
  LrDialogs.message(S.startFailedTitle, table.concat(lines, "\n"), "critical")
end

--- Starts the daemon in the background and waits for it.
-- @param client DaemonClient
-- @param config table from Config.load
-- @param roots list of folders
-- @param context LrFunctionContext or nil (for a progress scope)
-- @return true when it answers
function Daemon.start(client, config, roots, context)
  local argv = Daemon.argv(config, roots)
  local logFile = not windows() and Daemon.logFile() or nil
  local command, err = Shell.background(argv, { windows = windows(), logFile = logFile })
  if not command then
    startFailed { err }
    return false
  end
  local problem = Daemon.programProblem(config.command)
  if problem then
    Log:warn("not starting the daemon: " .. problem)
    startFailed { problem, S.startFailedPath }
    return false
  end
  if logFile and LrFileUtils.exists(logFile) then
    LrFileUtils.delete(logFile) -- an earlier start's exit line must not be read as this one's
  end
  Log:info("starting the daemon: " .. masked(command, config.token))
  local status = LrTasks.execute(command)
  if status ~= 0 then
    startFailed { S.startFailedStatus(status), S.startFailedPath }
    return false
  end
  local progress
  if context then
    progress = LrProgressScope { title = S.progressStarting, functionContext = context }
    progress:setCancelable(true)
  end
  local ok, exitStatus, output = Daemon.waitUntilServing(client, progress, logFile)
  if progress then
    progress:done()
  end
  if exitStatus then
    Log:errorf("the daemon exited at once with status %d", exitStatus)
    local lines = { S.startFailedExited(exitStatus) }
    for _, line in ipairs(lastLines(output, Daemon.LOG_LINES, config.token)) do
      lines[#lines + 1] = line
    end
    lines[#lines + 1] = ""
    lines[#lines + 1] = S.startFailedLog(logFile)
    lines[#lines + 1] = S.startFailedPath
    startFailed(lines)
  elseif not ok then
    local where = windows() and S.startFailedWindow or S.startFailedLog(logFile)
    startFailed { S.startFailedTimeout(Daemon.START_WAIT_S), where, S.startFailedPath }
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
