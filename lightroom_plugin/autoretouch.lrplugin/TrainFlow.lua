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

local SHORT_ESCAPES = { [0x0A] = "\\n", [0x0D] = "\\r", [0x09] = "\\t" }

--- The code points the CLI escapes (backend/text.py): Unicode's categories Cc (C0, DEL, C1 with U+0085), Cf (soft
-- hyphen, Arabic marks, U+180E, zero-width space, LRM/RLM, bidi embeddings, overrides and isolates, word joiner and
-- invisible operators, BOM, interlinear annotations, ..., tag characters), Zl and Zp (U+2028 and U+2029: Pango
-- breaks the line there) and Cs (surrogates), as of Unicode 15, but the zero-width (non-)joiners U+200C and U+200D
-- that emoji sequences and several scripts need; sorted ranges.
local ESCAPED = { { 0x0, 0x1F }, { 0x7F, 0x9F }, { 0xAD, 0xAD }, { 0x600, 0x605 }, { 0x61C, 0x61C }, { 0x6DD, 0x6DD },
  { 0x70F, 0x70F }, { 0x890, 0x891 }, { 0x8E2, 0x8E2 }, { 0x180E, 0x180E }, { 0x200B, 0x200B }, { 0x200E, 0x200F },
  { 0x2028, 0x202E }, { 0x2060, 0x2064 }, { 0x2066, 0x206F }, { 0xD800, 0xDFFF }, { 0xFEFF, 0xFEFF },
  { 0xFFF9, 0xFFFB }, { 0x110BD, 0x110BD }, { 0x110CD, 0x110CD }, { 0x13430, 0x1343F }, { 0x1BCA0, 0x1BCA3 },
  { 0x1D173, 0x1D17A }, { 0xE0001, 0xE0001 }, { 0xE0020, 0xE007F } }

--- Whether the CLI escapes the code point `code`.
local function escaped(code)
  for _, range in ipairs(ESCAPED) do
    if code < range[1] then
      return false
    elseif code <= range[2] then
      return true
    end
  end
  return false
end

--- The code point `code` as Python's repr writes it: \n, \xNN, \uNNNN or \UNNNNNNNN.
local function escape(code)
  if code < 0x100 then
    return SHORT_ESCAPES[code] or string.format("\\x%02x", code)
  end
  return string.format(code < 0x10000 and "\\u%04x" or "\\U%08x", code)
end

--- What the lead byte of a UTF-8 sequence of 2, 3 or 4 bytes holds of its code point: its value modulo this.
local LEAD_BITS = { [2] = 0x20, [3] = 0x10, [4] = 0x08 }

--- The UTF-8 character at byte `i` of `text`: its code point and length in bytes; nil and 1 for a byte that starts
-- no well-formed sequence (left as it is).
local function charAt(text, i)
  local b = text:byte(i)
  local len = b < 0x80 and 1 or b >= 0xF8 and 0 or b >= 0xF0 and 4 or b >= 0xE0 and 3 or b >= 0xC2 and 2 or 0
  if len == 0 then
    return nil, 1
  end
  local code = len == 1 and b or b % LEAD_BITS[len]
  for k = 1, len - 1 do
    local c = text:byte(i + k)
    if not c or c < 0x80 or c > 0xBF then
      return nil, 1
    end
    code = code * 0x40 + (c - 0x80)
  end
  return code, len
end

--- `text` (a message naming the user's files) on one line, as the CLI's text output escapes it (backend/text.py):
-- the characters of ESCAPED (controls, line separators, bidi overrides, zero-width and other invisible characters)
-- as Python writes them (\n, \x1b, \x85, \u202e, \U000e0041); ordinary Unicode (accents, CJK, emoji with their
-- zero-width joiners) as it is. Bytes are read as UTF-8, never through the C library's locale.
function TrainFlow.printable(text)
  if not text:find("[^ -~]") then -- printable ASCII only
    return text
  end
  local out, i = {}, 1
  while i <= #text do
    local code, len = charAt(text, i)
    out[#out + 1] = code and escaped(code) and escape(code) or text:sub(i, i + len - 1)
    i = i + len
  end
  return table.concat(out)
end

--- The notes of the daemon's TrainFinished `finished` (its `notes`, passed through by the JSON bridge), as the
-- daemon wrote them (not escaped: see printable): a list, empty when there are none (an older daemon has no `notes`).
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

--- `note` (as the daemon wrote it) as the summary shows it: cut first, then escaped (printable), so that a cut never
-- lands inside an escape: at most MAX_NOTE_CHARS bytes of the note, never inside a UTF-8 character, cut after a
-- whole word (a name of the list it ends with) when that keeps most of it, and saying that the log has it.
function TrainFlow.shownNote(note)
  local limit = TrainFlow.MAX_NOTE_CHARS
  if #note <= limit then
    return TrainFlow.printable(note)
  end
  local cut = limit
  while cut > 0 and (note:byte(cut + 1) or 0) >= 0x80 and note:byte(cut + 1) < 0xC0 do -- a continuation byte
    cut = cut - 1
  end
  local head = note:sub(1, cut)
  local space = head:match("^.*()[ \t\n\r\f\v]") -- ASCII white space (not the C locale's %s)
  if space and space > limit / 2 then
    head = head:sub(1, space - 1):gsub("[,;]$", "")
  end
  return S.trainNoteCut(TrainFlow.printable(head))
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
    Log:infof("train: note: %s", TrainFlow.printable(note)) -- whole (the summary shows the first ones, cut)
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
