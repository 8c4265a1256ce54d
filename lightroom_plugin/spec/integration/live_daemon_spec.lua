-- The plug-in's Lua client against a REAL running daemon over loopback HTTP (LrHttp backed by
-- LuaSocket). Started by tests/test_lightroom_plugin.py, which passes:
--   AUTORETOUCH_IT_URL        the daemon's JSON bridge, http://127.0.0.1:PORT
--   AUTORETOUCH_IT_TOKEN      its token
--   AUTORETOUCH_IT_PHOTO      a photo under the daemon's root
--   AUTORETOUCH_IT_STYLES     styles the daemon knows, "A,B"
--   AUTORETOUCH_IT_STRENGTH   strength in [0, 1]
--   AUTORETOUCH_IT_EXPECTED   file: style -> the settings `autoretouch suggest --json` + the Lightroom
--                             translator give in-process for the photo at that strength
--   AUTORETOUCH_IT_DEAD_URL   a loopback URL where nothing listens

local sdk = require("sdk")
local socketHttp = require("socket_http")

local DaemonClient = require("DaemonClient")
local SidecarFlow = require("SidecarFlow")

local env = {}
for _, name in ipairs { "URL", "TOKEN", "PHOTO", "STYLES", "STRENGTH", "EXPECTED", "DEAD_URL" } do
  env[name] = os.getenv("AUTORETOUCH_IT_" .. name)
end
local styles = {}
for style in tostring(env.STYLES):gmatch("[^,]+") do
  styles[#styles + 1] = style
end

local function readJson(path)
  local file = assert(io.open(path, "rb"))
  local text = file:read("*a")
  file:close()
  return sdk.decode(text)
end

describe("live daemon #integration", function()
  if not env.URL then
    pending("AUTORETOUCH_IT_URL is not set (run through tests/test_lightroom_plugin.py)")
    return
  end

  before_each(function()
    sdk.reset()
    socketHttp.install(sdk.ns.LrHttp)
    sdk.prefs.daemonUrl = env.URL
    sdk.prefs.token = env.TOKEN
  end)

  it("applies exactly the settings `autoretouch suggest` gives for the same photo and style", function()
    local expected = readJson(env.EXPECTED)
    local strength = tonumber(env.STRENGTH)
    assert.is_true(#styles >= 2)
    for _, style in ipairs(styles) do
      assert.is_true(next(expected[style]) ~= nil, "the expected settings must not be empty")
      sdk.reset()
      socketHttp.install(sdk.ns.LrHttp)
      sdk.prefs.daemonUrl = env.URL
      sdk.prefs.token = env.TOKEN
      local photo = sdk.newPhoto { path = env.PHOTO }
      sdk.newCatalog { photo }
      sdk.modalHandler = function(args, props)
        local listed = {}
        for _, item in ipairs(sdk.find(args.contents, "popup_menu")[1].args.items) do
          listed[item.value] = true
        end
        assert.is_true(listed[style], "the style popup lists the daemon's styles")
        props.style = style
        props.strength = strength * 100
        return "ok"
      end
      dofile(sdk.pluginDir .. "/AutoRetouchMenu.lua")
      local messages = sdk.dialogsOf "message"
      assert.are.equal(1, #photo.applied, messages[1] and messages[1].info)
      assert.are.same(expected[style], photo.applied[1].settings)
      assert.are.equal("Auto-retouch: " .. style, photo.applied[1].history)
      assert.matches("Applied to 1 of 1 photos.", messages[#messages].info, 1, true)
    end
  end)

  it("previews the photo: real JPEGs from the daemon, decoded and written for the dialog's pictures", function()
    local photo = sdk.newPhoto { path = env.PHOTO }
    sdk.newCatalog { photo }
    local shown = {}
    sdk.modalHandler = function(args, props)
      for _, button in ipairs(sdk.find(args.contents, "push_button")) do
        if button.args.action then
          button.args.action()
        end
      end
      shown.status = props.previewStatus
      for _, key in ipairs { "beforePath", "afterPath" } do
        local f = assert(io.open(assert(props[key], key), "rb"))
        shown[key] = f:read "*a"
        f:close()
      end
      props.variant = 2
      return "cancel"
    end
    dofile(sdk.pluginDir .. "/AutoRetouchMenu.lua")
    assert.are.equal("", shown.status)
    for _, key in ipairs { "beforePath", "afterPath" } do
      assert.are.equal("\255\216\255", shown[key]:sub(1, 3), key .. " is a JPEG") -- FF D8 FF
      assert.is_true(#shown[key] > 200)
    end
  end)

  it("gets the daemon's sidecar stream (a JPEG is skipped: Lightroom reads its embedded XMP)", function()
    local summary = SidecarFlow.run {
      client = DaemonClient.new { url = env.URL, token = env.TOKEN },
      paths = { env.PHOTO },
      style = styles[1],
      strength = 1,
    }
    assert.are.same({ 0, 1, 0 }, { summary.changed, summary.skipped, summary.failed })
    assert.matches("embedded XMP", summary.skippedItems[1].message)
  end)

  it("maps a wrong token and a dead port to the errors the dialogs explain", function()
    local _, err = DaemonClient.new({ url = env.URL, token = "wrong" }):listStyles()
    assert.are.equal("auth", err.kind)
    _, err = DaemonClient.new({ url = env.URL, token = env.TOKEN }):suggest("/definitely/not/under/a/root.jpg", styles[1], 1)
    assert.are.equal("server", err.kind)
    assert.are.equal(403, err.status)
    _, err = DaemonClient.new({ url = env.DEAD_URL, timeout = 5 }):health()
    assert.are.equal("down", err.kind)
  end)
end)
