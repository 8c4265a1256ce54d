--[[
  A driver for tests/test_darktable_daemon_on_demand.py: the plug-in, on the stubbed darktable, with the REAL
  autoretouch command line. It has the plug-in start `autoretouch serve` on a given loopback port (the health
  check, then a revert batch through the daemon), fires darktable's "exit" event, and writes what happened as
  JSON for the Python test to check against the real processes.

  Run from darktable_plugin/: lua5.1 spec/helpers/live_daemon.lua CLI PORT FOLDER CACHE OUT
    CLI     the autoretouch program
    PORT    a free loopback port
    FOLDER  a film roll's folder (the daemon's root); a photo is made there
    CACHE   darktable's cache folder (the daemon's log goes there)
    OUT     where the JSON report goes
]]

package.path = "./?.lua;./spec/?.lua;" .. package.path

local load = require("helpers.load")
local stub = require("helpers.stub_darktable")

local cli, port, folder, cache, out_path = arg[1], tonumber(arg[2]), arg[3], arg[4], arg[5]
assert(out_path, "usage: lua5.1 spec/helpers/live_daemon.lua CLI PORT FOLDER CACHE OUT")

local plugin, dt = load.plugin({
  prefs = { cli_path = cli, daemon_port = port, start_daemon = true },
  films = { folder },
  cache_dir = cache,
})
local internals = plugin.internals
local report = {}

local check = plugin.check_autoretouch()
report.check = { ok = check.ok, styles = check.styles, message = check.message }
local daemon = internals.state.daemon or {}
report.daemon = { pid = daemon.pid, server = daemon.server, own = daemon.own, roots = daemon.roots }
report.alive_after_start = daemon.pid ~= nil and internals.process_alive(daemon.pid)

-- a batch through the daemon: revert a photo autoretouch never touched (nothing to revert: skipped)
local photo = stub.image(dt, 1, folder, "never retouched.png", { writes_sidecar = false })
local summary = plugin.revert_images({ photo })
report.revert = summary and { action = summary.details[1].action, reason = summary.details[1].reason }
report.daemon_after_revert_pid = (internals.state.daemon or {}).pid

report.commands = dt._log.commands
report.exit_event = dt._log.events["autoretouch_exit"] ~= nil
if report.exit_event then
  dt._log.events["autoretouch_exit"].callback("exit") -- darktable quits
end
report.daemon_after_exit = internals.state.daemon ~= nil
report.prints, report.logs = dt._log.prints, dt._log.logs

stub.write_file(out_path, internals.json_encode(report))
