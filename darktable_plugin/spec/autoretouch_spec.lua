-- autoretouch.lua against a stubbed darktable: registration, selection handling, the commands it runs,
-- failure paths, cancel and destroy. The CLI is a fake (spec/helpers/fake_autoretouch.py) run through the
-- real shell, in folders whose names need quoting.

local recorded = require("helpers.recorded")
local load = require("helpers.load")
local stub = require("helpers.stub_darktable")

local find, count, argv_after_dashes = recorded.match, recorded.count, recorded.after_dashes

describe("loading", function()
  it("registers the action, the shortcut and the preferences", function()
    local dt = select(2, load.plugin())
    local action = dt._log.actions["autoretouch_apply"]
    assert.is_table(action)
    assert.are.equal("auto-retouch (learned style)", action.label)
    assert.is_function(action.callback)
    assert.truthy(action.tooltip:find("existing history is kept", 1, true))
    local revert = dt._log.actions["autoretouch_revert"]
    assert.are.equal("revert auto-retouch", revert.label)
    assert.truthy(revert.tooltip:find("the rest of the history stays", 1, true))
    assert.are.equal("check autoretouch and its styles", dt._log.actions["autoretouch_check"].label)
    local event = dt._log.events["autoretouch_shortcut"]
    assert.are.equal("shortcut", event.kind)
    assert.are.equal("auto-retouch (learned style)", event.label)
    local kinds = {}
    for _i, p in ipairs(dt._log.prefs) do
      assert.are.equal("autoretouch", p.script)
      kinds[p.name] = p.kind
      if p.name == "strength" then
        assert.are.same({ 0.0, 1.0, 0.05 }, p.extra)
        assert.are.equal(1.0, p.default)
      end
    end
    assert.are.same({ cli_path = "string", style = "string", strength = "float", server = "string",
      start_daemon = "bool", daemon_port = "integer", recipe = "string", train_name = "string",
      train_minutes = "float", mix = "string", preview_images = "integer", preview_variants = "integer",
      preview_seed = "integer" }, kinds)
  end)

  it("refuses an API older than 9.0.0 with a message, registering nothing", function()
    load.unload()
    local dt = stub.new({ api = "8.1.0" })
    package.loaded["darktable"] = dt
    local ok, err = pcall(require, "autoretouch")
    assert.is_false(ok)
    assert.truthy(tostring(err):find("Lua API 9.0.0", 1, true))
    assert.truthy(find(dt._log.errors, "8%.1%.0"))
    assert.is_nil(next(dt._log.actions))
    assert.is_nil(next(dt._log.events))
  end)

  it("accepts newer APIs", function()
    local plugin = load.plugin({ api = "9.3.0" })
    assert.is_function(plugin.apply_to_images)
    assert.is_true(plugin.internals.version_at_least("10.0.0", "9.0.0"))
    assert.is_true(plugin.internals.version_at_least("9.0.0", "9.0.0"))
    assert.is_false(plugin.internals.version_at_least("9.0", "9.0.1"))
    assert.is_false(plugin.internals.version_at_least("8.99.99", "9.0.0"))
  end)

  it("defines no globals", function()
    local before = {}
    for k in pairs(_G) do
      before[k] = true
    end
    load.plugin()
    for k in pairs(_G) do
      assert.is_true(before[k], "new global " .. tostring(k))
    end
  end)

  it("registers nothing without a GUI but can still be called", function()
    local plugin, dt = load.plugin({ has_gui = false })
    assert.is_nil(next(dt._log.actions))
    assert.is_nil(next(dt._log.events))
    assert.is_function(plugin.apply_to_images)
  end)

  it("returns lua-scripts' script_data: metadata, destroy, restart", function()
    local plugin = load.plugin()
    assert.are.equal("autoretouch", plugin.metadata.name)
    assert.is_string(plugin.metadata.purpose)
    assert.is_function(plugin.destroy)
    assert.is_function(plugin.restart)
  end)
end)

