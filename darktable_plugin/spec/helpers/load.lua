--[[ Load a fresh copy of autoretouch.lua against a new darktable stub, and build scratch environments with
  awkward names (quotes, spaces, $, backticks) holding a fake autoretouch CLI. ]]

local stub = require("helpers.stub_darktable")

local M = {}

local here = debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or "."

--- Forget the loaded plugin and its modules (autoretouch/*: they hold the darktable module and the state they were
--- loaded with), so that the next `require "autoretouch"` loads them again. The JSON codec (autoretouch/json, no
--- darktable, no state) stays: its functions are the ones the specs hold.
function M.unload()
  for name in pairs(package.loaded) do
    if name == "autoretouch" or (name:sub(1, #"autoretouch/") == "autoretouch/" and name ~= "autoretouch/json") then
      package.loaded[name] = nil
    end
  end
end

--- A fresh plugin and its stub (see stub_darktable.new for opts).
function M.plugin(opts)
  M.unload()
  local dt = stub.new(opts)
  package.loaded["darktable"] = dt
  local plugin = require("autoretouch")
  return plugin, dt
end

local python -- the real interpreter (not a version-manager shim: it would slow every fake CLI call down)

local function python_path()
  if not python then
    local p = io.popen("python3 -c 'import sys; print(sys.executable)' 2>/dev/null")
    python = p and p:read("*l") or ""
    if p then
      p:close()
    end
    if python == "" then
      python = "/usr/bin/python3"
    end
  end
  return python
end

--- A fresh plugin whose command is `env`'s fake CLI (preference cli_path, unless opts.prefs names one) and which,
--- unless opts.prefs says otherwise, runs the per-batch command line (start_daemon = false; daemon_spec.lua: the
--- daemon). Returns the plugin, its stub and the plugin's JSON decoder.
function M.plugin_with_cli(env, opts)
  opts = opts or {}
  opts.prefs = opts.prefs or {}
  opts.prefs.cli_path = opts.prefs.cli_path or env.cli
  if opts.prefs.start_daemon == nil then
    opts.prefs.start_daemon = false
  end
  local plugin, dt = M.plugin(opts)
  return plugin, dt, plugin.internals.json_decode
end

--- A scratch environment (M.env) and a fresh plugin running its fake CLI (M.plugin_with_cli, with opts; darktable's
--- cache folder is the environment's folder unless opts.cache_dir names one). Returns the environment, the plugin,
--- its stub, the plugin's JSON decoder, and image(id, name, image_opts): a stub image of the file env.photos/name
--- (stub_darktable.image). M.finish(plugin, env) after the spec removes the environment.
function M.env_with_plugin(opts)
  local env = M.env()
  local own = {} -- a copy: the caller's table is never filled in (one table shared by specs keeps no cache_dir)
  for key, value in pairs(opts or {}) do
    own[key] = value
  end
  own.cache_dir = own.cache_dir or env.dir
  local plugin, dt, json_decode = M.plugin_with_cli(env, own)
  local function image(id, name, image_opts)
    return stub.image(dt, id, env.photos, name, image_opts)
  end
  return env, plugin, dt, json_decode, image
end

--- After a spec: stop the daemon `plugin` started (when there is a plugin and it started one), and remove
--- `env`'s folder (when there is an env).
function M.finish(plugin, env)
  if plugin then
    plugin.internals.stop_own_daemon()
  end
  if env then
    env.cleanup()
  end
end

--- A scratch environment: {dir, bin, cli, photos, scenario(tbl), calls(), calls_of(command), argvs_of(command)}.
function M.env()
  local env = {}
  env.dir = stub.temp_dir(" it's $HOME `id`")
  env.bin = env.dir .. "/bin dir 'q' $(x)"
  env.photos = env.dir .. "/pho\"tos & ;|*"
  os.execute("mkdir -p " .. stub.quote(env.bin) .. " " .. stub.quote(env.photos))
  env.cli = env.bin .. "/autoretouch cli"
  local source = assert(stub.read_file(here .. "/fake_autoretouch.py"))
  stub.write_file(env.cli, (source:gsub("^#![^\n]*", "#!" .. python_path() .. " -S")))
  os.execute("chmod +x " .. stub.quote(env.cli))
  function env.scenario(json_text)
    stub.write_file(env.bin .. "/scenario.json", json_text)
  end
  function env.calls(json_decode)
    local calls = {}
    local text = stub.read_file(env.bin .. "/calls.jsonl") or ""
    for line in text:gmatch("[^\n]+") do
      calls[#calls + 1] = assert(json_decode(line))
    end
    return calls
  end
  --- The calls whose command (argv[1]) is `command`, in order.
  function env.calls_of(command, json_decode)
    local out = {}
    for _i, c in ipairs(env.calls(json_decode)) do
      if c.argv[1] == command then
        out[#out + 1] = c
      end
    end
    return out
  end
  --- The argv of each call whose command is `command`, in order.
  function env.argvs_of(command, json_decode)
    local out = {}
    for i, c in ipairs(env.calls_of(command, json_decode)) do
      out[i] = c.argv
    end
    return out
  end
  function env.cleanup()
    stub.remove_tree(env.dir)
  end
  return env
end

return M
