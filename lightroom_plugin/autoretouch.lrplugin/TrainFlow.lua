--[[----------------------------------------------------------------------------
TrainFlow.lua -- "Train style from selected photos": the selected photos'
own develop settings are the photographer's edits, their originals the
photos; the daemon learns a style from them as before/after pairs (the
TrainStyleRequest field lightroom_edits).

1. Collect: for each photo its path and getDevelopSettings(); videos, photos
   without settings and photos older than process version 2012 are listed
   and left out.
2. POST /v1/train/start, then poll GET /v1/train/status every POLL_S seconds
   (LrHttp cannot read a streamed answer as it arrives), updating the
   progress scope; its cancel button sends POST /v1/train/cancel.
3. The summary says what was learnt, and whether the style was installed (a
   style that does worse than doing nothing on the photos it did not see
   is not; see the daemon's check), then the training's notes (the photos
   it left out, and why; the style version it replaced): the first
   MAX_NOTES_SHOWN, each cut at MAX_NOTE_CHARS bytes after a whole word,
   then how many more; every note whole in the plug-in log. Control and
   invisible characters in a note (a file name's line break, a bidi
   override) are shown escaped, as autoretouch's command line prints them
   (the note is cut first, then escaped).
------------------------------------------------------------------------------]]

local LrTasks = import "LrTasks"

local ApplyFlow = require("ApplyFlow")
local Develop = require("Develop")
local Log = require("Log")
local S = require("Strings")
local Text = require("Text")

local TrainFlow = {}

TrainFlow.POLL_S = 1
--- Consecutive status polls that may fail (e.g. a busy daemon) before the flow gives up waiting.
TrainFlow.MAX_POLL_FAILURES = 5
--- Style names the daemon accepts.
TrainFlow.NAME_PATTERN = "^[%w][%w_.-]*$"
--- The training's notes the summary shows (the rest: the plug-in log), as the darktable plug-in does.
TrainFlow.MAX_NOTES_SHOWN = 3
--- The longest note the summary shows, in bytes (the whole note: the plug-in log).
TrainFlow.MAX_NOTE_CHARS = 200

--- The notes of the daemon's TrainFinished `finished` (its `notes`, passed through by the JSON bridge), as the
-- daemon wrote them (not escaped: see Text.printable): a list, empty when there are none (an older daemon has no
-- `notes`).
function TrainFlow.notes(finished)
  local notes = {}
  local given = type(finished) == "table" and type(finished.notes) == "table" and finished.notes or {}
  for _, note in ipairs(given) do
    if type(note) == "string" and note:find("%S") then
      notes[#notes + 1] = note
    end
  end
  return notes
end

--- `note` (as the daemon wrote it) as the summary shows it: cut first, then escaped (Text.printable), so that a cut
-- never lands inside an escape: at most MAX_NOTE_CHARS bytes of the note, never inside a UTF-8 character, cut after a
-- whole word (a name of the list it ends with) when that keeps most of it, and saying that the log has it.
function TrainFlow.shownNote(note)
  local limit = TrainFlow.MAX_NOTE_CHARS
  if #note <= limit then
    return Text.printable(note)
  end
  local head = Text.shorten(note, limit)
  local space = head:match("^.*()[ \t\n\r\f\v]") -- ASCII white space (not the C locale's %s)
  if space and space > limit / 2 then
    head = head:sub(1, space - 1):gsub("[,;]$", "")
  end
  return S.trainNoteCut(Text.printable(head))
end

--- Whether a style name is acceptable (letters, digits, '_', '.', '-'; at most 64).
function TrainFlow.validName(name)
  return type(name) == "string" and #name <= 64 and name:find(TrainFlow.NAME_PATTERN) ~= nil
end

--- The selected photos as lightroom_edits, and the photos left out.
-- @return list of { path, settings }, list of { name, message }
function TrainFlow.edits(photos)
  local edits, skipped = {}, {}
  for _, photo in ipairs(photos) do
    local okPath, path = LrTasks.pcall(photo.getRawMetadata, photo, "path")
    local okFormat, format = LrTasks.pcall(photo.getRawMetadata, photo, "fileFormat")
    local name = (okPath and type(path) == "string" and path:match("[^/\\]+$")) or "?"
    local settings = ApplyFlow.currentSettings(photo)
    local old = Develop.oldProcessVersion(settings)
    if not okPath or type(path) ~= "string" or path == "" then
      skipped[#skipped + 1] = { name = name, message = S.errorNoPath }
    elseif okFormat and format == "VIDEO" then
      skipped[#skipped + 1] = { name = name, message = S.errorVideo }
    elseif next(settings) == nil then
      skipped[#skipped + 1] = { name = name, message = S.trainNoSettings }
    elseif old then
      skipped[#skipped + 1] = { name = name, message = S.trainOldProcessVersion(old) }
    else
      edits[#edits + 1] = { path = path, settings = settings }
    end
  end
  return edits, skipped
end

local function show(progress, status)
  local last = type(status) == "table" and type(status.last) == "table" and status.last or {}
  local p = type(last.progress) == "table" and last.progress or nil
  if not (progress and p) then
    return
  end
  local step, total = tonumber(p.step) or 0, tonumber(p.total_steps) or 0
  if total > 0 then
    progress:setPortionComplete(math.min(step, total), total)
  end
  progress:setCaption(S.trainCaption(tostring(p.phase or ""), step, total))
end

--- Trains a style from the photos.
-- @param args table { photos, client = DaemonClient, name, minutes, progress = LrProgressScope or nil }
-- @return summary { name, total, used, skipped = { {name, message} }, state = "finished"|"failed"|
--   "cancelled"|"nothing", finished = TrainFinished table or nil (its notes, if any, each logged whole), error =
--   error table or nil }
function TrainFlow.run(args)
  local edits, skipped = TrainFlow.edits(args.photos)
  local summary = { name = args.name, total = #args.photos, used = #edits, skipped = skipped }
  for _, item in ipairs(skipped) do
    Log:warnf("train: %s left out: %s", item.name, item.message)
  end
  if #edits == 0 then
    summary.state = "nothing"
    return summary
  end
  Log:infof("train: style %s from %d photos, %s minutes", args.name, #edits, tostring(args.minutes))
  local status, err = args.client:trainStart {
    name = args.name,
    minutes = args.minutes,
    description = S.trainDescription(#edits),
    lightroom_edits = edits,
  }
  if not status then
    summary.state, summary.error = "failed", err
    return summary
  end
  show(args.progress, status)
  local cancelSent, failures = false, 0
  while status.state == "running" do
    if not cancelSent and args.progress and args.progress:isCanceled() then
      cancelSent = true
      Log:info "train: cancel requested"
      args.client:trainCancel()
    end
    LrTasks.sleep(TrainFlow.POLL_S)
    local now, problem = args.client:trainStatus()
    if now then
      status, failures = now, 0
      show(args.progress, status)
    else
      failures = failures + 1
      if problem.kind == "down" or problem.kind == "auth" or failures >= TrainFlow.MAX_POLL_FAILURES then
        summary.state, summary.error = "failed", problem
        return summary
      end
    end
  end
  summary.state = status.state
  local last = type(status.last) == "table" and status.last or {}
  summary.finished = type(last.finished) == "table" and last.finished or nil
  for _, note in ipairs(TrainFlow.notes(summary.finished)) do
    Log:infof("train: note: %s", Text.printable(note)) -- whole (the summary shows the first ones, cut)
  end
  if status.state == "failed" then
    local e = type(status.error) == "table" and status.error or {}
    summary.error = { kind = "server", code = e.code, message = tostring(e.message or S.trainFailedUnknown) }
  end
  Log:infof("train: %s", tostring(summary.state))
  return summary
end

--- Why the finished training's style was not installed, or nil when it was (or the training did not finish).
function TrainFlow.rejected(summary)
  local f = summary.state == "finished" and summary.finished or nil
  if f and type(f.rejected) == "string" and f.rejected ~= "" then
    return f.rejected
  end
  return nil
end

--- The summary dialog's text.
function TrainFlow.summaryText(summary)
  local lines = {}
  if summary.state == "finished" and summary.finished then
    local f = summary.finished
    local rejected = TrainFlow.rejected(summary)
    if rejected then
      lines[#lines + 1] = S.trainRejected(summary.name)
      lines[#lines + 1] = rejected
    else
      lines[#lines + 1] = S.trainInstalled(summary.name, summary.used, tonumber(f.steps) or 0)
    end
    local notes = TrainFlow.notes(f)
    for i, note in ipairs(notes) do
      if i > TrainFlow.MAX_NOTES_SHOWN then
        lines[#lines + 1] = S.trainMoreNotes(#notes - TrainFlow.MAX_NOTES_SHOWN)
        break
      end
      lines[#lines + 1] = S.trainNote(TrainFlow.shownNote(note))
    end
  elseif summary.state == "cancelled" then
    lines[#lines + 1] = S.trainCancelled
  elseif summary.state == "nothing" then
    lines[#lines + 1] = S.trainNothing
  else
    lines[#lines + 1] = S.trainFailed(summary.name)
    lines[#lines + 1] = ApplyFlow.message(summary.error)
  end
  ApplyFlow.appendSection(lines, S.trainSkipped(#summary.skipped), summary.skipped)
  return table.concat(lines, "\n")
end

return TrainFlow
