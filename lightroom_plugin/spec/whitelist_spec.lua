-- The develop-setting whitelist: generated from the slider catalog, and what it lets through.

local sdk = require("sdk")

local Whitelist = require("Whitelist")

local catalog = require("spec.catalog")

local function catalogKeys()
  local keys = {}
  for _, slider in ipairs(catalog.sliders) do
    for _, key in ipairs(slider.lightroom.keys) do
      keys[key] = true
    end
  end
  return keys
end

describe("Whitelist", function()
  before_each(sdk.reset)

  it("holds exactly the Lightroom keys of every catalog slider", function()
    local keys = catalogKeys()
    local packaged = Whitelist.packaged()
    local n = 0
    for key in pairs(keys) do
      n = n + 1
      assert.is_true(packaged:allows(key), key)
    end
    assert.are.equal(n, packaged.count)
    assert.is_true(n >= #catalog.sliders)
  end)

  it("renders a Lua module that loads back to the same sorted keys", function()
    local source = assert(Whitelist.render(catalog))
    local data = assert(loadstring(source))()
    assert.are.same(Whitelist.keysFromCatalog(catalog), data.keys)
    assert.are.equal(catalog.catalog_version, data.catalogVersion)
    for i = 2, #data.keys do
      assert.is_true(data.keys[i - 1] < data.keys[i])
    end
  end)

  it("refuses a catalog with a key that is not a plain name", function()
    local bad = { sliders = { { lightroom = { keys = { 'Exposure2012"; os.exit()' } } } } }
    local source, err = Whitelist.render(bad)
    assert.is_nil(source)
    assert.matches("invalid Lightroom key", err)
    assert.is_nil((Whitelist.keysFromCatalog {}))
  end)

  it("drops keys outside the catalog and values of the wrong shape", function()
    local first = catalog.sliders[1].lightroom.keys[1]
    local w = Whitelist.new { first, "ToneCurvePV2012", "ConvertToGrayscale", "ToneCurveName2012" }
    local clean, dropped = w:filter {
      [first] = 0.5,
      ToneCurvePV2012 = { 0, 0, 255, 255 },
      ConvertToGrayscale = true,
      ToneCurveName2012 = "Custom",
      CameraProfile = "Adobe Standard",
      RedEyeInfo = { "x" },
    }
    assert.are.same({
      [first] = 0.5,
      ToneCurvePV2012 = { 0, 0, 255, 255 },
      ConvertToGrayscale = true,
      ToneCurveName2012 = "Custom",
    }, clean)
    assert.are.same({ "CameraProfile", "RedEyeInfo" }, dropped)
    local _, invalid = w:filter {
      [first] = 0 / 0,
      ToneCurvePV2012 = { 0, math.huge },
      ConvertToGrayscale = { nested = true },
      ToneCurveName2012 = string.rep("x", 300),
    }
    assert.are.equal(4, #invalid)
    local _, empty = w:filter { ToneCurvePV2012 = {} }
    assert.are.same({ "ToneCurvePV2012" }, empty)
  end)

  it("copies lists so later changes to the daemon's answer cannot reach the catalog", function()
    local w = Whitelist.new { "ToneCurvePV2012" }
    local curve = { 0, 0, 255, 255 }
    local clean = w:filter { ToneCurvePV2012 = curve }
    curve[2] = 99
    assert.are.same({ 0, 0, 255, 255 }, clean.ToneCurvePV2012)
  end)
end)
