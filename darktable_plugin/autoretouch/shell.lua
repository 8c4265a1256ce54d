--[[
  autoretouch/shell.lua: shell quoting (POSIX sh): the only way arguments reach the shell ]]

local strings = require("autoretouch/strings")

local msg = strings.msg

--- One argument quoted for /bin/sh: wrapped in single quotes, each ' written as '\''.
-- Everything else ($, `, \, ", newlines, spaces, globs) is literal inside single quotes.
-- Returns nil and a message when the text holds a NUL byte (the shell would cut it there).
local function shell_quote(text)
  text = tostring(text)
  if text:find("\0", 1, true) then
    return nil, msg("nul_in_argument")
  end
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

--- The words of an argument list, each quoted, joined by spaces; nil and a message when one cannot be quoted.
local function quoted_words(argv)
  local words = {}
  for i, arg in ipairs(argv) do
    local quoted, err = shell_quote(arg)
    if not quoted then
      return nil, err
    end
    words[i] = quoted
  end
  return table.concat(words, " ")
end

--- A command line from an argument list plus redirections of stdin (/dev/null), stdout and stderr.
-- Returns nil and a message when an argument cannot be quoted.
local function command_line(argv, stdout_path, stderr_path)
  local words, err = quoted_words(argv)
  local out, err_out = shell_quote(stdout_path), shell_quote(stderr_path)
  if not words then
    return nil, err
  elseif not out or not err_out then
    return nil, msg("nul_in_argument")
  end
  return words .. " </dev/null >" .. out .. " 2>" .. err_out
end

--- A command line that starts an argument list in the background (stdin closed, stdout and stderr to `log`)
-- and prints its process id, for io.popen. Returns nil and a message when an argument cannot be quoted.
local function background_start_line(argv, log)
  local words, err = quoted_words(argv)
  local out = shell_quote(log)
  if not words then
    return nil, err
  elseif not out then
    return nil, msg("nul_in_argument")
  end
  return words .. " </dev/null >" .. out .. " 2>&1 & echo $!"
end

--- exit status from what `system()` returns (a raw wait status on POSIX: code * 256).
local function exit_status(raw)
  raw = tonumber(raw) or -1
  if raw >= 256 then
    return math.floor(raw / 256)
  end
  return raw
end

return {
  shell_quote = shell_quote,
  command_line = command_line,
  background_start_line = background_start_line,
  exit_status = exit_status,
}
