-- DaemonClient: request shapes, answer parsing and error mapping.

local sdk = require("sdk")

local DaemonClient = require("DaemonClient")

local function client(opts)
  opts = opts or {}
  opts.url = opts.url or "http://127.0.0.1:50052"
  return DaemonClient.new(opts)
end

describe("DaemonClient", function()
  before_each(sdk.reset)

  it("posts a SuggestRequest as JSON with the token and a deadline", function()
    local c = client { token = "abc", timeout = 42 }
    local response = assert(c:suggest("/p/a.jpg", "warm", 0.25))
    local request = sdk.requestsTo("/v1/suggest")[1]
    assert.are.equal("http://127.0.0.1:50052/v1/suggest", request.url)
    assert.are.same(
      { protocol_version = 1, path = "/p/a.jpg", style = "warm", strength = 0.25, hosts = { "HOST_LIGHTROOM" } },
      request.body
    )
    assert.are.same(
      { ["Content-Type"] = "application/json", ["X-Autoretouch-Token"] = "abc", ["X-Autoretouch-Timeout"] = "42" },
      request.headers
    )
    local settings = DaemonClient.lightroomSettings(response)
    assert.are.same(sdk.defaultSettings "/p/a.jpg", settings)
  end)

  it("omits the style (daemon default) and the token when not set", function()
    client():suggest("/p/a.jpg", nil, 1)
    local request = sdk.requestsTo("/v1/suggest")[1]
    assert.is_nil(request.body.style)
    assert.is_nil(request.headers["X-Autoretouch-Token"])
  end)

  it("reads settings under the lowerCamelCase JSON name too", function()
    local settings = DaemonClient.lightroomSettings {
      suggestions = { { lightroomSettings = { Exposure2012 = 1 }, lightroomWarnings = { "w" } } },
    }
    assert.are.same({ Exposure2012 = 1 }, settings)
    local none, err = DaemonClient.lightroomSettings { suggestions = { { recipe = {} } } }
    assert.is_nil(none)
    assert.are.equal("protocol", err.kind)
  end)

  it("lists only usable styles and the default", function()
    local styles = assert(client():listStyles())
    assert.are.same({ "default", "warm" }, styles.names)
    assert.are.equal("default", styles.default)
    assert.are.equal("test", styles.serverVersion)
    assert.are.equal("/v1/styles?protocol_version=1", sdk.requests[1].path)
  end)

  it("maps failures to error kinds with the daemon's message", function()
    sdk.daemon.failPaths["/p/x.jpg"] = { status = 403, code = "PERMISSION_DENIED", message = "/p/x.jpg is outside the roots" }
    local none, err = client():suggest("/p/x.jpg")
    local _
    assert.is_nil(none)
    assert.are.same(
      { kind = "server", status = 403, code = "PERMISSION_DENIED", message = "/p/x.jpg is outside the roots" },
      err
    )

    sdk.daemon.token = "right"
    _, err = client({ token = "wrong" }):listStyles()
    assert.are.equal("auth", err.kind)

    sdk.daemon.down = true
    _, err = client():health()
    assert.are.same(
      { kind = "down", code = "cannotConnectToHost", message = "no answer from the daemon at http://127.0.0.1:50052" },
      err
    )

    local timeoutHttp = {
      get = function()
        return nil, { error = { errorCode = "timedOut" } }
      end,
    }
    _, err = client({ http = timeoutHttp, timeout = 5 }):health()
    assert.are.same({ kind = "timeout", code = "timedOut", message = "the daemon did not answer within 5 seconds" }, err)

    local garbage = {
      get = function()
        return "<html>", { status = 200 }
      end,
    }
    _, err = client({ http = garbage }):listStyles()
    assert.are.equal("protocol", err.kind)
  end)

  it("treats a NOT_SERVING health answer as not ready", function()
    sdk.daemon.health = "NOT_SERVING"
    local ok, err = client():health()
    assert.is_nil(ok)
    assert.are.equal("not_serving", err.kind)
  end)

  it("parses the sidecar NDJSON stream, including an error line", function()
    local text = table.concat({
      '{"file":{"index":1,"total":2,"photo":"/p/a.cr2","outcomes":[{"action":"SIDECAR_ACTION_WRITTEN"}]}}',
      "",
      '{"code":"INTERNAL","message":"disk full","type":"OSError","exit_code":1}\r',
    }, "\n")
    local parsed = assert(DaemonClient.parseSidecarStream(text))
    assert.are.equal(1, #parsed.files)
    assert.are.equal("/p/a.cr2", parsed.files[1].photo)
    assert.is_nil(parsed.summary)
    assert.are.same({ kind = "server", code = "INTERNAL", message = "disk full" }, parsed.error)
    local none, err = DaemonClient.parseSidecarStream "{not json}\n"
    assert.is_nil(none)
    assert.are.equal("protocol", err.kind)
  end)
end)