describe("destroy", function()
  it("removes the action and the shortcut; restart brings them back", function()
    local plugin, dt = load.plugin()
    plugin.destroy()
    assert.are.same({ "autoretouch_apply", "autoretouch_preview", "autoretouch_apply_chosen_preview",
      "autoretouch_discard_previews", "autoretouch_revert", "autoretouch_train", "autoretouch_check" },
      dt._log.destroyed_actions)
    assert.are.same({ { name = "autoretouch_shortcut", kind = "shortcut" } }, dt._log.destroyed_events)
    assert.is_nil(dt._log.actions["autoretouch_apply"])
    assert.is_nil(dt._log.actions["autoretouch_revert"])
    plugin.destroy() -- twice: nothing more to undo
    assert.are.equal(7, #dt._log.destroyed_actions)
    plugin.restart()
    assert.is_table(dt._log.actions["autoretouch_apply"])
    assert.is_table(dt._log.actions["autoretouch_revert"])
    assert.is_table(dt._log.events["autoretouch_shortcut"])
    plugin.restart() -- already registered: the stub would fail on a second registration
  end)
end)

describe("running", function()
  local env, plugin, dt, J

  local function setup(opts)
    env = load.env()
    opts = opts or {}
    opts.cache_dir = opts.cache_dir or env.dir -- darktable's cache folder (training's run folders)
    plugin, dt, J = load.plugin_with_cli(env, opts) -- the per-batch command line (daemon_spec.lua: the daemon)
  end

  local function image(id, name, opts)
    return stub.image(dt, id, env.photos, name, opts)
  end

  local function calls()
    return env.calls(J)
  end

  local function calls_of(command)
    return env.calls_of(command, J)
  end

  --- The fake CLI's next answer to `command`: `actions` (image -> action) for those images, the default for the
  --- others, and `settings` (reason, exit, ...).
  local function per_photo(command, actions, settings)
    settings = settings or {}
    settings.per_photo = {}
    for img, action in pairs(actions) do
      settings.per_photo[img.path .. "/" .. img.filename] = action
    end
    env.scenario(plugin.internals.json_encode({ [command] = settings }))
  end

  --- apply_to_images on two new images, the files `first` and `second`, the fake CLI answering `action` (with
  --- `settings`) for the first and its default for the second. Returns the summary and the two images.
  local function apply_pair(first, second, action, settings)
    setup()
    local a, b = image(1, first), image(2, second)
    per_photo("apply", { [a] = action }, settings)
    return plugin.apply_to_images({ a, b }), a, b
  end

  --- apply_to_images on new images of the files `names` (default { "a.png" }), the fake CLI answering as the JSON
  --- `scenario` says. Returns the summary.
  local function apply_answering(scenario, names)
    setup()
    env.scenario(scenario)
    local images = {}
    for i, name in ipairs(names or { "a.png" }) do
      images[i] = image(i, name)
    end
    return plugin.apply_to_images(images)
  end

  after_each(function()
    if env then
      env.cleanup()
    end
  end)

  describe("selection handling", function()
    it("says so when nothing is selected and runs nothing", function()
      setup()
      dt._log.actions["autoretouch_apply"].callback("autoretouch_apply", {})
      assert.are.equal("auto-retouch: no image selected", dt._log.prints[1])
      assert.are.equal(0, #dt._log.commands)
    end)

    it("retouches every selected image: one apply call for the batch, reload of each", function()
      setup()
      local a = image(1, "a b.png")
      local b = image(2, "it's \"b\"\n$x.jpg", { altered = true })
      dt._log.actions["autoretouch_apply"].callback("autoretouch_apply", { a, b })
      assert.are.equal(1, #calls())
      local applies = calls_of("apply")
      assert.are.equal(1, #applies)
      assert.are.same({ env.photos .. "/a b.png", env.photos .. "/it's \"b\"\n$x.jpg" },
        argv_after_dashes(applies[1].argv))
      assert.are.same({ env.photos .. "/a b.png", env.photos .. "/it's \"b\"\n$x.jpg" }, dt._log.imports)
      assert.are.equal(1, a.dropped)
      assert.are.equal("auto-retouch: 2 retouched, 0 skipped, 0 failed", dt._log.prints[#dt._log.prints])
    end)

    it("acts on dt.gui.action_images from the shortcut", function()
      setup()
      local a = image(1, "a.png")
      dt.gui.action_images = { a }
      dt._log.events["autoretouch_shortcut"].callback("shortcut", "auto-retouch (learned style)")
      assert.are.equal(1, #calls_of("apply"))
      assert.are.same({ a.path .. "/a.png" }, dt._log.imports)
    end)

    it("refuses in the darkroom, where darktable holds the history in memory", function()
      setup({ view = "darkroom" })
      dt._log.events["autoretouch_shortcut"].callback("shortcut", "x")
      dt.gui.action_images = { image(1, "a.png") }
      dt._log.events["autoretouch_shortcut"].callback("shortcut", "x")
      assert.truthy(find(dt._log.prints, "leave the darkroom"))
      assert.are.equal(0, #dt._log.commands)
    end)

    it("sends photos to apply in batches of 8", function()
      setup()
      local images = stub.images(dt, 9, env.photos)
      local summary = plugin.apply_to_images(images)
      local applies = calls_of("apply")
      assert.are.equal(2, #applies)
      assert.are.equal(8, #argv_after_dashes(applies[1].argv))
      assert.are.equal(1, #argv_after_dashes(applies[2].argv))
      assert.are.equal(9, summary.written)
      assert.are.equal(9, #dt._log.imports)
      local job = dt._log.jobs[1]
      assert.are.equal("auto-retouch", job.label)
      assert.is_true(job.percent_shown)
      assert.are.equal(9, #job.history)
      assert.are.equal(1.0, job.history[9])
      assert.is_false(job.valid) -- finished
    end)

    it("skips missing files and a sidecar darktable keeps elsewhere without calling the CLI for them", function()
      setup()
      local gone = image(1, "gone.png", { create_file = false })
      local odd = image(2, "odd.png", { duplicate_index = 1 })
      odd.sidecar = odd.path .. "/elsewhere.xmp"
      local ok = image(3, "ok.png")
      local summary = plugin.apply_to_images({ gone, odd, ok })
      assert.are.equal(1, summary.written)
      assert.are.equal(2, summary.skipped)
      assert.truthy(summary.details[1].reason:find("missing", 1, true))
      assert.truthy(summary.details[2].reason:find("elsewhere.xmp', not where darktable 4.2 names it ("
        .. odd.path .. "/odd_01.png.xmp)", 1, true))
      assert.are.equal(1, #calls())
      assert.are.same({ ok.path .. "/ok.png" }, argv_after_dashes(calls_of("apply")[1].argv))
      assert.truthy(find(dt._log.prints, "1 retouched, 2 skipped, 0 failed"))
    end)
  end)

  describe("virtual copies", function()
    --- The items of `list` from position `from` on.
    local function tail(list, from)
      local out = {}
      for i = from, #list do
        out[#out + 1] = list[i]
      end
      return out
    end

    it("applies to the user's copies with --duplicate: one call per duplicate index, each copy reloaded", function()
      setup()
      local a = image(1, "a.png", { altered = true })
      local a1 = image(2, "a.png", { duplicate_index = 1, altered = true })
      local b1 = image(3, "b.png", { duplicate_index = 1 })
      local a2 = image(4, "a.png", { duplicate_index = 2 })
      image(5, "b.png") -- b1's original, not selected
      local summary = plugin.apply_to_images({ a1, a, a2, b1 })
      assert.are.equal(4, summary.written)
      local applies = calls_of("apply")
      assert.are.equal(3, #applies)
      local dir = a.path
      assert.are.same({ "apply", "--host=darktable", "--json", "--overwrite", "--strength=1", "--style=default", "--",
        dir .. "/a.png" }, applies[1].argv)
      assert.are.same({ "apply", "--host=darktable", "--json", "--overwrite", "--strength=1", "--style=default",
        "--duplicate=1", "--", dir .. "/a.png", dir .. "/b.png" }, applies[2].argv)
      assert.are.same({ "--duplicate=2", "--", dir .. "/a.png" }, tail(applies[3].argv, 7))
      -- darktable 4.2 re-reads a copy's sidecar when the original's file is imported again
      assert.are.same({ dir .. "/a.png", dir .. "/a.png", dir .. "/b.png", dir .. "/a.png" }, dt._log.imports)
      assert.are.same({ 1, 1, 1, 1 }, { a.dropped, a1.dropped, b1.dropped, a2.dropped })
      assert.truthy(find(dt._log.prints, "4 retouched, 0 skipped, 0 failed"))
    end)

    it("reverts a copy's own sidecar with --duplicate", function()
      setup()
      image(2, "a.png") -- the original
      local a1 = image(1, "a.png", { duplicate_index = 1, altered = true })
      local summary = plugin.revert_images({ a1 })
      assert.are.equal(1, summary.written)
      assert.are.same({ "revert", "--host=darktable", "--json", "--duplicate=1", "--", a1.path .. "/a.png" },
        calls_of("revert")[1].argv)
      assert.are.same({ a1.path .. "/a.png" }, dt._log.imports)
    end)

    it("names a copy in messages and the log as FILE (version N), apart from its original", function()
      setup({ darktable_prefs = { write_sidecar_files = "after edit" } }) -- an unedited original has no sidecar
      image(1, "a.png")
      local a1 = image(2, "a.png", { duplicate_index = 1, altered = true })
      a1.write_sidecar()
      local summary = plugin.apply_to_images({ a1 })
      local name = a1.path .. "/a.png (version 1)"
      assert.are.equal(a1.path .. "/a.png", summary.details[1].photo) -- the file, as before
      assert.are.equal(name, summary.details[1].name)
      assert.truthy(dt._log.prints[#dt._log.prints]:find("\n" .. name .. ": the original image of this virtual copy "
        .. "has no sidecar", 1, true))
      assert.truthy(recorded.find(dt._log.logs, "autoretouch: skipped " .. name .. ": "))
      -- a note on a copy it wrote, and on the original (named as before)
      local a = image(3, "b.png")
      local b1 = image(4, "b.png", { duplicate_index = 1, altered = true })
      b1.write_sidecar()
      a.write_sidecar()
      env.scenario('{"apply": {"warnings": ["overrides your exposure"]}}')
      summary = plugin.apply_to_images({ b1, a })
      assert.are.equal(2, summary.written)
      local text = dt._log.prints[#dt._log.prints]
      assert.truthy(text:find("\nnote, " .. a.path .. "/b.png: overrides your exposure\nnote, " .. b1.path
        .. "/b.png (version 1): overrides your exposure", 1, true), text) -- the originals' batch runs first
      assert.truthy(recorded.find(dt._log.logs, "autoretouch: note " .. b1.path .. "/b.png (version 1): overrides"))
    end)

    it("does not reload a copy when the CLI wrote another sidecar (one without --duplicate)", function()
      setup()
      env.scenario('{"apply": {"ignore_duplicate": true}}')
      image(2, "a.png") -- the original
      local a1 = image(1, "a.png", { duplicate_index = 1 })
      local summary = plugin.apply_to_images({ a1 })
      assert.are.equal(1, summary.failed)
      assert.truthy(summary.details[1].reason:find("wrote '" .. a1.path .. "/a.png.xmp', not this image's sidecar '"
        .. a1.path .. "/a_01.png.xmp'", 1, true))
      assert.are.same({}, dt._log.imports)
    end)

    it("leaves images alone when darktable writes no sidecars: importing the file would restore older ones",
      function()
        setup({ darktable_prefs = { write_sidecar_files = "never" } })
        local a = image(1, "a.png")
        local a1 = image(2, "a.png", { duplicate_index = 1 })
        local summary = plugin.apply_to_images({ a1, a })
        assert.are.equal(0, summary.written)
        assert.are.equal(2, summary.skipped)
        for i = 1, 2 do
          assert.truthy(summary.details[i].reason:find("darktable writes no sidecars here", 1, true))
        end
        summary = plugin.revert_images({ a1, a })
        assert.are.equal(2, summary.skipped)
        assert.are.equal(0, #calls())
      end)

    it("leaves a copy alone whose original is not in the library: the import would make the copy the original",
      function()
        setup()
        local a = image(1, "a.png", { altered = true })
        local a1 = image(2, "a.png", { duplicate_index = 1, altered = true })
        local b1 = image(3, "b.png", { duplicate_index = 2 })
        a:delete() -- removed from darktable's library; a.png and its sidecar are still on disk
        local summary = plugin.apply_to_images({ a1, b1 })
        assert.are.equal(0, summary.written)
        assert.are.equal(2, summary.skipped)
        for i = 1, 2 do
          assert.truthy(summary.details[i].reason:find("the original image of this virtual copy is not in darktable's "
            .. "library", 1, true))
        end
        summary = plugin.revert_images({ a1 })
        assert.are.equal(1, summary.skipped)
        assert.are.equal(0, #calls())
        assert.are.same({}, dt._log.imports)
        image(4, "a.png") -- with an original in the library, the copy is applied to
        assert.are.equal(1, plugin.apply_to_images({ a1 }).written)
      end)

    it("leaves a copy alone whose original has no sidecar: the import would give the original the copy's", function()
      setup({ darktable_prefs = { write_sidecar_files = "after edit" } }) -- an unedited original has no sidecar
      local a = image(1, "a.png")
      local a1 = image(2, "a.png", { duplicate_index = 1, altered = true })
      a1.write_sidecar()
      local summary = plugin.apply_to_images({ a1 })
      assert.are.equal(1, summary.skipped)
      assert.truthy(summary.details[1].reason:find("the original image of this virtual copy has no sidecar ("
        .. a.sidecar .. ";", 1, true))
      assert.are.equal(0, #calls())
      assert.are.same({}, dt._log.imports)
      a.write_sidecar() -- the original edited: darktable wrote its sidecar
      assert.are.equal(1, plugin.apply_to_images({ a1 }).written)
    end)

    it("trains a selected copy on its own sidecar (written first), the original on its photo", function()
      local synced_before_train
      setup({ before_execute = function(cmd)
        if cmd:find("'train'", 1, true) then
          synced_before_train = #dt._log.deleted_tags
        end
      end })
      local a = image(1, "a.png", { altered = true })
      local a1 = image(2, "a.png", { duplicate_index = 1, altered = true })
      local a2 = image(3, "a.png", { duplicate_index = 2, altered = true })
      local summary = plugin.train_from_images({ a1, a, a2 })
      assert.are.equal(3, summary.used)
      assert.are.same({}, summary.skipped)
      assert.are.equal(a.path .. "/a_01.png.xmp", a1.sidecar)
      assert.are.same({ "--darktable", a1.sidecar, a.path .. "/a.png", a.path .. "/a_02.png.xmp" },
        tail(calls_of("train")[1].argv, 7))
      assert.are.equal(3, synced_before_train) -- darktable wrote each sidecar (the copies' own) before the call
      assert.are.equal("finished", summary.state)
    end)

    it("trains a copy alone, and names a copy it leaves out by its version number", function()
      setup()
      local a = image(1, "a.png")
      local a1 = image(2, "a.png", { duplicate_index = 1, altered = true })
      local a2 = image(3, "a.png", { duplicate_index = 2 }) -- no history
      local summary = plugin.train_from_images({ a2, a1 })
      assert.are.equal(1, summary.used)
      assert.are.same({ { photo = a.path .. "/a.png (version 2)", reason = "no darktable edit (empty history)" } },
        summary.skipped)
      assert.are.same({ "--darktable", a.path .. "/a_01.png.xmp" }, tail(calls_of("train")[1].argv, 7))
    end)

    it("names an autoretouch that refuses a copy's sidecar as too old to train on virtual copies", function()
      setup()
      env.scenario('{"train": {"no_copies": true}}')
      local a = image(1, "a.png", { altered = true })
      local a1 = image(2, "a.png", { duplicate_index = 1, altered = true })
      local summary = plugin.train_from_images({ a, a1 })
      assert.are.equal("failed", summary.state)
      assert.truthy(summary.message:find("too old to train on a virtual copy", 1, true))
      assert.truthy(summary.message:find("a_01.png.xmp: not a photo", 1, true))
      env.scenario('{"train": {"exit": 3}}') -- another failure with copies given is not named so
      local other = plugin.train_from_images({ a, a1 })
      assert.are.equal("failed", other.state)
      assert.falsy(other.message:find("too old", 1, true))
    end)
  end)

  describe("keeping the user's history", function()
    it("has darktable write every sidecar of the batch first, with temporary tags it then removes", function()
      local synced_before_apply
      setup({ before_execute = function(cmd)
        if cmd:find("'apply'", 1, true) then
          synced_before_apply = #dt._log.deleted_tags
        end
      end })
      local a = image(1, "a.png", { altered = true })
      local b = image(2, "b.png", { altered = true })
      plugin.apply_to_images({ a, b })
      assert.are.equal(2, synced_before_apply)
      assert.are.equal(2, #dt._log.tags)
      assert.truthy(dt._log.tags[1].name:find("^autoretouch|sync%-1%-"))
      assert.truthy(dt._log.tags[2].name:find("^autoretouch|sync%-2%-"))
      assert.are.same(dt._log.tags, dt._log.deleted_tags)
      assert.are.same({}, a.attached)
      assert.falsy(stub.read_file(a.sidecar):find("sync", 1, true))
    end)

    it("skips an edited image whose sidecar darktable does not write", function()
      setup()
      local edited = image(1, "edited.png", { altered = true, writes_sidecar = false })
      stub.write_file(edited.sidecar, "stale sidecar")
      local fresh = image(2, "fresh.png", { altered = false, writes_sidecar = false })
      local summary = plugin.apply_to_images({ edited, fresh })
      assert.are.equal("skipped", summary.details[1].action)
      assert.truthy(summary.details[1].reason:find("write sidecar file for each image", 1, true))
      assert.are.equal("stale sidecar", stub.read_file(edited.sidecar))
      assert.are.equal("written", summary.details[2].action) -- no history in darktable: nothing to lose
      local applies = calls_of("apply")
      assert.are.equal(1, #applies)
      assert.are.same({ fresh.path .. "/fresh.png" }, argv_after_dashes(applies[1].argv))
      assert.are.same({ fresh.path .. "/fresh.png" }, dt._log.imports)
    end)

    it("reloads only images whose sidecar was written", function()
      local summary, _a, b = apply_pair("a.png", "b.png", "skipped", { reason = "already has autoretouch entries" })
      assert.are.equal(1, summary.skipped)
      assert.are.equal(1, summary.written)
      assert.are.equal("skipped", summary.details[1].action)
      assert.are.same({ b.path .. "/b.png" }, dt._log.imports)
      assert.truthy(find(dt._log.prints, "already has autoretouch entries"))
    end)

    it("logs the CLI's warnings, e.g. a stale record dropped after a history reset", function()
      local summary = apply_answering(
        '{"apply": {"warnings": ["dropped the autoretouch record of 2024-01-01T00:00:00Z"]}}'
      )
      assert.are.equal(1, summary.written)
      assert.are.same({ "dropped the autoretouch record of 2024-01-01T00:00:00Z" }, summary.details[1].warnings)
      assert.truthy(find(dt._log.logs, "^autoretouch: note .*a%.png: dropped the autoretouch record"))
    end)

    it("shows what autoretouch noted for the images it changed in the message, e.g. the user's modules overridden",
      function()
        setup()
        local over = "overrides the user's exposure (instance 0)"
        local order = "the user's iop order is V30 (2): on this non-raw file exposure runs before colorin"
        env.scenario('{"apply": {"warnings": ["' .. over .. '", "' .. order .. '"]}}')
        local a, b = image(1, "a.png"), image(2, "b.png")
        plugin.apply_to_images({ a, b })
        assert.are.equal("auto-retouch: 2 retouched, 0 skipped, 0 failed"
          .. "\nnote, " .. a.path .. "/a.png: " .. over
          .. "\nnote, " .. a.path .. "/a.png: " .. order
          .. "\nnote, " .. b.path .. "/b.png: " .. over
          .. "\n1 more notes in darktable's Lua log (start darktable with -d lua to see it)",
          dt._log.prints[#dt._log.prints])
        env.scenario('{"revert": {"warnings": ["brought back your exposure (instance 0)"], "per_photo": {"'
          .. b.path:gsub('"', '\\"') .. '/b.png": "skipped"}, "reason": "no autoretouch settings"}}')
        plugin.revert_images({ a, b })
        assert.are.equal("revert auto-retouch: 1 reverted, 1 skipped, 0 failed\n" .. b.path .. "/b.png: no autoretouch "
          .. "settings\nnote, " .. a.path .. "/a.png: brought back your exposure (instance 0)",
          dt._log.prints[#dt._log.prints]) -- the notes of images not changed are in the Lua log only
      end)
  end)

  describe("commands", function()
    it("passes style, strength and daemon address to one apply call", function()
      setup({ prefs = { style = "my style's \"x\" $HOME `id`", strength = 0.6, server = "localhost:50051" } })
      local a, b = image(1, "a.png"), image(2, "b.png")
      plugin.apply_to_images({ a, b })
      assert.are.equal(1, #calls())
      assert.are.same({ "apply", "--host=darktable", "--json", "--overwrite", "--strength=0.6",
        "--style=my style's \"x\" $HOME `id`", "--server=localhost:50051", "--", a.path .. "/a.png",
        b.path .. "/b.png" }, calls()[1].argv)
    end)

    it("reverts: one revert call per batch, after darktable wrote the sidecars, then reloads them", function()
      setup({ prefs = { server = "localhost:50051" } })
      local a, b = image(1, "a.png", { altered = true }), image(2, "b.png")
      dt._log.actions["autoretouch_revert"].callback("autoretouch_revert", { a, b })
      local reverts = calls_of("revert")
      assert.are.equal(1, #reverts)
      assert.are.equal(0, #calls_of("apply"))
      assert.are.same({ "revert", "--host=darktable", "--json", "--server=localhost:50051", "--",
        a.path .. "/a.png", b.path .. "/b.png" }, reverts[1].argv)
      assert.are.same({ a.path .. "/a.png", b.path .. "/b.png" }, dt._log.imports)
      assert.are.equal("revert auto-retouch: 2 reverted, 0 skipped, 0 failed", dt._log.prints[#dt._log.prints])
    end)

    it("resets an image whose sidecar apply deleted (strength 0 took out an edit autoretouch had created)", function()
      local summary, a, b = apply_pair("a.png", "b.png", "deleted",
        { reason = "took out the earlier autoretouch edit (strength 0); autoretouch created this sidecar" })
      assert.are.equal(1, a.resets)
      assert.is_nil(b.resets)
      assert.are.same({ 2, 0, 0 }, { summary.written, summary.skipped, summary.failed })
    end)

    it("resets an image whose sidecar autoretouch had created, and reports what revert skipped", function()
      setup()
      local a, b, c = image(1, "a.png"), image(2, "b.png"), image(3, "c.png")
      per_photo("revert", { [a] = "deleted", [c] = "skipped" }, { reason = "no autoretouch settings in this sidecar" })
      local summary = plugin.revert_images({ a, b, c })
      assert.are.equal(1, a.resets)
      assert.is_nil(b.resets)
      assert.are.same({ b.path .. "/b.png" }, dt._log.imports) -- a was reset, c left alone
      assert.are.same({ 2, 1, 0 }, { summary.written, summary.skipped, summary.failed })
      assert.truthy(dt._log.prints[#dt._log.prints]:find("c.png: no autoretouch settings in this sidecar", 1, true))
    end)

    it("training and auto-retouch list a film roll once per run, not once per selected image", function()
      setup({ prefs = { train_name = "my-look" } })
      local images = {}
      for i = 1, 40 do
        images[i] = image(i, "p" .. i .. ".png", { altered = true })
      end
      dt._film_reads = 0
      assert.are.equal(40, plugin.train_from_images(images).used)
      assert.are.equal(40, dt._film_reads)
      dt._film_reads = 0
      plugin.apply_to_images(images)
      assert.are.equal(40, dt._film_reads)
    end)

    it("trains a style from the selected images' darktable edits: one train call, edited images only", function()
      setup({ prefs = { train_name = "my-look", train_minutes = 7, server = "localhost:50051" } })
      local a, b = image(1, "a.png", { altered = true }), image(2, "b.png", { altered = true })
      local plain = image(3, "plain.png")
      local summary = plugin.train_from_images({ a, plain, b })
      local trains = calls_of("train")
      assert.are.equal(1, #trains)
      assert.are.same({ "train", "--style=my-look", "--minutes=7", "--json", "--quiet", "--server=localhost:50051",
        "--darktable", a.path .. "/a.png", b.path .. "/b.png" }, trains[1].argv)
      assert.are.equal("finished", summary.state)
      assert.are.equal(2, summary.used)
      assert.are.equal(plain.path .. "/plain.png", summary.skipped[1].photo)
      local shown = dt._log.prints[#dt._log.prints]
      assert.truthy(shown:find("train style: 'my-look' learnt from 2 images (3 steps) and is installed", 1, true))
      assert.truthy(shown:find("1 images left out, first: ", 1, true))
      assert.truthy(shown:find("no darktable edit", 1, true))
    end)

    it("shows the notes of the training (photos it left out, and why): the first ones, shortened; all in the log",
      function()
        setup({ prefs = { train_name = "my-look" } })
        local names = {}
        for i = 1, 12 do
          names[i] = string.format("IMG_%04d.CR2 (truncated file)", i)
        end
        local long = "12 photos edited in darktable could not be read, left out: " .. table.concat(names, "; ")
        local notes = { "1 duplicate photo edited in darktable left out: b.png (the same original and edit as a.png)",
          long, "1 photo edited in darktable could not be read, left out: x\\nforged.png (empty file)",
          "fourth note", "fifth note" }
        env.scenario('{"train": {"notes": ["' .. table.concat(notes, '", "') .. '"]}}')
        local summary = plugin.train_from_images({ image(1, "a.png", { altered = true }) })
        assert.are.equal("finished", summary.state)
        local shown = dt._log.prints[#dt._log.prints]
        local lines = {}
        for line in shown:gmatch("[^\n]+") do
          lines[#lines + 1] = line
        end
        -- the outcome, then the first three notes (one line each: a line break in a name is escaped), then how many
        -- more the Lua log has
        assert.are.equal("train style: 'my-look' learnt from 1 images (3 steps) and is installed", lines[1])
        assert.are.equal("note: " .. notes[1], lines[2])
        local cut = "note: 12 photos edited in darktable could not be read, left out: IMG_0001.CR2 (truncated file); "
          .. "IMG_0002.CR2 (truncated file); IMG_0003.CR2 (truncated file); IMG_0004.CR2 (truncated file); IMG_0005.CR2"
          .. " ... (the whole note is in darktable's Lua log)"
        assert.are.equal(cut, lines[3])
        assert.are.equal("note: 1 photo edited in darktable could not be read, left out: x\\nforged.png (empty file)",
          lines[4])
        assert.are.equal("2 more notes in darktable's Lua log (start darktable with -d lua to see it)", lines[5])
        assert.are.equal(5, #lines)
        assert.are.same({ notes[1], long, "1 photo edited in darktable could not be read, left out: x\\nforged.png "
          .. "(empty file)", "fourth note", "fifth note" }, summary.notes)
        for _i, note in ipairs(summary.notes) do -- each whole, in the Lua log
          assert.truthy(recorded.find(dt._log.logs, "autoretouch: note my-look: " .. note), note)
        end
        -- an autoretouch whose summary has no notes (older than train --json's notes): none shown
        env.scenario('{"train": {}}')
        summary = plugin.train_from_images({ image(2, "b.png", { altered = true }) })
        assert.are.same({}, summary.notes)
        assert.is_nil(dt._log.prints[#dt._log.prints]:find("\n", 1, true))
      end)

    it("cuts a long note on the note as autoretouch wrote it, never inside a UTF-8 character, then escapes it",
      function()
        setup({ prefs = { train_name = "my-look" } })
        local cut = " ... (the whole note is in darktable's Lua log)"
        local e, east, smile = "\195\169", "\230\157\177", "\240\159\152\128" -- é, 東, 😀
        -- byte 200 is the first byte of a character: cut before it (the one space is too early to cut after a word)
        local cases = {
          { "xy " .. e:rep(100), "xy " .. e:rep(98) .. cut },
          { "xy " .. east:rep(70), "xy " .. east:rep(65) .. cut },
          { "x " .. smile:rep(50), "x " .. smile:rep(49) .. cut },
          -- an escaped character whole at the cap (U+2028: bytes 198-200), not "\u20"
          { "x " .. ("a"):rep(195) .. "\226\128\168tail", "x " .. ("a"):rep(195) .. "\\u2028" .. cut },
          -- 200 bytes, longer than that once escaped: whole
          { ("a"):rep(199) .. "\n", ("a"):rep(199) .. "\\n" },
          { "caf" .. e .. " " .. east .. " " .. smile .. ".jpg", "caf" .. e .. " " .. east .. " " .. smile .. ".jpg" },
        }
        for _i, case in ipairs(cases) do
          env.scenario(plugin.internals.json_encode({ train = { notes = { case[1] } } }))
          plugin.train_from_images({ image(1, "a.png", { altered = true }) })
          local shown = dt._log.prints[#dt._log.prints]
          assert.are.equal("note: " .. case[2], shown:match("\n([^\n]*)$"), case[1])
          local logged = "autoretouch: note my-look: " .. plugin.internals.printable(case[1])
          assert.truthy(recorded.find(dt._log.logs, logged))
        end
      end)

    it("reads a summary whose note names a file that is not UTF-8 (a lone surrogate in the JSON): not a failure",
      function()
        setup({ prefs = { train_name = "my-look" } })
        -- the CLI's os.fsdecode(b"caf\xe9.jpg") is 'caf\udce9.jpg', which json.dump writes as "caf\udce9.jpg"
        env.scenario('{"train": {"notes": ["1 photo could not be read, left out: caf\\udce9.jpg (empty file)"]}}')
        local summary = plugin.train_from_images({ image(1, "a.png", { altered = true }) })
        assert.are.equal("finished", summary.state)
        assert.are.same({ "1 photo could not be read, left out: caf\239\191\189.jpg (empty file)" }, summary.notes)
        local shown = "\nnote: 1 photo could not be read, left out: caf\239\191\189.jpg (empty file)"
        assert.truthy(dt._log.prints[#dt._log.prints]:find(shown, 1, true))
      end)

    it("keeps the training's run folders in darktable's cache folder, never in darktable's working directory",
      function()
        setup({ prefs = { train_name = "my-look" } })
        local summary = plugin.train_from_images({ image(1, "a.png", { altered = true }) })
        assert.are.equal("finished", summary.state)
        local argv = calls_of("train")[1].argv
        local runs = env.dir .. "/autoretouch/runs"
        assert.are.equal(runs, recorded.option(argv, "runs-dir")) -- the trainer picks runs/NAME, runs/NAME-2, ...
        assert.is_nil(recorded.option(argv, "run-dir"))
        assert.are.equal(runs .. "/my-look", summary.run_dir) -- as the CLI's JSON names it
        assert.truthy(recorded.find(dt._log.logs, "autoretouch: run folder my-look: " .. runs .. "/my-look"))
        -- the same name again: the next free run folder (an explicit --run-dir holding a trained style is refused)
        local again = plugin.train_from_images({ image(1, "a.png", { altered = true }) })
        assert.are.equal("finished", again.state)
        assert.are.equal(runs, recorded.option(calls_of("train")[2].argv, "runs-dir"))
        assert.are.equal(runs .. "/my-look-2", again.run_dir)
        -- a daemon address: the daemon keeps its run folders in its own run directory (it refuses --runs-dir)
        plugin.train_from_images({ image(2, "b.png", { altered = true }) }, { server = "localhost:50051" })
        assert.is_nil(recorded.option(calls_of("train")[3].argv, "runs-dir"))
        assert.is_nil(recorded.option(calls_of("train")[3].argv, "run-dir"))
        -- no cache folder: no training by the command line (its default, runs/NAME, is relative to darktable's
        -- working directory)
        dt.configuration.cache_dir = env.dir .. "/missing"
        local none, err = plugin.train_from_images({ image(3, "c.png", { altered = true }) })
        assert.is_nil(none)
        assert.truthy(err:find("darktable has no cache folder", 1, true))
        assert.are.equal(3, #calls_of("train"))
        env.scenario('{"train": {"mode": "rejected", "run_dir": "/runs/my-look\\n-3"}}')
        dt.configuration.cache_dir = env.dir
        local rejected = plugin.train_from_images({ image(4, "d.png", { altered = true }) })
        assert.truthy(rejected.message:find("not installed: held-out check: worse than doing nothing (it stays in its "
          .. "run folder, /runs/my-look\\n-3)", 1, true)) -- escaped, as the CLI's text output writes it
        -- an autoretouch from before --runs-dir: named as too old
        env.scenario('{"train": {"no_runs_dir": true}}')
        local old = plugin.train_from_images({ image(4, "d.png", { altered = true }) })
        assert.are.equal("failed", old.state)
        assert.truthy(old.message:find("this autoretouch is too old to keep its run folders in darktable's cache "
          .. "folder: its train has no --runs-dir; update autoretouch (autoretouch exited with status 2: unrecognized "
          .. "arguments: --runs-dir=", 1, true),
          old.message)
      end)

    it("says why a trained style was not installed, and refuses a bad style name before running", function()
      setup({ prefs = { train_name = "x" } })
      env.scenario('{"train": {"mode": "rejected"}}')
      local summary = plugin.train_from_images({ image(1, "a.png", { altered = true }) })
      assert.are.equal("rejected", summary.state)
      assert.truthy(summary.message:find("worse than doing nothing", 1, true))
      local _none, message = plugin.train_from_images({ image(2, "b.png", { altered = true }) },
        { train_name = "../evil name" })
      assert.truthy(message:find("is not a style name", 1, true))
      assert.are.equal(1, #calls_of("train"))
      env.scenario('{"train": {"mode": "failed", "exit": 6, "stderr": "autoretouch: error: no photo with a history"}}')
      summary = plugin.train_from_images({ image(3, "c.png", { altered = true }) })
      assert.are.equal("failed", summary.state)
      assert.truthy(summary.message:find("no photo with a history", 1, true))
    end)

    it("cancels: a training cancelled before it starts never runs, and a running one is killed", function()
      setup({ prefs = { train_name = "x" } })
      local files = { pid = env.dir .. "/pid", cancel = env.dir .. "/cancel" }
      -- a running training: a real background process whose PID file the cancel button reads
      os.execute("sleep 30 & echo $! > " .. stub.quote(files.pid))
      local pid = stub.read_file(files.pid):match("%d+")
      assert.truthy(pid)
      local function running()
        local stat = stub.read_file("/proc/" .. pid .. "/stat") -- a killed, unreaped child shows as Z
        return stat ~= nil and stat:match("^%d+ %b() (%a)") ~= "Z"
      end
      assert.is_true(running())
      plugin.internals.stop_training(files)
      os.execute("sleep 0.2")
      assert.is_false(running()) -- killed
      assert.truthy(stub.read_file(files.cancel) ~= nil)
      -- cancelled before the command runs: the shell line exits at once with 130
      local line = plugin.internals.background_line({ env.cli, "train" }, env.dir .. "/o", env.dir .. "/e", files)
      local before = #calls_of("train")
      os.execute(line)
      assert.are.equal(before, #calls_of("train"))
    end)

    it("names the default style when the style preference is empty", function()
      setup({ prefs = { strength = 1 } })
      local a = image(1, "a.png")
      plugin.apply_to_images({ a })
      assert.are.same({ "apply", "--host=darktable", "--json", "--overwrite", "--strength=1", "--style=default", "--",
        a.path .. "/a.png" }, calls_of("apply")[1].argv)
    end)

    it("uses a fixed recipe instead of the style, with the strength", function()
      local recipe_path = "/tmp/some dir/it's.json"
      setup({ prefs = { recipe = recipe_path, strength = 0.5, style = "warm" } })
      stub.write_file(env.dir .. "/r.json", '{"version": 1, "steps": []}')
      local a = image(1, "a.png")
      plugin.apply_to_images({ a }, { recipe = env.dir .. "/r.json" })
      local ap = calls_of("apply")
      assert.are.equal(1, #ap)
      assert.are.same({ "apply", "--host=darktable", "--json", "--overwrite", "--strength=0.5",
        "--recipe=" .. env.dir .. "/r.json", "--", a.path .. "/a.png" }, ap[1].argv)
      assert.are.equal('{"version": 1, "steps": []}', ap[1].recipe)
    end)

    it("removes its temporary output files", function()
      setup()
      plugin.apply_to_images({ image(1, "a.png") })
      for _i, cmd in ipairs(dt._log.commands) do
        for path in cmd:gmatch("[12]?>'([^']+)'") do
          assert.is_nil(io.open(path, "rb"), path)
        end
      end
    end)

    it("keeps the stdin of the CLI closed", function()
      setup()
      plugin.apply_to_images({ image(1, "a.png") })
      assert.truthy(dt._log.commands[1]:find(" </dev/null >", 1, true))
    end)
  end)

  describe("health check", function()
    it("lists the styles in the log and says that the preferred style is installed", function()
      setup({ prefs = { style = "warm", server = "localhost:50051" } })
      local result = plugin.check_autoretouch()
      assert.are.same({ "styles", "--json", "--server=localhost:50051" }, calls_of("styles")[1].argv)
      assert.is_true(result.ok)
      assert.is_true(result.style_ok)
      assert.are.same({ "default", "warm" }, result.styles)
      local shown = dt._log.prints[#dt._log.prints]
      assert.truthy(shown:find("autoretouch ready (daemon at localhost:50051, autoretouch 0.test): 2 styles: "
        .. "default, warm; the style preference 'warm' is installed", 1, true))
      assert.truthy(find(dt._log.logs, "style warm %(user%): my warm look"))
    end)

    it("says when the preferred style is missing or unusable, leaving shadowed styles out", function()
      setup({ prefs = { style = "mine" } })
      env.scenario(plugin.internals.json_encode({ styles = { styles = {
        { name = "default", source = "shipped", description = "auto", shadowed = false },
        { name = "mine", source = "user", error = "style was trained for slider catalog version 9" },
        { name = "old", source = "shipped", shadowed = true },
      } } }))
      local result = plugin.check_autoretouch()
      assert.are.same({ "styles", "--json" }, calls_of("styles")[1].argv)
      assert.is_true(result.ok)
      assert.is_false(result.style_ok)
      assert.are.same({ "default" }, result.styles)
      assert.truthy(result.message:find("(command line): 1 styles: default; the style 'mine' cannot be used: "
        .. "style was trained for slider catalog version 9", 1, true))
      setup({ prefs = { style = "" } })
      env.scenario(plugin.internals.json_encode({ styles = { styles = { { name = "warm", source = "user" } } } }))
      result = plugin.check_autoretouch()
      assert.truthy(result.message:find("the style 'default' set in preferences is not installed", 1, true))
    end)

    it("reports a command that is missing or fails", function()
      setup({ prefs = { cli_path = "/nonexistent dir/autoretouch" } })
      local result = plugin.check_autoretouch()
      assert.is_false(result.ok)
      assert.truthy(result.message:find("autoretouch check failed: cannot run the autoretouch command", 1, true))
      setup()
      env.scenario('{"styles": {"exit": 69, "stderr": "autoretouch: error: cannot reach the autoretouch daemon"}}')
      result = plugin.check_autoretouch()
      assert.is_false(result.ok)
      assert.truthy(find(dt._log.prints, "exited with status 69: cannot reach the autoretouch daemon"))
    end)
  end)

  describe("failure paths", function()
    it("reports a CLI that is not installed", function()
      setup({ prefs = { cli_path = "/nonexistent dir/autoretouch" } })
      local summary = plugin.apply_to_images({ image(1, "a.png") })
      assert.are.equal(1, summary.failed)
      assert.truthy(summary.details[1].reason:find("(not found)", 1, true))
      assert.truthy(find(dt._log.prints, "0 retouched, 0 skipped, 1 failed"))
      assert.truthy(find(dt._log.prints, "preferences > lua options"))
    end)

    it("reports a CLI that is not executable", function()
      setup()
      os.execute("chmod -x " .. stub.quote(env.cli))
      local summary = plugin.apply_to_images({ image(1, "a.png") })
      assert.truthy(summary.details[1].reason:find("not executable", 1, true))
    end)

    it("fails only the photo the CLI could not handle", function()
      local summary, _bad, good = apply_pair("bad.png", "good.png", "failed",
        { reason = "bad.png: cannot decode \226\152\131", exit = 9 })
      assert.are.equal("failed", summary.details[1].action)
      assert.truthy(summary.details[1].reason:find("cannot decode \226\152\131", 1, true))
      assert.are.equal("written", summary.details[2].action)
      assert.are.equal(1, #calls_of("apply"))
      assert.are.same({ good.path .. "/good.png" }, dt._log.imports)
      assert.truthy(find(dt._log.logs, "autoretouch: failed .*bad%.png"))
    end)

    it("quotes the CLI's own error when apply prints no row", function()
      local summary = apply_answering(
        '{"apply": {"mode": "none", "exit": 6, "stderr": "autoretouch: error: no style named \'x\'\\n"}}',
        { "a.png", "b.png" }
      )
      assert.are.equal(2, summary.failed)
      assert.are.equal("autoretouch exited with status 6: no style named 'x'", summary.details[1].reason)
      assert.are.equal(summary.details[1].reason, summary.details[2].reason)
      assert.are.same({}, dt._log.imports)
    end)

    it("fails a photo the CLI left out, and matches rows by order when it spelled the paths differently", function()
      local summary = apply_pair("a.png", "b.png", "none")
      assert.are.equal("failed", summary.details[1].action)
      assert.are.equal("autoretouch reported nothing for this photo", summary.details[1].reason)
      assert.are.equal("written", summary.details[2].action)
      env.scenario('{"apply": {"rename": true}}')
      summary = plugin.apply_to_images({ image(3, "c.png"), image(4, "d.png") })
      assert.are.equal(2, summary.written)
    end)

    it("survives output that is not JSON", function()
      local summary = apply_answering('{"apply": {"mode": "garbage"}}')
      assert.are.equal(1, summary.failed)
      assert.truthy(summary.details[1].reason:find("no usable answer", 1, true))
    end)

    it("reports apply failures and crashes", function()
      local summary = apply_answering(
        '{"apply": {"per_photo": {}, "mode": "failed", "reason": "a.png.xmp: malformed XML", "exit": 9}}'
      )
      assert.are.equal("a.png.xmp: malformed XML", summary.details[1].reason)
      assert.are.same({}, dt._log.imports)
      env.scenario('{"apply": {"mode": "garbage", "exit": 1, "stderr": "Traceback\\nKeyError: boom\\n"}}')
      summary = plugin.apply_to_images({ image(2, "b.png") })
      assert.are.equal("autoretouch exited with status 1: KeyError: boom", summary.details[1].reason)
    end)

    it("reports a sidecar darktable could not reload", function()
      setup({ import_error = "boom" })
      local summary = plugin.apply_to_images({ image(1, "a.png") })
      assert.are.equal("failed", summary.details[1].action)
      assert.truthy(summary.details[1].reason:find("could not reload it: .*boom"))
    end)

    it("rejects bad settings before running anything", function()
      setup()
      local a = image(1, "a.png")
      local cases = {
        { { strength = 1.5 }, "strength must lie between 0 and 1, got 1.5" },
        { { strength = "abc" }, "strength must lie between 0 and 1" },
        { { server = "no port" }, "must be HOST:PORT, got 'no port'" },
        { { server = "host:12; rm -rf /" }, "must be HOST:PORT" },
        { { cli_path = "  " }, "set the autoretouch command" },
        { { style = "a\0b" }, "contains a NUL character" },
      }
      for _i, case in ipairs(cases) do
        local summary, err = plugin.apply_to_images({ a }, case[1])
        assert.is_nil(summary)
        assert.truthy(err:find(case[2], 1, true), err)
        assert.are.equal(err, dt._log.prints[#dt._log.prints])
      end
      assert.are.equal(0, #dt._log.commands)
      local home = assert(os.getenv("HOME"))
      local settings = plugin.internals.read_settings
      assert.are.equal(home .. "/bin/autoretouch", settings({ cli_path = "~/bin/autoretouch" }).cli_path)
      assert.are.equal(home .. "/r.json", plugin.internals.read_settings({ recipe = " ~/r.json " }).recipe)
      assert.are.equal("~user/x", plugin.internals.read_settings({ cli_path = "~user/x" }).cli_path)
      for _i, good in ipairs({ "localhost:50051", "[::1]:50051", "10.0.0.2:8080", "my-host.lan:1" }) do
        assert.is_table(plugin.internals.read_settings({ server = good }), good)
      end
    end)

    it("checks every entry of a style mix as the command line does, before running anything", function()
      setup()
      local a = image(1, "a.png")
      local bad = {
        { "warm:0.7,film", "the entry 'film' is not STYLE:WEIGHT" }, -- only the second entry is wrong
        { "warm", "the entry 'warm' is not STYLE:WEIGHT" },
        { "warm:0.7,:0.3", "the entry ':0.3' is not STYLE:WEIGHT" },
        { "warm:0.7,", "the entry '' is not STYLE:WEIGHT" },
        { "warm:0.7,film:x", "the weight of the entry 'film:x' is not a finite number of 0 or more" },
        { "warm:0.7,film:-0.3", "the weight of the entry 'film:-0.3'" },
        { "warm:0.7,film:0x1", "the weight of the entry 'film:0x1'" }, -- Lua reads hexadecimal, Python does not
        { "warm:1e999", "the weight of the entry 'warm:1e999'" },
        { "warm:1e999", "is not a finite number" },
        { "warm:1_000", "the weight of the entry 'warm:1_000'" }, -- Python's float takes it: the plug-in is stricter
        { "warm:\239\188\145", "the weight of the entry 'warm:\239\188\145'" }, -- a full-width 1: stricter too
        { "warm:0.5, warm :0.5", "the style 'warm' is named twice" },
        { "warm:0,film:0", "the weights must add up to a finite number above 0" },
        { "warm:1e308,film:1e308", "the weights must add up to a finite number above 0" },
      }
      for _i, case in ipairs(bad) do
        local summary, err = plugin.apply_to_images({ a }, { mix = case[1] })
        assert.is_nil(summary, case[1])
        local head = "auto-retouch: the style mix must read STYLE:WEIGHT,STYLE:WEIGHT (e.g. warm:0.7,film:0.3), got '"
          .. case[1]:match("^%s*(.-)%s*$") .. "': "
        assert.are.equal(head, err:sub(1, #head), err)
        assert.truthy(err:find(case[2], #head, true), err)
      end
      assert.are.equal(0, #dt._log.commands)
      local good_mixes = { "warm:0.7,film:0.3", " warm : 1 , film:0 ", "my-style.v2:1e-1", "a:b:1", "w:.5,f:5.",
        "a:9223372036854775807,b:1" } -- added as floats: Lua 5.4's integers would wrap around to a negative sum
      for _i, good in ipairs(good_mixes) do
        assert.are.equal(good:match("^%s*(.-)%s*$"), plugin.internals.read_settings({ mix = good }).mix, good)
      end
    end)

    it("refuses to start twice at once", function()
      local second
      setup({ before_execute = function(_cmd, n)
        if n == 1 then
          second = { plugin.apply_to_images({ image(9, "z.png") }) }
        end
      end })
      local summary = plugin.apply_to_images({ image(1, "a.png") })
      assert.are.equal(1, summary.written)
      assert.is_nil(second[1])
      assert.truthy(second[2]:find("already running", 1, true))
    end)

    it("stops at the cancel button", function()
      setup({ before_execute = function(_cmd, n)
        if n == 1 then -- the first apply: press cancel
          local job = dt._log.jobs[1]
          job.cancel(setmetatable({}, { __newindex = function(_t, k, v) job[k] = v end }))
        end
      end })
      local images = stub.images(dt, 10, env.photos)
      local summary = plugin.apply_to_images(images)
      assert.is_true(summary.cancelled)
      assert.are.equal(8, summary.written) -- the running batch finishes and is reloaded, then nothing more
      assert.are.equal(8, #dt._log.imports)
      assert.are.equal(1, #calls_of("apply"))
      assert.truthy(find(dt._log.prints, "cancelled: 8 retouched, 0 skipped, 0 failed, 2 not done"))
      -- a new run works afterwards
      assert.are.equal(1, plugin.apply_to_images({ image(4, "d.png") }).written)
    end)

    it("stops when darktable is shutting down, reloading nothing", function()
      setup({ before_execute = function()
        dt.control.ending = true
      end })
      local images = stub.images(dt, 9, env.photos)
      local summary = plugin.apply_to_images(images)
      assert.are.equal(1, #dt._log.commands) -- the first batch's apply call only
      assert.are.same({}, dt._log.imports)
      assert.are.equal(0, summary.written)
      assert.are.equal(8, summary.failed)
      assert.truthy(summary.details[1].reason:find("shutting down", 1, true))
    end)

    it("turns an unexpected error into a message and can run again", function()
      setup()
      local a = image(1, "a.png")
      a.attach_tag = function()
        error("tag table locked")
      end
      local summary = plugin.apply_to_images({ a })
      assert.are.equal("skipped", summary.details[1].action)
      assert.truthy(summary.details[1].reason:find("tag table locked", 1, true))
      assert.are.same(dt._log.tags, dt._log.deleted_tags) -- the temporary tag does not stay behind
      assert.are.equal(0, #calls_of("apply"))
      assert.are.equal(1, plugin.apply_to_images({ image(2, "b.png") }).written)
    end)

    it("refuses on Windows", function()
      setup({ running_os = "windows" })
      local summary, err = plugin.apply_to_images({ image(1, "a.png") })
      assert.is_nil(summary)
      assert.truthy(err:find("Windows", 1, true))
      assert.are.equal(0, count(dt._log.commands, function() return true end))
    end)
  end)
end)
