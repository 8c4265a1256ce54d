-- The daemon started on demand: with no daemon address set and the preference on, the first action that needs
-- autoretouch starts `autoretouch serve` (the fake CLI's `serve`, a real background process), waits until
-- `styles --server` answers, and runs this batch and later ones through it; it falls back to the per-batch
-- command line when the daemon does not come up, reuses one already answering on the port, restarts its own for
-- a new folder, and stops only its own process when darktable quits.

local recorded = require("helpers.recorded")
local load = require("helpers.load")
local stub = require("helpers.stub_darktable")

local PORT = "50151"
local SERVER = "127.0.0.1:" .. PORT

local find = recorded.find

local function server_of(args)
  return recorded.option(args, "server")
end

local function roots_of(args)
  return recorded.options(args, "root")
end

--- A process that is not a daemon of ours: `sleep 30` in the background; returns its PID once it runs `sleep`.
local function foreign_process(dir)
  local pid_file = dir .. "/foreign.pid"
  os.execute("sleep 30 >/dev/null 2>&1 & echo $! > " .. stub.quote(pid_file))
  local pid = assert(stub.read_file(pid_file):match("%d+"))
  for _i = 1, 50 do
    if (stub.read_file("/proc/" .. pid .. "/cmdline") or ""):find("^sleep") then
      break
    end
    os.execute("sleep 0.02")
  end
  return pid
end

describe("the daemon started on demand", function()
  local env, plugin, dt, J, cache, timing

  local function setup(opts)
    opts = opts or {}
    cache = stub.make_dir(env.dir .. "/cache dir 'c'")
    opts.prefs = opts.prefs or {}
    opts.prefs.cli_path = opts.prefs.cli_path or env.cli
    opts.prefs.daemon_port = opts.prefs.daemon_port or tonumber(PORT)
    opts.cache_dir = cache
    plugin, dt = load.plugin(opts)
    J = plugin.internals.json_decode
    timing = plugin.internals.daemon_timing
    timing.poll_ms, timing.start_wait_s, timing.stop_wait_s = 50, 5, 5
  end

  local function image(id, dir, name)
    return stub.image(dt, id, dir, name)
  end

  local function folder(name)
    return stub.make_dir(env.photos .. "/" .. name)
  end

  local function calls_of(command)
    return env.argvs_of(command, J)
  end

  local function daemon()
    return plugin.internals.state.daemon
  end

  local function alive(pid)
    return plugin.internals.process_alive(pid)
  end

  local function quit_darktable()
    dt._log.events["autoretouch_exit"].callback("exit")
  end

  before_each(function()
    env = load.env()
  end)

  after_each(function()
    load.finish(plugin, env)
    env = nil
  end)

  describe("preferences", function()
    it("registers 'start a daemon' (on) and its port (50151, 1 to 65535) through the strings table", function()
      setup()
      local prefs = {}
      for _i, p in ipairs(dt._log.prefs) do
        prefs[p.name] = p
      end
      assert.are.equal("bool", prefs.start_daemon.kind)
      assert.is_true(prefs.start_daemon.default)
      assert.are.equal(plugin.internals.messages.pref_start_daemon_label, prefs.start_daemon.label)
      assert.are.equal("autoretouch: start a daemon when none is set", prefs.start_daemon.label)
      assert.are.equal("integer", prefs.daemon_port.kind)
      assert.are.equal(50151, prefs.daemon_port.default)
      assert.are.same({ 1, 65535 }, prefs.daemon_port.extra)
      assert.are.equal(plugin.internals.messages.pref_daemon_port_tooltip, prefs.daemon_port.tooltip)
    end)

    it("refuses port 0 and ports that are not whole numbers up to 65535, before running anything", function()
      setup()
      for _i, bad in ipairs({ 0, -1, 65536, 50151.5, "abc" }) do
        local summary, err = plugin.apply_to_images({ image(1, env.photos, "a.png") }, { daemon_port = bad })
        assert.is_nil(summary)
        assert.are.equal("auto-retouch: the daemon port must be a whole number from 1 to 65535, got '"
          .. tostring(bad) .. "'", err)
      end
      assert.are.equal(0, #dt._log.commands)
      assert.are.equal("1", plugin.internals.read_settings({ daemon_port = 1 }).daemon_port)
      assert.are.equal("65535", plugin.internals.read_settings({ daemon_port = "65535" }).daemon_port)
    end)
  end)

  describe("starting", function()
    it("builds the serve argv: loopback port, no JSON bridge, the film rolls' and images' folders", function()
      setup()
      assert.are.same({ "autoretouch", "serve", "--port=50151", "--no-http", "--root=/a b", "--root=/it's" },
        plugin.internals.serve_argv({ cli_path = "autoretouch", daemon_port = "50151" }, { "/a b", "/it's" }))
      local line = plugin.internals.background_start_line({ "/x y/autoretouch", "serve", "--root=/it's $HOME" },
        "/log dir/d.log")
      assert.are.equal("'/x y/autoretouch' 'serve' '--root=/it'\\''s $HOME' </dev/null >'/log dir/d.log' 2>&1 "
        .. "& echo $!", line)
    end)

    it("keeps existing folders only, each once, none inside another, quoted through the real shell", function()
      local rolls, nested, other = folder("roll $x `id`"), folder("roll $x `id`/sub"), folder("other \"q\"")
      setup({ films = { rolls .. "/", nested, env.photos .. "/gone", "relative/dir" } })
      local img = image(1, other, "it's.png")
      assert.are.equal(2, plugin.apply_to_images({ img, image(2, nested, "n.png") }).written)
      local serves = calls_of("serve")
      assert.are.equal(1, #serves)
      local expected = { other, rolls }
      table.sort(expected)
      assert.are.same({ "serve", "--port=" .. PORT, "--no-http" }, { serves[1][1], serves[1][2], serves[1][3] })
      assert.are.same(expected, roots_of(serves[1]))
      assert.are.same(expected, daemon().roots)
    end)

    it("starts the daemon at the first batch, waits for its answer and runs every batch through it", function()
      setup()
      local images = stub.images(dt, 9, env.photos)
      assert.are.equal(9, plugin.apply_to_images(images).written)
      local styles = calls_of("styles")
      assert.are.same({ "styles", "--json", "--server=" .. SERVER }, styles[1]) -- nothing there yet: start one
      assert.are.equal(1, #calls_of("serve"))
      assert.is_true(#styles >= 2) -- then asked until it answered
      local applies = calls_of("apply")
      assert.are.equal(2, #applies) -- two batches, one daemon
      assert.are.equal(SERVER, server_of(applies[1]))
      assert.are.equal(SERVER, server_of(applies[2]))
      assert.are.equal(9, #dt._log.imports)
      local log_path = cache .. "/autoretouch-daemon.log"
      assert.truthy(find(dt._log.prints, "starting the daemon at " .. SERVER .. " (its output goes to " .. log_path))
      assert.is_truthy(stub.read_file(log_path)) -- the daemon's output file
      assert.truthy(find(dt._log.logs, "daemon started at " .. SERVER .. " (process " .. daemon().pid .. ")"))
      assert.is_true(daemon().own and alive(daemon().pid))
      -- a later action uses it at once: no new start, no probe
      local before = #calls_of("styles")
      plugin.revert_images({ image(10, env.photos, "q.png") })
      assert.are.equal(1, #calls_of("serve"))
      assert.are.equal(before, #calls_of("styles"))
      assert.are.equal(SERVER, server_of(calls_of("revert")[1]))
    end)

    it("trains through the daemon too", function()
      setup({ prefs = { train_name = "mine" } })
      local summary = plugin.train_from_images({ stub.image(dt, 1, env.photos, "a.png", { altered = true }) })
      assert.are.equal("finished", summary.state)
      assert.are.equal(1, #calls_of("serve"))
      assert.are.equal(SERVER, server_of(calls_of("train")[1]))
    end)

    it("trains a virtual copy through the daemon on the copy's sidecar, its folder among the daemon's roots", function()
      setup({ prefs = { train_name = "mine" } })
      local a = stub.image(dt, 1, env.photos, "a.png", { altered = true })
      local a1 = stub.image(dt, 2, env.photos, "a.png", { duplicate_index = 1, altered = true })
      local summary = plugin.train_from_images({ a1 })
      assert.are.equal("finished", summary.state)
      assert.are.same({ env.photos }, roots_of(calls_of("serve")[1]))
      local args = calls_of("train")[1]
      assert.are.equal(SERVER, server_of(args))
      assert.are.same({ "--darktable", env.photos .. "/a_01.png.xmp" }, { args[#args - 1], args[#args] })
      assert.are.equal(a.path, a1.path)
    end)

    it("is started by 'check autoretouch and its styles', whose answer is the daemon's first", function()
      setup({ films = { env.photos } })
      local result = plugin.check_autoretouch()
      assert.is_true(result.ok)
      assert.truthy(result.message:find("autoretouch ready (daemon started by the plug-in at " .. SERVER
        .. ", autoretouch 0.test): 2 styles: default, warm", 1, true))
      assert.are.same({ env.photos }, roots_of(calls_of("serve")[1]))
      local styles = calls_of("styles")
      assert.are.equal(SERVER, server_of(styles[#styles])) -- no extra listing after the answer
      plugin.check_autoretouch()
      assert.are.equal(#styles + 1, #calls_of("styles"))
      assert.are.equal(1, #calls_of("serve"))
    end)
  end)

  describe("falling back to the command line", function()
    it("runs the batch without --server while the daemon does not answer, naming its log, and keeps waiting",
      function()
        setup()
        env.scenario('{"serve": {"mode": "silent"}}')
        timing.start_wait_s = 1
        local images = stub.images(dt, 9, env.photos)
        local summary = plugin.apply_to_images(images)
        assert.are.equal(9, summary.written) -- the batch is not failed
        assert.are.equal(1, #calls_of("serve")) -- not tried again for the run's second batch
        for _i, argv in ipairs(calls_of("apply")) do
          assert.is_nil(server_of(argv))
        end
        local log_path = cache .. "/autoretouch-daemon.log"
        assert.truthy(find(dt._log.prints, "the autoretouch daemon gave no answer within 1 seconds (its output is in "
          .. log_path .. "): the command line is used until it answers"))
        local pid = daemon().pid
        assert.is_true(daemon().pending and alive(pid)) -- still ours: maybe it is only slow
        -- the next action asks it once, still uses the command line, and starts no second daemon
        local styles = #calls_of("styles")
        assert.are.equal(1, plugin.apply_to_images({ image(10, env.photos, "q.png") }).written)
        assert.are.equal(styles + 1, #calls_of("styles"))
        assert.are.equal(1, #calls_of("serve"))
        assert.is_nil(server_of(calls_of("apply")[3]))
        assert.truthy(find(dt._log.prints, "the autoretouch daemon is still starting (its output is in " .. log_path))
        quit_darktable()
        os.execute("sleep 0.2")
        assert.is_false(alive(pid))
      end)

    it("uses a slow daemon from the first batch after it answered", function()
      setup()
      env.scenario('{"serve": {"delay": 1.5}}')
      timing.start_wait_s = 0
      assert.are.equal(1, plugin.apply_to_images({ image(1, env.photos, "a.png") }).written)
      assert.is_nil(server_of(calls_of("apply")[1]))
      os.execute("sleep 1.6")
      assert.are.equal(1, plugin.apply_to_images({ image(2, env.photos, "b.png") }).written)
      assert.are.equal(SERVER, server_of(calls_of("apply")[2]))
      assert.are.equal(1, #calls_of("serve"))
      assert.is_nil(daemon().pending)
    end)

    it("falls back at once when the daemon exits (e.g. its port is taken), and tries again at the next action",
      function()
        setup()
        env.scenario('{"serve": {"mode": "exit"}}')
        local t0 = os.time()
        assert.are.equal(1, plugin.apply_to_images({ image(1, env.photos, "a.png") }).written)
        assert.is_true(os.time() - t0 < 4)
        assert.is_nil(server_of(calls_of("apply")[1]))
        assert.truthy(find(dt._log.prints, "the autoretouch daemon did not start (it exited; its output is in"))
        env.scenario("{}")
        assert.are.equal(1, plugin.apply_to_images({ image(2, env.photos, "b.png") }).written)
        assert.are.equal(2, #calls_of("serve"))
        assert.are.equal(SERVER, server_of(calls_of("apply")[2]))
      end)

    it("starts no daemon without darktable's cache folder (no log in a shared temporary folder)", function()
      for _i, missing in ipairs({ false, env.dir .. "/no such cache" }) do
        setup()
        dt.configuration.cache_dir = missing or nil
        dt.configuration.tmp_dir = env.dir -- never used for the log either
        local summary = plugin.apply_to_images({ image(1, env.photos, "a.png") })
        assert.are.equal(1, summary.written)
        assert.are.equal(0, #calls_of("serve"))
        assert.is_nil(server_of(calls_of("apply")[#calls_of("apply")]))
        assert.truthy(find(dt._log.prints, "autoretouch starts no daemon: darktable's cache folder"))
        assert.is_nil(stub.read_file(env.dir .. "/autoretouch-daemon.log"))
      end
    end)

    it("lists the command line's styles in the check when the daemon does not start, saying why", function()
      setup()
      env.scenario('{"serve": {"mode": "exit"}}')
      local result = plugin.check_autoretouch()
      assert.is_true(result.ok)
      assert.truthy(result.message:find("autoretouch ready (command line): 2 styles", 1, true))
      assert.truthy(result.message:find("\nthe autoretouch daemon did not start (it exited; its output is in "
        .. cache .. "/autoretouch-daemon.log)", 1, true))
      assert.are.same({ "styles", "--json" }, calls_of("styles")[#calls_of("styles")])
    end)

    it("runs a batch whose style the daemon has not loaded on the command line, then restarts the daemon",
      function()
        setup({ prefs = { style = "fresh" }, films = { env.photos } })
        plugin.check_autoretouch() -- the daemon loads the styles there are: default, warm
        env.scenario('{"serve": {"styles": ["default", "warm", "fresh"]}}') -- "fresh" installed since
        assert.are.equal(1, plugin.apply_to_images({ image(1, env.photos, "a.png") }).written)
        local applies = calls_of("apply")
        assert.are.equal(2, #applies)
        assert.are.equal(SERVER, server_of(applies[1])) -- refused: exit status 6, nothing written
        assert.is_nil(server_of(applies[2])) -- the command line finds the style
        assert.truthy(find(dt._log.logs, "refused the batch (a style it has not loaded): the command line runs it"))
        assert.is_true(daemon().stale)
        assert.are.equal(1, plugin.apply_to_images({ image(2, env.photos, "b.png") }).written)
        assert.are.equal(2, #calls_of("serve"))
        assert.truthy(find(dt._log.logs, "restarting the daemon at " .. SERVER .. " to load the styles installed"))
        assert.are.equal(SERVER, server_of(calls_of("apply")[3]))
        assert.are.equal(3, #calls_of("apply"))
      end)

    it("leaves a style given as a file to the command line (a daemon takes installed style names)", function()
      setup({ prefs = { style = env.dir .. "/mine.safetensors" } })
      plugin.apply_to_images({ image(1, env.photos, "a.png") })
      assert.are.equal(0, #calls_of("serve"))
      assert.is_nil(server_of(calls_of("apply")[1]))
    end)

    it("does not start one when an address is set, when the preference is off, or on Windows", function()
      setup({ prefs = { server = "localhost:50051" } })
      plugin.apply_to_images({ image(1, env.photos, "a.png") })
      assert.are.equal("localhost:50051", server_of(calls_of("apply")[1]))
      setup({ prefs = { start_daemon = false } })
      plugin.apply_to_images({ image(2, env.photos, "b.png") })
      assert.is_nil(server_of(calls_of("apply")[2]))
      setup({ running_os = "windows" })
      assert.truthy(plugin.check_autoretouch().message:find("(command line)", 1, true))
      assert.are.equal(0, #calls_of("serve"))
      assert.is_nil(dt._log.events["autoretouch_exit"])
    end)
  end)

  describe("a daemon already answering on the port", function()
    it("is used, never started again and never stopped: it was not started here", function()
      setup()
      local pid = foreign_process(env.dir)
      stub.write_file(env.bin .. "/daemon-" .. PORT .. ".json", '{"pid": ' .. pid .. ', "roots": null}')
      assert.are.equal(1, plugin.apply_to_images({ image(1, env.photos, "a.png") }).written)
      assert.are.equal(0, #calls_of("serve"))
      assert.are.equal(SERVER, server_of(calls_of("apply")[1]))
      assert.truthy(find(dt._log.logs, "using the daemon already answering at " .. SERVER))
      assert.is_false(daemon().own)
      plugin.destroy() -- script manager's stop, like quitting: leaves it running
      assert.is_true(alive(pid))
      os.execute("kill " .. pid)
    end)

    it("hands a batch it refuses as outside its folders to the command line", function()
      setup()
      stub.write_file(env.bin .. "/daemon-" .. PORT .. ".json", '{"pid": null, "roots": ["/elsewhere"]}')
      local summary = plugin.apply_to_images({ image(1, env.photos, "a.png") })
      assert.are.equal(1, summary.written)
      local applies = calls_of("apply")
      assert.are.equal(2, #applies)
      assert.are.equal(SERVER, server_of(applies[1])) -- refused (exit status 7, nothing written)
      assert.is_nil(server_of(applies[2]))
      assert.truthy(find(dt._log.logs, "the daemon at " .. SERVER .. " refused the batch (outside its folders)"))
    end)
  end)

  describe("a new folder", function()
    it("restarts the plug-in's own daemon with the larger set of folders", function()
      local first, second = folder("first"), folder("second")
      setup({ films = { first } })
      plugin.apply_to_images({ image(1, first, "a.png") })
      local old_pid = daemon().pid
      assert.are.same({ first }, daemon().roots)
      local summary = plugin.apply_to_images({ image(2, second, "b.png") })
      assert.are.equal(1, summary.written)
      local serves = calls_of("serve")
      assert.are.equal(2, #serves)
      assert.are.same({ first, second }, roots_of(serves[2]))
      assert.is_false(alive(old_pid))
      assert.is_true(alive(daemon().pid))
      assert.are.equal(SERVER, server_of(calls_of("apply")[2]))
      assert.truthy(find(dt._log.logs, "restarting the daemon at " .. SERVER .. " to add the folder " .. second))
      -- a folder it already reaches (inside a root): no restart
      plugin.apply_to_images({ image(3, folder("first/deeper"), "c.png") })
      assert.are.equal(2, #calls_of("serve"))
    end)

    it("starts it again when its process has ended", function()
      setup()
      plugin.apply_to_images({ image(1, env.photos, "a.png") })
      local old_pid = daemon().pid
      os.execute("kill " .. old_pid .. "; sleep 0.2")
      assert.are.equal(1, plugin.apply_to_images({ image(2, env.photos, "b.png") }).written)
      assert.are.equal(2, #calls_of("serve"))
      assert.truthy(find(dt._log.logs, "the daemon started at " .. SERVER .. " (process " .. old_pid
        .. ") is no longer running"))
      assert.are.equal(SERVER, server_of(calls_of("apply")[2]))
    end)

    it("starts a new daemon when the port preference changes, stopping the old one", function()
      setup()
      plugin.apply_to_images({ image(1, env.photos, "a.png") })
      local old_pid = daemon().pid
      plugin.apply_to_images({ image(2, env.photos, "b.png") }, { daemon_port = 50152 })
      assert.is_false(alive(old_pid))
      assert.are.equal("127.0.0.1:50152", server_of(calls_of("apply")[2]))
    end)
  end)

  it("a check while a run is going on only asks the daemon in use: never stops or restarts it", function()
    setup()
    plugin.check_autoretouch()
    local pid = daemon().pid
    plugin.internals.state.running = true -- e.g. the check button pressed while auto-retouch runs
    daemon().stale = true -- would restart it (new styles) outside a run
    local result = plugin.check_autoretouch({ daemon_port = 50152 }) -- would stop it (another port) outside a run
    assert.is_true(result.ok)
    assert.truthy(result.message:find("daemon started by the plug-in at " .. SERVER, 1, true))
    assert.is_true(alive(pid))
    assert.are.equal(pid, daemon().pid)
    assert.are.equal(1, #calls_of("serve"))
    local styles = calls_of("styles")
    assert.are.equal(SERVER, server_of(styles[#styles]))
    plugin.internals.state.running = false
  end)

  describe("stopping", function()
    it("stops its own daemon when darktable quits (the 'exit' event), and restarts on the next use", function()
      setup()
      assert.is_nil(dt._log.events["autoretouch_exit"]) -- registered with the first start
      plugin.check_autoretouch()
      local pid = daemon().pid
      assert.are.equal("exit", dt._log.events["autoretouch_exit"].kind)
      assert.is_true(alive(pid))
      quit_darktable()
      os.execute("sleep 0.2")
      assert.is_false(alive(pid))
      assert.is_nil(daemon())
      assert.truthy(find(dt._log.logs, "stopped the daemon it started (process " .. pid .. ")"))
      plugin.check_autoretouch()
      assert.are.equal(2, #calls_of("serve"))
    end)

    it("never kills a process it did not start, nor a recycled process id", function()
      setup()
      local pid = foreign_process(env.dir)
      plugin.internals.state.daemon = { server = SERVER, port = PORT, own = false }
      plugin.internals.stop_own_daemon() -- what the exit event does
      -- our daemon's process id, now used by another program (not `autoretouch serve --port=PORT`)
      plugin.internals.state.daemon = { server = SERVER, port = PORT, own = true, pid = pid, roots = {} }
      plugin.internals.stop_own_daemon()
      os.execute("sleep 0.2")
      assert.is_true(alive(pid))
      os.execute("kill " .. pid)
    end)

    it("stops its daemon and removes the exit event on destroy (script manager's stop)", function()
      setup()
      plugin.check_autoretouch()
      local pid = daemon().pid
      plugin.destroy()
      os.execute("sleep 0.2")
      assert.is_false(alive(pid))
      local removed = false
      for _i, e in ipairs(dt._log.destroyed_events) do
        removed = removed or (e.name == "autoretouch_exit" and e.kind == "exit")
      end
      assert.is_true(removed)
      assert.is_nil(dt._log.events["autoretouch_exit"])
    end)
  end)
end)
