-- Apply and revert against darktable 4.2's sidecar naming clash: a virtual copy N of NAME.EXT keeps its history in
-- NAME_NN.EXT.xmp, which is also the sidecar of a file called NAME_NN.EXT in the same folder. Writing that sidecar
-- for the one puts its history where darktable re-reads it into the other, so such an image is left out, selected
-- with the other or not, naming both; the rest of the batch goes on. The CLI is the fake one
-- (spec/helpers/fake_autoretouch.py) run through the real shell, darktable the stub.

local load = require("helpers.load")
local stub = require("helpers.stub_darktable")
local recorded = require("helpers.recorded")

local argv_after_dashes = recorded.after_dashes

describe("a copy's sidecar named like another file's (a.png's copy 1 and a_01.png: both a_01.png.xmp)", function()
  local env, plugin, dt, J, image

  before_each(function()
    env, plugin, dt, J, image = load.env_with_plugin()
  end)

  --- The photos the fake CLI was given, per call of `command`, each with its --duplicate=N option (or "").
  local function given(command)
    local out = {}
    for _i, call in ipairs(env.calls_of(command, J)) do
      local duplicate = ""
      for _k, arg in ipairs(call.argv) do
        duplicate = arg:match("^%-%-duplicate=%d+$") or duplicate
      end
      out[#out + 1] = { duplicate = duplicate, photos = argv_after_dashes(call.argv) }
    end
    return out
  end

  --- The message naming `first` and `second` (FILE or FILE (version N)) and their one sidecar.
  local function clash(first, second, sidecar)
    return env.photos .. "/" .. first .. " and " .. env.photos .. "/" .. second .. ", both in darktable's library, "
      .. "keep their history in one sidecar, " .. sidecar .. " (darktable names a virtual copy's sidecar "
      .. "NAME_NN.EXT.xmp, as it names that of a file called NAME_NN.EXT), so writing it for the one would write "
      .. "over the other's history: not changed"
  end

  after_each(function()
    load.finish(plugin, env) -- its scratch folder removed
    env, plugin = nil, nil -- a failed set-up of the next spec does not finish this one again
  end)

  it("leaves out the copy when the file a_01.png is in the library, unselected; the batch goes on", function()
    image(1, "a.png", { altered = true })
    local own = image(2, "a.png", { duplicate_index = 1, altered = true })
    local named = image(3, "a_01.png", { altered = true, history = { "exposure" } })
    local b = image(4, "b.png")
    assert.are.equal(own.sidecar, named.sidecar)
    named.write_sidecar() -- darktable wrote a_01.png's history there last
    local before = stub.read_file(named.sidecar)
    local summary = plugin.apply_to_images({ own, b })
    assert.are.equal(1, summary.written)
    assert.are.equal(1, summary.skipped)
    assert.are.equal(env.photos .. "/a.png (version 1)", summary.details[1].name)
    assert.are.equal("skipped", summary.details[1].action)
    assert.are.equal(clash("a.png (version 1)", "a_01.png", own.sidecar), summary.details[1].reason)
    assert.are.same({ { duplicate = "", photos = { b.path .. "/b.png" } } }, given("apply"))
    assert.are.same({ b.path .. "/b.png" }, dt._log.imports) -- a.png not imported again: a_01.png.xmp not re-read
    assert.are.equal(before, stub.read_file(named.sidecar)) -- a_01.png's history stays in its sidecar
    assert.are.same({ "exposure" }, named.history)
  end)

  it("leaves out the file a_01.png when a.png's copy 1 is in the library, unselected", function()
    image(1, "a.png")
    local own = image(2, "a.png", { duplicate_index = 1, altered = true })
    local named = image(3, "a_01.png", { altered = true })
    local c = image(4, "c.png")
    local summary = plugin.revert_images({ named, c })
    assert.are.equal(1, summary.written)
    assert.are.same({ "skipped", clash("a_01.png", "a.png (version 1)", own.sidecar) },
      { summary.details[1].action, summary.details[1].reason })
    assert.are.same({ { duplicate = "", photos = { c.path .. "/c.png" } } }, given("revert"))
    summary = plugin.apply_to_images({ c, named })
    assert.are.equal(1, summary.skipped)
    assert.are.equal(clash("a_01.png", "a.png (version 1)", own.sidecar), summary.details[1].reason) -- skips first
  end)

  it("leaves out both when both are selected, and a larger copy number's pair (copy 12 and a_12.png)", function()
    local a = image(1, "a.png", { altered = true })
    local own = image(2, "a.png", { duplicate_index = 1, altered = true })
    local named = image(3, "a_01.png", { altered = true })
    local twelve = image(4, "a.png", { duplicate_index = 12, altered = true })
    local named12 = image(5, "a_12.png")
    a.apply_sidecar = function() end -- darktable 5.2+: a.png's own sidecar is re-read alone (see below for 4.2)
    local summary = plugin.apply_to_images({ named, own, a, named12, twelve })
    assert.are.equal(1, summary.written) -- a.png itself: its sidecar a.png.xmp is its own
    assert.are.equal(4, summary.skipped)
    assert.are.same({ clash("a_01.png", "a.png (version 1)", own.sidecar),
      clash("a.png (version 1)", "a_01.png", own.sidecar), clash("a_12.png", "a.png (version 12)", twelve.sidecar),
      clash("a.png (version 12)", "a_12.png", twelve.sidecar) },
      { summary.details[1].reason, summary.details[2].reason, summary.details[3].reason,
        summary.details[4].reason }) -- the skipped ones, in the selection's order
    assert.are.same({ { duplicate = "", photos = { a.path .. "/a.png" } } }, given("apply"))
  end)

  it("leaves NAME.EXT alone on darktable 4.2 when a file NAME_NN.EXT with a sidecar is in the library", function()
    -- the reload imports a.png again, and darktable reads every a_NN.png.xmp as a.png's copy NN: a_01.png's history
    -- would become a.png's copy 1 (made for it when the library has none)
    local a = image(1, "a.png", { altered = true })
    local a2 = image(2, "a.png", { duplicate_index = 2, altered = true })
    local named = image(3, "a_01.png", { altered = true }) -- its sidecar written on import, darktable's default
    local c = image(4, "c.png")
    local summary = plugin.apply_to_images({ a, a2, c })
    assert.are.equal(1, summary.written)
    assert.are.equal(2, summary.skipped)
    local function reads(file)
      return "this darktable (before 5.2) re-reads a changed sidecar only by importing " .. file .. " again, which "
        .. "also reads " .. named.sidecar .. ", the sidecar of the file " .. env.photos .. "/a_01.png in darktable's "
        .. "library, as that of this file's virtual copy 1 (its import reads each NAME_<digits>.EXT.xmp beside "
        .. "NAME.EXT as the sidecar of version <digits>), and so would give that file's history to it: not changed"
    end
    assert.are.same({ reads(env.photos .. "/a.png"), reads(env.photos .. "/a.png") },
      { summary.details[1].reason, summary.details[2].reason })
    assert.are.equal(env.photos .. "/a.png (version 2)", summary.details[2].name)
    assert.are.same({ { duplicate = "", photos = { c.path .. "/c.png" } } }, given("apply"))
    assert.are.same({ c.path .. "/c.png" }, dt._log.imports)
    assert.are.equal(1, plugin.revert_images({ a }).skipped)
    os.remove(named.sidecar) -- no sidecar on disk: nothing for the import to read
    assert.are.equal(1, plugin.apply_to_images({ a }).written)
    assert.are.equal(1, plugin.apply_to_images({ named }).written) -- a_01.png's own import reads a_01_NN.png.xmp
  end)

  it("applies to NAME.EXT when darktable re-reads its own sidecar alone (image:apply_sidecar, darktable 5.2+)",
    function()
      local a = image(1, "a.png", { altered = true })
      image(2, "a_01.png")
      local read = stub.with_apply_sidecar(a)
      assert.are.equal(1, plugin.apply_to_images({ a }).written)
      assert.are.same({ a.sidecar }, read)
      assert.are.same({}, dt._log.imports)
    end)

  it("applies to files whose names darktable gives no copy of an image in the library", function()
    image(1, "a.png") -- no virtual copy: a_01.png.xmp is a_01.png's alone
    local named = image(2, "a_01.png")
    local one = image(3, "a_1.png") -- darktable would name copy 1's sidecar a_01.png.xmp, not a_1.png.xmp
    local three = image(4, "a_001.png")
    local other_ext = image(5, "b_01.jpg")
    image(6, "b.png", { duplicate_index = 1 }) -- b.png's copy 1 is b_01.png.xmp, not b_01.jpg.xmp
    image(7, "b.png")
    local summary = plugin.apply_to_images({ named, one, three, other_ext })
    assert.are.equal(4, summary.written)
    assert.are.same({ { duplicate = "", photos = { named.path .. "/a_01.png", one.path .. "/a_1.png",
      three.path .. "/a_001.png", other_ext.path .. "/b_01.jpg" } } }, given("apply"))
  end)

  it("leaves out a chosen preview's image whose sidecar a file's is", function()
    image(1, "a.png", { altered = true })
    local own = image(2, "a.png", { duplicate_index = 1, altered = true })
    image(3, "a_01.png")
    local summary = plugin.preview_images({ own })
    assert.are.equal(1, #summary.copies)
    summary = plugin.apply_chosen_previews({ summary.copies[1] })
    assert.are.equal(0, summary.written)
    assert.are.equal(1, summary.skipped)
    assert.are.equal(clash("a.png (version 1)", "a_01.png", own.sidecar), summary.details[1].reason)
    assert.are.same({}, given("apply"))
  end)

  it("trains on the first of the two selected, leaving out the second: its sidecar write would replace the first's",
    function()
      image(1, "a.png")
      local own = image(2, "a.png", { duplicate_index = 1, altered = true, history = { "exposure" } })
      local named = image(3, "a_01.png", { altered = true, history = { "vignette" } })
      local b = image(4, "b.png", { altered = true })
      local summary = plugin.train_from_images({ own, named, b })
      assert.are.equal(2, summary.used)
      assert.are.same({ { photo = env.photos .. "/a_01.png", reason = "its history is in the same sidecar ("
        .. own.sidecar .. ") as that of " .. env.photos .. "/a.png (version 1), which is trained on (darktable names "
        .. "a virtual copy's sidecar NAME_NN.EXT.xmp, as it names that of a file called NAME_NN.EXT): left out" } },
        summary.skipped)
      local argv = env.calls_of("train", J)[1].argv
      assert.are.same({ "--darktable", own.sidecar, b.path .. "/b.png" }, { argv[#argv - 2], argv[#argv - 1],
        argv[#argv] })
      assert.truthy(stub.read_file(own.sidecar):find('darktable:operation="exposure"', 1, true)) -- the copy's
      summary = plugin.train_from_images({ named })
      assert.are.equal(1, summary.used) -- alone, each is trained on its own history, written by darktable first
      assert.truthy(stub.read_file(named.sidecar):find('darktable:operation="vignette"', 1, true))
    end)
end)
