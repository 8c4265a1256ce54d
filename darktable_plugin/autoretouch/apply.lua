--[[
  autoretouch/apply.lua: apply and revert (in batches), and "apply chosen preview" ]]

local dt = require("darktable")
local constants = require("autoretouch/constants")
local strings = require("autoretouch/strings")
local commands = require("autoretouch/commands")
local sidecars = require("autoretouch/sidecars")
local virtual_copies = require("autoretouch/virtual_copies")
local jobs = require("autoretouch/jobs")

local msg = strings.msg
local photo_path = sidecars.photo_path

--- Run `mode` (MODES.apply or MODES.revert) on images, in batches, with progress and cancel.
local function run_images(images, overrides, mode)
  if mode.drop_previews and type(images) == "table" then
    images = virtual_copies.without_previews(images) -- the originals only; their preview copies go at the end
  end
  local cfg, err = jobs.prepare(images, overrides, true)
  if not cfg then
    return nil, err
  end
  local function drop_previews(summary)
    return mode.drop_previews and not summary.cancelled
  end
  return jobs.run_summary_job(#images, msg(mode.job), mode, drop_previews, function(summary, progress)
    -- one CLI call changes one kind of sidecar: a batch per duplicate index (0: originals, N: virtual copies N)
    local batches, run, known = {}, {}, {}
    local function flush(index)
      if batches[index] and #batches[index] > 0 then
        jobs.process_batch(cfg, batches[index], summary, progress, mode, run, index)
      end
      batches[index] = nil
    end
    for _i, img in ipairs(images) do
      if progress.stopped() then
        break
      end
      local reason = sidecars.precheck(img, known) or sidecars.name_clash(img, known)
        or sidecars.reload_refusal(img, known)
      if reason then
        jobs.record(summary, img, "skipped", reason)
        progress.step()
      else
        local index = tonumber(img.duplicate_index) or 0
        batches[index] = batches[index] or {}
        local batch = batches[index]
        batch[#batch + 1] = img
        if #batch >= constants.BATCH_SIZE then
          flush(index)
        end
      end
    end
    local indices = {}
    for index in pairs(batches) do
      indices[#indices + 1] = index
    end
    table.sort(indices)
    for _i, index in ipairs(indices) do
      if progress.stopped() then
        break
      end
      flush(index)
    end
  end)
end

--- Retouch images: add the style's (or the fixed recipe's) edit to each image's history. Running it again
-- replaces autoretouch's previous modules (e.g. at another strength); the user's own history stays.
-- @param images a list of darktable images
-- @param overrides optional table of settings overriding the preferences: cli_path, style, strength,
--   server, start_daemon, daemon_port, recipe (e.g. {recipe = "/path/plus1ev.json"})
-- @return a summary {total, written, skipped, failed, cancelled,
--   details = {{image, photo, action, reason, warnings = {text, ...}}, ...}, previews_removed, previews_kept,
--   previews_unchecked (the preview copies made from the written images deleted, kept because the user edited them,
--   and kept because that cannot be told: no sidecar, no record)},
--   or nil and a message (nothing was done); the summary is also shown with dt.print
local function apply_to_images(images, overrides)
  return run_images(images, overrides, commands.MODES.apply)
end

--- Remove autoretouch's modules from images' histories (the user's own entries stay); `written` in the
-- summary counts the images reverted. Same arguments and result as apply_to_images.
local function revert_images(images, overrides)
  return run_images(images, overrides, commands.MODES.revert)
end

--- The image the preview copy `copy` was made from: the image under the id kept with its recipe (`kept`), when it is
--- still in darktable's library as an image of the same file that is not a preview copy (the original, or the user's
--- own virtual copy that was previewed); else nil. Without a record (nothing is applied then), the original the
--- copy's group leader or one of `candidates` is, to name it in the summary.
local function source_of(copy, kept, candidates)
  local photo = photo_path(copy)
  local function fits(img, original_only)
    return img ~= nil and photo_path(img) == photo and not virtual_copies.is_preview_copy(img)
      and (not original_only or (tonumber(img.duplicate_index) or 0) == 0)
  end
  local found = {}
  if kept then
    found[1] = function() return dt.database.get_image(kept.original_id), false end
  else
    found[1] = function() return copy.group_leader, true end
    for _i, img in ipairs(candidates) do
      found[#found + 1] = function() return img, true end
    end
  end
  for _i, get in ipairs(found) do
    local ok, img, original_only = pcall(get)
    local fit_ok, fit = pcall(fits, img, original_only)
    if ok and fit_ok and fit then
      return img
    end
  end
  return nil
end

--- The preview copies chosen in `images`, at most one per image a preview was made from (the original or the
--- user's virtual copy: the copy's record names it; a copy without a record counts by its file), in the
--- selection's order, and the originals selected; an original selected without any of its copies chooses its one
--- preview copy, one whose record says it was made from that original (it has none: left out). Or nil and a
--- message: two copies of one image chosen, or an original alone with several copies.
local function chosen_copies(images)
  local order, chosen, originals, all = {}, {}, {}, nil
  local function add(key, photo, original)
    if not chosen[key] then
      chosen[key] = { photo = photo, original = original }
      order[#order + 1] = key
    end
    return chosen[key]
  end
  for _i, img in ipairs(images) do
    if virtual_copies.is_preview_copy(img) then
      local kept = virtual_copies.preview_recipe(img)
      local key = kept and "id:" .. tostring(kept.original_id) or "file:" .. photo_path(img)
      local entry = add(key, kept and kept.photo or photo_path(img))
      entry[#entry + 1] = img
    elseif (tonumber(img.duplicate_index) or 0) == 0 then -- the user's own virtual copies are left out
      add("id:" .. tostring(img.id), photo_path(img), img)
      originals[#originals + 1] = img
    end
  end
  local out = {}
  for _i, key in ipairs(order) do
    local copies = chosen[key]
    if #copies > 1 then
      return nil, msg("chosen_two", #copies, copies.photo)
    elseif #copies == 0 then
      all = all or virtual_copies.preview_copies()
      for _k, copy in ipairs(all) do
        local kept = virtual_copies.preview_recipe(copy)
        if kept and kept.original_id == copies.original.id then
          copies[#copies + 1] = copy
        end
      end
      if #copies > 1 then
        return nil, msg("chosen_which", copies.photo, #copies)
      end
    end
    out[#out + 1] = copies[1]
  end
  return out, originals
end

--- What "apply chosen preview" runs per distinct recipe (as MODES.apply, with recipe_apply_argv and the recipe
--- file `file`), and its messages.
local function chosen_mode(file)
  return { argv = function(cfg, photos, duplicate)
    return commands.recipe_apply_argv(cfg, file, photos, duplicate)
  end, done = commands.MODES.apply.done, summary = "chosen_summary", summary_cancelled = "chosen_summary_cancelled" }
end

--- Apply the recipe `group.text` (JSON) to the images `group.images` (all with duplicate index `group.index`: the
--- originals, or the user's virtual copies N) in batches: the recipe goes to a temporary file for `apply --recipe`,
--- removed afterwards.
local function apply_recipe_group(cfg, group, summary, progress, run)
  local file = os.tmpname()
  local f = io.open(file, "wb")
  local ok = f ~= nil and f:write(group.text) ~= nil
  if f then
    ok = f:close() and ok
  end
  if not ok then
    os.remove(file)
    for _i, img in ipairs(group.images) do
      jobs.record(summary, img, "failed", msg("chosen_recipe_file_failed", file))
      progress.step()
    end
    return
  end
  local mode = chosen_mode(file)
  local batch = {}
  for i, img in ipairs(group.images) do
    batch[#batch + 1] = img
    if #batch >= constants.BATCH_SIZE or i == #group.images then
      if progress.stopped() then
        break
      end
      jobs.process_batch(cfg, batch, summary, progress, mode, run, group.index)
      batch = {}
    end
  end
  os.remove(file)
end

--- Apply the edit the chosen preview copies show to the images they were made from (the original, or the user's own
--- virtual copy that was previewed: `--duplicate=N`): each copy's own recipe (what suggest returned for that image
--- and variant, at the preview's strength or mix, kept with the copy) goes through
--- `autoretouch apply --recipe=FILE --overwrite` (one call per distinct recipe, duplicate index and batch), so
--- running it again replaces autoretouch's previous modules and the user's history stays. Then the preview copies of
--- the images it wrote are deleted, except those the user edited since the preview (as apply does; not when the run
--- was cancelled). A copy whose recipe is gone (darktable restarted since the preview, cache cleared), or whose
--- image is no longer in the library, is skipped; the others carry on.
-- @param images the selection: preview copies (one per image) and/or originals (an original with exactly one
--   preview copy chooses it)
-- @param overrides optional settings overriding the preferences (cli_path, server, start_daemon, daemon_port)
-- @return a summary as apply_to_images' (with previews_removed, previews_kept, previews_unchecked), or nil and a
--   message (nothing was done: no copy chosen, two copies of one image chosen)
local apply_chosen_previews = jobs.entry(true, function(cfg, images)
  local copies, originals = chosen_copies(images)
  if not copies then
    return jobs.refuse(originals)
  elseif #copies == 0 then
    return jobs.refuse(msg("chosen_none"))
  end
  local function drop_previews(summary)
    return not summary.cancelled and summary.written > 0
  end
  local label, mode = msg("chosen_job_label"), chosen_mode(nil)
  return jobs.run_summary_job(#copies, label, mode, drop_previews, function(summary, progress)
    local groups, by_key, known = {}, {}, {}
    for _i, copy in ipairs(copies) do
      local kept = virtual_copies.preview_recipe(copy)
      local source = source_of(copy, kept, originals)
      local reason = (not kept and msg("chosen_recipe_missing")) or (not source and msg("chosen_no_original"))
        or sidecars.precheck(source, known) or sidecars.name_clash(source, known)
        or sidecars.reload_refusal(source, known)
      if reason then
        jobs.record(summary, source or copy, "skipped", reason)
        progress.step()
      else
        local index = tonumber(source.duplicate_index) or 0
        local key = string.format("%d:%s", index, kept.recipe)
        local group = by_key[key]
        if not group then
          group = { text = kept.recipe, index = index, images = {} }
          by_key[key] = group
          groups[#groups + 1] = group
        end
        group.images[#group.images + 1] = source
      end
    end
    local run = {}
    for _i, group in ipairs(groups) do
      if progress.stopped() then
        break
      end
      apply_recipe_group(cfg, group, summary, progress, run)
    end
  end)
end)

return {
  apply_to_images = apply_to_images,
  revert_images = revert_images,
  apply_chosen_previews = apply_chosen_previews,
}
