--[[----------------------------------------------------------------------------
Shell.lua -- command lines for LrTasks.execute, with every argument quoted.

LrTasks.execute hands its string to /bin/sh -c (macOS) or cmd.exe /c (Windows).
POSIX arguments go in single quotes (a ' inside becomes '\''), so nothing in a
path is expanded. Windows arguments go in double quotes with the C runtime's
backslash rule; characters cmd.exe would still interpret inside quotes
(" % and line breaks) are refused instead of being half-escaped.
------------------------------------------------------------------------------]]

local S = require("Strings")

local Shell = {}

--- One argument for /bin/sh.
-- @param arg string
-- @return string
function Shell.quotePosix(arg)
  return "'" .. (tostring(arg):gsub("'", "'\\''")) .. "'"
end

--- One argument for cmd.exe and the C runtime's argument parser.
-- @param arg string
-- @return string, or nil and a message naming the argument
function Shell.quoteWindows(arg)
  local text = tostring(arg)
  if text:find('["%%\r\n%z]') then
    return nil, S.cannotPassToCmd(text)
  end
  local trailing = text:match("(\\*)$")
  return '"' .. text .. trailing .. '"'
end

--- A command line of quoted arguments.
-- @param argv list of strings (program first)
-- @param windows boolean
-- @return string, or nil and a message
function Shell.commandLine(argv, windows)
  local parts = {}
  for i, arg in ipairs(argv) do
    local quoted, err
    if windows then
      quoted, err = Shell.quoteWindows(arg)
    else
      quoted = Shell.quotePosix(arg)
    end
    if not quoted then
      return nil, err
    end
    parts[i] = quoted
  end
  return table.concat(parts, " ")
end

--- What a POSIX background command (Shell.background) writes to its log when the program ends: this marker, a
-- space and the program's exit status (127: not found). Not shown to the user (Shell.exitStatus strips it).
Shell.EXIT_MARKER = "[autoretouch-start] exited with status"

--- Whether a background command's log says the program ended, and how.
-- @param log string, the log's text (or nil)
-- @return exit status (number) and the output before the marker line; nil while the program runs
function Shell.exitStatus(log)
  if type(log) ~= "string" then
    return nil
  end
  local at, _, status = log:find("\n?" .. Shell.EXIT_MARKER:gsub("%p", "%%%0") .. " (%d+)")
  if not at then
    return nil
  end
  return tonumber(status), log:sub(1, at - 1)
end

--- A command that starts argv in the background and returns at once.
-- POSIX: nohup sh -c '"$@"; echo "EXIT_MARKER $?"' sh ... >LOG 2>&1 </dev/null &  (the program's output, then
-- the marker line when it ends: a program that is missing or stops at once shows in the log)  --
-- Windows: start "TITLE" /MIN ..., wrapped in one more pair of quotes because cmd.exe /c strips the outer pair.
-- @param argv list of strings (program first)
-- @param opts table { windows = boolean, logFile = path (POSIX), title = string (Windows) }
-- @return string, or nil and a message
function Shell.background(argv, opts)
  local line, err = Shell.commandLine(argv, opts.windows)
  if not line then
    return nil, err
  end
  if opts.windows then
    local title = Shell.quoteWindows(opts.title or "autoretouch")
    return '"start ' .. title .. " /MIN " .. line .. '"'
  end
  local script = Shell.quotePosix('"$@"; echo "' .. Shell.EXIT_MARKER .. ' $?"')
  return "nohup sh -c " .. script .. " sh " .. line .. " >" .. Shell.quotePosix(opts.logFile) .. " 2>&1 </dev/null &"
end

return Shell
