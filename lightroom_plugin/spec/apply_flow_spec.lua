-- The "Auto-retouch (learned style)" command end to end, against the stubbed SDK and fake daemon.

local expect = require("expect")
local menus = require("menus")
local sdk = require("sdk")

local ApplyFlow = require("ApplyFlow")
local DaemonClient = require("DaemonClient")
local S = require("Strings")
local Whitelist = require("Whitelist")

local function appliedCount(photos)
  local n = 0
  for _, photo in ipairs(photos) do
    n = n + #photo.applied
  end
  return n
end

describe("auto-retouch command", function()
  before_each(sdk.reset)

  it("runs in an async task, asks for options and applies every selected photo in batches", function()
    local photos = sdk.photos(10)
    sdk.newCatalog(photos)
    menus.apply { style = "warm", strength = 60 }

    assert.are.same({ "autoretouch.apply" }, sdk.tasks)
    local modal = sdk.dialogsOf("modal")[1]
    assert.are.equal(S.applyDialogTitle, modal.args.title)
    local popup = sdk.find(modal.args.contents, "popup_menu")[1]
    assert.are.same({ { title = "default", value = "default" }, { title = "warm", value = "warm" } }, popup.args.items)
    local checkbox = sdk.find(modal.args.contents, "checkbox")[1]
    assert.are.equal("Apply to all selected (10)", checkbox.args.title)
    local sliders = sdk.find(modal.args.contents, "slider")
    assert.are.same({ "strength", "mixWeight" }, { sliders[1].args.value.bind, sliders[2].args.value.bind })

    local suggests = sdk.requestsTo "/v1/suggest"
    assert.are.equal(10, #suggests)
    for i, request in ipairs(suggests) do
      assert.are.same({
        protocol_version = 1,
        path = photos[i].path,
        style = "warm",
        strength = 0.6,
        hosts = { "HOST_LIGHTROOM" },
      }, request.body)
    end
    -- 10 photos fetched in batches of 8, written in one gate: one step of Edit > Undo for the whole run.
    assert.are.equal(1, #sdk.catalog.writes)
    assert.are.equal(S.undoName, sdk.catalog.writes[1].name)
    assert.are.equal(10, appliedCount(photos))
    assert.are.equal("Auto-retouch: warm", photos[3].applied[1].history)

    local scope = sdk.progressScopes[1]
    assert.is_true(scope.isDone and scope.cancelable)
    assert.are.same({ { 8, 10 }, { 10, 10 } }, scope.portions)
    assert.are.equal("Auto-retouch finished", menus.lastMessage().message)
    assert.are.equal("info", menus.lastMessage().style)
    assert.matches("Applied to 10 of 10 photos.", menus.lastMessage().info, 1, true)
    assert.are.same({ style = "warm", strength = 60 }, { style = sdk.prefs.lastStyle, strength = sdk.prefs.lastStrength })
  end)

  it("applies exactly the daemon's settings table (numbers, strings, booleans, flat curves)", function()
    local photos = sdk.photos(1)
    sdk.newCatalog(photos)
    local expected = {
      Exposure2012 = 0.37,
      Contrast2012 = 12,
      Highlights2012 = -40,
      IncrementalTemperature = 7,
      ToneCurveName2012 = "Custom",
      ToneCurvePV2012 = { 0, 0, 64, 60, 128, 133, 255, 255 },
      ToneCurvePV2012Red = { 0, 0, 128, 120, 255, 255 },
      ConvertToGrayscale = false,
      SaturationAdjustmentOrange = -8,
    }
    local whitelist = Whitelist.packaged()
    for key in pairs(expected) do
      assert.is_true(whitelist:allows(key), key .. " must be a catalog key for this test")
    end
    sdk.daemon.settingsFor = function()
      return expected
    end
    menus.apply()
    assert.are.equal(1, #photos[1].applied)
    assert.are.same(expected, photos[1].applied[1].settings)
    assert.are.equal("Auto-retouch: default", photos[1].applied[1].history)
  end)

  it("drops and logs keys that are not in the slider catalog, and says so in the summary", function()
    local photos = sdk.photos(2)
    sdk.newCatalog(photos)
    sdk.daemon.settingsFor = function(path)
      local settings = sdk.defaultSettings(path)
      settings.CameraProfile = "Adobe Standard"
      settings.ProcessVersion = "11.0"
      settings.Exposure2012 = nil
      return settings
    end
    menus.apply()
    for _, photo in ipairs(photos) do
      local applied = photo.applied[1].settings
      assert.is_nil(applied.CameraProfile)
      assert.is_nil(applied.ProcessVersion)
      assert.are.same({ 0, 0, 128, 140, 255, 255 }, applied.ToneCurvePV2012)
    end
    local warned = 0
    for _, entry in ipairs(sdk.logs) do
      if entry.level == "warn" and entry.text:find("CameraProfile, ProcessVersion", 1, true) then
        warned = warned + 1
      end
    end
    assert.are.equal(2, warned)
    assert.matches("Not applied (not in the slider catalog): CameraProfile, ProcessVersion", menus.lastMessage().info, 1, true)
  end)

  it("applies only the active photo when 'apply to all selected' is unchecked", function()
    local photos = sdk.photos(3)
    sdk.newCatalog(photos).target = photos[2]
    menus.apply { applyToAll = false }
    assert.are.same({ 0, 1, 0 }, { #photos[1].applied, #photos[2].applied, #photos[3].applied })
  end)

  it("does nothing when the dialog is cancelled", function()
    local photos = sdk.photos(2)
    sdk.newCatalog(photos)
    sdk.modalHandler = function()
      return "cancel"
    end
    menus.apply()
    assert.are.equal(0, #sdk.requestsTo "/v1/suggest")
    assert.are.equal(0, #sdk.catalog.writes)
    assert.are.equal(0, #sdk.progressScopes)
  end)

  it("keeps going when one photo fails (daemon error, Lightroom error, metadata error, video)", function()
    local photos = {
      sdk.newPhoto { path = "/photos/a.jpg" },
      sdk.newPhoto { path = "/photos/missing.jpg" },
      sdk.newPhoto { path = "/photos/locked.jpg", failApply = true },
      sdk.newPhoto { path = "/photos/odd.jpg", failMetadata = true },
      sdk.newPhoto { path = "/photos/clip.mov", format = "VIDEO" },
      sdk.newPhoto { path = "/photos/z.jpg" },
    }
    sdk.newCatalog(photos)
    sdk.daemon.failPaths["/photos/missing.jpg"] = { message = "/photos/missing.jpg: no such file" }
    menus.apply()
    assert.are.same({ 1, 0, 0, 0, 0, 1 }, {
      #photos[1].applied,
      #photos[2].applied,
      #photos[3].applied,
      #photos[4].applied,
      #photos[5].applied,
      #photos[6].applied,
    })
    -- The video never reached the daemon; the others did.
    assert.are.equal(4, #sdk.requestsTo "/v1/suggest")
    local dialog = menus.lastMessage()
    assert.are.equal("warning", dialog.style)
    expect.showsAll(dialog.info, {
      "Applied to 2 of 6 photos.",
      "4 photos failed:",
      "missing.jpg: /photos/missing.jpg: no such file",
      "locked.jpg: Lightroom refused the settings of /photos/locked.jpg",
      "clip.mov: videos cannot be retouched",
      "metadata unavailable",
    })
  end)

  -- Cancelled while the daemon was asked for the `fetched`-th of 20 photos: those are applied in one write.
  for _, case in ipairs({
    { fetched = 8, name = "stops between batches when the progress scope is cancelled" }, -- a batch is 8 photos
    {
      fetched = 3,
      name = "stops before the next photo when cancelled in the middle of a batch, and applies what was fetched",
    },
  }) do
    it(case.name, function()
      local photos = sdk.photos(20)
      sdk.newCatalog(photos)
      sdk.isCanceled = function()
        return #sdk.requestsTo "/v1/suggest" >= case.fetched
      end
      menus.apply()
      assert.are.equal(case.fetched, #sdk.requestsTo "/v1/suggest")
      assert.are.equal(case.fetched, appliedCount(photos))
      assert.are.equal(1, #sdk.catalog.writes)
      local notDone = 20 - case.fetched
      assert.matches("Canceled: " .. notDone .. " photos were not processed.", menus.lastMessage().info, 1, true)
    end)
  end

  it("stops when the daemon goes away mid-run, keeping what was already fetched", function()
    local photos = sdk.photos(5)
    sdk.newCatalog(photos)
    local calls = 0
    sdk.daemon.settingsFor = function(path)
      calls = calls + 1
      if calls == 3 then
        sdk.daemon.down = true
      end
      return sdk.defaultSettings(path)
    end
    menus.apply()
    assert.are.equal(3, appliedCount(photos))
    assert.are.equal(4, #sdk.requestsTo "/v1/suggest")
    local dialog = menus.lastMessage()
    expect.showsAll(dialog.info, { S.summaryStopped, "no answer from the daemon at http://127.0.0.1:50052" })
  end)

  it("counts photos that need no change and does not open a write gate for them", function()
    local photos = sdk.photos(2)
    sdk.newCatalog(photos)
    sdk.daemon.settingsFor = function()
      return {}
    end
    menus.apply()
    assert.are.equal(0, #sdk.catalog.writes)
    assert.matches("2 photos needed no change.", menus.lastMessage().info, 1, true)
  end)

  it("reports a busy catalog for the whole batch", function()
    local photos = sdk.photos(2)
    sdk.newCatalog(photos).busy = true
    menus.apply()
    assert.are.equal(0, appliedCount(photos))
    assert.matches("img_1.jpg: the catalog was busy; nothing was written", menus.lastMessage().info, 1, true)
  end)

  it("sends the token and says clearly when the daemon refuses it", function()
    sdk.newCatalog(sdk.photos(1))
    sdk.daemon.token = "s3cret"
    menus.apply()
    local dialog = menus.lastMessage()
    assert.are.equal(S.authTitle, dialog.message)
    sdk.reset()
    local photos = sdk.photos(1)
    sdk.newCatalog(photos)
    sdk.daemon.token = "s3cret"
    sdk.prefs.token = " s3cret "
    menus.apply()
    assert.are.equal(1, #photos[1].applied)
    assert.are.equal("s3cret", sdk.requestsTo("/v1/suggest")[1].headers["X-Autoretouch-Token"])
  end)

  it("tells the user to select photos first", function()
    sdk.newCatalog {}
    menus.apply()
    assert.are.equal(S.noPhotos, sdk.dialogsOf("message")[1].message)
    assert.are.equal(0, #sdk.requests)
  end)
end)

describe("ApplyFlow.run", function()
  before_each(sdk.reset)

  it("fetches in batches, reports progress after each, and writes once", function()
    local photos = sdk.photos(5)
    local catalog = sdk.newCatalog(photos)
    local progress = sdk.ns.LrProgressScope { title = "t" }
    local summary = sdk.runTask(ApplyFlow.run, {
      photos = photos,
      catalog = catalog,
      client = DaemonClient.new { url = "http://127.0.0.1:50052" },
      whitelist = Whitelist.packaged(),
      style = "warm",
      strength = 1,
      progress = progress,
      batchSize = 2,
    })
    assert.are.equal(5, summary.applied)
    assert.are.equal(1, #catalog.writes)
    assert.are.same({ { 2, 5 }, { 4, 5 }, { 5, 5 } }, progress.portions)
    assert.are.equal("5 of 5 photos", progress.captions[3])
    assert.are.equal(0, summary.notProcessed)
  end)
end)
