-- Retry and revert in Lightroom: one undo step per run, a "Before auto-retouch" snapshot, relative keys
-- (Sharpness) from the photo's own value, process versions, and the settings read back.

local menus = require("menus")
local sdk = require("sdk")

local Develop = require("Develop")
local S = require("Strings")
local Whitelist = require("Whitelist")

local ORIGINAL = { ProcessVersion = "11.0", Sharpness = 40, Exposure2012 = 0, WhiteBalance = "As Shot" }

local function fakeStyle()
  sdk.daemon.settingsFor = function(_, _, strength)
    return { Exposure2012 = 0.5 * strength, WhiteBalance = "Custom", Temperature = 5600, Tint = 3 }
  end
  sdk.daemon.relativeFor = function(_, _, strength)
    return { Sharpness = { add = math.floor(30 * strength + 0.5), min = 0, max = 150 } }
  end
end

describe("retry and revert", function()
  before_each(function()
    sdk.reset()
    fakeStyle()
  end)

  it("snapshots each photo once, applies in one undo step, retries from the photo's own values, reverts", function()
    local photos = sdk.photos(3, { format = "RAW", develop = ORIGINAL })
    sdk.newCatalog(photos)

    menus.apply { strength = 100 }
    assert.are.equal(1, #sdk.catalog.writes)
    assert.are.equal(S.undoName, sdk.catalog.writes[1].name)
    for _, photo in ipairs(photos) do
      assert.are.equal(1, #photo.snapshots)
      assert.are.equal(S.snapshotName, photo.snapshots[1].name)
      assert.are.same(ORIGINAL, photo.snapshots[1].settings) -- taken before the settings were applied
      local sent = photo.applied[1].settings
      assert.are.equal(70, sent.Sharpness) -- 40 of the photo's own + 30, not 30
      assert.are.equal("Custom", sent.WhiteBalance) -- Temperature/Tint count only with Custom
      assert.are.equal(5600, sent.Temperature)
      assert.are.same({ Sharpness = 40 }, sdk.decode(photo.properties.relativeBase))
    end
    assert.are.equal("info", menus.lastMessage().style)

    menus.apply { strength = 60 } -- "try it at 60 %"
    assert.are.equal(2, #sdk.catalog.writes)
    for _, photo in ipairs(photos) do
      assert.are.equal(1, #photo.snapshots) -- still the photo as it was before the first run
      local sent = photo.applied[2].settings
      assert.are.equal(58, sent.Sharpness) -- 40 + 18: from the original value, not 70 + 18
      assert.are.equal(0.3, sent.Exposure2012)
      assert.are.equal(58, photo.develop.Sharpness)
    end

    menus.revert()
    assert.are.equal(3, #sdk.catalog.writes)
    assert.are.equal(S.revertUndoName, sdk.catalog.writes[3].name)
    for _, photo in ipairs(photos) do
      assert.are.same(ORIGINAL, photo.develop)
      assert.are.equal(0, #photo.snapshots)
      assert.is_nil(photo.properties.relativeBase)
    end
    assert.matches("Returned 3 of 3 photos", menus.lastMessage().info, 1, true)
    assert.are.same({ "autoretouch.apply", "autoretouch.apply", "autoretouch.revert" }, sdk.tasks)

    -- after a revert the next run starts afresh from the photo as it is then
    photos[1].develop.Sharpness = 20
    menus.apply { strength = 100 }
    assert.are.equal(50, photos[1].applied[3].settings.Sharpness)
    assert.are.equal(20, photos[1].snapshots[1].settings.Sharpness)
  end)

  it("finds its snapshot whatever the UI language, and the one earlier versions named without the tag", function()
    local photos = sdk.photos(4, { develop = ORIGINAL })
    sdk.newCatalog(photos)
    -- the snapshot as the plug-in names it, as it names it in another UI language, as earlier versions named it
    -- (their English text: no translation shipped), and a user's own snapshot of a similar name
    local names = { S.snapshotName, "Vor Auto-Retusche " .. S.snapshotTag, "Before auto-retouch", "Before auto-retouch (mine)" }
    for i, photo in ipairs(photos) do
      sdk.addSnapshot(photo, names[i])
      photo.develop = { ProcessVersion = "11.0", Sharpness = 70, Exposure2012 = 0.5, WhiteBalance = "Custom" }
    end
    -- what the earlier version's apply recorded with the photo (the relative keys' base): the untagged name is ours
    photos[3].properties.relativeBase = sdk.encode { Sharpness = 40 }
    assert.matches(S.snapshotTag, S.snapshotName, 1, true)

    menus.apply { strength = 100 } -- an earlier snapshot is kept, not taken again
    assert.are.same({ 1, 1, 1, 2 }, { #photos[1].snapshots, #photos[2].snapshots, #photos[3].snapshots, #photos[4].snapshots })
    assert.are.equal(S.snapshotName, photos[4].snapshots[2].name)

    menus.revert()
    for i = 1, 3 do
      assert.are.same(ORIGINAL, photos[i].develop)
      assert.are.equal(0, #photos[i].snapshots)
    end
    assert.are.same({ "Before auto-retouch (mine)" }, { photos[4].snapshots[1].name }) -- the user's own stays
    assert.matches("Returned 4 of 4 photos", menus.lastMessage().info, 1, true)
  end)

  it("leaves a user's own 'Before auto-retouch' alone on a photo the plug-in never applied", function()
    local photos = sdk.photos(2, { develop = ORIGINAL })
    sdk.newCatalog(photos)
    local MINE = { ProcessVersion = "11.0", Sharpness = 10, Exposure2012 = -1, WhiteBalance = "As Shot" }
    for i, photo in ipairs(photos) do
      photo.develop = MINE -- addSnapshot copies it
      sdk.addSnapshot(photo, i == 1 and "Before auto-retouch" or S.snapshotText) -- the user's, exactly our old names
      photo.develop = sdk.decode(sdk.encode(ORIGINAL))
    end

    menus.revert() -- nothing of the plug-in's yet: nothing applied, nothing deleted
    assert.are.equal(0, #sdk.catalog.writes)
    assert.matches("2 photos have no 'Before auto-retouch' snapshot", menus.lastMessage().info, 1, true)

    menus.apply { strength = 100 } -- takes its own snapshot beside the user's
    for _, photo in ipairs(photos) do
      assert.are.equal(2, #photo.snapshots)
      assert.are.equal(S.snapshotName, photo.snapshots[2].name)
      assert.are.same(ORIGINAL, photo.snapshots[2].settings)
      assert.is_not_nil(photo.properties.relativeBase) -- now the photo shows an apply, and its tagged snapshot wins
    end

    menus.revert() -- back to the plug-in's snapshot, which alone is deleted
    for i, photo in ipairs(photos) do
      assert.are.same(ORIGINAL, photo.develop)
      assert.are.equal(1, #photo.snapshots)
      assert.are.equal(i == 1 and "Before auto-retouch" or S.snapshotText, photo.snapshots[1].name)
      assert.are.same(MINE, photo.snapshots[1].settings)
    end
    assert.matches("Returned 2 of 2 photos", menus.lastMessage().info, 1, true)
  end)

  it("revert leaves photos without the snapshot alone and says how many", function()
    local photos = sdk.photos(2, { develop = ORIGINAL })
    sdk.newCatalog(photos)
    menus.revert()
    assert.are.equal(0, #sdk.catalog.writes)
    assert.matches("Returned 0 of 2 photos", menus.lastMessage().info, 1, true)
    assert.matches("2 photos have no 'Before auto-retouch' snapshot", menus.lastMessage().info, 1, true)
    assert.are.equal(0, #sdk.requests) -- revert needs no daemon
  end)

  it("retouches and trains from photos whose PV2012 reads 6.6, as some files write it", function()
    local photos = { sdk.newPhoto { path = "/p/pv66.nef", develop = { ProcessVersion = "6.6", Sharpness = 25 } } }
    sdk.newCatalog(photos)
    menus.apply { strength = 100 }
    assert.are.equal(1, #photos[1].applied)
    assert.is_nil(photos[1].applied[1].settings.ProcessVersion) -- not "updated": it has the 2012 controls
    assert.are.equal("info", menus.lastMessage().style)
    menus.train { name = "mine", minutes = 1 }
    assert.are.equal(1, #sdk.requestsTo("/v1/train/start")[1].body.lightroom_edits)
  end)

  it("refuses photos in a process version older than 2012 unless the preference says update", function()
    local old = { ProcessVersion = "5.7", Sharpness = 25 }
    local photos = {
      sdk.newPhoto { path = "/p/old.nef", develop = old },
      sdk.newPhoto { path = "/p/new.nef", develop = ORIGINAL },
    }
    sdk.newCatalog(photos)
    menus.apply { strength = 100 }
    assert.are.equal(0, #photos[1].applied)
    assert.are.equal(1, #photos[2].applied)
    assert.is_nil(photos[2].applied[1].settings.ProcessVersion)
    assert.are.equal("warning", menus.lastMessage().style)
    assert.matches("old.nef: process version 5.7 is older than 2012", menus.lastMessage().info, 1, true)

    sdk.reset()
    fakeStyle()
    sdk.prefs.processVersion = "update"
    photos = { sdk.newPhoto { path = "/p/old.nef", develop = old } }
    sdk.newCatalog(photos)
    menus.apply { strength = 100 }
    local sent = photos[1].applied[1].settings
    assert.are.equal(Develop.UPDATE_TO, sent.ProcessVersion)
    assert.are.equal(55, sent.Sharpness)
    assert.matches("1 photos were updated to process version 5 first:", menus.lastMessage().info, 1, true)
    assert.matches("old.nef: was process version 5.7", menus.lastMessage().info, 1, true)
  end)

  it("reads the settings back and reports what Lightroom kept differently", function()
    local photos = { sdk.newPhoto { path = "/p/a.nef", develop = ORIGINAL, keeps = { Temperature = 5000 } } }
    sdk.newCatalog(photos)
    menus.apply { strength = 100 }
    local summary = menus.lastMessage()
    assert.are.equal("warning", summary.style)
    assert.matches("On 1 photos Lightroom kept other values than were sent:", summary.info, 1, true)
    assert.matches("a.nef: Temperature sent 5600, now 5000", summary.info, 1, true)
  end)

  it("clamps relative keys to Lightroom's range", function()
    local photos = { sdk.newPhoto { path = "/p/a.nef", develop = { Sharpness = 140 } } }
    sdk.newCatalog(photos)
    menus.apply { strength = 100 }
    assert.are.equal(150, photos[1].applied[1].settings.Sharpness)
  end)

  it("without a develop-snapshot API: applies, and says how to take it back", function()
    local photos = { sdk.newPhoto { path = "/p/a.nef", develop = ORIGINAL, noSnapshotApi = true } }
    sdk.newCatalog(photos)
    menus.apply { strength = 100 }
    assert.are.equal(1, #photos[1].applied)
    assert.matches(S.summaryNoSnapshotApi, menus.lastMessage().info, 1, true)
    menus.revert()
    assert.are.equal(S.revertNoApi, menus.lastMessage().info)
    assert.are.equal(1, #sdk.catalog.writes)
  end)
end)

describe("Develop", function()
  it("validates relative keys against the whitelist and their numbers", function()
    local whitelist = Whitelist.packaged()
    local keys, dropped = Develop.relativeKeys({
      Sharpness = { add = 12, min = 0, max = 150 },
      Bogus = { add = 1, min = 0, max = 1 },
      Exposure2012 = { add = 0 / 0, min = 0, max = 1 },
    }, whitelist)
    assert.are.same({ Sharpness = { add = 12, min = 0, max = 150 } }, keys)
    assert.are.same({ "Bogus", "Exposure2012" }, dropped)
    assert.are.same({}, (Develop.relativeKeys(nil, whitelist)))
  end)

  it("knows which process versions carry the 2012 controls", function()
    assert.are.equal("5.0", Develop.oldProcessVersion { ProcessVersion = "5.0" })
    assert.are.equal("5.7", Develop.oldProcessVersion { ProcessVersion = "5.7" })
    assert.is_nil(Develop.oldProcessVersion { ProcessVersion = "6.7" })
    assert.is_nil(Develop.oldProcessVersion { ProcessVersion = "6.6" }) -- PV2012 as some files write it
    assert.are.equal("6.5", Develop.oldProcessVersion { ProcessVersion = "6.5" })
    assert.is_nil(Develop.oldProcessVersion { ProcessVersion = "15.4" })
    assert.is_nil(Develop.oldProcessVersion {})
  end)

  it("takes the base from the stored value, else the photo's, else 0", function()
    local keys = { Sharpness = { add = 10, min = 0, max = 150 } }
    assert.are.same({ Sharpness = 25 }, (Develop.base('{"Sharpness":25}', { Sharpness = 70 }, keys)))
    assert.are.same({ Sharpness = 70 }, (Develop.base(nil, { Sharpness = 70 }, keys)))
    assert.are.same({ Sharpness = 0 }, (Develop.base("not json", {}, keys)))
  end)

  it("compares numbers with a tolerance, curves point by point, and false as a value", function()
    assert.are.same({}, Develop.mismatches({ Exposure2012 = 0.5, C = { 0, 0, 255, 255 }, G = false }, {
      Exposure2012 = 0.505,
      C = { 0, 0, 255, 255 },
      G = false,
    }))
    local out = Develop.mismatches({ C = { 0, 0, 255, 255 }, G = false, W = "Custom" }, { C = { 0, 0 }, W = "As Shot" })
    assert.are.same({ "C", "G", "W" }, { out[1].key, out[2].key, out[3].key })
    assert.are.equal("{0,0,255,255}", out[1].sent)
  end)
end)
