--[[
  autoretouch/virtual_copies.lua: preview copies: the suggestion on virtual copies (darktable 4.2's Lua has no
  image widget for a before/after dialog; darktable itself renders each copy beside its original). Only virtual
  copies carrying PREVIEW_TAG are ever deleted: never an original, never a copy the user made. ]]

local dt = require("darktable")
local json = require("autoretouch/json")
local constants = require("autoretouch/constants")
local strings = require("autoretouch/strings")
local filesystem = require("autoretouch/filesystem")
local state = require("autoretouch/state")
local sidecars = require("autoretouch/sidecars")

local msg = strings.msg
local photo_path = sidecars.photo_path

--- Whether `img` is one of the plug-in's preview copies: a virtual copy (duplicate_index > 0) tagged PREVIEW_TAG.
local function is_preview_copy(img)
  if (tonumber(img.duplicate_index) or 0) == 0 then
    return false
  end
  local ok, tags = pcall(function()
    return img:get_tags()
  end)
  if not ok or tags == nil then
    return false
  end
  for _i, tag in ipairs(tags) do
    if tag.name == constants.PREVIEW_TAG then
      return true
    end
  end
  return false
end

--- `images` without the preview copies.
local function without_previews(images)
  local out = {}
  for _i, img in ipairs(images) do
    if not is_preview_copy(img) then
      out[#out + 1] = img
    end
  end
  return out
end

--- Where the recipe of the preview copy `copy` is kept (darktable's cache folder, by the copy's id).
local function preview_recipe_path(copy)
  local dir = filesystem.existing_folder(dt.configuration.cache_dir) -- none: not kept (never /tmp)
  return dir and string.format("%s/%s%s.json", dir, constants.PREVIEW_RECIPE_PREFIX, tostring(copy.id))
end

--- The record keep_preview_recipe kept for the preview copy `copy` ({photo, original_id, variant, recipe = JSON
--- text, mark = its preview_mark when it was made}), or nil when there is none or it belongs to another image (an
--- id darktable gave again).
local function preview_recipe(copy)
  local path = preview_recipe_path(copy)
  local doc = path and json.decode(filesystem.read_file(path) or "")
  if type(doc) ~= "table" or doc.copy_id ~= copy.id or doc.duplicate_index ~= copy.duplicate_index
    or doc.photo ~= photo_path(copy) or type(doc.recipe) ~= "string" then
    return nil
  end
  return doc
end

--- The preview copies in darktable's library: the virtual copies carrying PREVIEW_TAG.
local function preview_copies()
  local ok, tag = pcall(dt.tags.find, constants.PREVIEW_TAG)
  local out = {}
  if not ok or tag == nil then
    return out
  end
  for i = 1, #tag do
    local img = tag[i]
    if (tonumber(img.duplicate_index) or 0) > 0 then
      out[#out + 1] = img
    end
  end
  return out
end

--- A short checksum of `text` (its length and a polynomial hash; plain arithmetic, exact in Lua 5.1's doubles).
local function checksum(text)
  local h = 0
  for i = 1, #text do
    h = (h * 31 + text:byte(i)) % 2147483647
  end
  return string.format("%d:%d", #text, h)
end

--- What changes in darktable whenever the history of `img` changes, as text: darktable 4.2's Lua has no such
--- field (no change_timestamp, no history end), so it is read from the sidecar darktable rewrites on every history
--- change: its darktable:history_end and darktable:history_current_hash, and a checksum of its darktable:history
--- (not its darktable:change_timestamp, which darktable drops when it rereads a copy's sidecar on a re-import of
--- the original). nil when there is no sidecar (sidecars switched off) or it holds none of these.
local function preview_mark(img)
  local ok, sidecar = pcall(function()
    return img.sidecar
  end)
  local text = ok and type(sidecar) == "string" and filesystem.read_file(sidecar) or nil
  if not text then
    return nil
  end
  local last = text:match('darktable:history_end%s*=%s*"([^"]*)"')
  local hash = text:match('darktable:history_current_hash%s*=%s*"([^"]*)"')
  local history = text:match("<darktable:history>.-</darktable:history>")
  if not (last or hash or history) then
    return nil
  end
  return string.format("%s|%s|%s", last or "", hash or "", checksum(history or ""))
end

--- XML text with its five predefined entities (and numeric references) resolved.
local function xml_unescape(text)
  text = text:gsub("&#(%d+);", function(n)
    local code = tonumber(n)
    return code < 128 and string.char(code) or nil
  end)
  return (text:gsub("&(%a+);", { lt = "<", gt = ">", quot = '"', apos = "'", amp = "&" }))
end

--- Whether the file `sidecar` is the sidecar darktable wrote for the preview copy `filename` (its file name) with
--- duplicate index `index` in the folder `dir`: named NAME_NN.EXT.xmp there, its xmpMM:DerivedFrom is `filename`
--- and it carries PREVIEW_TAG. A user's own file of a look-alike name (IMG_01.CR2.xmp) fails one of these.
local function is_copy_sidecar(sidecar, dir, filename, index)
  if type(sidecar) ~= "string" or type(filename) ~= "string" or (tonumber(index) or 0) < 1 then
    return false
  end
  if sidecar ~= sidecars.darktable_sidecar(dir, filename, index) then
    return false
  end
  local text = filesystem.read_file(sidecar)
  if not text then
    return false
  end
  local derived = text:match('xmpMM:DerivedFrom%s*=%s*"([^"]*)"') or text:match("xmpMM:DerivedFrom%s*=%s*'([^']*)'")
    or text:match("<xmpMM:DerivedFrom>([^<]*)</xmpMM:DerivedFrom>")
  return derived ~= nil and xml_unescape(derived) == filename
    and text:find(">" .. constants.PREVIEW_TAG .. "<", 1, true) ~= nil
end

--- Delete the preview copy (or half-made copy) `img` from darktable's library, its kept recipe, and the sidecar
--- darktable 4.2 leaves behind for a deleted virtual copy (a later import of the folder would bring the copy back)
--- when is_copy_sidecar confirms it is that copy's and no other image of the file has the copy's version number (its
--- sidecar is that image's too). Returns true, or false (logged) when darktable refused.
-- @param known optional: see sidecars.same_file_images (the copy is taken out of the list kept there)
local function delete_preview_copy(img, known)
  local sidecar, recipe = img.sidecar, preview_recipe_path(img)
  local images = sidecars.same_file_images(img, known)
  local sharing = sidecars.sharing_images(img, known)
  local ours = sharing ~= nil and #sharing == 0
    and is_copy_sidecar(sidecar, img.path, img.filename, img.duplicate_index)
  local id, at = img.id, nil
  for i, other in ipairs(images or {}) do
    if other.id == id then
      at = i
    end
  end
  local ok, err = pcall(function()
    img:delete()
  end)
  if not ok then
    dt.print_log(msg("log_line", "failed", photo_path(img), tostring(err)))
    return false
  end
  if at then
    table.remove(images, at)
  end
  state.preview_made[id] = nil
  if recipe then
    os.remove(recipe)
  end
  if ours then
    os.remove(sidecar)
  elseif type(sidecar) == "string" and filesystem.file_exists(sidecar) then
    dt.print_log(msg("log_line", "kept", sidecar, msg("log_kept_sidecar")))
  end
  return true
end

--- Whether the history of the preview copy `img` is the one the plug-in gave it: "unchanged" when its preview_mark
--- is the one recorded when it was made (this session's record, else the one kept with its recipe), "edited" when
--- it differs, "unknown" when there is nothing to compare (no sidecar: darktable writes none; no record).
local function preview_state(img, kept)
  local now = preview_mark(img)
  local made = state.preview_made[img.id]
  local recorded = made and made.index == img.duplicate_index and made.mark or (kept and kept.mark)
  if now == nil or recorded == nil then
    return "unknown"
  end
  return now == recorded and "unchanged" or "edited"
end

--- Whether the preview copy `img` (its kept record `kept`, or nil) is one of those `opts` selects: all without
--- opts.photos; else a copy made from one of the images opts.sources names (by id, as its record says), or, without
--- a record, a copy of one of the files opts.photos names.
local function selected(img, kept, opts)
  if opts.photos == nil then
    return true
  elseif kept and kept.original_id ~= nil and opts.sources then
    return opts.sources[kept.original_id] == true
  end
  return opts.photos[photo_path(img)] == true
end

--- Delete preview copies (see delete_preview_copy). Returns how many were removed, how many were kept because the
--- user edited them since the preview, and how many were kept because that cannot be told (see preview_state).
-- @param opts optional: sources = {[image id] = true} and photos = {[photo path] = true} (only the copies made
--   from these images, or without a record, of these files; default: all), keep_edited = true (a copy whose history
--   changed since it was made, or cannot be checked, is kept)
local function delete_preview_copies(opts)
  opts = opts or {}
  local removed, edited, unchecked, known = 0, 0, 0, {}
  for _i, img in ipairs(preview_copies()) do
    local record = preview_recipe(img)
    if selected(img, record, opts) then
      local now = opts.keep_edited and preview_state(img, record) or "unchanged"
      if now == "edited" then
        edited = edited + 1
        dt.print_log(msg("log_line", "kept", photo_path(img), msg("log_kept_edited")))
      elseif now == "unknown" then
        unchecked = unchecked + 1
        dt.print_log(msg("log_line", "kept", photo_path(img), msg("log_kept_unchecked")))
      elseif delete_preview_copy(img, known) then
        removed = removed + 1
      end
    end
  end
  return removed, edited, unchecked
end

return {
  is_preview_copy = is_preview_copy,
  without_previews = without_previews,
  preview_recipe_path = preview_recipe_path,
  preview_recipe = preview_recipe,
  preview_copies = preview_copies,
  preview_mark = preview_mark,
  delete_preview_copy = delete_preview_copy,
  delete_preview_copies = delete_preview_copies,
}
