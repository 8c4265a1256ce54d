--[[
  autoretouch/preview.lua: "preview on virtual copies" and "discard previews" ]]

local dt = require("darktable")
local json = require("autoretouch/json")
local constants = require("autoretouch/constants")
local strings = require("autoretouch/strings")
local filesystem = require("autoretouch/filesystem")
local shell = require("autoretouch/shell")
local commands = require("autoretouch/commands")
local state = require("autoretouch/state")
local cli = require("autoretouch/cli")
local daemon = require("autoretouch/daemon")
local sidecars = require("autoretouch/sidecars")
local virtual_copies = require("autoretouch/virtual_copies")
local jobs = require("autoretouch/jobs")

local msg = strings.msg
local photo_path = sidecars.photo_path

--- A row of a preview's `failed` list: `img`'s file, darktable's version number when `img` is a virtual copy (so that
--- its row reads apart from the original's), and `reason`.
local function failed_row(img, reason)
  local index = tonumber(img.duplicate_index) or 0
  return { photo = photo_path(img), version = index > 0 and index or nil, reason = reason }
end

--- How a row of `failed` names its image: the file, with "(version N)" for a virtual copy N.
local function failure_name(f)
  return f.version and msg("image_version", f.photo, f.version) or f.photo
end

--- The rows (tables) of `suggest --json`'s output, one JSON object a line.
local function json_rows(text)
  local rows = {}
  for line in text:gmatch("[^\n]+") do
    local row = json.decode(line)
    if type(row) == "table" then
      rows[#rows + 1] = row
    end
  end
  return rows
end

--- A new private temporary folder (for the style files), or nil.
local function make_temp_dir()
  local dir = os.tmpname()
  os.remove(dir)
  local line = shell.command_line({ "mkdir", "-m", "700", "--", dir }, "/dev/null", "/dev/null")
  if line and shell.exit_status(dt.control.execute(line)) == 0 then
    return dir
  end
  return nil
end

--- Remove the private temporary folder `dir` that make_temp_dir made, with whatever is in it (`rm -r -f`).
local function remove_temp_dir(dir)
  local line = shell.command_line({ "rm", "-r", "-f", "--", dir }, "/dev/null", "/dev/null")
  if not line or shell.exit_status(dt.control.execute(line)) ~= 0 then
    dt.print_log(msg("log_line", "failed", dir, msg("preview_dir_not_removed")))
  end
end

--- Import the .dtstyle at `path` into darktable's style list: the new style, or nil and a message.
local function import_style(path)
  local before = {}
  for _i, style in ipairs(dt.styles) do
    before[style.name] = true
  end
  local ok, err = pcall(dt.styles.import, path)
  if not ok then
    return nil, tostring(err)
  end
  for _i, style in ipairs(dt.styles) do
    if not before[style.name] then
      return style
    end
  end
  return nil, msg("preview_style_missing", path)
end

local copy_counter = 0

--- A failure that stops the whole preview (a user's sidecar may be wrong): raised as an error, passed on by
--- make_preview_copy; its text says which file and where its backup is.
local function stop_preview(text)
  error(setmetatable({ stop = true, text = text }, {
    __tostring = function(self)
      return self.text
    end,
  }), 0)
end

local backup_counter = 0

--- Back up the sidecar `path` (content `text`) into the plug-in's cache folder (darktable's cache folder): the
--- backup's path; stops the preview when there is no cache folder or the backup cannot be written.
local function back_up(path, text)
  local dir = filesystem.existing_folder(dt.configuration.cache_dir)
  if not dir then
    stop_preview(msg("preview_no_backup_folder", path))
  end
  backup_counter = backup_counter + 1
  local backup = string.format("%s/%s%d-%d-%d-%s", dir, constants.SIDECAR_BACKUP_PREFIX, os.time(), backup_counter,
    math.random(0, 999999), sidecars.base_name(path))
  local ok, err = filesystem.write_file(backup, text)
  if not ok then
    stop_preview(msg("preview_backup_failed", path, backup, tostring(err)))
  end
  return backup
end

--- Put the file `saved.path` back as it was (`saved.text`; nil: there was none). Returns true, or nil and a message.
local function put_back(saved)
  local now = filesystem.read_file(saved.path)
  if now == saved.text then
    return true
  elseif saved.text == nil then
    local ok, err = os.remove(saved.path)
    if not ok and filesystem.file_exists(saved.path) then
      return nil, tostring(err)
    end
    return true
  end
  return filesystem.write_file(saved.path, saved.text)
end

--- A new virtual copy of `img` whose version number (duplicate_index) no other image of its file has, and whose
--- sidecar name (NAME_NN.EXT.xmp) no file takes yet. darktable 4.2 numbers a new copy from a count it keeps on the
--- original, which importing the original's file again (how the plug-in reloads a sidecar) sets back to 0: the copy
--- can get the number of the user's own copy, and darktable then writes the new copy's sidecar over that copy's. So
--- the sidecars the new copy could take are read and backed up into the cache folder first; a copy with a number in
--- use is deleted again and the sidecar it took put back as it was (darktable counts on by one per copy made: the
--- next try gets the next number). Raises an error when no try gives a free number; stops the preview (see
--- stop_preview) when a sidecar cannot be backed up or put back, or the copy cannot be deleted again (the backup
--- is kept then).
-- @param known see sidecars.same_file_images (the new copy is added to the list kept there)
local function unused_copy(img, known)
  local images, err = sidecars.same_file_images(img, known)
  if not images then
    error(err, 0)
  end
  local used, top = {}, 0
  for _i, other in ipairs(images) do
    local index = tonumber(other.duplicate_index) or 0
    used[index], top = true, math.max(top, index)
  end
  local tries = 1
  for index in pairs(used) do
    tries = tries + (index > 0 and 1 or 0)
  end
  local saved = {} -- index -> sidecar path, content before (nil: no file), backup; a file there counts as taken
  -- darktable's next number can be past top + tries (its count is not set back while the original is not imported
  -- again), so every two-digit name (NAME_01 .. NAME_99) is probed too: a stray sidecar there (another library's,
  -- or a removed copy's) is backed up as well. The range grows with each file found (one more try each).
  local index = 1
  while index <= math.max(constants.SIDECAR_PROBE_MAX, top + tries) do
    local sidecar = sidecars.darktable_sidecar(img.path, img.filename, index)
    saved[index] = { path = sidecar, text = filesystem.read_file(sidecar) }
    if saved[index].text and not used[index] then
      used[index], tries = true, tries + 1
    end
    index = index + 1
  end
  local function drop_backups()
    for _index, s in pairs(saved) do
      if s.backup then
        os.remove(s.backup)
      end
    end
  end
  for _index, s in pairs(saved) do
    if s.text then
      s.backup = back_up(s.path, s.text)
    end
  end
  index = 0
  for _try = 1, tries do
    local copy = dt.database.duplicate(img)
    index = tonumber(copy.duplicate_index) or 0
    if index > 0 and not used[index] then
      drop_backups()
      images[#images + 1] = copy
      return copy
    end
    local sidecar = copy.sidecar
    local deleted, delete_err = pcall(function()
      copy:delete()
    end)
    local s = saved[index]
    local attempted = s ~= nil and s.path == sidecar
    local restored, restore_err = nil, nil
    if attempted then
      restored, restore_err = put_back(s)
    end
    local backup = s and s.backup or "-"
    if not deleted then
      stop_preview(msg("preview_copy_not_deleted", index, tostring(sidecar), tostring(delete_err), backup))
    elseif attempted and not restored then
      dt.print_log(msg("log_line", "failed", tostring(sidecar), tostring(restore_err)))
      stop_preview(msg("preview_restore_failed", index, tostring(sidecar), tostring(restore_err), backup))
    end
    local how = attempted and msg("preview_sidecar_restored") or msg("preview_sidecar_not_restored")
    dt.print_log(msg("log_line", "retried", photo_path(img), msg("preview_version_taken", index, tostring(sidecar),
      how)))
  end
  drop_backups()
  error(msg("preview_no_free_version", index), 0)
end

--- One preview copy of `img` (an original, or the user's own virtual copy): a virtual copy with `img`'s history (a
--- fresh copy has none: a style made from `img` is applied, then deleted), then the suggestion's style file `path`
--- appended (built on `img`'s own sidecar, see suggest_groups), tagged PREVIEW_TAG, grouped with `img`. The
--- imported styles are deleted again. Returns the copy, or nil and a message (a copy that failed half-way is
--- deleted).
-- @param known see sidecars.same_file_images
local function make_preview_copy(img, path, title, known)
  local style, err = import_style(path)
  if not style then
    return nil, msg("preview_copy_failed", err)
  end
  local copy
  local ok, failure = pcall(function()
    copy = unused_copy(img, known)
    copy:attach_tag(dt.tags.create(constants.PREVIEW_TAG))
    if img.is_altered then
      copy_counter = copy_counter + 1
      local name = string.format("autoretouch preview base %d %d %d %d", img.id, os.time(), copy_counter,
        math.random(0, 999999))
      local own = dt.styles.create(img, name, "")
      local applied, apply_err = pcall(dt.styles.apply, own, copy)
      pcall(function()
        own:delete()
      end)
      if not applied then
        error(apply_err, 0)
      end
    end
    dt.styles.apply(style, copy)
    copy:group_with(img)
    copy.title = title
  end)
  pcall(function()
    style:delete()
  end)
  if not ok then
    if copy then
      virtual_copies.delete_preview_copy(copy, known)
    end
    if type(failure) == "table" and failure.stop then
      error(failure, 0) -- the whole preview stops
    end
    return nil, msg("preview_copy_failed", tostring(failure))
  end
  state.preview_made[copy.id] = { index = copy.duplicate_index, mark = virtual_copies.preview_mark(copy) }
  return copy
end

--- Keep the recipe `recipe` (a row of suggest's "recipes", without its style file) that the preview copy `copy` of
--- `img` shows as variant `k`, for "apply chosen preview": written to a temporary file, then renamed over
--- preview_recipe_path(copy). Returns true, or nil and a message.
local function keep_preview_recipe(copy, img, k, recipe)
  local bare = {}
  for key, value in pairs(recipe) do
    if key ~= "dtstyle" then
      bare[key] = value
    end
  end
  local path = virtual_copies.preview_recipe_path(copy)
  if not path then
    return nil, msg("preview_recipe_not_kept", photo_path(copy), "-", msg("no_cache_folder"))
  end
  local entry = { copy_id = copy.id, duplicate_index = copy.duplicate_index, original_id = img.id,
    photo = photo_path(img), variant = k, recipe = json.encode(bare), mark = virtual_copies.preview_mark(copy) }
  local ok, err = filesystem.write_file(path, json.encode(entry))
  if not ok then
    return nil, msg("preview_recipe_not_kept", photo_path(copy), path, tostring(err))
  end
  return true
end

--- The images `originals` grouped by darktable's version number (duplicate_index: 0 the originals, N the user's
--- virtual copies N), by number: {{index, photos = {path, ...} (each file once), images = {img, ...}}, ...}.
local function duplicate_groups(originals)
  local groups, by_index = {}, {}
  for _i, img in ipairs(originals) do
    local index = tonumber(img.duplicate_index) or 0
    local group = by_index[index]
    if not group then
      group = { index = index, photos = {}, images = {}, seen = {} }
      by_index[index] = group
      groups[#groups + 1] = group
    end
    local photo = photo_path(img)
    if not group.seen[photo] then
      group.seen[photo] = true
      group.photos[#group.photos + 1] = photo
    end
    group.images[#group.images + 1] = img
  end
  table.sort(groups, function(x, y)
    return x.index < y.index
  end)
  return groups
end

--- Why a `suggest` call for virtual copies `index` gave no row for a photo: an autoretouch from before `suggest
--- --duplicate` refuses the option (a usage error, exit status 2, naming it as an unrecognized argument) and is
--- named as such; else cli_problem's message (any other usage error among them).
local function suggest_problem(cfg, result, index)
  if index > 0 and cli.option_unrecognized(result, "--duplicate") then
    return msg("preview_duplicate_unsupported", index, cli.cli_problem(cfg, result))
  end
  return cli.cli_problem(cfg, result)
end

--- One `suggest --json --dtstyle=folder` call per version number in `originals` (see duplicate_groups; copies N:
--- `--duplicate=N`, so that each preview style is built on that image's own sidecar, the history its preview copy
--- gets). Returns per image of `originals` (by position) {row (its row, or nil), reason (why there is none)}, and
--- whether any row is a suggestion.
local function suggest_groups(folder, cfg, originals, progress)
  local answers, any_ok, run = {}, false, {}
  local folders = jobs.folders_of(originals) -- every call's: a daemon started for the first serves them all
  for _i, group in ipairs(duplicate_groups(originals)) do
    if progress.stopped() then
      break
    end
    local result, err = daemon.run_cli_for(cfg, folders, progress.stopped, function(c)
      return commands.suggest_argv(c, group.photos, folder, group.index)
    end, nil, run)
    local rows = result and json_rows(result.stdout) or {}
    local by_photo = {}
    for _k, row in ipairs(rows) do
      if type(row.photo) == "string" then
        by_photo[row.photo] = row
      end
      any_ok = any_ok or row.ok == true
    end
    local position = {}
    for k, photo in ipairs(group.photos) do
      position[photo] = k
    end
    local failure = result and suggest_problem(cfg, result, group.index) or tostring(err)
    for _k, img in ipairs(group.images) do
      local photo = photo_path(img)
      -- the CLI names photos as given; should it have spelled one differently, rows still come in order
      local row = by_photo[photo] or (#rows == #group.photos and rows[position[photo]]) or nil
      answers[img] = { row = row, reason = row and type(row.error) == "string" and row.error or failure }
    end
  end
  local out = {}
  for i, img in ipairs(originals) do
    out[i] = answers[img] or { reason = msg("cancelled") }
  end
  return out, any_ok
end

--- The preview's work (see run_preview), with the style files in the temporary folder `folder`: first darktable
--- writes each image's sidecar from its library (sidecars.sync_sidecar, as apply does), so that suggest builds on the
--- current history, not on a sidecar older than the user's last edit (an edited image whose sidecar darktable did not
--- write is left out; a sidecar changed outside darktable and not loaded is overwritten); `left_out` = {{photo,
--- version, reason}, ...} (see failed_row), the selected images not previewed (their file is missing, or another
--- selected image has their sidecar), reported first.
local function preview_in(folder, cfg, originals, left_out, progress)
  local summary = { images = #originals, copies = {}, removed = 0, kept = 0, unchecked = 0, failed = {} }
  for i, f in ipairs(left_out) do
    summary.failed[i] = f
  end
  local ready = {} -- the images whose sidecar darktable wrote now: suggest reads each one's current history
  for _i, img in ipairs(originals) do
    if progress.stopped() then
      break
    end
    local synced, why = sidecars.sync_sidecar(img, "preview_sidecar_not_written")
    if synced then
      ready[#ready + 1] = img
    else
      summary.failed[#summary.failed + 1] = failed_row(img, why)
      progress.step()
    end
  end
  local answers, any_ok = suggest_groups(folder, cfg, ready, progress)
  if any_ok and not progress.stopped() then
    -- the new suggestions are there: replace the previous copies (not those the user edited since)
    summary.removed, summary.kept, summary.unchecked = virtual_copies.delete_preview_copies({ keep_edited = true })
  end
  local label = cfg.mix ~= "" and cfg.mix or (cfg.style ~= "" and cfg.style or constants.DEFAULT_STYLE)
  local known = {} -- the images of the originals' files, read once the previous copies are gone
  for i, img in ipairs(ready) do
    local row = answers[i].row
    if progress.stopped() then
      break
    elseif row and row.ok == true and type(row.recipes) == "table" then
      for k, recipe in ipairs(row.recipes) do
        local path = type(recipe) == "table" and recipe.dtstyle
        local copy, why = nil, msg("no_result")
        if type(path) == "string" then
          copy, why = make_preview_copy(img, path, msg("preview_title", k, label, commands.format_number(cfg.strength)),
            known)
        end
        if copy then
          summary.copies[#summary.copies + 1] = copy
          local kept, why_not = keep_preview_recipe(copy, img, k, recipe)
          if not kept then
            dt.print_log(why_not) -- the copy still shows the edit; "apply chosen preview" will say it cannot
          end
        else
          summary.failed[#summary.failed + 1] = failed_row(img, why)
        end
      end
    else
      summary.failed[#summary.failed + 1] = failed_row(img, answers[i].reason)
    end
    progress.step()
  end
  summary.cancelled = progress.cancelled
  summary.text = msg("preview_summary", #summary.copies, #originals, label, commands.format_number(cfg.strength),
    summary.removed)
  if summary.kept > 0 then
    summary.text = summary.text .. msg("previews_kept", summary.kept)
  end
  if summary.unchecked > 0 then
    summary.text = summary.text .. msg("previews_unchecked", summary.unchecked)
  end
  if sidecars.sidecars_never() then -- said up front: these copies can be neither checked nor (4.2) applied
    local chosen = originals[1] and sidecars.reload_refusal(originals[1]) and msg("preview_never_chosen") or ""
    summary.text = summary.text .. "\n" .. msg("preview_never_note") .. chosen
  end
  for _i, f in ipairs(summary.failed) do
    dt.print_log(msg("log_line", "failed", failure_name(f), f.reason))
  end
  if summary.failed[1] then
    summary.text = summary.text .. "\n" .. msg("first_problem", failure_name(summary.failed[1]),
      summary.failed[1].reason)
  end
  return summary
end

--- The preview's work (see preview_images): the `suggest --dtstyle` calls (one per version number), then the
--- copies. The style files go to a private temporary folder the plug-in makes, removed with everything in it however
--- the work ends (an error is raised again afterwards).
local function run_preview(cfg, originals, left_out, progress)
  local folder = make_temp_dir()
  if not folder then
    error(msg("preview_dir_failed"), 0)
  end
  local ok, result = pcall(preview_in, folder, cfg, originals, left_out, progress)
  remove_temp_dir(folder)
  if not ok then
    error(result, 0)
  end
  return result
end

--- Preview the suggestion on virtual copies of the first `preview_images` selected images (preview copies in
--- the selection are left out; an image whose file is missing, or whose sidecar an image before it in the selection
--- has (the same image twice, two images of a file with one version number, a.png's copy 1 and a file a_01.png), is
--- reported in `failed`); each
--- image's sidecar written by darktable first (see preview_in); then one `autoretouch suggest
--- --json --dtstyle=TMP` call per version number (the originals; the user's own virtual copies N with
--- `--duplicate=N`, so that their styles are built on their own sidecars; through the daemon when one is used), then
--- per image and variant a virtual copy with that image's history plus the suggestion,
--- tagged autoretouch|preview and grouped with the image. The previous preview copies are deleted first (once
--- the new suggestions are there). The history of the images previewed (originals and the user's own copies) in
--- darktable's library is never changed; their sidecars are rewritten from it, so that a sidecar edited outside
--- darktable and not loaded since (`autoretouch apply` from a shell, one synced from another computer) is replaced
--- by the library's history, as apply and darktable itself do when a tag changes.
-- @param images a list of darktable images
-- @param overrides optional settings overriding the preferences (as for apply_to_images, plus mix,
--   preview_images, preview_variants, preview_seed)
-- @return {images, copies = {image, ...}, removed, kept (edited copies not replaced), unchecked (copies not
--   replaced because their edits cannot be checked), failed = {{photo, version (a virtual copy's number; nil for
--   an original), reason}, ...}, cancelled, text}, or nil and a message
local preview_images = jobs.entry(true, function(cfg, images)
  if cfg.recipe ~= "" then
    return jobs.refuse(msg("preview_recipe"))
  end
  local originals, left_out, previewed = {}, {}, {} -- previewed: sidecar -> the image previewed on it
  for _i, img in ipairs(virtual_copies.without_previews(images)) do
    local sidecar = sidecars.darktable_sidecar(img.path, img.filename, img.duplicate_index) -- what suggest reads
    if #originals >= cfg.preview_images then
      break
    elseif previewed[sidecar] then -- previewed over each other, both built on whichever history was written last
      local other = previewed[sidecar] -- the same file, or a.png's copy 1 and a file a_01.png: both a_01.png.xmp
      local why = photo_path(other) == photo_path(img) and "preview_same_sidecar" or "preview_same_sidecar_name"
      left_out[#left_out + 1] = failed_row(img, msg(why, sidecar, sidecars.image_name(other)))
    elseif filesystem.file_exists(photo_path(img)) then
      originals[#originals + 1], previewed[sidecar] = img, img
    else
      left_out[#left_out + 1] = failed_row(img, msg("missing_file"))
    end
  end
  if #originals == 0 and left_out[1] then
    for _i, f in ipairs(left_out) do
      dt.print_log(msg("log_line", "failed", failure_name(f), f.reason))
    end
    return jobs.refuse(msg("preview_nothing", msg("first_problem", failure_name(left_out[1]), left_out[1].reason)))
  elseif #originals == 0 then
    return jobs.refuse(msg("preview_no_original"))
  end
  local summary, failure = jobs.run_job(#originals, msg("preview_job_label"), { failed = "preview_failed" },
    function(progress)
      return run_preview(cfg, originals, left_out, progress)
    end)
  if not summary then
    return nil, failure
  end
  dt.print(summary.text)
  return summary
end)

--- Delete the preview copies (only virtual copies tagged autoretouch|preview). Returns how many, or nil and a
--- message when a run is going on.
local function discard_previews()
  if state.running then
    return jobs.refuse(msg("busy"))
  end
  local removed = virtual_copies.delete_preview_copies()
  dt.print(msg("preview_discarded", removed))
  return removed
end

return {
  preview_images = preview_images,
  discard_previews = discard_previews,
}
