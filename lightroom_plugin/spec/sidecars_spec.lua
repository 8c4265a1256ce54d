-- "Write XMP sidecars for selection": POST /v1/sidecars with the selected paths, NDJSON parsed.

local expect = require("expect")
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
    -- What the daemon writes for each path: one outcome, and the file's error if any.
    local answers = {
      ["/raw/a.cr2"] = { { action = "SIDECAR_ACTION_WRITTEN" } },
      ["/raw/b.nef"] = {
        { action = "SIDECAR_ACTION_FAILED", reason = "/raw/b.nef: truncated raw" },
        { code = "INVALID_ARGUMENT", message = "/raw/b.nef: truncated raw" },
      },
      ["/raw/c.jpg"] = { { action = "SIDECAR_ACTION_SKIPPED", reason = "Lightroom reads embedded XMP for this format" } },
    }
    sdk.daemon.sidecars = function(req)
      local lines, counts = {}, { changed = 0, skipped = 0, failed = 0 }
      for i, path in ipairs(req.paths) do
        local outcome, err = unpack(answers[path])
        lines[i] = line { file = { index = i, total = #req.paths, photo = path, outcomes = { outcome }, error = err } }
        local kind = outcome.action:match("WRITTEN") and "changed" or outcome.action:match("SKIPPED") and "skipped"
        kind = kind or "failed"
        counts[kind] = counts[kind] + 1
      end
      lines[#lines + 1] = line {
        summary = { photos = #req.paths, changed = counts.changed, skipped = counts.skipped, failed = counts.failed },
      }
      return table.concat(lines, "\n") .. "\n"
    end
    menus.sidecars()

    assert.are.same({ "autoretouch.sidecars" }, sdk.tasks)
    local requests = sdk.requestsTo "/v1/sidecars"
    assert.are.equal(3, #requests) -- one photo per request (Cancel is checked before each)
    for i, path in ipairs { "/raw/a.cr2", "/raw/b.nef", "/raw/c.jpg" } do
      assert.are.same({
        protocol_version = 1,
        paths = { path },
        hosts = { "HOST_LIGHTROOM" },
        style = "warm",
        strength = 0.5,
        overwrite = true,
      }, requests[i].body)
    end
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

  it("checks cancel before every photo: one request each, so Cancel does not wait for a batch", function()
    local photos = {}
    for i = 1, 5 do
      photos[i] = sdk.newPhoto { path = string.format("/raw/%d.cr2", i), format = "RAW" }
    end
    sdk.newCatalog(photos)
    sdk.isCanceled = function()
      return #sdk.requestsTo "/v1/sidecars" >= 2 -- cancelled while the second photo was written
    end
    menus.sidecars()
    local requests = sdk.requestsTo "/v1/sidecars"
    assert.are.equal(2, #requests)
    assert.are.same({ { "/raw/1.cr2" }, { "/raw/2.cr2" } }, { requests[1].body.paths, requests[2].body.paths })
    local summary = menus.lastMessage()
    expect.showsAll(summary.info, { "Written: 2, skipped: 0, failed: 0.", "Canceled: 3 photos were not processed." })
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

  it("counts a removed sidecar (strength 0 with overwrite takes our edit out) as done, not as failed", function()
    local answers = {
      ["/raw/a.cr2"] = "SIDECAR_ACTION_WRITTEN",
      ["/raw/b.nef"] = "SIDECAR_ACTION_DELETED",
      ["/raw/c.arw"] = "SIDECAR_ACTION_WOULD_DELETE",
    }
    sdk.daemon.sidecars = function(req)
      local path = req.paths[1]
      local outcome = { photo = path, host = "HOST_LIGHTROOM", action = answers[path], reason = "" }
      return line { file = { index = 1, total = 1, photo = path, outcomes = { outcome } } }
        .. "\n"
        .. line { summary = { photos = 1, changed = 1, skipped = 0, failed = 0 } }
        .. "\n"
    end
    local summary = SidecarFlow.run {
      client = require("DaemonClient").new { url = "http://127.0.0.1:50052" },
      paths = { "/raw/a.cr2", "/raw/b.nef", "/raw/c.arw" },
      style = "default",
      strength = 0,
      overwrite = true,
    }
    assert.are.equal(3, summary.changed)
    assert.are.equal(2, summary.removed)
    assert.are.equal(0, summary.failed)
    assert.are.same({}, summary.failures)
    for _, entry in ipairs(sdk.logs) do
      assert.are_not.equal("error", entry.level, entry.text)
    end
    local text = SidecarFlow.summaryText(summary)
    expect.showsAll(text, { S.sidecarsSummaryRemoved(1, 2, 0, 0), S.sidecarsRemovedNote })
    assert.matches("Written: 1, removed: 2, skipped: 0, failed: 0.", text, 1, true)
    assert.is_nil(text:find(S.sidecarsFailedHeader, 1, true))
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
