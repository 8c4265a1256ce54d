-- Preview and choose in the Auto-retouch dialog: before/after pictures of the first photo from the daemon, the
-- strength slider and the variant switching pictures, a mix of two styles, and the choice applied.

local menus = require("menus")
local sdk = require("sdk")

local PreviewFlow = require("PreviewFlow")
local S = require("Strings")

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read "*a"
  f:close()
  return text
end

local function pressPreview(modal)
  for _, button in ipairs(sdk.find(modal.contents, "push_button")) do
    if button.args.title == S.previewVerb then
      button.args.action()
      return
    end
  end
  error "no Preview button"
end

describe("preview and choose", function()
  before_each(function()
    sdk.reset()
    sdk.daemon.settingsFor = function(path, _style, strength, k, mix)
      local settings = sdk.defaultSettings(path)
      settings.Exposure2012 = 0.1 * (k or 1) * (strength or 1)
      settings.Contrast2012 = mix and 77 or settings.Contrast2012
      return settings
    end
  end)

  it("shows the daemon's before/after pictures; strength and variant switch them; the variant is applied", function()
    local photos = sdk.photos(3)
    sdk.newCatalog(photos).target = photos[2]
    local seen = {}
    sdk.modalHandler = function(args, props)
      pressPreview(args)
      local request = sdk.requestsTo("/v1/preview")[1].body
      assert.are.same({ path = photos[2].path, style = "default", variants = PreviewFlow.VARIANTS, seed = 0,
        hosts = { "HOST_LIGHTROOM" } }, request.suggest)
      assert.are.same(PreviewFlow.STRENGTHS, request.strengths)
      seen.before = read(props.beforePath)
      seen.full = read(props.afterPath) -- strength 100 %, variant 1
      props.strength = 45 -- nearest rendered: 50 %
      seen.half = read(props.afterPath)
      props.variant = 3
      seen.third = read(props.afterPath)
      props.strength = 0
      seen.zero = props.afterPath == props.beforePath
      props.strength = 50
      return "ok"
    end
    menus.apply()
    assert.are.equal("JPEG before " .. photos[2].path, seen.before)
    assert.are.equal("JPEG variant 1 at 1.00 for " .. photos[2].path, seen.full)
    assert.are.equal("JPEG variant 1 at 0.50 for " .. photos[2].path, seen.half)
    assert.are.equal("JPEG variant 3 at 0.50 for " .. photos[2].path, seen.third)
    assert.is_true(seen.zero)
    -- the run asks for 3 variants (seed 0, as previewed) and applies the third, at 50 %
    for i, request in ipairs(sdk.requestsTo "/v1/suggest") do
      assert.are.same({ 3, 0, 0.5 }, { request.body.variants, request.body.seed, request.body.strength })
      assert.is_true(math.abs(0.15 - photos[i].applied[1].settings.Exposure2012) < 1e-9)
    end
  end)

  it("mixes two styles, in the preview and in the run", function()
    local photos = sdk.photos(1)
    sdk.newCatalog(photos)
    sdk.modalHandler = function(args, props)
      props.style = "warm"
      props.mixWith = "default"
      props.mixWeight = 70
      pressPreview(args)
      return "ok"
    end
    menus.apply()
    local mix = { entries = { { style = "warm", weight = 0.7 }, { style = "default", weight = 0.3 } } }
    local preview = sdk.requestsTo("/v1/preview")[1].body.suggest
    assert.are.same(mix, preview.mix)
    assert.is_nil(preview.style)
    local run = sdk.requestsTo("/v1/suggest")[1].body
    assert.are.same(mix, run.mix)
    assert.is_nil(run.style)
    assert.are.equal(77, photos[1].applied[1].settings.Contrast2012)
    assert.are.equal("Auto-retouch: warm+default", photos[1].applied[1].history)
  end)

  it("keeps the pictures in a folder made with LrFileUtils, replaced by the next preview, removed at the end", function()
    sdk.newCatalog(sdk.photos(1))
    local LrPathUtils = import "LrPathUtils"
    local seen = {}
    local function folderOf(props)
      return LrPathUtils.parent(props.beforePath)
    end
    sdk.modalHandler = function(args, props)
      pressPreview(args)
      seen.first = folderOf(props)
      seen.firstThere = sdk.exists(seen.first)
      props.style = "warm"
      pressPreview(args)
      seen.second = folderOf(props)
      seen.firstAfterSecond = sdk.exists(seen.first)
      seen.secondPictures = read(props.afterPath)
      return "ok"
    end
    menus.apply()
    assert.are.equal("directory", seen.firstThere)
    assert.are_not.equal(seen.first, seen.second)
    assert.is_false(seen.firstAfterSecond) -- the second preview replaced the first one's folder
    assert.matches("JPEG variant 1", seen.secondPictures, 1, true)
    assert.is_false(sdk.exists(seen.second)) -- gone when the command ended
    assert.are.same({}, sdk.listDir(sdk.tempDir))
    local made = {}
    for _, op in ipairs(sdk.fileOps) do
      if op.op == "createAllDirectories" then
        made[#made + 1] = op.path
      end
    end
    assert.are.same({ seen.first, seen.second }, made) -- through the SDK, not a shell's mkdir
  end)

  it("removes the preview folder when the dialog is cancelled", function()
    sdk.newCatalog(sdk.photos(1))
    sdk.modalHandler = function(args)
      pressPreview(args)
      return "cancel"
    end
    menus.apply()
    assert.are.equal(1, #sdk.requestsTo "/v1/preview")
    assert.are.same({}, sdk.listDir(sdk.tempDir))
  end)

  it("removes a preview that arrives after the dialog closed", function()
    local client = require("DaemonClient").new { url = "http://127.0.0.1:50052" }
    local session = PreviewFlow.newSession()
    PreviewFlow.close(session)
    local got = sdk.runTask(PreviewFlow.fetch, client, "/photos/img_1.jpg", { style = "default" }, session)
    assert.is_nil(got)
    assert.are.equal(1, #sdk.requestsTo "/v1/preview")
    assert.are.same({}, sdk.listDir(sdk.tempDir))
  end)

  it("marks the preview stale when the style changes, and says why a preview failed", function()
    sdk.newCatalog(sdk.photos(1))
    local statuses = {}
    sdk.modalHandler = function(args, props)
      pressPreview(args)
      props.style = "warm"
      statuses[1] = props.previewStatus
      statuses[2] = props.afterPath
      sdk.daemon.previewFails = "/photos/img_1.jpg: no such file"
      pressPreview(args)
      statuses[3] = props.previewStatus
      return "cancel"
    end
    menus.apply()
    assert.are.equal(S.previewStale, statuses[1])
    assert.is_nil(statuses[2])
    assert.are.equal("No preview: /photos/img_1.jpg: no such file", statuses[3])
    assert.are.equal(0, #sdk.requestsTo "/v1/suggest")
  end)
end)
