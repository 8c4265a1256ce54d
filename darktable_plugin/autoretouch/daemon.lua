--[[
  autoretouch/daemon.lua: the daemon started on demand (POSIX): with no daemon address set, one `autoretouch
  serve` on a loopback port serves every later batch (no Python, torch and style start-up per batch) until
  darktable quits ]]

local dt = require("darktable")
local json = require("autoretouch/json")
local constants = require("autoretouch/constants")
local strings = require("autoretouch/strings")
local filesystem = require("autoretouch/filesystem")
local shell = require("autoretouch/shell")
local settings = require("autoretouch/settings")
local commands = require("autoretouch/commands")
local state = require("autoretouch/state")
local cli = require("autoretouch/cli")

local msg = strings.msg

--- Whether a shell line exits with status 0 (os.execute gives a number in Lua 5.1, true or nil in 5.2 and later).
local function shell_succeeds(line)
  local result = os.execute(line)
  return result == true or result == 0
end

--- Whether process `pid` (digits) is running; a zombie (exited, not yet reaped) is not.
local function process_alive(pid)
  local stat = filesystem.read_file("/proc/" .. pid .. "/stat")
  if stat then
    return stat:match("^%d+ %b() (%a)") ~= "Z"
  end
  return shell_succeeds("kill -0 " .. pid .. " 2>/dev/null")
end

--- The command line of process `pid` as " ARG ARG ... " (/proc on Linux, else ps), or nil when unreadable.
local function process_command(pid)
  local text = filesystem.read_file("/proc/" .. pid .. "/cmdline")
  if text then
    text = text:gsub("%z", " ")
  else
    local pipe = io.popen("ps -p " .. pid .. " -o args= 2>/dev/null")
    text = pipe and pipe:read("*a") or ""
    if pipe then
      pipe:close()
    end
  end
  text = settings.trim(text)
  return text ~= "" and " " .. text .. " " or nil
end

--- Whether `daemon` is one this plug-in started and its process still runs `autoretouch serve` on its port (a
--- recycled process id, or one whose command line cannot be read, is never taken for it).
local function own_daemon_running(daemon)
  if not (daemon and daemon.own and daemon.pid and process_alive(daemon.pid)) then
    return false
  end
  local command = process_command(daemon.pid)
  return command ~= nil and command:find(" serve ", 1, true) ~= nil
    and command:find(" --port=" .. daemon.port .. " ", 1, true) ~= nil
end

--- Stop a daemon this plug-in started (SIGTERM to its process id; never a daemon it found running).
-- @param wait true: wait until it is gone (at most DAEMON_TIMING.stop_wait_s), so that its port is free again
-- @return true when it was stopped
local function stop_daemon(daemon, wait)
  if not own_daemon_running(daemon) then
    return false
  end
  os.execute("kill " .. daemon.pid .. " 2>/dev/null")
  dt.print_log(msg("daemon_stopped", daemon.pid))
  local deadline = os.time() + constants.DAEMON_TIMING.stop_wait_s
  while wait and process_alive(daemon.pid) and os.time() < deadline do
    dt.control.sleep(100)
  end
  return true
end

--- The "exit" event (darktable quits) and destroy: stop the daemon this plug-in started.
local function stop_own_daemon()
  stop_daemon(state.daemon, false)
  state.daemon = nil
end

local function on_exit(_event)
  stop_own_daemon()
end

--- Register the "exit" event once, when the first daemon is started.
local function hook_exit()
  if not state.exit_hooked then
    dt.register_event(constants.EXIT_EVENT, "exit", on_exit)
    state.exit_hooked = true
  end
end

