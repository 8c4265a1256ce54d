--[[----------------------------------------------------------------------------
RevertFlow.lua -- "Revert auto-retouch": every selected photo that has a
"Before auto-retouch [autoretouch]" develop snapshot (taken by ApplyFlow
before the photo's first auto-retouch; found by ApplyFlow.findSnapshot, which
takes an untagged "Before auto-retouch" of earlier versions only on a photo
that carries the plug-in's record of an earlier apply) goes
back to it, in one write gate (one undo step named "Revert auto-retouch").
The snapshot and the relative keys' base kept with the photo are removed, so
a later auto-retouch starts from the photo as it is then. Photos without the
snapshot are counted and left alone.
------------------------------------------------------------------------------]]

local LrTasks = import "LrTasks"

local ApplyFlow = require("ApplyFlow")
local Log = require("Log")
local S = require("Strings")

local RevertFlow = {}

--- Reverts the photos.
-- @param args table { photos = list of LrPhoto, catalog = LrCatalog, progress = LrProgressScope or nil }
-- @return summary table { total, reverted, noSnapshot, noApi, failures = { {name, message} } }
function RevertFlow.run(args)
  local summary = { total = #args.photos, reverted = 0, noSnapshot = 0, noApi = false, failures = {} }
  local pending = {}
  for _, photo in ipairs(args.photos) do
    local id = ApplyFlow.findSnapshot(photo)
    if id == false then
      summary.noApi = true
      Log:warn "revert: this Lightroom has no develop-snapshot API"
      return summary
    elseif id == nil then
      summary.noSnapshot = summary.noSnapshot + 1
    else
      pending[#pending + 1] = { photo = photo, id = id }
    end
  end
  if #pending == 0 then
    return summary
  end
  local results = {}
  local ok, status = LrTasks.pcall(function()
    return args.catalog:withWriteAccessDo(S.revertUndoName, function()
      for j, item in ipairs(pending) do
        -- LrTasks.pcall, not pcall: the photo calls may yield, which Lua 5.1's pcall does not allow.
        results[j] = {
          LrTasks.pcall(function()
            item.photo:applyDevelopSnapshot(item.id)
            item.photo:deleteDevelopSnapshot(item.id)
            item.photo:setPropertyForPlugin(_PLUGIN, ApplyFlow.BASE_FIELD, nil)
          end),
        }
      end
    end, { timeout = ApplyFlow.WRITE_TIMEOUT_S })
  end)
  for j, item in ipairs(pending) do
    local result = results[j]
    local name = ApplyFlow.photoName(item.photo)
    if ok and status ~= "aborted" and result and result[1] then
      summary.reverted = summary.reverted + 1
    else
      local message = not ok and status or (result and result[2]) or S.errorCatalogBusy
      summary.failures[#summary.failures + 1] = { name = name, message = ApplyFlow.message(message) }
      Log:errorf("revert %s: %s", name, ApplyFlow.message(message))
    end
    if args.progress then
      args.progress:setPortionComplete(j, #pending)
    end
  end
  Log:infof("revert done: %d reverted, %d without snapshot, %d failed", summary.reverted, summary.noSnapshot, #summary.failures)
  return summary
end

--- The summary dialog's text.
function RevertFlow.summaryText(summary)
  if summary.noApi then
    return S.revertNoApi
  end
  local lines = { S.revertSummary(summary.reverted, summary.total) }
  if summary.noSnapshot > 0 then
    lines[#lines + 1] = S.revertNoSnapshot(summary.noSnapshot)
  end
  ApplyFlow.appendSection(lines, S.summaryFailed(#summary.failures), summary.failures)
  return table.concat(lines, "\n")
end

return RevertFlow
