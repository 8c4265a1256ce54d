-- autoretouch/filesystem.lua: existing_folder, the one check of darktable's cache folder (the daemon's log, preview
-- recipes, sidecar backups and training run folders are kept there or not at all).

local filesystem = require("autoretouch/filesystem")
local load = require("helpers.load")
local stub = require("helpers.stub_darktable")

local existing_folder = filesystem.existing_folder

describe("filesystem.existing_folder", function()
  local dir

  before_each(function()
    dir = stub.temp_dir(" it's $HOME `id`")
  end)

  after_each(function()
    stub.remove_tree(dir)
  end)

  it("gives nil for no folder name: nil, not a string, empty", function()
    for _i, value in ipairs({ false, 42, {}, "" }) do
      assert.is_nil(existing_folder(value), tostring(value))
    end
    assert.is_nil(existing_folder(nil))
    assert.is_nil(existing_folder())
  end)

  it("gives nil for a folder that does not exist, or a file", function()
    assert.is_nil(existing_folder(dir .. "/missing"))
    assert.is_nil(existing_folder(dir .. "/missing/deeper"))
    stub.write_file(dir .. "/a file", "x")
    assert.is_nil(existing_folder(dir .. "/a file"))
  end)

  it("gives the folder's name back when it exists, a subfolder once it is created", function()
    assert.are.equal(dir, existing_folder(dir))
    local sub = dir .. "/sub 'q' $(x)"
    assert.is_nil(existing_folder(sub))
    os.execute("mkdir " .. stub.quote(sub))
    assert.are.equal(sub, existing_folder(sub))
    os.execute("rmdir " .. stub.quote(sub))
    assert.is_nil(existing_folder(sub))
  end)

  it("is what a caller asks about darktable's cache folder (a preview copy's recipe path)", function()
    local plugin, dt = load.plugin({ cache_dir = dir })
    local copy = { id = 7 }
    assert.are.equal(dir .. "/autoretouch-preview-7.json", plugin.internals.preview_recipe_path(copy))
    stub.write_file(dir .. "/a file", "x")
    for _i, cache in ipairs({ false, "", dir .. "/missing", dir .. "/a file" }) do
      dt.configuration.cache_dir = cache or nil
      assert.is_nil(plugin.internals.preview_recipe_path(copy), tostring(cache))
    end
  end)
end)
