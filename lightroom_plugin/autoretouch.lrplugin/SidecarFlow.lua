--[[----------------------------------------------------------------------------
SidecarFlow.lua -- "Write XMP sidecars for selection": POST /v1/sidecars with
the selected photos' paths, one photo per request by default (LrHttp returns
only when a request is answered, so Cancel, checked before each request, acts
before the next photo), and count what the NDJSON stream reports (one
FileResult per photo, then a Summary).

Lightroom sidecars (NAME.xmp) exist for proprietary raws only; the daemon skips
JPEG, TIFF, PNG and DNG files with a reason, which the summary lists.
------------------------------------------------------------------------------]]

local ApplyFlow = require("ApplyFlow")
local Log = require("Log")
local S = require("Strings")

local SidecarFlow = {}

--- Paths per request: 1, so that Cancel acts before the next photo (the daemon writes a request's photos one
-- after the other anyway).
SidecarFlow.BATCH_SIZE = 1

--- Outcomes that count as done: the sidecar was written, or (overwrite at strength 0, which takes our edit
-- out) the sidecar autoretouch had created was removed again; the dry-run forms too.
local CHANGED = {
  SIDECAR_ACTION_WRITTEN = true,
  SIDECAR_ACTION_WOULD_WRITE = true,
  SIDECAR_ACTION_DELETED = true,
  SIDECAR_ACTION_WOULD_DELETE = true,
}

--- Of those, the ones that removed the sidecar (counted in `changed` and in `removed`).
local REMOVED = {
  SIDECAR_ACTION_DELETED = true,
  SIDECAR_ACTION_WOULD_DELETE = true,
}

local function leafName(path)
  return (tostring(path):match("[^/\\]+$")) or tostring(path)
end

--- The unique paths of a list of photos, in order (virtual copies share their master's file).
-- @param photos list of LrPhoto
-- @return list of paths, list of failure items for photos without a path
function SidecarFlow.paths(photos)
  local seen, paths, missing = {}, {}, {}
  for _, photo in ipairs(photos) do
    local path = photo:getRawMetadata("path")
    if type(path) ~= "string" or path == "" then
      missing[#missing + 1] = { name = "?", message = S.errorNoPath }
    elseif not seen[path] then
      seen[path] = true
      paths[#paths + 1] = path
    end
  end
  return paths, missing
end

local function count(summary, file)
  local name = leafName(file.photo or "?")
  for _, outcome in ipairs(file.outcomes or {}) do
    local reason = outcome.reason or ""
    if CHANGED[outcome.action] then
      summary.changed = summary.changed + 1
      if REMOVED[outcome.action] then
        summary.removed = summary.removed + 1
      end
    elseif outcome.action == "SIDECAR_ACTION_SKIPPED" then
      summary.skipped = summary.skipped + 1
      summary.skippedItems[#summary.skippedItems + 1] = { name = name, message = reason }
    else
      summary.failed = summary.failed + 1
      summary.failures[#summary.failures + 1] = { name = name, message = reason }
      Log:errorf("sidecar %s: %s", name, reason)
    end
  end
  if type(file.error) == "table" and #(file.outcomes or {}) == 0 then
    summary.failed = summary.failed + 1
    summary.failures[#summary.failures + 1] = { name = name, message = tostring(file.error.message) }
  end
end

--- Writes sidecars for the given paths.
-- @param args table { client = DaemonClient, paths = list, style = name or nil,
--   strength = [0, 1], overwrite = boolean, progress = LrProgressScope or nil (cancel is checked before each
--   request), batchSize = paths per request (default BATCH_SIZE) }
-- @return summary { total, changed (written or removed), removed (sidecars autoretouch had created, removed
--   again once our edit was taken out), skipped, failed, skippedItems, failures, canceled,
--   notProcessed, stopped = error table when the daemon went away }
function SidecarFlow.run(args)
  local paths = args.paths
  local total = #paths
  local batchSize = math.max(1, args.batchSize or SidecarFlow.BATCH_SIZE)
  local summary = {
    total = total,
    changed = 0,
    removed = 0,
    skipped = 0,
    failed = 0,
    skippedItems = {},
    failures = {},
    canceled = false,
    notProcessed = 0,
  }
  local processed = 0
  Log:infof("sidecars: %d photos, style %s", total, tostring(args.style))
  while processed < total do
    if args.progress and args.progress:isCanceled() then
      summary.canceled = true
      break
    end
    local batch = {}
    for k = processed + 1, math.min(total, processed + batchSize) do
      batch[#batch + 1] = paths[k]
    end
    local result, err = args.client:writeSidecars(batch, {
      style = args.style,
      strength = args.strength,
      overwrite = args.overwrite,
    })
    if not result and (err.kind == "down" or err.kind == "auth") then
      summary.stopped = err
      break
    end
    if not result then
      for _, path in ipairs(batch) do
        summary.failed = summary.failed + 1
        summary.failures[#summary.failures + 1] = { name = leafName(path), message = ApplyFlow.message(err) }
      end
    else
      for _, file in ipairs(result.files) do
        count(summary, file)
      end
      if result.error then
        for k = #result.files + 1, #batch do
          summary.failed = summary.failed + 1
          summary.failures[#summary.failures + 1] = { name = leafName(batch[k]), message = result.error.message }
        end
      end
    end
    processed = processed + #batch
    if args.progress then
      args.progress:setPortionComplete(processed, total)
      args.progress:setCaption(S.progressCaption(processed, total))
    end
  end
  summary.notProcessed = total - processed
  return summary
end

--- The summary dialog's text.
function SidecarFlow.summaryText(summary)
  local removed = summary.removed or 0
  local lines
  if removed > 0 then
    lines = {
      S.sidecarsSummaryRemoved(summary.changed - removed, removed, summary.skipped, summary.failed),
      S.sidecarsRemovedNote,
    }
  else
    lines = { S.sidecarsSummary(summary.changed, summary.skipped, summary.failed) }
  end
  ApplyFlow.appendSection(lines, S.sidecarsFailedHeader, summary.failures)
  ApplyFlow.appendSection(lines, S.sidecarsSkippedHeader, summary.skippedItems)
  ApplyFlow.appendStop(lines, summary)
  lines[#lines + 1] = ""
  lines[#lines + 1] = S.sidecarsReadHint
  return table.concat(lines, "\n")
end

return SidecarFlow
