-- "Write XMP sidecars for selection": POST /v1/sidecars with the selected paths, NDJSON parsed.

local menus = require("menus")
local sdk = require("sdk")

local S = require("Strings")
local SidecarFlow = require("SidecarFlow")

local function line(data)
  return sdk.encode(data)
end

describe("write sidecars command", function()
  before_each(sdk.reset)

  it("posts the selected paths once each (virtual copies share a file) and reports the stream", function()
    local photos = {
      sdk.newPhoto { path = "/raw/a.cr2", format = "RAW" },
      sdk.newPhoto { path = "/raw/a.cr2", format = "RAW" },
      sdk.newPhoto { path = "/raw/b.nef", format = "RAW" },
      sdk.newPhoto { path = "/raw/c.jpg" },
    }
    sdk.newCatalog(photos)
    sdk.modalHandler = function(args, props)
      assert.are.equal(S.sidecarsDialogTitle, args.title)
      props.style = "warm"
      props.strength = 50
      props.overwrite = true
      return "ok"
    end
    sdk.daemon.sidecars = function(req)
      -- The FileResult line of the i-th of the 3 paths: one outcome, and the file's error if any.
      local function fileLine(i, outcome, err)
        return line { file = { index = i, total = 3, photo = req.paths[i], outcomes = { outcome }, error = err } }
      end
      return table.concat({
        fileLine(1, { action = "SIDECAR_ACTION_WRITTEN" }),
        fileLine(
          2,
          { action = "SIDECAR_ACTION_FAILED", reason = "/raw/b.nef: truncated raw" },
          { code = "INVALID_ARGUMENT", message = "/raw/b.nef: truncated raw" }
        ),
        fileLine(3, { action = "SIDECAR_ACTION_SKIPPED", reason = "Lightroom reads embedded XMP for this format" }),
        line { summary = { photos = 3, changed = 1, skipped = 1, failed = 1, cancelled = false } },
      }, "\n") .. "\n"
    end
    menus.sidecars()

    assert.are.same({ "autoretouch.sidecars" }, sdk.tasks)
    local requests = sdk.requestsTo "/v1/sidecars"
    assert.are.equal(1, #requests)
    assert.are.same({
      protocol_version = 1,
      paths = { "/raw/a.cr2", "/raw/b.nef", "/raw/c.jpg" },
      hosts = { "HOST_LIGHTROOM" },
      style = "warm",
      strength = 0.5,
      overwrite = true,
    }, requests[1].body)
    local summary = sdk.dialogsOf("message")[1]
    assert.are.equal(S.sidecarsSummaryTitle, summary.message)
    assert.are.equal("warning", summary.style)
    assert.matches("Written: 1, skipped: 1, failed: 1.", summary.info, 1, true)
    assert.matches("b.nef: /raw/b.nef: truncated raw", summary.info, 1, true)
    assert.matches("c.jpg: Lightroom reads embedded XMP for this format", summary.info, 1, true)
    assert.matches("Read Metadata from Files", summary.info, 1, true)
    assert.are.equal(0, #sdk.catalog.writes)
    assert.is_true(sdk.prefs.overwrite)
  end)

  it("sends batches, checks cancel between them and marks a broken stream's rest as failed", function()
    local paths = {}
    for i = 1, 7 do
      paths[i] = string.format("/raw/%d.cr2", i)
    end
    local calls = 0
    sdk.daemon.sidecars = function(req)
      calls = calls + 1
      if calls == 2 then
        return line { file = { photo = req.paths[1], outcomes = { { action = "SIDECAR_ACTION_WRITTEN" } } } }
          .. "\n"
          .. line { code = "INTERNAL", message = "the daemon crashed" }
          .. "\n"
      end
      return sdk.sidecarStream(req)
    end
    sdk.isCanceled = function(scope)
      return scope.checks > 3
    end
    local progress = sdk.ns.LrProgressScope { title = "t" }
    local summary = SidecarFlow.run {
      client = require("DaemonClient").new { url = "http://127.0.0.1:50052" },
      paths = paths,
      style = "default",
      strength = 1,
      progress = progress,
      batchSize = 2,
    }
    assert.are.equal(3, calls)
    assert.are.equal(5, summary.changed)
    assert.are.equal(1, summary.failed)
    assert.are.same({ name = "4.cr2", message = "the daemon crashed" }, summary.failures[1])
    assert.is_true(summary.canceled)
    assert.are.equal(1, summary.notProcessed)
    assert.are.same({ { 2, 7 }, { 4, 7 }, { 6, 7 } }, progress.portions)
  end)

  it("stops when the daemon goes away", function()
    sdk.daemon.down = true
    local summary = SidecarFlow.run {
      client = require("DaemonClient").new { url = "http://127.0.0.1:50052" },
      paths = { "/raw/1.cr2", "/raw/2.cr2" },
      strength = 1,
      batchSize = 1,
    }
    assert.are.equal("down", summary.stopped.kind)
    assert.are.equal(2, summary.notProcessed)
    assert.matches(S.summaryStopped, SidecarFlow.summaryText(summary), 1, true)
  end)
end)
