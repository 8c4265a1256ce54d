--[[ Load a fresh copy of autoretouch.lua against a new darktable stub, and build scratch environments with
  awkward names (quotes, spaces, $, backticks) holding a fake autoretouch CLI. ]]

local stub = require "helpers.stub_darktable"

local M = {}

local here = debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or "."

--- A fresh plugin and its stub (see stub_darktable.new for opts).
function M.plugin(opts)
  package.loaded["autoretouch"] = nil
  local dt = stub.new(opts)
  package.loaded["darktable"] = dt
  local plugin = require "autoretouch"
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

--- A scratch environment: {dir, bin, cli, photos, scenario(tbl), calls() -> list}.
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
  function env.cleanup()
    stub.remove_tree(env.dir)
  end
  return env
end

return M
