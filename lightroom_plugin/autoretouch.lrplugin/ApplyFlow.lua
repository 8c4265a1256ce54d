--[[----------------------------------------------------------------------------
ApplyFlow.lua -- suggest and apply develop settings for a list of photos.

Two phases, so that the whole run is one step of Edit > Undo:

1. Fetch, in batches (progress after each; cancel checked before each photo):
   for each photo (inside LrTasks.pcall, so one failure does not stop the
   others) POST /v1/suggest, whitelist the settings, read the photo's
   current settings (process version, the base of the relative keys, see
   Develop.lua) and whether it has a "Before auto-retouch" snapshot.
2. Write: one catalog:withWriteAccessDo named "Auto-retouch" for every photo
   fetched: a "Before auto-retouch" develop snapshot where the photo has none
   yet (so Revert auto-retouch returns to the photo as it was before its
   first auto-retouch), the base of its relative keys kept with the photo
   (plug-in metadata), then photo:applyDevelopSettings.

Afterwards every photo's settings are read back with getDevelopSettings and
any key Lightroom kept at another value is reported. When the daemon stops
answering, or the user cancels, what was fetched is still written.
------------------------------------------------------------------------------]]

local LrTasks = import "LrTasks"

local DaemonClient = require("DaemonClient")
local Develop = require("Develop")
local Log = require("Log")
local PreviewFlow = require("PreviewFlow")
local S = require("Strings")

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

--- A photo's file name for messages ("?" or the path's last part when the catalog cannot give it).
function ApplyFlow.photoName(photo, path)
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

--- The plug-in metadata field keeping the relative keys' base (Metadata.lua).
ApplyFlow.BASE_FIELD = "relativeBase"

local function method(object, name)
  local ok, fn = pcall(function()
    return object[name]
  end)
  return ok and type(fn) == "function" and fn or nil
end

--- Whether a develop snapshot's name is the plug-in's "Before auto-retouch [autoretouch]": it ends with the
-- untranslated tag (S.snapshotTag), whatever Lightroom's language was when it was taken.
function ApplyFlow.isOurSnapshot(name)
  if type(name) ~= "string" then
    return false
  end
  local tag = S.snapshotTag
  return #name > #tag and name:sub(-#tag) == tag
end

--- Whether a snapshot's name is one that versions before the tag gave it (S.untaggedSnapshotNames). A user may
-- name a snapshot so too, so such a name is the plug-in's only on a photo it applied before (see findSnapshot).
function ApplyFlow.isUntaggedName(name)
  for _, untagged in ipairs(S.untaggedSnapshotNames) do
    if name == untagged then
      return true
    end
  end
  return false
end

--- Whether the photo carries what an earlier version's auto-retouch recorded with it: the relative keys' base
-- (ApplyFlow.BASE_FIELD, written on the photo's first apply whose settings had a relative key; Revert removes
-- it). The only plug-in property those versions wrote.
function ApplyFlow.appliedBefore(photo)
  local base = ApplyFlow.property(photo, ApplyFlow.BASE_FIELD)
  return type(base) == "string" and base ~= ""
end

--- The id of the photo's "Before auto-retouch" snapshot; nil when it has none, false when this
-- Lightroom has no develop-snapshot API. getDevelopSnapshots gives records { snapshotID, name }.
-- A tagged snapshot comes first; a snapshot with an untagged name (earlier versions) counts only when
-- the photo shows an earlier apply (appliedBefore), so a user's own "Before auto-retouch" is never
-- taken for the plug-in's: a new apply takes its own snapshot, and Revert neither returns to nor deletes it.
function ApplyFlow.findSnapshot(photo)
  local list = method(photo, "getDevelopSnapshots")
  if not list or not method(photo, "createDevelopSnapshot") then
    return false
  end
  local ok, snapshots = LrTasks.pcall(list, photo)
  if not ok or type(snapshots) ~= "table" then
    return nil
  end
  local untagged
  for _, snapshot in ipairs(snapshots) do
    if type(snapshot) == "table" then
      local name = snapshot.name or snapshot.snapshotName
      if ApplyFlow.isOurSnapshot(name) then
        return snapshot.snapshotID
      elseif untagged == nil and ApplyFlow.isUntaggedName(name) then
        untagged = snapshot.snapshotID
      end
    end
  end
  if untagged ~= nil and ApplyFlow.appliedBefore(photo) then
    return untagged
  end
  return nil
end

