--[[
  autoretouch/cli.lua: running the CLI ]]

local dt = require("darktable")
local json = require("autoretouch/json")
local constants = require("autoretouch/constants")
local strings = require("autoretouch/strings")
local filesystem = require("autoretouch/filesystem")
local shell = require("autoretouch/shell")
local settings = require("autoretouch/settings")

local msg = strings.msg

--- `text` cut to at most `limit` bytes, never inside a UTF-8 character, then `tail` (default "...") appended; as it
--- is when it is short enough.
local function shorten(text, limit, tail)
  if #text <= limit then
    return text
  end
  local cut = limit
  while cut > 0 and (text:byte(cut + 1) or 0) >= 0x80 and text:byte(cut + 1) < 0xC0 do -- a continuation byte
    cut = cut - 1
  end
  return text:sub(1, cut) .. (tail or "...")
end

local SHORT_ESCAPES = { [0x0A] = "\\n", [0x0D] = "\\r", [0x09] = "\\t" }

--- The code points the CLI escapes (backend/text.py): Unicode's categories Cc (C0, DEL, C1 with U+0085), Cf (soft
--- hyphen, Arabic marks, U+180E, zero-width space, LRM/RLM, bidi embeddings, overrides and isolates, word joiner and
--- invisible operators, BOM, interlinear annotations, ..., tag characters), Zl and Zp (U+2028 and U+2029: Pango
--- breaks the line there) and Cs (surrogates), as of Unicode 15, but the zero-width (non-)joiners U+200C and U+200D
--- that emoji sequences and several scripts need; sorted ranges.
local ESCAPED = { { 0x0, 0x1F }, { 0x7F, 0x9F }, { 0xAD, 0xAD }, { 0x600, 0x605 }, { 0x61C, 0x61C }, { 0x6DD, 0x6DD },
  { 0x70F, 0x70F }, { 0x890, 0x891 }, { 0x8E2, 0x8E2 }, { 0x180E, 0x180E }, { 0x200B, 0x200B }, { 0x200E, 0x200F },
  { 0x2028, 0x202E }, { 0x2060, 0x2064 }, { 0x2066, 0x206F }, { 0xD800, 0xDFFF }, { 0xFEFF, 0xFEFF },
  { 0xFFF9, 0xFFFB }, { 0x110BD, 0x110BD }, { 0x110CD, 0x110CD }, { 0x13430, 0x1343F }, { 0x1BCA0, 0x1BCA3 },
  { 0x1D173, 0x1D17A }, { 0xE0001, 0xE0001 }, { 0xE0020, 0xE007F } }

--- Whether the CLI escapes the code point `code`.
local function escaped(code)
  for _i, range in ipairs(ESCAPED) do
    if code < range[1] then
      return false
    elseif code <= range[2] then
      return true
    end
  end
  return false
end

--- The code point `code` as Python's repr writes it: \n, \xNN, \uNNNN or \UNNNNNNNN.
local function escape(code)
  if code < 0x100 then
    return SHORT_ESCAPES[code] or string.format("\\x%02x", code)
  end
  return string.format(code < 0x10000 and "\\u%04x" or "\\U%08x", code)
end

--- What the lead byte of a UTF-8 sequence of 2, 3 or 4 bytes holds of its code point: its value modulo this.
local LEAD_BITS = { [2] = 0x20, [3] = 0x10, [4] = 0x08 }

--- The UTF-8 character at byte `i` of `text`: its code point and length in bytes; nil and 1 for a byte that starts
--- no well-formed sequence (left as it is).
local function char_at(text, i)
  local b = text:byte(i)
  local len = b < 0x80 and 1 or b >= 0xF8 and 0 or b >= 0xF0 and 4 or b >= 0xE0 and 3 or b >= 0xC2 and 2 or 0
  if len == 0 then
    return nil, 1
  end
  local code = len == 1 and b or b % LEAD_BITS[len]
  for k = 1, len - 1 do
    local c = text:byte(i + k)
    if not c or c < 0x80 or c > 0xBF then
      return nil, 1
    end
    code = code * 0x40 + (c - 0x80)
  end
  return code, len
end

--- `text` (a message naming the user's files) on one line, as the CLI's text output escapes it (backend/text.py):
--- the characters of ESCAPED (controls, line separators, bidi overrides, zero-width and other invisible characters)
--- as Python writes them (\n, \x1b, \x85, \u202e, \U000e0041); ordinary Unicode (accents, CJK, emoji with their
--- zero-width joiners) as it is. Bytes are read as UTF-8, never through the C library's locale.
local function printable(text)
  if not text:find("[^ -~]") then -- printable ASCII only
    return text
  end
  local out, i = {}, 1
  while i <= #text do
    local code, len = char_at(text, i)
    out[#out + 1] = code and escaped(code) and escape(code) or text:sub(i, i + len - 1)
    i = i + len
  end
  return table.concat(out)
end

--- Whether `stderr` holds argparse's line for options it does not know (`autoretouch: error: unrecognized
--- arguments: ...`) naming `option` (e.g. "--duplicate", also as `--duplicate=N`): an autoretouch older than that
--- option. Only that line counts: the whole usage a command prints for other usage errors names its options too.
local function option_unrecognized(stderr, option)
  local pattern = "%s" .. option:gsub("%p", "%%%0") .. "[=%s]"
  for line in (stderr or ""):gmatch("[^\n]+") do
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
  return shorten(line, constants.MAX_REASON_CHARS)
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
  shorten = shorten,
  printable = printable,
  option_unrecognized = option_unrecognized,
  run_cli = run_cli,
  cli_problem = cli_problem,
  run_cli_or_local = run_cli_or_local,
  cli_batch = cli_batch,
}
