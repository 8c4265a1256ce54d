--[[
  autoretouch/jobs.lua: the batch: runs, their progress jobs and summaries ]]

local dt = require("darktable")
local constants = require("autoretouch/constants")
local strings = require("autoretouch/strings")
local settings = require("autoretouch/settings")
local state = require("autoretouch/state")
local cli = require("autoretouch/cli")
local daemon = require("autoretouch/daemon")
local sidecars = require("autoretouch/sidecars")
local virtual_copies = require("autoretouch/virtual_copies")

local msg = strings.msg
local photo_path = sidecars.photo_path

local function new_summary(total)
  return { total = total, written = 0, skipped = 0, failed = 0, cancelled = false, details = {} }
end

--- Record what happened to `img` in `summary`: a row {image, photo (its file), name (how messages name it: see
--- sidecars.image_name), action, reason, warnings}, counted under `action`; logged unless it was written.
local function record(summary, img, action, reason, warnings)
  summary[action] = summary[action] + 1
  local name = sidecars.image_name(img)
  summary.details[#summary.details + 1] = { image = img, photo = photo_path(img), name = name, action = action,
    reason = reason or "", warnings = warnings or {} }
  if action ~= "written" then
    dt.print_log(msg("log_line", action, name, reason or ""))
  end
  for _i, w in ipairs(warnings or {}) do
    dt.print_log(msg("log_line", "note", name, tostring(w)))
  end
end

