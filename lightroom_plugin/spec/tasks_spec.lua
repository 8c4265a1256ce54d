-- The stubbed SDK's tasks behave like Lightroom's: catalog and photo calls yield inside a task, so a plain pcall
-- around one fails as it does in Lightroom, and LrTasks.pcall lets the yield through. The plug-in's write gates
-- run under these rules.

local menus = require("menus")
local sdk = require("sdk")

local LrTasks = import "LrTasks"

local S = require("Strings")

describe("the stubbed SDK's tasks", function()
  before_each(sdk.reset)

  it("fail a plain pcall around a yielding photo call, as Lua 5.1 in Lightroom does; LrTasks.pcall passes", function()
    local photo = sdk.photos(1)[1]
    sdk.newCatalog { photo }
    local plain, lr = {}, {}
    LrTasks.startAsyncTask(function()
      plain = { pcall(photo.getDevelopSettings, photo) }
      lr = { LrTasks.pcall(photo.getDevelopSettings, photo) }
      sdk.catalog:withWriteAccessDo("t", function()
        plain.write = { pcall(photo.applyDevelopSettings, photo, { Exposure2012 = 1 }) }
        lr.write = { LrTasks.pcall(photo.applyDevelopSettings, photo, { Exposure2012 = 1 }) }
      end)
    end)
    assert.is_false(plain[1])
    assert.matches("attempt to yield across metamethod/C%-call boundary", plain[2])
    assert.is_false(plain.write[1])
    assert.are.same({ true, {} }, { lr[1], lr[2] })
    assert.are.same({ true }, lr.write)
    assert.are.equal(1, #photo.applied)
    -- outside a task (a spec inspecting the fake) nothing yields
    assert.is_true((pcall(photo.getDevelopSettings, photo)))
  end)

  it("run the function context's cleanup handlers when its function ends, also after an error", function()
    local LrFunctionContext = import "LrFunctionContext"
    local ran = {}
    LrFunctionContext.callWithContext("t", function(context)
      context:addCleanupHandler(function()
        ran[#ran + 1] = "first"
      end)
    end)
    local ok = pcall(LrFunctionContext.callWithContext, "t", function(context)
      context:addCleanupHandler(function(success)
        ran[#ran + 1] = success and "ok" or "failed"
      end)
      error("boom")
    end)
    assert.is_false(ok)
    assert.are.same({ "first", "failed" }, ran)
  end)
end)

describe("write gates in Lightroom's tasks", function()
  before_each(sdk.reset)

  it("apply every photo although photo writes yield inside the gate (LrTasks.pcall, not pcall)", function()
    local photos = sdk.photos(3)
    sdk.newCatalog(photos)
    menus.apply()
    for _, photo in ipairs(photos) do
      assert.are.equal(1, #photo.applied)
    end
    assert.matches("Applied to 3 of 3 photos.", menus.lastMessage().info, 1, true)
    assert.are.equal("info", menus.lastMessage().style)
  end)

  it("revert every photo although snapshot and metadata writes yield inside the gate", function()
    local photos = sdk.photos(3, { develop = { Exposure2012 = 0 } })
    sdk.newCatalog(photos)
    for _, photo in ipairs(photos) do
      sdk.addSnapshot(photo, S.snapshotName)
      photo.develop.Exposure2012 = 1
      photo.properties.relativeBase = "{}"
    end
    menus.revert()
    assert.are.equal(S.revertUndoName, sdk.catalog.writes[1].name)
    assert.matches("Returned 3 of 3 photos", menus.lastMessage().info, 1, true)
    for _, photo in ipairs(photos) do
      assert.are.same({ Exposure2012 = 0 }, photo.develop)
      assert.are.equal(0, #photo.snapshots)
      assert.is_nil(photo.properties.relativeBase)
    end
  end)
end)
