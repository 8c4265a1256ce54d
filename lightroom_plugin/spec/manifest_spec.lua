-- Info.lua, the strings module, and the rules every plug-in file keeps.

local sdk = require("sdk")

local S = require("Strings")

local function read(name)
  local file = assert(io.open(sdk.pluginDir .. "/" .. name, "rb"))
  local text = file:read("*a")
  file:close()
  return text
end

local function pluginFiles()
  local names = {}
  local pipe = assert(io.popen("ls '" .. sdk.pluginDir .. "'"))
  for name in pipe:lines() do
    if name:find("%.lua$") and name ~= "dkjson.lua" and name ~= "AutoretouchKeys.lua" then
      names[#names + 1] = name
    end
  end
  pipe:close()
  return names
end

describe("Info.lua", function()
  local info = sdk.loadInfo()

  it("declares SDK 6.0 as the minimum, a reverse-DNS id and the plug-in scripts", function()
    assert.are.equal(6.0, info.LrSdkMinimumVersion)
    assert.is_true(info.LrSdkVersion >= 6.0)
    assert.matches("^%l+%.[%w.]+$", info.LrToolkitIdentifier)
    assert.is_nil(info.LrToolkitIdentifier:find("^com%.adobe"))
    assert.are.equal(S.pluginName, info.LrPluginName)
    for _, key in ipairs { "LrPluginInfoProvider", "LrInitPlugin", "LrShutdownPlugin", "LrMetadataProvider" } do
      assert.is_truthy(io.open(sdk.pluginDir .. "/" .. info[key]), key)
    end
  end)

  it("puts the commands under Library and File > Plug-in Extras, titled as in Strings.lua", function()
    for _, menu in ipairs { info.LrLibraryMenuItems, info.LrExportMenuItems } do
      assert.are.same({
        { title = S.menuApply, file = "AutoRetouchMenu.lua", enabledWhen = "photosSelected" },
        { title = S.menuRevert, file = "RevertMenu.lua", enabledWhen = "photosSelected" },
        { title = S.menuSidecars, file = "SidecarsMenu.lua", enabledWhen = "photosSelected" },
        { title = S.menuTrain, file = "TrainMenu.lua", enabledWhen = "photosSelected" },
      }, menu)
    end
    assert.are.equal("Auto-retouch (learned style)", S.menuApply)
    assert.are.equal("Revert auto-retouch", S.menuRevert)
    assert.are.equal("Write XMP sidecars for selection", S.menuSidecars)
  end)
end)

describe("plug-in sources", function()
  it("keep every LOC text in Strings.lua (and the manifest), each key once", function()
    local keys = {}
    for key in read("Strings.lua"):gmatch("%$%$%$/([%w/]+)=") do
      assert.is_nil(keys[key], "duplicate LOC key " .. key)
      keys[key] = true
    end
    assert.is_true(next(keys) ~= nil)
    for key in read("Info.lua"):gmatch("%$%$%$/([%w/]+)=") do
      assert.is_true(keys[key], "Info.lua key missing from Strings.lua: " .. key)
    end
    for _, name in ipairs(pluginFiles()) do
      if name ~= "Strings.lua" and name ~= "Info.lua" then
        local text = read(name)
        assert.is_nil(text:find("LOC%s*[%(\"]"), name .. " calls LOC itself")
        assert.is_nil(text:find("title%s*=%s*[\"']"), name .. " has a literal title")
        assert.is_nil(text:find("LrDialogs%.%w+%s*%(%s*[\"']"), name .. " shows a literal message")
      end
    end
  end)

  it("import SDK namespaces as locals, set no globals and return their module", function()
    for _, name in ipairs(pluginFiles()) do
      local text = read(name)
      for ns in text:gmatch("import%s*%(?%s*[\"'](%w+)") do
        assert.matches("local " .. ns .. " = import \"" .. ns .. "\"", text, 1, true)
      end
      local chunk = assert(loadfile(sdk.pluginDir .. "/" .. name))
      assert.is_function(chunk)
    end
    for _, name in ipairs {
      "ApplyFlow",
      "Config",
      "Daemon",
      "DaemonClient",
      "Dialogs",
      "Json",
      "Main",
      "PluginInfo",
      "Shell",
      "SidecarFlow",
      "Strings",
      "Whitelist",
    } do
      assert.is_table(require(name), name)
    end
  end)
end)
