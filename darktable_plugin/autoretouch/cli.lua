--[[
  autoretouch/cli.lua: running the CLI ]]

local dt = require("darktable")
local json = require("autoretouch/json")
local constants = require("autoretouch/constants")
local strings = require("autoretouch/strings")
local filesystem = require("autoretouch/filesystem")
local shell = require("autoretouch/shell")
local settings = require("autoretouch/settings")
local user_text = require("autoretouch/text")

local msg = strings.msg

--- Whether the CLI call `result` ({status, stderr}) is a usage error (exit status EXIT_USAGE) whose stderr holds
--- argparse's line for options it does not know (`autoretouch: error: unrecognized arguments: ...`) naming `option`
--- (e.g. "--duplicate", also as `--duplicate=N`): an autoretouch older than that option. Only that line counts: the
--- whole usage a command prints for other usage errors names its options too.
local function option_unrecognized(result, option)
  if result.status ~= constants.EXIT_USAGE then
    return false
  end
  local pattern = "%s" .. option:gsub("%p", "%%%0") .. "[=%s]"
  for line in (result.stderr or ""):gmatch("[^\n]+") do
    local unknown = line:match("unrecognized arguments:(.*)$")
    if unknown and (unknown .. " "):find(pattern) then
      return true
    end
  end
  return false
end

--- The last non-empty line of the CLI's error output, shortened.
local function last_line(text)
  local line = ""
  for l in (text or ""):gmatch("[^\n]+") do
    if l:match("%S") then
      line = l
    end
  end
  line = settings.trim(line:gsub("^autoretouch: error: ", ""))
  return user_text.shorten(line, constants.MAX_REASON_CHARS)
end

--- Run the CLI with `argv`. Returns {status, stdout, stderr}, or nil and a message (quoting or temp files).
-- dt.control.execute releases darktable's Lua lock while the command runs, so the GUI (and the job's
-- cancel button) stays responsive.
-- @param make_line optional function(argv, out_path, err_path) -> shell line or nil, message (default
--   command_line)
local function run_cli(argv, make_line)
  local out_path, err_path = os.tmpname(), os.tmpname()
  local line, quote_err = (make_line or shell.command_line)(argv, out_path, err_path)
  if not line then
    os.remove(out_path)
    os.remove(err_path)
    return nil, quote_err
  end
  local status = shell.exit_status(dt.control.execute(line))
  local result = { status = status, stdout = filesystem.read_file(out_path) or "",
    stderr = filesystem.read_file(err_path) or "" }
  os.remove(out_path)
  os.remove(err_path)
  return result
end

--- A message for a CLI run that gave no usable JSON.
local function cli_problem(cfg, result)
  if result.status == 127 then
    return msg("cli_not_found", cfg.cli_path)
  elseif result.status == 126 then
    return msg("cli_not_executable", cfg.cli_path)
  end
  local detail = last_line(result.stderr)
  if result.status ~= 0 then
    return msg("cli_failed", result.status, detail)
  end
  return msg("cli_no_output", result.status, detail)
end

--- One outcome from a row of `apply --json`'s (or `revert --json`'s) "results"; a row whose action changed
--- the sidecar (mode.done) counts as "written".
local function outcome_of(cfg, result, row, mode)
  local warnings = {}
  if type(row.warnings) == "table" then
    for _i, w in ipairs(row.warnings) do
      warnings[#warnings + 1] = tostring(w)
    end
  end
  local reason = type(row.reason) == "string" and row.reason or ""
  if mode.done[row.action] then
    return { action = "written", cli_action = row.action, reason = reason, warnings = warnings,
      sidecar = type(row.sidecar) == "string" and row.sidecar or nil }
  elseif row.action == "skipped" then
    return { action = row.action, reason = reason, warnings = warnings }
  end
  return { action = "failed", reason = reason ~= "" and reason or cli_problem(cfg, result), warnings = warnings }
end

--- Why a daemon refused a CLI run as a whole (no JSON answer: nothing was written): a message key, or nil.
local function daemon_refusal(result)
  if result == nil or json.decode(result.stdout) ~= nil then
    return nil
  elseif result.status == constants.EXIT_OUTSIDE_ROOTS then
    return "daemon_refused_folders"
  elseif result.status == constants.EXIT_NOT_FOUND then
    return "daemon_refused_style"
  end
  return nil
end

--- run_cli with `argv_of(cfg)`; when `cfg` uses the daemon the plug-in started or found (`cfg.daemon`) and that
--- daemon refuses the run as a whole (a photo outside its folders, a style it has not loaded), the run is repeated
--- with `local_cfg`, the per-batch command line, which reads the style folders afresh. When that finds the
--- style, the plug-in's own daemon is marked `stale`: the next batch restarts it.
-- @param local_cfg the settings without the plug-in's daemon, or nil (no second try)
-- @param make_line optional, as for run_cli
local function run_cli_or_local(cfg, local_cfg, argv_of, make_line)
  local result, err = run_cli(argv_of(cfg), make_line)
  local refusal = local_cfg and daemon_refusal(result)
  if not refusal then
    return result, err
  end
  dt.print_log(msg("daemon_refused", cfg.server, msg(refusal)))
  result, err = run_cli(argv_of(local_cfg), make_line)
  if refusal == "daemon_refused_style" and result and daemon_refusal(result) == nil and cfg.daemon.own then
    cfg.daemon.stale = true
  end
  return result, err
end

--- Change the darktable sidecars of several photos with one `autoretouch apply` (or `revert`) call.
-- Returns photo path -> outcome {action = "written"|"skipped"|"failed", reason, warnings, sidecar (the file the CLI
-- changed, for "written")}, one per photo.
-- @param local_cfg see run_cli_or_local
-- @param duplicate optional: the photos' virtual copy N whose sidecars to change (0 or nil: the originals')
local function cli_batch(cfg, photos, mode, local_cfg, duplicate)
  local outcomes = {}
  local result, err = run_cli_or_local(cfg, local_cfg, function(c)
    return mode.argv(c, photos, duplicate)
  end)
  if not result then
    for _i, photo in ipairs(photos) do
      outcomes[photo] = { action = "failed", reason = err, warnings = {} }
    end
    return outcomes
  end
  local doc = json.decode(result.stdout)
  local rows = type(doc) == "table" and type(doc.results) == "table" and doc.results or {}
  local darktable_rows = {}
  for _i, row in ipairs(rows) do
    if type(row) == "table" and row.host == "darktable" and type(row.action) == "string" then
      darktable_rows[#darktable_rows + 1] = row
      if type(row.photo) == "string" and outcomes[row.photo] == nil then
        outcomes[row.photo] = outcome_of(cfg, result, row, mode)
      end
    end
  end
  for i, photo in ipairs(photos) do
    if outcomes[photo] == nil then
      -- the CLI names photos as given; should it have spelled one differently, rows still come in order
      local row = #darktable_rows == #photos and darktable_rows[i] or nil
      outcomes[photo] = row and outcome_of(cfg, result, row, mode)
        or { action = "failed", reason = #darktable_rows > 0 and msg("no_result") or cli_problem(cfg, result),
          warnings = {} }
    end
  end
  return outcomes
end

return {
  option_unrecognized = option_unrecognized,
  run_cli = run_cli,
  cli_problem = cli_problem,
  run_cli_or_local = run_cli_or_local,
  cli_batch = cli_batch,
}
