-- The Plug-in Manager section and the settings it stores.

local sdk = require("sdk")

local Config = require("Config")
local PluginInfo = require("PluginInfo")

describe("Config", function()
  before_each(sdk.reset)

  it("normalises URLs and finds the port", function()
    assert.are.equal(Config.DEFAULT_URL, Config.normalizeUrl "  ")
    assert.are.equal("http://127.0.0.1:7000", Config.normalizeUrl " 127.0.0.1:7000/ ")
    assert.are.equal("http://[::1]:7000", Config.normalizeUrl "http://[::1]:7000")
    assert.are.equal(7000, Config.port "http://127.0.0.1:7000")
    assert.are.equal(80, Config.port "http://localhost")
    assert.are.same({ "/a b", "C:\\x" }, Config.splitRoots " /a b ;\n C:\\x ;; ")
  end)

  it("loads defaults and remembers the last choice", function()
    local config = Config.load()
    assert.are.same({
      url = Config.DEFAULT_URL,
      command = "autoretouch",
      roots = {},
      strength = 100,
      overwrite = false,
      processVersion = "refuse",
    }, config)
    Config.remember { style = "warm", strength = 0.333 }
    assert.are.same({ lastStyle = "warm", lastStrength = 33 }, sdk.prefs)
    assert.are.equal(33, Config.load().strength)
  end)
end)

describe("Plug-in Manager section", function()
  before_each(sdk.reset)

  it("shows URL, token (hidden), program, folders and a Test connection button", function()
    local props = {}
    PluginInfo.startDialog(props)
    assert.are.equal(Config.DEFAULT_URL, props.daemonUrl)
    local f = sdk.ns.LrView.osFactory()
    local sections = PluginInfo.sectionsForTopOfDialog(f, props)
    assert.are.equal(1, #sections)
    local fields = {}
    for _, field in ipairs(sdk.find(sections, "edit_field")) do
      fields[#fields + 1] = field.args.value.bind
    end
    assert.are.same({ "daemonUrl", "command", "roots" }, fields)
    assert.are.equal("token", sdk.find(sections, "password_field")[1].args.value.bind)
    local button = sdk.find(sections, "push_button")[1]
    assert.are.equal("Test connection", button.args.title)

    sdk.daemon.token = "tok"
    props.token = "tok"
    button.args.action()
    assert.are.same({ "autoretouch.test" }, sdk.tasks)
    assert.are.equal("Connected to autoretouch test; 2 usable styles.", props.status)
  end)

  it("says why the connection failed", function()
    local props = { daemonUrl = "127.0.0.1:50052", token = "" }
    sdk.daemon.token = "tok"
    assert.are.equal("Not connected: The daemon refused the token", PluginInfo.testConnection(props))
    sdk.daemon.down = true
    assert.are.equal(
      "Not connected: no answer from the daemon at http://127.0.0.1:50052",
      PluginInfo.testConnection(props)
    )
  end)

  it("stores the fields, the URL normalised", function()
    local props = { daemonUrl = "127.0.0.1:9/", token = "t", command = "/opt/ar", roots = "/p" }
    PluginInfo.endDialog(props)
    assert.are.same({ daemonUrl = "http://127.0.0.1:9", token = "t", command = "/opt/ar", roots = "/p" }, sdk.prefs)
  end)
end)