--- Whether a run with these settings uses the plug-in's daemon: no address set, the preference on, not Windows
--- (no background start there: each batch runs the command line), and the style a name (a daemon does not
--- take a style file's path; the command line does).
local function wants_daemon(cfg)
  local style_is_file = cfg.style:find("/", 1, true) or cfg.style:match("%.safetensors$") or cfg.style:match("%.json$")
  return cfg.server == "" and cfg.start_daemon and dt.configuration.running_os ~= "windows" and not style_is_file
end

--- The started daemon's log file, in darktable's cache folder (the user's own), or nil when darktable has no
--- existing one: then no daemon is started. Never a shared temporary folder, where another user could have put a
--- link of that name for the `>` redirection to follow.
local function daemon_log_path()
  local dir = filesystem.existing_folder(dt.configuration.cache_dir)
  return dir and dir .. "/" .. constants.DAEMON_LOG_NAME
end

--- Whether `folder` is `root` or lies under it, by name (trailing slashes removed).
local function inside(folder, root)
  return folder == root or root == "/" or folder:sub(1, #root + 1) == root .. "/"
end

local function inside_any(folder, roots)
  for _i, root in ipairs(roots) do
    if inside(folder, root) then
      return true
    end
  end
  return false
end

--- `path` without trailing slashes ("/" stays).
local function strip_slashes(path)
  local stripped = path:gsub("/+$", "")
  return stripped == "" and "/" or stripped
end

--- The first of `folders` that lies outside `roots`, or nil.
local function first_outside(folders, roots)
  for _i, folder in ipairs(folders) do
    if not inside_any(strip_slashes(folder), roots) then
      return folder
    end
  end
  return nil
end

--- The --root folders for a daemon that must reach every folder of the given lists: absolute, existing ones
--- only (the daemon refuses a missing root), each once, none inside another, sorted.
local function root_set(...)
  local candidates = {}
  for _i, folders in ipairs({ ... }) do
    for _j, folder in ipairs(folders) do
      if type(folder) == "string" and folder:sub(1, 1) == "/" and filesystem.folder_exists(folder) then
        candidates[#candidates + 1] = strip_slashes(folder)
      end
    end
  end
  table.sort(candidates, function(a, b)
    return #a < #b or (#a == #b and a < b)
  end)
  local roots = {}
  for _i, folder in ipairs(candidates) do
    if not inside_any(folder, roots) then
      roots[#roots + 1] = folder
    end
  end
  table.sort(roots)
  return roots
end

--- The folders of darktable's film rolls.
local function film_folders()
  local folders = {}
  pcall(function()
    for i = 1, #dt.films do
      folders[#folders + 1] = dt.films[i].path
    end
  end)
  return folders
end

--- The styles answer (`autoretouch styles --json --server=SERVER`, a table) of the daemon at `server`, or nil.
local function daemon_answer(cfg, server)
  local result = cli.run_cli(commands.styles_argv({ cli_path = cfg.cli_path, server = server }))
  local doc = result and result.status == 0 and json.decode(result.stdout) or nil
  return type(doc) == "table" and type(doc.styles) == "table" and doc or nil
end

--- Start `argv` in the background, its output going to `log`: its process id (digits), or nil and a message.
local function spawn(argv, log)
  local line, err = shell.background_start_line(argv, log)
  if not line then
    return nil, err
  end
  local pipe = io.popen(line, "r")
  local out = pipe and pipe:read("*a") or ""
  if pipe then
    pipe:close()
  end
  local pid = out:match("^%s*(%d+)%s*$")
  if not pid then
    return nil, msg("daemon_no_pid", settings.trim(out))
  end
  return pid
end

--- Ask the started daemon for its styles until it answers: the answer, or nil and why not: "exited" (its
--- process ended), "slow" (DAEMON_TIMING.start_wait_s passed) or "cancelled" (`stopped()` says so).
local function wait_for_daemon(cfg, daemon, stopped)
  local deadline = os.time() + constants.DAEMON_TIMING.start_wait_s
  while true do
    if not process_alive(daemon.pid) then
      return nil, "exited"
    end
    local doc = daemon_answer(cfg, daemon.server)
    if doc then
      return doc
    elseif os.time() >= deadline then
      return nil, "slow"
    elseif stopped and stopped() then
      return nil, "cancelled"
    end
    dt.control.sleep(constants.DAEMON_TIMING.poll_ms)
  end
end

--- Start this plug-in's daemon with `roots` and wait until it answers. Returns the daemon and its styles answer;
--- or nil and a message naming the log file. A daemon that is still starting when the wait ends is kept
--- (`pending`): later batches use it once it answers.
local function start_daemon(cfg, server, roots, stopped)
  local log = daemon_log_path()
  if not log then
    return nil, msg("daemon_no_cache", tostring(dt.configuration.cache_dir))
  end
  local daemon = { server = server, port = cfg.daemon_port, own = true, roots = roots, log = log }
  dt.print(msg("daemon_starting", server, daemon.log))
  local pid, err = spawn(commands.serve_argv(cfg, roots), daemon.log)
  if not pid then
    return nil, msg("daemon_not_started", err, daemon.log)
  end
  daemon.pid = pid
  hook_exit()
  local doc, why = wait_for_daemon(cfg, daemon, stopped)
  if why == "exited" then
    return nil, msg("daemon_not_started", msg("daemon_exited"), daemon.log)
  elseif why then
    daemon.pending = true
    state.daemon = daemon
    return nil, why == "slow" and msg("daemon_slow", constants.DAEMON_TIMING.start_wait_s, daemon.log)
      or msg("daemon_still_starting", daemon.log)
  end
  dt.print_log(msg("daemon_started", server, pid, table.concat(roots, ", ")))
  return daemon, doc
end

--- The daemon in use if it can still serve `cfg`: not when its port preference changed (one this plug-in started
--- is stopped then) or when the process this plug-in started has ended.
local function current_daemon(cfg)
  local daemon = state.daemon
  if daemon and daemon.port ~= cfg.daemon_port then
    stop_daemon(daemon, true)
    daemon = nil
  elseif daemon and daemon.own and not process_alive(daemon.pid) then
    dt.print_log(msg("daemon_gone", daemon.server, daemon.pid))
    daemon = nil
  end
  state.daemon = daemon
  return daemon
end

--- Whether this plug-in's daemon that was still starting (`pending`) answers now: its answer, or nil.
local function pending_answer(cfg, daemon)
  local doc = daemon_answer(cfg, daemon.server)
  if doc then
    daemon.pending = nil
    dt.print_log(msg("daemon_started", daemon.server, daemon.pid, table.concat(daemon.roots, ", ")))
  end
  return doc
end

--- The daemon for photos in `folders`: the one in use when it reaches them all (a daemon this plug-in did not
--- start is used as it is: its folders are unknown); else one already answering on the port; else this plug-in
--- starts one, for the film rolls' folders plus `folders` (its own earlier daemon, short of a folder, is
--- restarted with the larger set). Returns the daemon and, when it was just found or started, its styles
--- answer; or nil and a message (the command line is used then).
local function find_or_start_daemon(cfg, folders, stopped)
  local server = constants.LOOPBACK .. ":" .. cfg.daemon_port
  local daemon, doc = current_daemon(cfg), nil
  if daemon and daemon.pending then
    doc = pending_answer(cfg, daemon)
    if not doc then
      return nil, msg("daemon_still_starting", daemon.log)
    end
  end
  local missing = daemon and daemon.own and first_outside(folders, daemon.roots)
  if daemon and not missing and not daemon.stale then
    return daemon, doc
  end
  local roots = root_set(film_folders(), folders, daemon and daemon.roots or {})
  if missing and first_outside(folders, roots) and not daemon.stale then
    return daemon, doc -- a folder that cannot be a root (unreadable): the daemon refuses it, the command line runs it
  end
  if daemon then
    dt.print_log(missing and msg("daemon_restarting", server, missing) or msg("daemon_restarting_styles", server))
    stop_daemon(daemon, true)
    state.daemon = nil
  else
    doc = daemon_answer(cfg, server)
    if doc then
      dt.print_log(msg("daemon_reused", server))
      state.daemon = { server = server, port = cfg.daemon_port, own = false }
      return state.daemon, doc
    end
  end
  local started, doc_or_err = start_daemon(cfg, server, roots, stopped)
  state.daemon = started or state.daemon
  return started, doc_or_err
end

--- A copy of the settings `cfg` that runs through `daemon`.
local function through_daemon(cfg, daemon)
  local with_daemon = {}
  for k, v in pairs(cfg) do
    with_daemon[k] = v
  end
  with_daemon.server = daemon.server
  with_daemon.daemon = daemon
  return with_daemon
end

--- The settings for a batch of photos in `folders`: `cfg` itself, or a copy whose `server` is the plug-in's
--- daemon (started on first need; see find_or_start_daemon). When the daemon does not start, the message is
--- shown and the batch runs the command line; `run.failed` then keeps later batches of the run from trying again.
-- @param run per-run memory (a table)
-- @param stopped optional function() -> true when the run was cancelled
-- @return the settings; the daemon's styles answer when it was just found or started; the start problem
local function batch_settings(cfg, folders, run, stopped)
  if not wants_daemon(cfg) or run.failed or state.daemon_busy then
    return cfg
  end
  state.daemon_busy = true
  local ok, daemon, doc_or_err = pcall(find_or_start_daemon, cfg, folders, stopped)
  state.daemon_busy = false
  if not ok then
    error(daemon, 0)
  elseif not daemon then
    run.failed = true
    dt.print(doc_or_err)
    return cfg, nil, doc_or_err
  end
  return through_daemon(cfg, daemon), doc_or_err
end

--- The settings for a question asked while a run is going on: through the daemon in use when there is one that
--- answers (whatever the preferences say now), else `cfg` (the command line). Nothing is started, stopped or
--- restarted: the run may be using that daemon.
local function asking_settings(cfg)
  local daemon = state.daemon
  if not wants_daemon(cfg) or not daemon or daemon.pending or (daemon.own and not process_alive(daemon.pid)) then
    return cfg
  end
  return through_daemon(cfg, daemon)
end

--- One run of the CLI for photos in `folders`, as a single batch: through the plug-in's daemon when one is
--- wanted (see batch_settings), else the command line; run_cli_or_local with `argv_of` and `make_line`.
-- @param stopped function() -> true when the run was cancelled
-- @param run optional per-run memory shared by several calls of one run (see batch_settings; default: a new one)
local function run_cli_for(cfg, folders, stopped, argv_of, make_line, run)
  local run_cfg = batch_settings(cfg, folders, run or {}, stopped)
  return cli.run_cli_or_local(run_cfg, run_cfg ~= cfg and cfg or nil, argv_of, make_line)
end

return {
  process_alive = process_alive,
  stop_own_daemon = stop_own_daemon,
  root_set = root_set,
  batch_settings = batch_settings,
  asking_settings = asking_settings,
  run_cli_for = run_cli_for,
}
