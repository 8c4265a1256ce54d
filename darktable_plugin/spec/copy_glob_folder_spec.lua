-- darktable before 5.2 (no image:apply_sidecar) re-reads a sidecar only by importing the file again, and that import
-- finds the sidecars of the file's virtual copies with a glob(3) of <dir>/NAME_[0-9]*[0-9].EXT.xmp built from the path
-- unescaped. Where a folder's name (or NAME) holds a pattern that does not match its own text ([...] or a backslash),
-- the glob finds no copy's sidecar: a copy's changed sidecar would never be read back, so apply, revert and apply
-- chosen preview leave virtual copies there alone; and as the import reads no NAME_<digits>.EXT.xmp there, a file
-- a_01.png does not keep a.png from being changed. Also: file names with very long digit runs, and the wording of the
-- refusal for a_00.png and a_001.png. The CLI is the fake one, run through the real shell; darktable the stub.

local load = require("helpers.load")
local stub = require("helpers.stub_darktable")
local recorded = require("helpers.recorded")

describe("a virtual copy in a folder whose name darktable's glob does not match (before 5.2)", function()
  local env, plugin, dt, J

  before_each(function()
    env, plugin, dt, J = load.env_with_plugin()
  end)

  local function folder(name)
    return stub.make_dir(env.dir .. "/" .. name) -- in env.dir: env.photos has a * of its own
  end

  local function applied(command)
    local out = {}
    for _i, call in ipairs(env.calls_of(command, J)) do
      for _k, photo in ipairs(recorded.after_dashes(call.argv)) do
        out[#out + 1] = photo
      end
    end
    return out
  end

  local function refusal(path)
    return "this darktable (before 5.2) re-reads a virtual copy's sidecar only by importing the file again, and that "
      .. "import finds no copy's sidecar when the file's path has a bracket pattern ([...]) or a backslash, as "
      .. path .. " has: the copy's history would stay as it was, and darktable's next write would replace the "
      .. "change; not changed: rename the folder (or the file), or use the original"
  end

  after_each(function()
    load.finish(plugin, env) -- its scratch folder removed
    env, plugin = nil, nil -- a failed set-up of the next spec does not finish this one again
  end)

  for _i, name in ipairs({ "sh[o]ts", "back\\slash", "x*[ab]" }) do
    it("skips a copy in " .. name .. " for apply and revert, the original applied", function()
      local dir = folder(name)
      local a = stub.image(dt, 1, dir, "a.png", { altered = true })
      local copy = stub.image(dt, 2, dir, "a.png", { duplicate_index = 1, altered = true })
      a.write_sidecar()
      local summary = plugin.apply_to_images({ copy, a })
      assert.are.equal(1, summary.written)
      assert.are.equal(1, summary.skipped)
      assert.are.same({ dir .. "/a.png (version 1)", "skipped", refusal(dir .. "/a.png") },
        { summary.details[1].name, summary.details[1].action, summary.details[1].reason })
      assert.are.same({ dir .. "/a.png" }, applied("apply"))
      assert.are.same({ dir .. "/a.png" }, dt._log.imports) -- the original's reload only
      summary = plugin.revert_images({ copy })
      assert.are.same({ 0, 1, refusal(dir .. "/a.png") },
        { summary.written, summary.skipped, summary.details[1].reason })
      assert.are.same({}, applied("revert"))
    end)
  end

  it("skips a copy of a file whose own name has a bracket pattern", function()
    local copy = stub.image(dt, 2, env.photos, "a[1].png", { duplicate_index = 1, altered = true })
    stub.image(dt, 1, env.photos, "a[1].png", { altered = true }).write_sidecar()
    local summary = plugin.apply_to_images({ copy })
    assert.are.equal(refusal(env.photos .. "/a[1].png"), summary.details[1].reason)
    assert.are.same({}, applied("apply"))
  end)

  it("applies to copies there when darktable re-reads a sidecar itself (image:apply_sidecar, 5.2+)", function()
    local dir = folder("sh[o]ts")
    stub.image(dt, 1, dir, "a.png", { altered = true }).write_sidecar()
    local copy = stub.image(dt, 2, dir, "a.png", { duplicate_index = 1, altered = true })
    local read = stub.with_apply_sidecar(copy)
    assert.are.equal(1, plugin.apply_to_images({ copy }).written)
    assert.are.same({ copy.sidecar }, read)
  end)

  it("applies to a copy in a folder whose name has only * or ? (the glob matches it)", function()
    local dir = folder("st?r*")
    stub.image(dt, 1, dir, "a.png", { altered = true }).write_sidecar()
    local copy = stub.image(dt, 2, dir, "a.png", { duplicate_index = 1, altered = true })
    assert.are.equal(1, plugin.apply_to_images({ copy }).written)
    assert.are.same({ dir .. "/a.png" }, dt._log.imports)
  end)

  it("skips the copy of a chosen preview's own copy there", function()
    local dir = folder("sh[o]ts")
    stub.image(dt, 1, dir, "a.png", { altered = true }).write_sidecar()
    local own = stub.image(dt, 2, dir, "a.png", { duplicate_index = 1, altered = true })
    local summary = plugin.preview_images({ own })
    assert.are.equal(1, #summary.copies)
    summary = plugin.apply_chosen_previews({ summary.copies[1] })
    assert.are.same({ 0, 1, refusal(dir .. "/a.png") },
      { summary.written, summary.skipped, summary.details[1].reason })
    assert.are.same({}, applied("apply"))
  end)

  it("applies to a.png there while a file a_01.png with a sidecar is in the library (not read by the import)",
    function()
      local dir = folder("sh[o]ts")
      local a = stub.image(dt, 1, dir, "a.png", { altered = true })
      local named = stub.image(dt, 3, dir, "a_01.png", { altered = true })
      named.write_sidecar()
      assert.are.equal(1, plugin.apply_to_images({ a }).written)
      assert.are.same({ dir .. "/a.png" }, applied("apply"))
    end)

  it("still leaves a.png alone where the glob may match (x*[ab]: the * can take the bracket's place)", function()
    local dir = folder("x*[ab]")
    local a = stub.image(dt, 1, dir, "a.png", { altered = true })
    stub.image(dt, 3, dir, "a_01.png", { altered = true }).write_sidecar()
    local summary = plugin.apply_to_images({ a })
    assert.are.equal(1, summary.skipped)
    assert.truthy(summary.details[1].reason:find("as that of this file's virtual copy 1", 1, true))
  end)
end)

describe("file names NAME_<digits>.EXT next to NAME.EXT (before 5.2)", function()
  local env, plugin, J, image

  before_each(function()
    local _ -- the darktable stub: no spec here reads it
    env, plugin, _, J, image = load.env_with_plugin()
  end)

  local function reads(sidecar, as)
    return "this darktable (before 5.2) re-reads a changed sidecar only by importing " .. env.photos .. "/x.png "
      .. "again, which also reads " .. sidecar .. ", the sidecar of the file " .. sidecar:sub(1, -5) .. " in "
      .. "darktable's library, as that of this file's " .. as .. " (its import reads each NAME_<digits>.EXT.xmp "
      .. "beside NAME.EXT as the sidecar of version <digits>), and so would give that file's history to it: not changed"
  end

  after_each(function()
    load.finish(plugin, env) -- its scratch folder removed
    env, plugin = nil, nil -- a failed set-up of the next spec does not finish this one again
  end)

  it("ignores a digit run too long for a version number (no error, the batch goes on)", function()
    local x = image(1, "x.png", { altered = true })
    image(2, "x.png", { duplicate_index = 1 })
    local long = image(3, "x_12345678901234567890.png", { altered = true })
    long.write_sidecar()
    local summary = plugin.apply_to_images({ x, long })
    assert.are.equal(2, summary.written)
    assert.are.equal(0, summary.skipped)
    assert.are.equal(1, #env.calls_of("apply", J))
  end)

  it("names version 0 the original, and a_001.png's sidecar as read for copy 1", function()
    local x = image(1, "x.png", { altered = true })
    local zero = image(2, "x_00.png")
    zero.write_sidecar()
    local summary = plugin.apply_to_images({ x })
    assert.are.equal(reads(zero.sidecar, "original (version 0)"), summary.details[1].reason)
    os.remove(zero.sidecar)
    local three = image(3, "x_001.png")
    three.write_sidecar()
    summary = plugin.apply_to_images({ x })
    assert.are.equal(reads(three.sidecar, "virtual copy 1"), summary.details[1].reason)
  end)
end)