--- The photo's develop settings ({} when Lightroom cannot tell).
function ApplyFlow.currentSettings(photo)
  local get = method(photo, "getDevelopSettings")
  if not get then
    return {}
  end
  local ok, settings = LrTasks.pcall(get, photo)
  return ok and type(settings) == "table" and settings or {}
end

--- A plug-in metadata value of the photo (nil when unset or unreadable).
function ApplyFlow.property(photo, field)
  local get = method(photo, "getPropertyForPlugin")
  if not get then
    return nil
  end
  local ok, value = LrTasks.pcall(get, photo, _PLUGIN, field)
  return ok and value or nil
end

local function mergeDropped(a, b)
  local out = {}
  for _, key in ipairs(a) do
    out[#out + 1] = key
  end
  for _, key in ipairs(b) do
    out[#out + 1] = key
  end
  table.sort(out)
  return out
end

--- Asks the daemon for one photo's settings and prepares them (raises an error table or message).
local function fetch(args, photo)
  local path = photo:getRawMetadata("path")
  if type(path) ~= "string" or path == "" then
    error({ kind = "photo", message = S.errorNoPath }, 0)
  end
  if photo:getRawMetadata("fileFormat") == "VIDEO" then
    error({ kind = "photo", message = S.errorVideo }, 0)
  end
  local variant = args.variant or 1
  local opts = { mix = args.mix, variants = variant > 1 and variant or nil, seed = variant > 1 and PreviewFlow.SEED or nil }
  local response, err = args.client:suggest(path, args.style, args.strength, opts)
  if not response then
    error(err, 0)
  end
  local raw, problem = DaemonClient.lightroomSettings(response, variant)
  if not raw then
    error(problem, 0)
  end
  local settings, dropped = args.whitelist:filter(raw)
  local relative, droppedRelative =
    Develop.relativeKeys(DaemonClient.lightroomRelative(response, variant), args.whitelist)
  local current = ApplyFlow.currentSettings(photo)
  local old = Develop.oldProcessVersion(current)
  if old and args.processVersion ~= "update" then
    error({ kind = "photo", message = S.errorOldProcessVersion(old) }, 0)
  end
  local item = { path = path, settings = settings, dropped = mergeDropped(dropped, droppedRelative) }
  if next(relative) ~= nil then
    local base, stored = Develop.base(ApplyFlow.property(photo, ApplyFlow.BASE_FIELD), current, relative)
    Develop.applyRelative(settings, relative, base)
    if not stored then
      item.newBase = Develop.encodeBase(base)
    end
  end
  if old and next(settings) ~= nil then
    settings.ProcessVersion = Develop.UPDATE_TO
    item.updatedFrom = old
  end
  item.snapshot = ApplyFlow.findSnapshot(photo)
  return item
end

--- Inside the write gate: snapshot (first time only), base, settings.
local function applyOne(item, historyName)
  local photo = item.photo
  if item.snapshot == nil then
    photo:createDevelopSnapshot(S.snapshotName, false)
  end
  if item.newBase then
    photo:setPropertyForPlugin(_PLUGIN, ApplyFlow.BASE_FIELD, item.newBase)
  end
  photo:applyDevelopSettings(item.settings, historyName)
end

--- Applies every fetched photo inside a single write gate (one undo step).
local function write(args, items, summary)
  local pending = {}
  for _, item in ipairs(items) do
    if next(item.settings) == nil then
      summary.unchanged = summary.unchanged + 1
    else
      pending[#pending + 1] = item
    end
  end
  if #pending == 0 then
    return {}
  end
  local historyName = S.historyName(args.historyLabel or args.style or "default")
  local results = {}
  local ok, status = LrTasks.pcall(function()
    return args.catalog:withWriteAccessDo(S.undoName, function()
      for j, item in ipairs(pending) do
        -- LrTasks.pcall, not pcall: the photo calls may yield, which Lua 5.1's pcall does not allow.
        results[j] = { LrTasks.pcall(applyOne, item, historyName) }
      end
    end, { timeout = ApplyFlow.WRITE_TIMEOUT_S })
  end)
  local applied = {}
  for j, item in ipairs(pending) do
    local result = results[j]
    if ok and status ~= "aborted" and result and result[1] then
      summary.applied = summary.applied + 1
      applied[#applied + 1] = item
      if item.snapshot == false then
        summary.noSnapshotApi = true
      end
      if item.updatedFrom then
        summary.updated[#summary.updated + 1] = { name = item.name, message = S.updatedProcessVersion(item.updatedFrom) }
      end
    elseif not ok then
      addFailure(summary, item.name, status)
    elseif result and not result[1] then
      addFailure(summary, item.name, result[2])
    else
      addFailure(summary, item.name, S.errorCatalogBusy)
    end
  end
  return applied
end

--- Reads the applied photos' settings back and records the keys Lightroom kept at another value.
local function readBack(applied, summary)
  for _, item in ipairs(applied) do
    local differences = Develop.mismatches(item.settings, ApplyFlow.currentSettings(item.photo))
    if #differences > 0 then
      local parts = {}
      for i, d in ipairs(differences) do
        parts[i] = S.mismatchKey(d.key, d.sent, d.now)
      end
      local message = table.concat(parts, "; ")
      summary.mismatches[#summary.mismatches + 1] = { name = item.name, message = message }
      Log:warnf("%s: Lightroom kept other values: %s", item.name, message)
    end
  end
end

--- Suggests and applies settings for every photo.
-- @param args table {
--   photos = list of LrPhoto, catalog = LrCatalog, client = DaemonClient,
--   whitelist = Whitelist, style = name or nil (daemon default), strength = [0, 1],
--   processVersion = "refuse" (default) or "update" (photos older than process version 2012),
--   variant = which suggestion (1 = the deterministic one; k > 1: the k-th of k variants, seed 0, as previewed),
--   mix = StyleMix table instead of style (two styles blended, see PreviewFlow.styleChoice),
--   progress = LrProgressScope or nil (cancel is checked before each photo),
--   batchSize = photos fetched between progress updates (default 8) }
-- @return summary table { total, applied, unchanged, failures = { {name, message} },
--   mismatches = { {name, message} }, updated = { {name, message} }, noSnapshotApi,
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
    mismatches = {},
    updated = {},
    dropped = {},
    canceled = false,
    notProcessed = 0,
  }
  local droppedSet = {}
  local fetched = {}
  local processed = 0
  Log:infof("apply: %d photos, style %s, strength %.2f", total, tostring(args.style), args.strength or 1)
  while processed < total and not summary.stopped and not summary.canceled do
    local last = math.min(total, processed + batchSize)
    for k = processed + 1, last do
      if progress and progress:isCanceled() then
        summary.canceled = true
        break
      end
      local photo = photos[k]
      local ok, item = LrTasks.pcall(fetch, args, photo)
      if ok then
        item.photo = photo
        item.name = ApplyFlow.photoName(photo, item.path)
        fetched[#fetched + 1] = item
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
        addFailure(summary, ApplyFlow.photoName(photo), item)
        processed = k
      end
    end
    if progress then
      progress:setPortionComplete(processed, total)
      progress:setCaption(S.progressCaption(processed, total))
    end
  end
  readBack(write(args, fetched, summary), summary)
  summary.notProcessed = total - processed
  for key in pairs(droppedSet) do
    summary.dropped[#summary.dropped + 1] = key
  end
  table.sort(summary.dropped)
  Log:infof(
    "apply done: %d applied, %d unchanged, %d failed, %d not processed, %d read back different",
    summary.applied,
    summary.unchanged,
    #summary.failures,
    summary.notProcessed,
    #summary.mismatches
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

--- Appends a titled list to summary lines (nothing when `items` is empty): a blank line, `header`, the items.
-- @param lines list of strings (modified)
-- @param header text, e.g. S.summaryFailed(#items)
-- @param items list of { name, message }
function ApplyFlow.appendSection(lines, header, items)
  if #items == 0 then
    return
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = header
  for _, line in ipairs(ApplyFlow.listFailures(items)) do
    lines[#lines + 1] = line
  end
end

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

--- The summary dialog's text.
-- @param summary table from run
-- @return string
function ApplyFlow.summaryText(summary)
  local lines = { S.summaryApplied(summary.applied, summary.total) }
  if summary.unchanged > 0 then
    lines[#lines + 1] = S.summaryUnchanged(summary.unchanged)
  end
  ApplyFlow.appendSection(lines, S.summaryFailed(#summary.failures), summary.failures)
  ApplyFlow.appendStop(lines, summary)
  ApplyFlow.appendSection(lines, S.summaryUpdated(#summary.updated), summary.updated)
  ApplyFlow.appendSection(lines, S.summaryMismatches(#summary.mismatches), summary.mismatches)
  if summary.noSnapshotApi then
    lines[#lines + 1] = ""
    lines[#lines + 1] = S.summaryNoSnapshotApi
  end
  if #summary.dropped > 0 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = S.summaryDropped(table.concat(summary.dropped, ", "))
  end
  return table.concat(lines, "\n")
end

return ApplyFlow
