-- "preview on virtual copies" and "discard previews" against the stubbed darktable: each image's sidecar written
-- by darktable, one `suggest --json --dtstyle=DIR` call per version number (the fake CLI writes the style files),
-- then per image and variant a virtual copy with the image's history plus the style, tagged autoretouch|preview
-- and grouped with the original; a second preview replaces the copies; discard and apply remove them; originals and
-- the user's own copies are never touched.
-- "apply chosen preview": each chosen copy's own recipe (kept in the cache folder) goes to its original through
-- `apply --recipe=FILE --overwrite` (one call per distinct recipe), then the copies are removed.

local recorded = require("helpers.recorded")
local load = require("helpers.load")
local stub = require("helpers.stub_darktable")

local PORT = "50161"

local find, option, after_dashes = recorded.find, recorded.option, recorded.after_dashes

describe("preview on virtual copies", function()
  local env, plugin, dt, J

  local function setup(opts)
    opts = opts or {}
    env = load.env()
    opts.prefs = opts.prefs or {}
    opts.prefs.daemon_port = tonumber(PORT)
    opts.cache_dir = env.dir -- the started daemon's log
    plugin, dt, J = load.plugin_with_cli(env, opts)
  end

  local function image(id, name, opts)
    return stub.image(dt, id, env.photos, name, opts)
  end

  local function suggests()
    return env.argvs_of("suggest", J)
  end

  local function copies()
    local out = {}
    for _i, img in ipairs(dt._images) do
      if plugin.internals.is_preview_copy(img) then
        out[#out + 1] = img
      end
    end
    return out
  end

  local function preview(images)
    dt._log.actions["autoretouch_preview"].callback("autoretouch_preview", images)
  end

  --- Asserts that a call refused: its results `value` (nil) and `err` (a message that contains `text`).
  local function refused(text, value, err)
    assert.is_nil(value)
    assert.truthy(err:find(text, 1, true), err)
  end

  --- Virtual copy `index` (default 1) of a.png, with no file of its own, as image `id` (default 7: the user's
  -- own copy in these specs).
  local function virtual_copy(index, id)
    return image(id or 7, "a.png", { duplicate_index = index or 1, create_file = false })
  end

  --- a.png and the user's own virtual copy 1 of it, grouped with it and edited (its sidecar a_01.png.xmp).
  local function original_and_own_copy()
    setup()
    local a = image(1, "a.png")
    local own = virtual_copy()
    own:group_with(a) -- darktable groups a virtual copy with its original
    stub.edit(own, "vignette")
    return a, own
  end

  after_each(function()
    load.finish(plugin, env)
  end)

  it("makes one tagged, grouped copy per image with the original's history plus the suggestion", function()
    setup({ prefs = { style = "warm", strength = 0.6 } })
    local a = image(1, "a b.png")
    local b = image(2, "it's \"b\".jpg", { altered = true, history = { "sharpen", "exposure" } })
    preview({ a, b })
    local calls = suggests()
    assert.are.equal(1, #calls)
    local argv = calls[1]
    assert.are.equal("--json", argv[2])
    assert.are.equal("warm", option(argv, "style"))
    assert.are.equal("0.6", option(argv, "strength"))
    assert.are.equal("1", option(argv, "variants"))
    assert.are.equal("0", option(argv, "seed"))
    assert.is_nil(option(argv, "server"))
    assert.are.same({ env.photos .. "/a b.png", env.photos .. "/it's \"b\".jpg" }, after_dashes(argv))
    local made = copies()
    assert.are.equal(2, #made)
    assert.are.equal(a, made[1].group_leader)
    assert.are.equal(b, made[2].group_leader)
    assert.are.equal(1, made[1].duplicate_index)
    assert.are.same({ "exposure", "colorbalancergb" }, made[1].history)
    assert.are.same({ "sharpen", "exposure", "exposure", "colorbalancergb" }, made[2].history)
    assert.truthy(made[1].title:find("autoretouch preview 1: warm, strength 0.6", 1, true))
    -- the originals are untouched, the imported styles are gone, and so are the style files and their folder
    assert.are.same({}, a.history)
    assert.are.same({ "sharpen", "exposure" }, b.history)
    assert.is_nil(a.deleted)
    assert.are.equal(0, #dt.styles)
    assert.are.equal(3, #dt._log.deleted_styles) -- two suggestions and b's own history
    local folder = option(argv, "dtstyle")
    assert.is_nil(io.open(folder .. "/.", "rb"))
    assert.are.equal("auto-retouch preview: 2 copies of 2 images (style warm, strength 0.6); 0 previous copies "
      .. "removed", dt._log.prints[#dt._log.prints])
    assert.is_false(plugin.internals.state.running)
  end)

  it("keeps no recipe outside darktable's own cache folder (never a shared folder such as /tmp)", function()
    setup()
    dt.configuration.cache_dir = nil
    dt.configuration.tmp_dir = env.dir
    local a = image(1, "a.png")
    assert.is_nil(plugin.internals.preview_recipe_path(a))
    preview({ a })
    local made = copies()
    assert.are.equal(1, #made) -- the preview itself still works
    local kept = io.open(string.format("%s/autoretouch-preview-%s.json", env.dir, tostring(made[1].id)), "r")
    assert.is_nil(kept) -- not in tmp_dir either
  end)

  it("previews at most the preference's number of images and leaves preview copies in the selection out", function()
    setup({ prefs = { preview_images = 2 } })
    local imgs = { image(1, "1.png"), image(2, "2.png"), image(3, "3.png") }
    preview(imgs)
    local first = copies()
    preview({ first[1], imgs[3], imgs[2], imgs[1] })
    local calls = suggests()
    assert.are.equal(2, #calls)
    assert.are.same({ env.photos .. "/1.png", env.photos .. "/2.png" }, after_dashes(calls[1]))
    assert.are.same({ env.photos .. "/3.png", env.photos .. "/2.png" }, after_dashes(calls[2]))
  end)

  it("replaces the previous copies on a second preview and never deletes the user's own copy", function()
    setup()
    local a = image(1, "a.png")
    local own = virtual_copy()
    own:attach_tag(dt.tags.create("darktable|mine"))
    preview({ a })
    local first = copies()
    assert.are.equal(1, #first)
    assert.are.equal(2, first[1].duplicate_index)
    plugin.preview_images({ a }, { strength = 0.3, preview_variants = 2, preview_seed = 5 })
    local argv = suggests()[2]
    assert.are.equal("2", option(argv, "variants"))
    assert.are.equal("5", option(argv, "seed"))
    assert.is_true(first[1].deleted)
    local second = copies()
    assert.are.equal(2, #second)
    assert.truthy(second[2].title:find("preview 2", 1, true))
    assert.is_nil(own.deleted)
    assert.is_nil(a.deleted)
    assert.truthy(find(dt._log.prints, "2 copies of 1 images (style default, strength 0.3); 1 previous copies"))
  end)

  it("a new preview keeps a previous copy the user edited since, and says so", function()
    setup()
    local a = image(1, "a.png")
    preview({ a })
    local first = copies()[1]
    stub.edit(first, "vignette")
    local summary = plugin.preview_images({ a })
    assert.are.equal(0, summary.removed)
    assert.are.equal(1, summary.kept)
    assert.is_nil(first.deleted)
    assert.are.equal(2, #copies())
    assert.truthy(summary.text:find("0 previous copies removed; kept 1 preview copies you edited", 1, true))
  end)

  it("says up front, when darktable writes no sidecars, why copies are kept and that chosen ones cannot be applied",
    function()
      setup({ darktable_prefs = { write_sidecar_files = "never" } })
      local a = image(1, "a.png", { writes_sidecar = false })
      local first = plugin.preview_images({ a })
      assert.are.equal(1, #first.copies)
      assert.truthy(first.text:find("\nnote: darktable writes no sidecars here", 1, true))
      assert.truthy(first.text:find("a new preview keeps them, 'discard previews' deletes them; and 'apply chosen "
        .. "preview' cannot apply them (", 1, true))
      local second = plugin.preview_images({ a }, { strength = 0.5 })
      assert.are.equal(0, second.removed)
      assert.are.equal(0, second.kept) -- nobody edited it
      assert.are.equal(1, second.unchecked)
      assert.is_nil(second.text:find("you edited", 1, true))
      assert.truthy(second.text:find("; kept 1 preview copies it cannot check for edits (darktable wrote no sidecar "
        .. "for them, or their record is gone): 'discard previews' deletes them", 1, true))
      local chosen = plugin.apply_chosen_previews({ second.copies[1] })
      assert.are.equal(1, chosen.skipped)
      assert.truthy(chosen.details[1].reason:find("darktable writes no sidecars here", 1, true))
      assert.are.equal(2, plugin.discard_previews())
    end)

  it("discard deletes only the preview copies, and the sidecars darktable leaves for them", function()
    setup()
    local a = image(1, "a.png")
    local own = virtual_copy(3)
    preview({ a })
    local made = copies()[1]
    assert.truthy(stub.read_file(made.sidecar))
    dt._log.actions["autoretouch_discard_previews"].callback("autoretouch_discard_previews", {})
    assert.is_true(made.deleted)
    assert.is_nil(io.open(made.sidecar, "rb"))
    assert.is_nil(own.deleted)
    assert.is_nil(a.deleted)
    assert.are.equal(0, #copies())
    assert.are.equal("auto-retouch: 1 preview copies removed", dt._log.prints[#dt._log.prints])
    assert.are.equal(0, plugin.discard_previews())
  end)

  it("apply leaves the preview copies out of its call and removes them afterwards", function()
    setup()
    local a, b = image(1, "a.png"), image(2, "b.png")
    preview({ a, b })
    local made = copies()
    plugin.apply_to_images({ made[1], a, made[2], b })
    local applies = env.argvs_of("apply", J)
    assert.are.equal(1, #applies)
    assert.are.same({ env.photos .. "/a.png", env.photos .. "/b.png" }, after_dashes(applies[1]))
    assert.are.equal(0, #copies())
    assert.are.equal("auto-retouch: 2 retouched, 0 skipped, 0 failed; 2 preview copies removed",
      dt._log.prints[#dt._log.prints])
  end)

  it("apply keeps a preview copy the user edited since, and the previews of images it did not write", function()
    setup()
    local a, b, c = image(1, "a.png"), image(2, "b.png"), image(3, "c.png")
    preview({ a, b, c })
    local made = copies()
    stub.edit(made[1], "vignette") -- edited in the darkroom: its history changed after the preview
    local summary = plugin.apply_to_images({ a, b })
    assert.are.equal(2, summary.written)
    assert.are.equal(1, summary.previews_removed)
    assert.are.equal(1, summary.previews_kept)
    assert.is_nil(made[1].deleted)
    assert.is_true(made[2].deleted)
    assert.is_nil(made[3].deleted) -- c was not selected
    assert.truthy(stub.read_file(made[1].sidecar))
    assert.truthy(io.open(plugin.internals.preview_recipe_path(made[1]), "rb"))
    assert.are.equal("auto-retouch: 2 retouched, 0 skipped, 0 failed; 1 preview copies removed; kept 1 preview "
      .. "copies you edited", dt._log.prints[#dt._log.prints])
  end)

  it("apply to the user's own copy writes that copy (--duplicate) and keeps the original's preview copies", function()
    setup()
    local a = image(1, "a.png")
    local own = image(7, "a.png", { duplicate_index = 1 })
    preview({ a })
    local made = copies()
    local summary = plugin.apply_to_images({ own, made[1] })
    assert.are.equal(1, summary.written)
    assert.are.equal(own, summary.details[1].image)
    local applies = env.argvs_of("apply", J)
    assert.are.equal(1, #applies)
    assert.are.equal("1", option(applies[1], "duplicate"))
    assert.are.same({ env.photos .. "/a.png" }, after_dashes(applies[1]))
    assert.are.equal(0, summary.previews_removed)
    assert.is_nil(made[1].deleted) -- the original was not written: its preview stays
    assert.is_nil(own.deleted)
  end)

  it("apply removes no preview copy when it wrote nothing", function()
    setup()
    local a, b = image(1, "a.png"), image(2, "b.png")
    preview({ a, b })
    env.scenario('{"apply": {"mode": "failed", "reason": "disk full"}}')
    local summary = plugin.apply_to_images({ a, b })
    assert.are.equal(2, summary.failed)
    assert.are.equal(0, summary.previews_removed)
    assert.are.equal(2, #copies())
    assert.is_nil(dt._log.prints[#dt._log.prints]:find("removed", 1, true))
  end)

  it("leaves a look-alike sidecar that is not the preview copy's (another photo's, or without the tag)", function()
    setup()
    local a = image(1, "IMG.png")
    preview({ a })
    local made = copies()[1]
    -- the user's photo IMG_01.png has its sidecar where the copy's would be
    local user = '<x:xmpmeta><rdf:Description xmpMM:DerivedFrom="IMG_01.png"><lr:hierarchicalSubject><rdf:Bag>'
      .. "<rdf:li>autoretouch|preview</rdf:li></rdf:Bag></lr:hierarchicalSubject></rdf:Description></x:xmpmeta>"
    stub.write_file(made.sidecar, user)
    assert.are.equal(1, plugin.discard_previews())
    assert.is_true(made.deleted)
    assert.are.equal(user, stub.read_file(made.sidecar))
    preview({ a })
    local again = copies()[1]
    local untagged = '<x:xmpmeta><rdf:Description xmpMM:DerivedFrom="IMG.png"/></x:xmpmeta>'
    stub.write_file(again.sidecar, untagged)
    assert.are.equal(1, plugin.discard_previews())
    assert.are.equal(untagged, stub.read_file(again.sidecar))
  end)

  it("a preview after a reload never takes the number of the user's own copy, nor its sidecar", function()
    setup()
    local a = image(1, "a.png")
    local own = virtual_copy()
    stub.edit(own, "vignette") -- the user's copy and its sidecar a_01.png.xmp
    local spare = env.photos .. "/a_03.png.xmp" -- a sidecar of no image in the library (a copy removed from it)
    stub.write_file(spare, "the user's file")
    plugin.apply_to_images({ a }) -- the reload imports a.png again: darktable's count of copies is back to 0
    local mine = stub.read_file(own.sidecar)
    preview({ a })
    local made = copies()
    assert.are.equal(1, #made)
    assert.are.equal(2, made[1].duplicate_index) -- darktable's copy 1 was taken, so it was deleted again
    assert.are.equal(mine, stub.read_file(own.sidecar)) -- and the sidecar it wrote over the user's put back
    assert.truthy(find(dt._log.logs, "version number 1, which another image of this file has"))
    preview({ a }) -- replaces copy 2; darktable's next numbers: 3 (a file is there) and then 4
    made = copies()
    assert.are.same({ 4 }, { made[1].duplicate_index })
    assert.are.equal("the user's file", stub.read_file(spare))
    assert.are.equal(1, plugin.discard_previews())
    assert.are.equal(mine, stub.read_file(own.sidecar))
    assert.is_nil(own.deleted)
    local summary = plugin.apply_to_images({ own })
    assert.are.equal(1, summary.written)
    assert.are.equal("1", option(env.argvs_of("apply", J)[2], "duplicate"))
  end)

  it("backs up and keeps a stray sidecar past the copies' own numbers that darktable's next copy would take",
    function()
      setup()
      local a = image(1, "a.png")
      local stray = env.photos .. "/a_07.png.xmp" -- another library's sidecar, or a removed copy's
      stub.write_file(stray, "another library's sidecar")
      dt._max_version[env.photos .. "/a.png"] = 6 -- darktable's count was not set back: its next copy is 7
      local summary = plugin.preview_images({ a }, { preview_variants = 1 })
      assert.are.equal(1, #summary.copies)
      assert.are.same({ 8 }, { copies()[1].duplicate_index }) -- copy 7 took the stray file, so it was deleted again
      assert.are.equal("another library's sidecar", stub.read_file(stray))
      assert.truthy(find(dt._log.logs, "that copy was removed, the sidecar restored"))
    end)

  describe("when darktable gives a new copy the number of the user's copy", function()
    local a, own, mine

    local function setup_taken()
      setup()
      a = image(1, "a.png")
      own = virtual_copy()
      stub.edit(own, "vignette") -- the user's copy and its sidecar a_01.png.xmp
      plugin.apply_to_images({ a }) -- the reload: darktable's next copy is 1 again
      mine = stub.read_file(own.sidecar)
    end

    local function backups()
      local out = {}
      local list = io.popen("ls -1 -- '" .. env.dir:gsub("'", "'\\''") .. "'")
      for name in list:lines() do
        if name:find("^autoretouch%-sidecar%-backup%-") then
          out[#out + 1] = env.dir .. "/" .. name
        end
      end
      list:close()
      return out
    end

    it("backs the sidecar up, puts it back, says so, and removes the backup", function()
      setup_taken()
      local summary = plugin.preview_images({ a }, { preview_variants = 1 })
      assert.are.equal(1, #summary.copies)
      assert.are.equal(mine, stub.read_file(own.sidecar))
      assert.truthy(find(dt._log.logs, "that copy was removed, the sidecar restored"))
      assert.are.same({}, backups())
    end)

    it("stops the preview when the sidecar cannot be put back, naming it and its backup", function()
      setup_taken()
      local real_open = io.open
      -- the disk is full when the user's sidecar is written back
      io.open = function(path, mode) -- luacheck: ignore 122
        if path == own.sidecar .. ".autoretouch-tmp" then
          return nil, path .. ": No space left on device"
        end
        return real_open(path, mode)
      end
      local summary, err = plugin.preview_images({ a, image(2, "b.png") }, { preview_variants = 1 })
      io.open = real_open -- luacheck: ignore 122
      assert.is_nil(summary)
      local kept = backups()
      assert.are.equal(1, #kept)
      assert.are.equal(mine, stub.read_file(kept[1])) -- the user's sidecar as it was, on disk
      assert.truthy(err:find("preview stopped", 1, true))
      assert.truthy(err:find(own.sidecar, 1, true))
      assert.truthy(err:find(kept[1], 1, true))
      assert.truthy(find(dt._log.prints, kept[1]))
      assert.are.equal(0, #copies()) -- the copy was deleted, and b.png was not previewed
      assert.falsy(find(dt._log.logs, "the sidecar restored"))
    end)

    it("stops the preview when the copy with the number in use cannot be deleted", function()
      setup_taken()
      local duplicate = dt.database.duplicate
      dt.database.duplicate = function(img)
        local copy = duplicate(img)
        copy.delete = function()
          error("database is locked", 0)
        end
        return copy
      end
      local summary, err = plugin.preview_images({ a }, { preview_variants = 1 })
      refused("could not be deleted again (database is locked)", summary, err)
      assert.are.equal(mine, stub.read_file(own.sidecar))
      assert.truthy(err:find(backups()[1], 1, true))
    end)

    it("makes no copy when the sidecar cannot be backed up", function()
      setup_taken()
      dt.configuration.cache_dir = env.dir .. "/gone"
      refused("no cache folder to back up the sidecar " .. own.sidecar,
        plugin.preview_images({ a }, { preview_variants = 1 }))
      assert.are.equal(0, #dt._log.style_applies)
      assert.are.equal(mine, stub.read_file(own.sidecar))
    end)
  end)

  it("never deletes a sidecar another image of the file shares, and leaves such an image alone", function()
    setup()
    image(1, "a.png")
    local own = virtual_copy()
    stub.edit(own, "vignette")
    -- a preview copy an older plug-in made with the user's copy's number (darktable 4.2 gave it after a reload)
    local copy = virtual_copy(1, 8)
    copy:attach_tag(dt.tags.create("autoretouch|preview"))
    local shared = stub.read_file(own.sidecar)
    assert.truthy(shared:find("autoretouch|preview", 1, true)) -- the copy wrote the shared file last
    local summary = plugin.apply_to_images({ own })
    assert.are.equal(1, summary.skipped)
    assert.truthy(summary.details[1].reason:find("same version number (1)", 1, true))
    assert.are.equal(0, #env.argvs_of("apply", J))
    assert.are.equal(1, plugin.discard_previews())
    assert.is_true(copy.deleted)
    assert.are.equal(shared, stub.read_file(own.sidecar)) -- still there: the user's copy has it too
  end)

  it("says that an image's file is missing, whether or not another image is previewed", function()
    setup()
    local a, gone = image(1, "a.png"), image(2, "gone.png")
    os.remove(gone.path .. "/gone.png")
    local none, err = plugin.preview_images({ gone })
    assert.is_nil(none)
    assert.are.equal("auto-retouch preview: nothing to preview; " .. env.photos .. "/gone.png: the image file is "
      .. "missing", err)
    assert.are.equal(err, dt._log.prints[#dt._log.prints])
    assert.are.equal(0, #suggests())
    local summary = plugin.preview_images({ gone, a })
    assert.are.equal(1, #summary.copies)
    assert.are.same({ env.photos .. "/a.png" }, after_dashes(suggests()[1]))
    assert.are.same({ { photo = env.photos .. "/gone.png", reason = "the image file is missing" } }, summary.failed)
    assert.truthy(summary.text:find("\n" .. env.photos .. "/gone.png: the image file is missing", 1, true))
    refused("select original images", plugin.preview_images({ summary.copies[1] }))
  end)

  it("a mix goes to suggest as --mix; a fixed recipe is refused", function()
    setup({ prefs = { mix = "warm:0.7,default:0.3" } })
    local a = image(1, "a.png")
    preview({ a })
    assert.are.equal("warm:0.7,default:0.3", option(suggests()[1], "mix"))
    assert.is_nil(option(suggests()[1], "style"))
    refused("clear the fixed recipe", plugin.preview_images({ a }, { recipe = "/r.json" }))
    assert.are.equal(1, #suggests())
    refused("STYLE:WEIGHT", plugin.preview_images({ a }, { mix = "warm" }))
    refused("the entry 'film' is not STYLE:WEIGHT", plugin.preview_images({ a }, { mix = "warm:0.7,film" }))
    assert.are.equal(1, #suggests())
    refused("preview_images", plugin.preview_images({ a }, { preview_images = 0 }))
  end)

  it("reports a photo suggest failed, copies the others; no answer keeps the previous copies", function()
    setup()
    local a, b = image(1, "a.png"), image(2, "b.png")
    preview({ a })
    local first = copies()[1]
    env.scenario('{"suggest": {"per_photo": {"' .. env.photos:gsub('"', '\\"') .. '/b.png": "failed"}}}')
    local summary = plugin.preview_images({ a, b })
    assert.are.equal(1, #summary.copies)
    assert.are.equal(1, summary.removed)
    assert.truthy(summary.failed[1].reason:find("cannot decode", 1, true))
    assert.truthy(summary.text:find("b.png: ", 1, true))
    local second = copies()[1]
    env.scenario('{"suggest": {"mode": "garbage", "exit": 1}}')
    local third = plugin.preview_images({ a })
    assert.are.equal(0, #third.copies)
    assert.are.equal(0, third.removed)
    assert.is_nil(second.deleted)
    assert.is_true(first.deleted)
    assert.truthy(third.failed[1].reason:find("exited with status 1", 1, true))
  end)

  it("removes its temporary folder with files the answer does not name, also when the work raises an error", function()
    setup()
    local a, b = image(1, "a.png"), image(2, "b.png")
    env.scenario('{"suggest": {"stray": true}}')
    local summary = plugin.preview_images({ a })
    assert.are.equal(1, #summary.copies)
    local folder = option(suggests()[1], "dtstyle")
    assert.is_nil(io.open(folder .. "/.", "rb"))
    env.scenario('{"suggest": {"stray": true, "per_photo": {"' .. env.photos:gsub('"', '\\"') .. '/b.png": "failed"}}}')
    local print_log = dt.print_log
    dt.print_log = function(text)
      if text:find("cannot decode", 1, true) then
        error("the Lua log broke", 0)
      end
      print_log(text)
    end
    local none, err = plugin.preview_images({ a, b })
    dt.print_log = print_log
    refused("the Lua log broke", none, err)
    local second = option(suggests()[2], "dtstyle")
    assert.are_not.equal(folder, second)
    assert.is_nil(io.open(second .. "/.", "rb"))
    assert.is_false(plugin.internals.state.running)
  end)

  it("a style darktable cannot apply leaves no half-made copy", function()
    setup({ style_apply_error = "no such module" })
    local a = image(1, "a.png")
    local summary = plugin.preview_images({ a })
    assert.are.equal(0, #summary.copies)
    assert.truthy(summary.failed[1].reason:find("no such module", 1, true))
    assert.are.equal(1, #dt._log.deleted_images)
    assert.is_nil(io.open(dt._log.deleted_images[1].sidecar, "rb")) -- its sidecar went with it
    assert.are.equal(0, #dt.styles)
  end)

  describe("previews of the user's own virtual copies", function()
    --- The operations the fake CLI's style put first: the sidecar it was built on (scenario built_on).
    local function built_on(copy)
      for _i, op in ipairs(copy.history) do
        local name = op:match("^built on (.*)$")
        if name then
          return name
        end
      end
      return nil
    end

    --- The argv of each suggest call, by its --duplicate value ("none" without the option).
    local function suggests_by_duplicate()
      local out = {}
      for _i, argv in ipairs(suggests()) do
        local key = option(argv, "duplicate") or "none"
        assert.is_nil(out[key], "two suggest calls for " .. key)
        out[key] = argv
      end
      return out
    end

    it("runs one suggest per version number (--duplicate=N for copies N), each image on its own sidecar", function()
      local a, own = original_and_own_copy()
      local b = image(2, "b.png", { altered = true, history = { "sharpen" } })
      local b3 = image(8, "b.png", { duplicate_index = 3, create_file = false })
      b3:group_with(b)
      stub.edit(b3, "contrast") -- its sidecar b_03.png.xmp
      env.scenario('{"suggest": {"built_on": true}}')
      local summary = plugin.preview_images({ own, a, b3, b }, { preview_images = 4, preview_variants = 2 })
      local calls = suggests()
      assert.are.equal(3, #calls)
      -- by version number: the originals first (no --duplicate, as before), then copies 1 and copies 3
      assert.is_nil(option(calls[1], "duplicate"))
      assert.are.same({ env.photos .. "/a.png", env.photos .. "/b.png" }, after_dashes(calls[1]))
      assert.are.equal("1", option(calls[2], "duplicate"))
      assert.are.same({ env.photos .. "/a.png" }, after_dashes(calls[2]))
      assert.are.equal("3", option(calls[3], "duplicate"))
      assert.are.same({ env.photos .. "/b.png" }, after_dashes(calls[3]))
      for _i, argv in ipairs(calls) do -- the same suggestion otherwise, into the one temporary folder
        assert.are.equal(option(calls[1], "dtstyle"), option(argv, "dtstyle"))
        assert.are.equal("2", option(argv, "variants"))
        assert.are.equal("0", option(argv, "seed"))
      end
      -- the copies in the selection's order, two variants each; each made from its image's history and the styles of
      -- its own call (built on that image's sidecar)
      assert.are.same({}, summary.failed)
      assert.are.equal(8, #summary.copies)
      local want = {
        { img = own, sidecar = "a_01.png.xmp", history = { "vignette" } },
        { img = a, sidecar = "a.png.xmp", history = {} },
        { img = b3, sidecar = "b_03.png.xmp", history = { "contrast" } },
        { img = b, sidecar = "b.png.xmp", history = { "sharpen" } },
      }
      for i, w in ipairs(want) do
        for k = 1, 2 do
          local copy = summary.copies[2 * (i - 1) + k]
          assert.are.equal(w.sidecar, built_on(copy), w.sidecar)
          local history = {}
          for _k, list in ipairs({ w.history, { "built on " .. w.sidecar, "exposure", "colorbalancergb" } }) do
            for _n, op in ipairs(list) do
              history[#history + 1] = op
            end
          end
          assert.are.same(history, copy.history)
          local kept = J(stub.read_file(plugin.internals.preview_recipe_path(copy)))
          assert.are.equal(w.img.id, kept.original_id) -- "apply chosen preview" goes to that image
          assert.are.equal(k, kept.variant)
        end
      end
      assert.are.same({}, a.history) -- nothing changed on the images previewed
      assert.are.same({ "vignette" }, own.history)
    end)

    it("a selection of copies only runs only their calls; an original alone runs none with --duplicate", function()
      local a, own = original_and_own_copy()
      plugin.preview_images({ own })
      assert.are.same({ "1" }, { option(suggests()[1], "duplicate") })
      plugin.preview_images({ a })
      assert.are.equal(2, #suggests())
      assert.is_nil(option(suggests()[2], "duplicate"))
    end)

    it("a photo suggest fails for fails in each call; with no suggestion the previous copies stay", function()
      local a, own = original_and_own_copy()
      local first = plugin.preview_images({ a, own })
      assert.are.equal(2, #first.copies)
      env.scenario('{"suggest": {"per_photo": {"' .. env.photos:gsub('"', '\\"') .. '/a.png": "failed"}}}')
      local second = plugin.preview_images({ a, own })
      assert.are.equal(4, #suggests()) -- two calls per preview
      assert.are.equal(0, #second.copies)
      assert.are.equal(2, #second.failed)
      for _i, f in ipairs(second.failed) do
        assert.are.equal(env.photos .. "/a.png", f.photo)
        assert.truthy(f.reason:find("cannot decode", 1, true))
      end
      -- the rows read apart: the copy's names its version number (darktable's word for it)
      assert.are.same({ nil, 1 }, { second.failed[1].version, second.failed[2].version })
      local first_line = "\n" .. env.photos .. "/a.png: " .. env.photos .. "/a.png: cannot decode"
      assert.truthy(second.text:find(first_line, 1, true))
      assert.truthy(find(dt._log.logs, "autoretouch: failed " .. env.photos .. "/a.png: "))
      assert.truthy(find(dt._log.logs, "autoretouch: failed " .. env.photos .. "/a.png (version 1): "))
      assert.are.equal(0, second.removed)
      assert.are.equal(2, #copies())
    end)

    it("an autoretouch without suggest --duplicate: the copy is not previewed and the message says why", function()
      local a, own = original_and_own_copy()
      env.scenario('{"suggest": {"no_duplicate": true}}')
      local summary = plugin.preview_images({ own, a })
      assert.are.equal(1, #summary.copies) -- the original's, from the call without --duplicate
      assert.are.equal(a, summary.copies[1].group_leader)
      assert.are.equal(1, #summary.failed)
      assert.are.equal(env.photos .. "/a.png", summary.failed[1].photo)
      assert.are.equal(1, summary.failed[1].version)
      assert.are.equal("this autoretouch is too old to preview a virtual copy (version 1) on the copy's own history: "
        .. "its suggest has no --duplicate; update autoretouch (autoretouch exited with status 2: unrecognized "
        .. "arguments: --duplicate=1)", summary.failed[1].reason)
      assert.truthy(summary.text:find("\n" .. env.photos .. "/a.png (version 1): this autoretouch is too old", 1, true))
      assert.truthy(find(dt._log.logs, "too old to preview a virtual copy (version 1)"))
      assert.are.same({ "vignette" }, own.history)
    end)

    it("another usage error of a copy's call is reported as it is, not as a too old autoretouch", function()
      -- today's suggest prints its whole usage with every usage error, and the usage names [--duplicate N]
      local a, own = original_and_own_copy()
      env.scenario('{"suggest": {"usage_error": "argument --strength: strength must lie in [0, 1], got 2"}}')
      local summary = plugin.preview_images({ own, a })
      assert.are.equal(2, #suggests())
      assert.are.equal(0, #summary.copies)
      assert.are.equal(2, #summary.failed)
      for _i, f in ipairs(summary.failed) do
        assert.are.equal(env.photos .. "/a.png", f.photo)
        assert.are.equal("autoretouch exited with status 2: autoretouch suggest: error: argument --strength: strength "
          .. "must lie in [0, 1], got 2", f.reason)
      end
      assert.is_nil(summary.text:find("too old", 1, true))
      assert.is_nil(find(dt._log.logs, "too old"))
    end)

    it("runs each call through the plug-in's daemon, started once for all of them", function()
      setup({ prefs = { start_daemon = true } })
      plugin.internals.daemon_timing.poll_ms = 50
      local a = image(1, "a.png")
      local own = virtual_copy()
      own:group_with(a)
      stub.edit(own, "vignette")
      local summary = plugin.preview_images({ a, own })
      assert.are.equal(2, #summary.copies)
      local calls = suggests_by_duplicate()
      assert.are.equal("127.0.0.1:" .. PORT, option(calls.none, "server"))
      assert.are.equal("127.0.0.1:" .. PORT, option(calls["1"], "server"))
      assert.are.equal(1, #env.argvs_of("serve", J))
    end)

    it("makes darktable write each image's sidecar first: the suggestion is built on its current history", function()
      local a, own = original_and_own_copy()
      stub.edit(a, "sharpen")
      -- edits in darktable's library that it has not written to the sidecars yet
      a.history[#a.history + 1] = "exposure"
      own.history[#own.history + 1] = "contrast"
      env.scenario('{"suggest": {"built_on": "history"}}')
      local summary = plugin.preview_images({ a, own })
      assert.are.same({}, summary.failed)
      assert.are.equal(2, #summary.copies)
      assert.are.equal("built on a.png.xmp: sharpen,exposure", summary.copies[1].history[3])
      assert.are.equal("built on a_01.png.xmp: vignette,contrast", summary.copies[2].history[3])
      assert.is_nil(stub.read_file(a.sidecar):find("autoretouch|sync", 1, true)) -- the temporary tag is gone again
    end)

    it("leaves out an edited image whose sidecar darktable does not write, saying why", function()
      setup({ darktable_prefs = { write_sidecar_files = "never" } })
      local a = image(1, "a.png", { writes_sidecar = false, altered = true })
      local b = image(2, "b.png", { writes_sidecar = false })
      local summary = plugin.preview_images({ a, b })
      assert.are.same({ env.photos .. "/b.png" }, after_dashes(suggests()[1]))
      assert.are.equal(1, #summary.copies)
      assert.are.equal(b, summary.copies[1].group_leader)
      assert.are.same({ { photo = env.photos .. "/a.png", reason = "darktable did not write this image's sidecar, so "
        .. "the suggestion would be built on an older history: set preferences > storage > 'write sidecar file for "
        .. "each image' to 'on import' or 'after edit'" } }, summary.failed)
      assert.truthy(summary.text:find("\n" .. env.photos .. "/a.png: darktable did not write", 1, true))
    end)

    it("previews an image selected twice, or two images sharing one sidecar, once, naming both", function()
      local a, own = original_and_own_copy()
      -- another copy darktable 4.2 gave the same number after a reload: one sidecar, a_01.png.xmp, for both
      local twin = virtual_copy(1, 8)
      local summary = plugin.preview_images({ own, a, twin, a }, { preview_images = 4 })
      assert.are.equal(2, #suggests()) -- the originals' call and copies 1's, a.png once in each
      assert.are.same({ env.photos .. "/a.png" }, after_dashes(suggests()[1]))
      assert.are.same({ env.photos .. "/a.png" }, after_dashes(suggests()[2]))
      assert.are.equal(2, #summary.copies)
      local made_from = {}
      for i, copy in ipairs(summary.copies) do
        made_from[i] = J(stub.read_file(plugin.internals.preview_recipe_path(copy))).original_id
      end
      assert.are.same({ own.id, a.id }, made_from)
      assert.are.equal(2, #summary.failed)
      assert.are.same({ env.photos .. "/a.png", 1, "its history is in the same sidecar (" .. own.sidecar .. ") as "
        .. "that of " .. env.photos .. "/a.png (version 1), which is previewed (the image selected twice, or darktable "
        .. "gave two images of this file the same version number): not previewed again" },
        { summary.failed[1].photo, summary.failed[1].version, summary.failed[1].reason })
      assert.are.same({ env.photos .. "/a.png", nil, "its history is in the same sidecar (" .. a.sidecar .. ") as "
        .. "that of " .. env.photos .. "/a.png, which is previewed (the image selected twice, or darktable gave two "
        .. "images of this file the same version number): not previewed again" },
        { summary.failed[2].photo, summary.failed[2].version, summary.failed[2].reason })
      assert.truthy(summary.text:find("\n" .. env.photos .. "/a.png (version 1): its history is in the same sidecar",
        1, true))
      assert.are.same({ "vignette" }, own.history) -- the twin's history never went into the suggestion
      assert.is_nil(twin.deleted)
    end)

    it("previews once a copy and a file whose name darktable gives the copy's sidecar, saying so", function()
      local a, own = original_and_own_copy() -- a.png's copy 1: a_01.png.xmp
      local named = image(3, "a_01.png") -- a file of that name: its own sidecar is a_01.png.xmp too
      assert.are.equal(own.sidecar, named.sidecar)
      local summary = plugin.preview_images({ own, named, a })
      assert.are.equal(2, #summary.copies) -- a.png's copy 1 and a.png
      assert.are.same({ { photo = env.photos .. "/a_01.png", reason = "its history is in the same sidecar ("
        .. own.sidecar .. ") as that of " .. env.photos .. "/a.png (version 1), which is previewed (darktable names a "
        .. "virtual copy's sidecar NAME_NN.EXT.xmp, as it names that of a file called NAME_NN.EXT): not previewed "
        .. "again" } }, summary.failed)
      summary = plugin.preview_images({ named, own })
      assert.are.same({ { photo = env.photos .. "/a.png", version = 1, reason = "its history is in the same sidecar ("
        .. own.sidecar .. ") as that of " .. env.photos .. "/a_01.png, which is previewed (darktable names a virtual "
        .. "copy's sidecar NAME_NN.EXT.xmp, as it names that of a file called NAME_NN.EXT): not previewed again" } },
        summary.failed)
    end)
  end)

  describe("apply chosen preview", function()
    local function choose(images)
      dt._log.actions["autoretouch_apply_chosen_preview"].callback("autoretouch_apply_chosen_preview", images)
    end

    --- The copies of `img`, by variant (their order of making).
    local function copies_of(img)
      local out = {}
      for _i, c in ipairs(copies()) do
        if c.group_leader == img then
          out[#out + 1] = c
        end
      end
      return out
    end

    it("applies each chosen copy's own recipe to its original, then removes every preview copy", function()
      setup({ prefs = { preview_variants = 2, strength = 0.6, style = "warm" } })
      local a = image(1, "a b.png", { altered = true, history = { "sharpen" } })
      local b = image(2, "it's \"b\".jpg")
      preview({ a, b })
      local a2, b1 = copies_of(a)[2], copies_of(b)[1]
      local kept = { plugin.internals.preview_recipe_path(a2), plugin.internals.preview_recipe_path(b1) }
      assert.truthy(stub.read_file(kept[1]))
      assert.is_nil(stub.read_file(kept[1]):find("dtstyle", 1, true)) -- the style file is gone, and not named
      choose({ a, a2, b1 })
      local calls = env.calls_of("apply", J)
      assert.are.equal(2, #calls) -- two recipes: one call each
      for i, want in ipairs({ { photo = "/a b.png", value = 0.2 }, { photo = "/it's \"b\".jpg", value = 0.1 } }) do
        local argv = calls[i].argv
        assert.are.same({ env.photos .. want.photo }, after_dashes(argv))
        assert.truthy(find(argv, "--overwrite"))
        assert.is_nil(option(argv, "strength")) -- the recipe is at the preview's strength already
        assert.is_nil(option(argv, "style"))
        local recipe = J(calls[i].recipe)
        assert.are.same({ { slider = "exposure", value = want.value } }, recipe.steps)
        assert.are.equal(0.6, recipe.strength)
        assert.is_nil(io.open(option(argv, "recipe"), "rb")) -- the temporary recipe file is removed
      end
      assert.are.same({ env.photos .. "/a b.png", env.photos .. "/it's \"b\".jpg" }, dt._log.imports)
      assert.are.equal(0, #copies())
      assert.is_nil(io.open(kept[1], "rb"))
      assert.is_nil(io.open(kept[2], "rb"))
      assert.is_nil(a.deleted)
      assert.are.equal("auto-retouch: chosen preview applied to 2 images, 0 skipped, 0 failed; 4 preview copies "
        .. "removed", dt._log.prints[#dt._log.prints])
      assert.is_false(plugin.internals.state.running)
    end)

    it("runs one call for the images whose chosen copies share a recipe; an original chooses its one copy", function()
      setup()
      local a, b = image(1, "a.png"), image(2, "b.png")
      preview({ a, b })
      local summary = plugin.apply_chosen_previews({ a, copies_of(b)[1] })
      assert.are.equal(2, summary.written)
      assert.are.equal(2, summary.previews_removed)
      local argvs = env.argvs_of("apply", J)
      assert.are.equal(1, #argvs)
      assert.are.same({ env.photos .. "/a.png", env.photos .. "/b.png" }, after_dashes(argvs[1]))
    end)

    it("applies the preview of the user's own copy to that copy (--duplicate), not to the original", function()
      local a, own = original_and_own_copy()
      preview({ a })
      local of_a = copies()[1]
      local summary = plugin.preview_images({ own }, { preview_variants = 1 }) -- replaces a's preview
      local chosen = summary.copies[1]
      assert.are.equal(a, chosen.group_leader) -- in the original's group, like the user's copy
      local applied = plugin.apply_chosen_previews({ chosen })
      assert.are.equal(1, applied.written)
      assert.are.equal(own, applied.details[1].image)
      local argv = env.argvs_of("apply", J)[1]
      assert.are.equal("1", option(argv, "duplicate"))
      assert.are.same({ env.photos .. "/a.png" }, after_dashes(argv))
      assert.are.equal(1, applied.previews_removed) -- the chosen copy, made from the user's copy
      assert.is_true(chosen.deleted)
      assert.is_true(of_a.deleted)
      assert.are.same({}, a.history) -- the original got nothing
      own:delete() -- the image the next preview is made from goes away: its preview is skipped
      chosen = plugin.preview_images({ virtual_copy(4, 8) }).copies[1]
      dt.database.get_image(8):delete()
      local skipped = plugin.apply_chosen_previews({ chosen })
      assert.are.equal(1, skipped.skipped)
      assert.truthy(skipped.details[1].reason:find("made from is not in darktable's library", 1, true))
      assert.are.equal(1, #env.argvs_of("apply", J))
    end)

    it("an original selected alone never chooses the preview of the user's copy", function()
      local a, own = original_and_own_copy()
      local mine = stub.read_file(own.sidecar)
      plugin.preview_images({ own }, { preview_variants = 1 })
      local none, err = plugin.apply_chosen_previews({ a }) -- the original only: it has no preview of its own
      assert.is_nil(none)
      assert.are.equal("auto-retouch: select the preview copies to apply (made by 'preview on virtual copies')", err)
      assert.are.equal(0, #env.argvs_of("apply", J))
      assert.are.equal(mine, stub.read_file(own.sidecar))
    end)

    it("applies the previews of the original and of the user's copy together, each to its own image", function()
      local a, own = original_and_own_copy()
      local made = plugin.preview_images({ a, own }, { preview_variants = 1 }).copies
      assert.are.equal(2, #made)
      local applied = plugin.apply_chosen_previews({ made[1], made[2] })
      assert.are.equal(2, applied.written)
      local written = {}
      for _i, d in ipairs(applied.details) do
        written[#written + 1] = d.image
      end
      table.sort(written, function(x, y) return x.id < y.id end)
      assert.are.same({ a, own }, written)
      local duplicates = {}
      for _i, argv in ipairs(env.argvs_of("apply", J)) do
        duplicates[#duplicates + 1] = option(argv, "duplicate") or "none"
      end
      table.sort(duplicates)
      assert.are.same({ "1", "none" }, duplicates)
    end)

    it("refuses two copies of one image, or an original alone with several copies", function()
      setup({ prefs = { preview_variants = 2 } })
      local a = image(1, "a.png")
      preview({ a })
      local none, err = plugin.apply_chosen_previews(copies_of(a))
      assert.is_nil(none)
      assert.are.equal("auto-retouch: 2 preview copies of " .. env.photos .. "/a.png are chosen; select one copy per "
        .. "image", err)
      refused("a.png has 2 preview copies; select the one to apply", plugin.apply_chosen_previews({ a }))
      assert.are.equal(0, #env.argvs_of("apply", J))
      assert.are.equal(2, #copies())
      plugin.discard_previews()
      local own = virtual_copy(9) -- the user's own virtual copy
      preview({ a })
      refused("select the preview copies to apply", plugin.apply_chosen_previews({ own }))
    end)

    it("skips a copy whose recipe is gone and applies the others", function()
      setup()
      local a, b = image(1, "a.png"), image(2, "b.png")
      preview({ a, b })
      local a1, b1 = copies_of(a)[1], copies_of(b)[1]
      os.remove(plugin.internals.preview_recipe_path(a1)) -- as after the cache was cleared
      local summary = plugin.apply_chosen_previews({ a1, b1 })
      assert.are.equal(1, summary.written)
      assert.are.equal(1, summary.skipped)
      assert.are.equal(a, summary.details[1].image)
      assert.truthy(summary.details[1].reason:find("recipe of its preview copy is gone", 1, true))
      assert.are.same({ env.photos .. "/b.png" }, after_dashes(env.argvs_of("apply", J)[1]))
      assert.truthy(dt._log.prints[#dt._log.prints]:find("1 images, 1 skipped, 0 failed; 1 preview copies removed\n"
        .. env.photos .. "/a.png: the recipe", 1, true))
      assert.are.same({ a1 }, copies()) -- a was not written: its copy stays
    end)

    it("keeps the copies when nothing was written, and a recipe kept for another image is not used", function()
      setup()
      local a = image(1, "a.png")
      preview({ a })
      local a1 = copies_of(a)[1]
      env.scenario('{"apply": {"mode": "failed", "reason": "disk full"}}')
      local summary = plugin.apply_chosen_previews({ a1 })
      assert.are.equal(1, summary.failed)
      assert.is_nil(summary.previews_removed)
      assert.are.equal(1, #copies())
      a1.duplicate_index = 5 -- darktable gave the id to another copy: its kept recipe is not this one's
      local again = plugin.apply_chosen_previews({ a1 })
      assert.are.equal(1, again.skipped)
      assert.are.equal(1, #env.argvs_of("apply", J))
    end)
  end)

  it("runs suggest through the plug-in's daemon when it uses one", function()
    setup({ prefs = { start_daemon = true } })
    plugin.internals.daemon_timing.poll_ms = 50
    local a = image(1, "a.png")
    local summary = plugin.preview_images({ a })
    assert.are.equal(1, #summary.copies)
    assert.are.equal("127.0.0.1:" .. PORT, option(suggests()[1], "server"))
  end)
end)
