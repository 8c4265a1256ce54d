--[[
  autoretouch/check.lua: "check autoretouch and its styles": the health check ]]

local dt = require("darktable")
local json = require("autoretouch/json")
local constants = require("autoretouch/constants")
local strings = require("autoretouch/strings")
local settings = require("autoretouch/settings")
local commands = require("autoretouch/commands")
local state = require("autoretouch/state")
local cli = require("autoretouch/cli")
local daemon = require("autoretouch/daemon")

local msg = strings.msg

--- Where the health check's answer came from: the command line, a daemon this plug-in started, or another.
local function check_where(cfg, doc)
  local version = tostring(doc.server_version or "?")
  if cfg.daemon and cfg.daemon.own then
    return msg("check_where_started", cfg.server, version)
  elseif cfg.server ~= "" then
    return msg("check_where_daemon", cfg.server, version)
  end
  return msg("check_where_local")
end

--- The usable, unshadowed style names of a `styles --json` answer, and name -> true or why it is unusable;
--- each style goes to the Lua log with its description.
local function usable_styles(doc)
  local names, usable = {}, {}
  for _i, style in ipairs(doc.styles) do
    if type(style) == "table" and type(style.name) == "string" and style.shadowed ~= true then
      local problem = type(style.error) == "string" and style.error or nil
      if problem then
        usable[style.name] = usable[style.name] or problem
        dt.print_log(msg("check_style_line", style.name, tostring(style.source), msg("check_unusable_line", problem)))
      else
        usable[style.name] = true
        names[#names + 1] = style.name
        dt.print_log(msg("check_style_line", style.name, tostring(style.source), tostring(style.description or "")))
      end
    end
  end
  return names, usable
end

--- Check that autoretouch answers (the command line, or the daemon: the address set, else the plug-in's own,
-- started when the preference allows it; while a run is going on, only the daemon in use is asked, never
-- started, stopped or restarted) and list its styles. Every usable style goes to the Lua log with its
-- description; the message says how many there are and whether the style preference names one of them (and,
-- when the plug-in's daemon did not start, why).
-- @param overrides optional settings: cli_path, server, style, start_daemon, daemon_port
-- @return {ok = true|false, styles = {name, ...} (usable, unshadowed), style_ok = true|false|nil, message}
local function check_autoretouch(overrides)
  local cfg, err = settings.read_settings(overrides)
  if not cfg then
    dt.print(err)
    return { ok = false, styles = {}, message = err }
  end
  local run_cfg, doc, start_problem
  if state.running then -- only ask: the run may be using the daemon, which must not be stopped or restarted now
    run_cfg = daemon.asking_settings(cfg)
  else
    run_cfg, doc, start_problem = daemon.batch_settings(cfg, {}, {}, nil)
  end
  local note = start_problem and "\n" .. start_problem or ""
  if not doc then
    local result, run_err = cli.run_cli(commands.styles_argv(run_cfg))
    doc = result and result.status == 0 and json.decode(result.stdout) or nil
    if type(doc) ~= "table" or type(doc.styles) ~= "table" then
      local text = msg("check_failed", run_err or cli.cli_problem(cfg, result)) .. note
      dt.print(text)
      return { ok = false, styles = {}, message = text }
    end
  end
  local names, usable = usable_styles(doc)
  local text = msg("check_ok", check_where(run_cfg, doc), #names, table.concat(names, ", "))
  local wanted = cfg.style ~= "" and cfg.style
    or (type(doc.default) == "string" and doc.default or constants.DEFAULT_STYLE)
  local style_ok = usable[wanted] == true
  if style_ok then
    text = text .. "; " .. msg("check_style_ok", wanted)
  elseif usable[wanted] then
    text = text .. "; " .. msg("check_style_unusable", wanted, usable[wanted])
  else
    text = text .. "; " .. msg("check_style_missing", wanted)
  end
  text = text .. note
  dt.print(text)
  return { ok = true, styles = names, style_ok = style_ok, message = text }
end

return {
  check_autoretouch = check_autoretouch,
}
