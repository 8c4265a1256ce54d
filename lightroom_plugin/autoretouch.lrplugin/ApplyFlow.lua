--[[----------------------------------------------------------------------------
ApplyFlow.lua -- suggest and apply develop settings for a list of photos.

Photos go in batches: for each photo of a batch, POST /v1/suggest (inside
LrTasks.pcall, so one failure does not stop the others), whitelist the
settings, then one catalog:withWriteAccessDo per batch applies them with
photo:applyDevelopSettings. The progress scope is updated after each batch and
its cancel button is checked before the next. When the daemon stops answering
the run ends; what was fetched is still written.
------------------------------------------------------------------------------]]

local LrTasks = import "LrTasks"

local DaemonClient = require "DaemonClient"
local Log = require "Log"
local S = require "Strings"

local ApplyFlow = {}

ApplyFlow.WRITE_TIMEOUT_S = 30
ApplyFlow.MAX_LISTED = 8

--- A failure value (error table or message) as text.
function ApplyFlow.message(err)
  if type(err) == "table" then
    return tostring(err.message or err.code or "?")
  end
  return tostring(err)
end

local function leafName(path)
  return (tostring(path):match("[^/\\]+$")) or tostring(path)
end

local function photoName(photo, path)
  local ok, name = LrTasks.pcall(photo.getFormattedMetadata, photo, "fileName")
  if ok and type(name) == "string" and name ~= "" then
    return name
  end
  return path and leafName(path) or "?"
end

