--[[
  autoretouch/train.lua: training a style from the selected images ]]

local dt = require("darktable")
local json = require("autoretouch/json")
local constants = require("autoretouch/constants")
local strings = require("autoretouch/strings")
local filesystem = require("autoretouch/filesystem")
local shell = require("autoretouch/shell")
local commands = require("autoretouch/commands")
local cli = require("autoretouch/cli")
local user_text = require("autoretouch/text")
local daemon = require("autoretouch/daemon")
local sidecars = require("autoretouch/sidecars")
local jobs = require("autoretouch/jobs")

local msg = strings.msg
local image_name = sidecars.image_name

--- What `train --darktable` is given for `img`: the original's photo file (its sidecar NAME.EXT.xmp read beside it),
--- or for darktable's virtual copy N (duplicate_index) that copy's own sidecar, NAME_NN.EXT.xmp, which the CLI trains
--- as that copy's edit (`IMG (virtual copy N)`); the photo alone would train the original's edit instead.
local function training_file(img)
  local index = tonumber(img.duplicate_index) or 0
  if index > 0 then
    return sidecars.darktable_sidecar(img.path, img.filename, index)
  end
  return sidecars.photo_path(img)
end

--- What training learns from among `images`: has darktable write each image's sidecar (a copy's own NAME_NN.EXT.xmp,
--- as for apply) and leaves out those that cannot be used (see sidecars.precheck) or have no history, each added to
--- `summary.skipped` as {photo = its name (sidecars.image_name), reason} and named in the Lua log. Of two images of
--- different files with one sidecar (a.png's copy 1 and a file a_01.png: both a_01.png.xmp) the first is used and the
--- second left out: darktable's write of the second's would replace the first's history before training reads it.
-- @return photos (what `train --darktable` is given: training_file of each image used), copies (those of them that
--   are virtual copies' sidecars), folders (each image's folder, for the daemon's roots)
local function training_files(images, summary)
  local photos, copies, folders, known = {}, {}, {}, {} -- known: each film roll listed once for the run
  local used = {} -- sidecar path -> the image used whose history it holds
  for _i, img in ipairs(images) do
    local reason = sidecars.precheck(img, known)
    local sidecar = sidecars.darktable_sidecar(img.path, img.filename, img.duplicate_index)
    local other = used[sidecar]
    if not reason and other and sidecars.photo_path(other) ~= sidecars.photo_path(img) then
      reason = msg("train_same_sidecar_name", sidecar, image_name(other))
    end
    if not reason then
      local synced, sync_err = sidecars.sync_sidecar(img)
      reason = not synced and sync_err or (not img.is_altered and msg("no_history")) or nil
    end
    if reason then
      summary.skipped[#summary.skipped + 1] = { photo = image_name(img), reason = reason }
      dt.print_log(msg("log_line", "skipped", image_name(img), reason))
    else
      photos[#photos + 1] = training_file(img)
      used[sidecar] = img
      if (tonumber(img.duplicate_index) or 0) > 0 then
        copies[#copies + 1] = photos[#photos]
      end
      folders[#folders + 1] = img.path
    end
  end
  return photos, copies, folders
end

--- Stop a training started by train_from_images: mark it cancelled (it then does not start) and kill its
--- process. `files` = {pid = path of the PID file, cancel = path of the marker}.
local function stop_training(files)
  local marker = io.open(files.cancel, "wb")
  if marker then
    marker:close()
  end
  local pid = filesystem.read_file(files.pid)
  pid = pid and pid:match("^%s*(%d+)%s*$")
  if pid then
    os.execute("kill " .. pid .. " 2>/dev/null")
  end
end

--- The shell line running `argv` in the background (its PID in files.pid) and waiting for it, so that the job's
--- cancel button can kill it (darktable releases its Lua lock while dt.control.execute waits).
local function background_line(argv, out_path, err_path, files)
  local line, err = shell.command_line(argv, out_path, err_path)
  if not line then
    return nil, err
  end
  local pid, cancel = shell.shell_quote(files.pid), shell.shell_quote(files.cancel)
  return "[ -e " .. cancel .. " ] && exit 130; ( exec " .. line .. " ) & echo $! >" .. pid .. "; wait $!"
end

--- The folder of the run folders of trainings by the command line: <darktable's cache folder>/RUNS_DIR (`train
--- --runs-dir`: the trainer makes RUNS_DIR/NAME in it, or the next free RUNS_DIR/NAME-2, NAME-3, ... once a training
--- of that name finished there; the summary names the one used), or nil when darktable has no cache folder (never
--- a shared folder such as /tmp, nor darktable's working directory, where the trainer's default runs/NAME would
--- land).
local function runs_dir_of()
  local dir = filesystem.existing_folder(dt.configuration.cache_dir)
  return dir and string.format("%s/%s", dir, constants.RUNS_DIR)
end

--- Whether the failed training `result` refused one of the virtual copies' sidecars `copies` (paths) as not a
--- photo: an autoretouch from before training on virtual copies (it reads NAME_NN.EXT.xmp as the sidecar of a missing
--- photo NAME_NN.EXT, and says "PATH: not a photo: a darktable sidecar, ..."), itself or through its daemon.
local function copy_refused(result, copies)
  local stderr = result.stderr or ""
  for _i, path in ipairs(result.status ~= 0 and copies or {}) do
    if stderr:find(path .. ": not a photo: a darktable sidecar", 1, true) then
      return true
    end
  end
  return false
end

--- Why the training `result` of the CLI failed: an autoretouch from before `train --runs-dir` refuses the option
--- (a usage error naming it as an unrecognized argument), one from before training on virtual copies refuses a
--- copy's sidecar (`copies`: the copies' sidecars given; see copy_refused); each is named as such; else
--- cli_problem's message.
local function train_problem(cfg, result, copies)
  if cli.option_unrecognized(result, "--runs-dir") then
    return msg("train_runs_dir_unsupported", cli.cli_problem(cfg, result))
  elseif copy_refused(result, copies) then
    return msg("train_copies_unsupported", cli.cli_problem(cfg, result))
  end
  return cli.cli_problem(cfg, result)
end

--- The notes of the training's JSON summary `result` (the photos it left out, and why; about installing the style), as
--- the CLI wrote them (not escaped): a list of texts, empty when it has none (an older autoretouch, or
--- one through an older daemon).
local function result_notes(result)
  local notes = {}
  for _i, note in ipairs(type(result) == "table" and type(result.notes) == "table" and result.notes or {}) do
    if type(note) == "string" and note:match("%S") then
      notes[#notes + 1] = note
    end
  end
  return notes
end

--- `note` (as the CLI wrote it) as a message shows it: cut first, then escaped (text.printable), so that a cut
--- never lands inside an escape: at most MAX_NOTE_CHARS bytes of the note, never inside a UTF-8 character, cut after a
--- whole word (a name of the list it ends with) when that keeps most of it, and saying that the Lua log has the rest.
local function shown_note(note)
  if #note <= constants.MAX_NOTE_CHARS then
    return user_text.printable(note)
  end
  local head = user_text.shorten(note, constants.MAX_NOTE_CHARS, "")
  local space = head:match("^.*()[ \t\n\r\f\v]") -- ASCII white space (not the C locale's %s)
  if space and space > constants.MAX_NOTE_CHARS / 2 then
    head = head:sub(1, space - 1):gsub("[,;]$", "")
  end
  return user_text.printable(head) .. msg("train_note_cut")
end

--- Shows a training's outcome: its message, the photos the plug-in skipped, and what autoretouch noted (the photos it
--- left out: unreadable, duplicates, ...): the first notes shortened, then how many more; each whole in the Lua log.
-- @param summary the summary train_from_images returns
local function show_summary(summary)
  local text = summary.message
  if summary.run_dir then
    dt.print_log(msg("log_line", "run folder", summary.name, summary.run_dir))
  end
  if #summary.skipped > 0 then
    text = text .. "\n" .. msg("train_skipped", #summary.skipped,
      msg("first_problem", summary.skipped[1].photo, summary.skipped[1].reason))
  end
  local notes = result_notes(summary.result) -- as the CLI wrote them, to be cut, then escaped (summary.notes: escaped)
  for i, note in ipairs(notes) do
    dt.print_log(msg("log_line", "note", summary.name, summary.notes[i]))
    if i <= constants.MAX_NOTES_SHOWN then
      text = text .. "\n" .. msg("train_note", shown_note(note))
    end
  end
  if #notes > constants.MAX_NOTES_SHOWN then
    text = text .. "\n" .. msg("summary_more_notes", #notes - constants.MAX_NOTES_SHOWN)
  end
  dt.print(text)
end

--- Learn a style from images' darktable edits: `autoretouch train --darktable PHOTO...` (darktable-cli renders
-- each image with its history; the CLI installs the style unless it does worse than doing nothing), its run folder
-- in darktable's cache folder (see runs_dir_of; a daemon keeps its own). A virtual copy is given as its own sidecar
-- (training_file), so that its history, not the original's, is learnt.
-- @param images a list of darktable images, originals or virtual copies (each image's history, as darktable wrote
--   it to its sidecar first)
-- @param overrides optional settings: cli_path, server, start_daemon, daemon_port, train_name, train_minutes
-- @return a summary {state = "finished"|"rejected"|"failed"|"cancelled"|"nothing", name, used, skipped =
--   {{photo (a virtual copy: "FILE (version N)"), reason}}, notes = {text, ...} (the CLI's notes: photos it left
--   out, and why; control characters escaped), run_dir = the run folder the CLI's JSON summary names (escaped) or
--   nil, result = the CLI's JSON summary or nil, message}, or nil and a message
local train_from_images = jobs.entry(false, function(cfg, images)
  if #cfg.train_name > 64 or not cfg.train_name:match("^[%w][%w_%.%-]*$") then
    return jobs.refuse(msg("bad_style_name", cfg.train_name))
  end
  local runs_dir = runs_dir_of()
  if not runs_dir and cfg.server == "" then -- a daemon address set: the daemon keeps the run folder
    return jobs.refuse(msg("train_no_run_dir", tostring(dt.configuration.cache_dir)))
  end
  local summary = { name = cfg.train_name, used = 0, skipped = {}, notes = {} }
  local files = { pid = os.tmpname(), cancel = os.tmpname() }
  os.remove(files.cancel)
  local job = {
    percent = false,
    on_cancel = function()
      stop_training(files)
    end,
  }
  local ok, failure = jobs.run_job(1, msg("train_job_label"), job, function(progress)
    local photos, copies, folders = training_files(images, summary)
    summary.used = #photos
    if #photos == 0 then
      summary.state, summary.message = "nothing", msg("train_nothing")
      return true
    end
    local result, quote_err = daemon.run_cli_for(cfg, folders, progress.stopped, function(c)
      return commands.train_argv(c, photos, c.server == "" and runs_dir or nil)
    end, function(argv, out_path, err_path)
      return background_line(argv, out_path, err_path, files)
    end)
    if not result then
      summary.state, summary.message = "failed", msg("train_failed", cfg.train_name, quote_err)
      return true
    end
    local doc = json.decode(result.stdout)
    summary.result = type(doc) == "table" and doc or nil
    summary.notes = {}
    for i, note in ipairs(result_notes(summary.result)) do
      summary.notes[i] = user_text.printable(note)
    end
    local run_dir = summary.result and summary.result.run_dir
    summary.run_dir = type(run_dir) == "string" and run_dir ~= "" and user_text.printable(run_dir) or nil
    if filesystem.file_exists(files.cancel) then
      summary.state, summary.message = "cancelled", msg("train_cancelled")
    elseif summary.result and type(summary.result.rejected) == "string" and summary.result.rejected ~= "" then
      summary.state = "rejected"
      summary.message = msg("train_rejected", cfg.train_name, summary.result.rejected)
      if summary.run_dir then
        summary.message = summary.message .. msg("train_kept_in", summary.run_dir)
      end
    elseif result.status == 0 and summary.result then
      summary.state = "finished"
      summary.message = msg("train_installed", cfg.train_name, #photos, tonumber(summary.result.steps) or 0)
    else
      summary.state, summary.message = "failed", msg("train_failed", cfg.train_name, train_problem(cfg, result, copies))
    end
    return true
  end)
  os.remove(files.pid)
  os.remove(files.cancel)
  if not ok then
    return nil, failure
  end
  show_summary(summary)
  return summary
end)

return {
  stop_training = stop_training,
  background_line = background_line,
  train_from_images = train_from_images,
}