--- A progress reporter: a darktable job with a cancel button when there is a GUI.
-- @param opts optional {percent = false (a job without a progress bar), on_cancel = function() (called when
--   the job's cancel button is pressed)}
local function new_progress(total, label, opts)
  opts = opts or {}
  local progress = { cancelled = false, done = 0 }
  if dt.gui ~= nil and dt.configuration.has_gui then
    local ok, job = pcall(dt.gui.create_job, label, opts.percent ~= false, function(j)
      progress.cancelled = true
      if opts.on_cancel then
        opts.on_cancel()
      end
      pcall(function()
        j.valid = false
      end)
    end)
    if ok then
      progress.job = job
    end
  end
  function progress.step()
    progress.done = progress.done + 1
    if progress.job then
      pcall(function()
        if progress.job.valid then
          progress.job.percent = math.min(progress.done / math.max(total, 1), 1.0)
        end
      end)
    end
  end
  function progress.stopped()
    if progress.cancelled or dt.control.ending then
      return true
    end
    if progress.job then
      local ok, valid = pcall(function()
        return progress.job.valid
      end)
      if ok and not valid then
        progress.cancelled = true
      end
    end
    return progress.cancelled
  end
  function progress.finish()
    if progress.job then
      pcall(function()
        progress.job.valid = false
      end)
    end
  end
  return progress
end

--- The folders of images.
local function folders_of(images)
  local folders = {}
  for i, img in ipairs(images) do
    folders[i] = img.path
  end
  return folders
end

--- Process one batch of images (already checked): find or start the daemon (when one is wanted), have
-- darktable write each sidecar, run one `apply` for the batch, reload the images whose sidecar was written.
-- An image is reloaded only when the file the CLI reports changed is its own sidecar.
-- @param run per-run memory (see batch_settings)
-- @param duplicate optional: the batch's images are all virtual copy N (their duplicate_index; 0 or nil: originals)
local function process_batch(cfg, batch, summary, progress, mode, run, duplicate)
  local batch_cfg = daemon.batch_settings(cfg, folders_of(batch), run, progress.stopped)
  local ready, photos = {}, {}
  for _i, img in ipairs(batch) do
    if progress.stopped() then
      return
    end
    local synced, sync_err = sidecars.sync_sidecar(img) -- right before the CLI appends to the sidecar
    if synced then
      ready[#ready + 1] = img
      photos[#photos + 1] = photo_path(img)
    else
      record(summary, img, "skipped", sync_err)
      progress.step()
    end
  end
  if #ready == 0 or progress.stopped() then
    return
  end
  local outcomes = cli.cli_batch(batch_cfg, photos, mode, batch_cfg ~= cfg and cfg or nil, duplicate)
  -- the sidecars are written now: reload them all, even when cancel was pressed during the call
  for i, img in ipairs(ready) do
    local outcome = outcomes[photos[i]]
    if outcome.action ~= "written" then
      record(summary, img, outcome.action, outcome.reason, outcome.warnings)
    elseif outcome.sidecar and sidecars.base_name(outcome.sidecar) ~= sidecars.base_name(img.sidecar) then
      record(summary, img, "failed", msg("wrong_sidecar", outcome.sidecar, img.sidecar), outcome.warnings)
    elseif dt.control.ending then
      record(summary, img, "failed", msg("not_reloaded"), outcome.warnings)
    else
      local ok, err = sidecars.reload(img, outcome.cli_action == "deleted")
      if ok then
        record(summary, img, "written", outcome.reason, outcome.warnings)
      else
        record(summary, img, "failed", err, outcome.warnings)
      end
    end
    progress.step()
  end
end

local function summary_text(summary, mode)
  local text
  if summary.cancelled then
    local not_done = summary.total - summary.written - summary.skipped - summary.failed
    text = msg(mode.summary_cancelled, summary.written, summary.skipped, summary.failed, not_done)
  else
    text = msg(mode.summary, summary.written, summary.skipped, summary.failed)
  end
  if (summary.previews_removed or 0) > 0 then
    text = text .. msg("previews_removed", summary.previews_removed)
  end
  if (summary.previews_kept or 0) > 0 then
    text = text .. msg("previews_kept", summary.previews_kept)
  end
  if (summary.previews_unchecked or 0) > 0 then
    text = text .. msg("previews_unchecked", summary.previews_unchecked)
  end
  local problem
  for _k, action in ipairs({ "failed", "skipped" }) do -- the first failure, else the first skipped image
    for _i, d in ipairs(summary.details) do
      if d.action == action and not problem then
        problem = msg("first_problem", d.name, d.reason)
      end
    end
  end
  if problem then
    text = text .. "\n" .. problem
  end
  -- what autoretouch noted for the images it changed (our modules override the user's own instances, the user's
  -- module order makes ours act differently, ...): the first ones, then how many more the Lua log has
  local notes = {}
  for _i, d in ipairs(summary.details) do
    for _k, w in ipairs(d.action == "written" and d.warnings or {}) do
      notes[#notes + 1] = msg("summary_note", d.name, tostring(w))
    end
  end
  for i = 1, math.min(#notes, constants.MAX_NOTES_SHOWN) do
    text = text .. "\n" .. notes[i]
  end
  if #notes > constants.MAX_NOTES_SHOWN then
    text = text .. "\n" .. msg("summary_more_notes", #notes - constants.MAX_NOTES_SHOWN)
  end
  return text
end

--- Why a run cannot start (no image, another run, Windows, or the darkroom when `lighttable_only`), or nil.
local function cannot_start(images, lighttable_only)
  if type(images) ~= "table" or #images == 0 then
    return msg("no_images")
  elseif state.running then
    return msg("busy")
  elseif dt.configuration.running_os == "windows" then
    return msg("windows_unsupported")
  elseif lighttable_only and dt.gui ~= nil and dt.gui.current_view
    and dt.gui.current_view() == dt.gui.views.darkroom then
    return msg("not_lighttable")
  end
  return nil
end

--- A run that does not start: `text` is shown with dt.print; returns nil and `text`.
local function refuse(text)
  dt.print(text)
  return nil, text
end

--- The settings of a run that can start, or nil and why not (also shown with dt.print).
local function prepare(images, overrides, lighttable_only)
  local refused = cannot_start(images, lighttable_only)
  if refused then
    return refuse(refused)
  end
  local cfg, err = settings.read_settings(overrides)
  if not cfg then
    return refuse(err)
  end
  return cfg
end

--- A run's entry point, `function(images, overrides)`: with the settings of a run that can start (see prepare), it
--- returns what `body(cfg, images)` returns; else nil and why not (also shown with dt.print).
local function entry(lighttable_only, body)
  return function(images, overrides)
    local cfg, err = prepare(images, overrides, lighttable_only)
    if not cfg then
      return nil, err
    end
    return body(cfg, images)
  end
end

--- Run `work(progress)` as the run going on (state.running), with a progress job of `total` steps labelled
--- `label`, finished afterwards. Returns what `work` returns; when it raised an error, nil and a message (also
--- shown with dt.print and logged with dt.print_error).
-- @param opts optional: as for new_progress, plus failed = the key of the message taking the error (default:
--   first_problem with `label`)
local function run_job(total, label, opts, work)
  state.running = true
  local progress = new_progress(total, label, opts)
  local ok, result = pcall(work, progress)
  progress.finish()
  state.running = false
  if not ok then
    local failure = tostring(result)
    local text = opts and opts.failed and msg(opts.failed, failure) or msg("first_problem", label, failure)
    dt.print(text)
    dt.print_error(text)
    return nil, text
  end
  return result
end

--- The images `summary` records as written: their ids, {[id] = true}, and the photo files of the originals among them,
--- {[photo path] = true} (a virtual copy of the user's written is not the original's edit: the original's preview
--- copies stay).
local function written_images(summary)
  local ids, photos = {}, {}
  for _i, d in ipairs(summary.details) do
    if d.action == "written" and d.image then
      ids[d.image.id] = true
      if (tonumber(d.image.duplicate_index) or 0) == 0 then
        photos[d.photo] = true
      end
    end
  end
  return ids, photos
end

--- Run `fill(summary, progress)` as the run going on (see run_job), recording `total` images in a new summary;
--- then, when `drop_previews(summary)` says so, delete the preview copies of the images written (except those
--- edited since the preview), and show the summary (the texts of `mode`). Returns the summary, or nil and a
--- message.
local function run_summary_job(total, label, mode, drop_previews, fill)
  local summary, failure = run_job(total, label, nil, function(progress)
    local summary = new_summary(total)
    fill(summary, progress)
    summary.cancelled = progress.cancelled
    return summary
  end)
  if not summary then
    return nil, failure
  end
  if drop_previews(summary) then
    local sources, photos = written_images(summary)
    summary.previews_removed, summary.previews_kept, summary.previews_unchecked = virtual_copies.delete_preview_copies(
      { sources = sources, photos = photos, keep_edited = true })
  end
  dt.print(summary_text(summary, mode))
  return summary
end

return {
  record = record,
  folders_of = folders_of,
  process_batch = process_batch,
  refuse = refuse,
  prepare = prepare,
  entry = entry,
  run_job = run_job,
  run_summary_job = run_summary_job,
}