local function addFailure(summary, name, err)
  local message = ApplyFlow.message(err)
  summary.failures[#summary.failures + 1] = { name = name, message = message }
  Log:errorf("%s: %s", name, message)
end

--- Asks the daemon for one photo's settings (raises an error table or message).
local function fetch(args, photo)
  local path = photo:getRawMetadata("path")
  if type(path) ~= "string" or path == "" then
    error({ kind = "photo", message = S.errorNoPath }, 0)
  end
  if photo:getRawMetadata("fileFormat") == "VIDEO" then
    error({ kind = "photo", message = S.errorVideo }, 0)
  end
  local response, err = args.client:suggest(path, args.style, args.strength)
  if not response then
    error(err, 0)
  end
  local raw, problem = DaemonClient.lightroomSettings(response)
  if not raw then
    error(problem, 0)
  end
  local settings, dropped = args.whitelist:filter(raw)
  return { path = path, settings = settings, dropped = dropped }
end

--- Applies one batch of fetched settings inside a single write gate.
local function write(args, batch, summary)
  local pending = {}
  for _, item in ipairs(batch) do
    if next(item.settings) == nil then
      summary.unchanged = summary.unchanged + 1
    else
      pending[#pending + 1] = item
    end
  end
  if #pending == 0 then
    return
  end
  local historyName = S.historyName(args.style or "default")
  local results = {}
  local ok, status = LrTasks.pcall(function()
    return args.catalog:withWriteAccessDo(S.undoName, function()
      for j, item in ipairs(pending) do
        results[j] = { pcall(item.photo.applyDevelopSettings, item.photo, item.settings, historyName) }
      end
    end, { timeout = ApplyFlow.WRITE_TIMEOUT_S })
  end)
  for j, item in ipairs(pending) do
    local result = results[j]
    if ok and status ~= "aborted" and result and result[1] then
      summary.applied = summary.applied + 1
    elseif not ok then
      addFailure(summary, item.name, status)
    elseif result and not result[1] then
      addFailure(summary, item.name, result[2])
    else
      addFailure(summary, item.name, S.errorCatalogBusy)
    end
  end
end

--- Suggests and applies settings for every photo.
-- @param args table {
--   photos = list of LrPhoto, catalog = LrCatalog, client = DaemonClient,
--   whitelist = Whitelist, style = name or nil (daemon default), strength = [0, 1],
--   progress = LrProgressScope or nil, batchSize = photos per batch (default 8) }
-- @return summary table { total, applied, unchanged, failures = { {name, message} },
--   dropped = sorted keys, canceled, notProcessed, stopped = error table when the daemon went away }
function ApplyFlow.run(args)
  local photos = args.photos
  local total = #photos
  local batchSize = math.max(1, args.batchSize or 8)
  local progress = args.progress
  local summary = {
    total = total,
    applied = 0,
    unchanged = 0,
    failures = {},
    dropped = {},
    canceled = false,
    notProcessed = 0,
  }
  local droppedSet = {}
  local processed = 0
  Log:infof("apply: %d photos, style %s, strength %.2f", total, tostring(args.style), args.strength or 1)
  while processed < total and not summary.stopped do
    if progress and progress:isCanceled() then
      summary.canceled = true
      break
    end
    local batch = {}
    local last = math.min(total, processed + batchSize)
    for k = processed + 1, last do
      local photo = photos[k]
      local ok, item = LrTasks.pcall(fetch, args, photo)
      if ok then
        item.photo = photo
        item.name = photoName(photo, item.path)
        batch[#batch + 1] = item
        for _, key in ipairs(item.dropped) do
          droppedSet[key] = true
        end
        if #item.dropped > 0 then
          Log:warnf("%s: dropped keys not in the slider catalog: %s", item.name, table.concat(item.dropped, ", "))
        end
        processed = k
      elseif type(item) == "table" and (item.kind == "down" or item.kind == "auth") then
        summary.stopped = item
        Log:errorf("apply stopped: %s", ApplyFlow.message(item))
        break
      else
        addFailure(summary, photoName(photo), item)
        processed = k
      end
    end
    write(args, batch, summary)
    if progress then
      progress:setPortionComplete(processed, total)
      progress:setCaption(S.progressCaption(processed, total))
    end
  end
  summary.notProcessed = total - processed
  for key in pairs(droppedSet) do
    summary.dropped[#summary.dropped + 1] = key
  end
  table.sort(summary.dropped)
  Log:infof(
    "apply done: %d applied, %d unchanged, %d failed, %d not processed",
    summary.applied,
    summary.unchanged,
    #summary.failures,
    summary.notProcessed
  )
  return summary
end

--- Lines listing failures, at most MAX_LISTED of them.
function ApplyFlow.listFailures(items)
  local lines = {}
  for i, item in ipairs(items) do
    if i > ApplyFlow.MAX_LISTED then
      lines[#lines + 1] = S.summaryMore(#items - ApplyFlow.MAX_LISTED)
      break
    end
    lines[#lines + 1] = S.summaryItem(item.name, item.message)
  end
  return lines
end

--- The summary dialog's text.
-- @param summary table from run
-- @return string
--- Appends why a run ended early (the daemon stopped answering, or the user cancelled) to summary lines.
function ApplyFlow.appendStop(lines, summary)
  if summary.stopped then
    lines[#lines + 1] = ""
    lines[#lines + 1] = ApplyFlow.message(summary.stopped)
    lines[#lines + 1] = S.summaryStopped
  elseif summary.canceled then
    lines[#lines + 1] = ""
    lines[#lines + 1] = S.summaryCanceled(summary.notProcessed)
  end
end

function ApplyFlow.summaryText(summary)
  local lines = { S.summaryApplied(summary.applied, summary.total) }
  if summary.unchanged > 0 then
    lines[#lines + 1] = S.summaryUnchanged(summary.unchanged)
  end
  if #summary.failures > 0 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = S.summaryFailed(#summary.failures)
    for _, line in ipairs(ApplyFlow.listFailures(summary.failures)) do
      lines[#lines + 1] = line
    end
  end
  ApplyFlow.appendStop(lines, summary)
  if #summary.dropped > 0 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = S.summaryDropped(table.concat(summary.dropped, ", "))
  end
  return table.concat(lines, "\n")
end

return ApplyFlow
