--[[
  autoretouch/sidecars.lua: darktable side: sidecar freshness, reloading the history ]]

local dt = require("darktable")
local constants = require("autoretouch/constants")
local strings = require("autoretouch/strings")
local filesystem = require("autoretouch/filesystem")

local msg = strings.msg

local function photo_path(img)
  return img.path .. "/" .. img.filename
end

--- How a message names `img`: its file, with " (version N)" for darktable's virtual copy N (duplicate_index), so
--- that a copy's row reads apart from its original's.
local function image_name(img)
  local index = tonumber(img.duplicate_index) or 0
  return index > 0 and msg("image_version", photo_path(img), index) or photo_path(img)
end

local sync_counter = 0

--- Make darktable write the image's sidecar from its library now, and check that it did.
-- The autoretouch CLI appends to the sidecar, and the reload replaces darktable's history with the
-- sidecar's; so the sidecar must hold darktable's current history first. Attaching a tag makes darktable
-- rewrite the sidecar (unless sidecar writing is off); a unique, temporary tag proves the rewrite happened.
-- Returns true, or nil and the reason to skip the image.
-- @param not_written optional: the key of the message saying why an edited image whose sidecar darktable did not
--   write is skipped (default "sidecar_not_written", apply's: its history could be lost)
local function sync_sidecar(img, not_written)
  sync_counter = sync_counter + 1
  local token = string.format("sync-%d-%d-%d-%d", img.id, os.time(), sync_counter, math.random(0, 999999))
  local sidecar = img.sidecar
  local before = filesystem.read_file(sidecar)
  local made, tag = pcall(dt.tags.create, constants.MODULE .. "|" .. token)
  if not made then
    return nil, msg("sync_failed", tostring(tag))
  end
  local ok, fresh = pcall(function()
    img:attach_tag(tag)
    local text = filesystem.read_file(sidecar)
    local written = text ~= nil and text:find(token, 1, true) ~= nil and not (before or ""):find(token, 1, true)
    img:detach_tag(tag)
    return written
  end)
  pcall(dt.tags.delete, tag)
  if not ok then
    return nil, msg("sync_failed", tostring(fresh))
  end
  if fresh or not img.is_altered then
    return true -- fresh, or there is no history in darktable that could be lost
  end
  return nil, msg(not_written or "sidecar_not_written")
end

--- Whether this darktable has image:apply_sidecar (darktable 5.2+); 4.2 has not.
local function has_apply_sidecar(img)
  local ok, method = pcall(function()
    return img.apply_sidecar
  end)
  return ok and type(method) == "function"
end

--- Digit runs longer than this in a file name NAME_<digits>.EXT are not taken as a version number: darktable's atoi
--- would overflow on them, and Lua's tonumber gives a float that string.format("%d") refuses.
local MAX_VERSION_DIGITS = 9

--- Whether the glob(3) pattern text `part` (one name of a path) holds a pattern that does not match its own text: a
--- backslash before a character, or a bracket expression [...] (not "[!]" or "[^]", which glob takes literally).
local function self_unmatched(part)
  if part:find("\\.") then
    return true
  end
  for inside in part:gmatch("%[([^%]]+)%]") do
    if inside ~= "!" and inside ~= "^" then
      return true
    end
  end
  return false
end

--- How darktable before 5.2 finds the sidecars of a file's virtual copies when it imports the file: a glob(3) of
--- <dir>/NAME_[0-9]*[0-9].EXT.xmp built from the path unescaped. Returns two booleans: `unreliable`, a folder's name
--- or NAME holds a pattern that does not match its own text (see self_unmatched), so the glob may miss the copies'
--- sidecars; `misses`, a folder's name holds one and no * or ?, so the glob finds none of them (glob matches each
--- folder's name on its own). A folder whose name has only * or ? matches itself: the glob finds the sidecars.
local function copy_glob(img)
  local unreliable, misses = false, false
  for part in tostring(img.path):gmatch("[^/]+") do
    if self_unmatched(part) then
      unreliable = true
      misses = misses or not part:find("[*?]")
    end
  end
  local filename = tostring(img.filename)
  local base = filename:match("^(.-)%.[^.]*$") or filename
  return unreliable or self_unmatched(base), misses
end

--- Why the virtual copy `img` cannot be re-read by importing its file again because that import would not find its
--- sidecar (see copy_glob), or nil (an original: its sidecar NAME.EXT.xmp is read by name).
local function copy_glob_refusal(img)
  if (tonumber(img.duplicate_index) or 0) ~= 0 and copy_glob(img) then
    return msg("copy_glob_folder", photo_path(img))
  end
  return nil
end

--- Whether darktable writes no sidecars (its "write sidecar file for each image" preference is "never"): then a
--- sidecar may be older than the library's history.
local function sidecars_never()
  local ok, value = pcall(dt.preferences.read, "darktable", "write_sidecar_files", "string")
  return ok and value == "never"
end

--- The sidecar darktable 4.2 names for the image `filename` in the folder `dir` with duplicate index `index`:
--- NAME.EXT.xmp for the original (0), NAME_NN.EXT.xmp for virtual copy NN (at least two digits).
local function darktable_sidecar(dir, filename, index)
  index = tonumber(index) or 0
  if index == 0 then
    return tostring(dir) .. "/" .. filename .. ".xmp"
  end
  local base, ext = filename:match("^(.-)(%.[^.]*)$")
  if not base then
    base, ext = filename, ""
  end
  return string.format("%s/%s_%02d%s.xmp", tostring(dir), base, index, ext)
end

--- The last part of a path.
local function base_name(path)
  return (tostring(path):match("([^/]*)$"))
end

--- The images of `img`'s film roll (its folder in darktable's library) by file name: {[filename] = {image, ...}}.
--- darktable 4.2's Lua has no query by file: the film roll is read image by image, so `known` (optional: a table
--- kept for one run) keeps each film roll's table once read. Or nil and a message.
local function film_by_name(img, known)
  local ok, names = pcall(function()
    local film = img.film
    local key = tostring(film.path)
    if known and known[key] then
      return known[key]
    end
    local by_name = {}
    for i = 1, #film do
      local other = film[i]
      local list = by_name[other.filename]
      if not list then
        list = {}
        by_name[other.filename] = list
      end
      list[#list + 1] = other
    end
    if known then
      known[key] = by_name
    end
    return by_name
  end)
  if not ok then
    return nil, msg("film_unreadable", tostring(names))
  end
  return names
end

--- The images of darktable's library that belong to the file of `img`: the original and its virtual copies (`img`
--- among them), from its film roll (same film roll, same file name; see film_by_name, `known` optional). The list
--- returned is the one kept in `known` (add an image made since to it). Or nil and a message.
local function same_file_images(img, known)
  local names, err = film_by_name(img, known)
  if not names then
    return nil, err
  end
  names[img.filename] = names[img.filename] or {}
  return names[img.filename]
end

--- The other images of `img`'s file (see same_file_images) with the same duplicate index, which darktable 4.2 gives
--- the same sidecar, NAME_NN.EXT.xmp (a list, maybe empty); or nil and a message.
local function sharing_images(img, known)
  local images, err = same_file_images(img, known)
  if not images then
    return nil, err
  end
  local index, out = tonumber(img.duplicate_index) or 0, {}
  for _i, other in ipairs(images) do
    if other.id ~= img.id and (tonumber(other.duplicate_index) or 0) == index then
      out[#out + 1] = other
    end
  end
  return out
end

--- The images of another file in `img`'s folder that darktable 4.2 gives the same sidecar as `img` (a list, maybe
--- empty; or nil and a message): darktable names virtual copy N's sidecar NAME_NN.EXT.xmp, as it names that of a
--- file called NAME_NN.EXT. So for a copy N of NAME.EXT, the file NAME_NN.EXT (its original, version 0); for an
--- original NAME_NN.EXT, the copies N of NAME.EXT. Found in the film roll read by film_by_name (`known`, optional),
--- so only images of the same folder in darktable's library: a file not imported has no history in the library.
local function name_sharing_images(img, known)
  local index = tonumber(img.duplicate_index) or 0
  local filename, version
  if index > 0 then
    filename = base_name(darktable_sidecar(img.path, img.filename, index)):sub(1, -5) -- NAME_NN.EXT
    version = 0
  else
    local base, ext = img.filename:match("^(.-)(%.[^.]*)$")
    if not base then
      base, ext = img.filename, ""
    end
    local name, digits = base:match("^(.*)_(%d%d+)$")
    version = digits and #digits <= MAX_VERSION_DIGITS and tonumber(digits) or nil
    if not version or version == 0 or string.format("%02d", version) ~= digits then
      return {} -- not a name darktable gives a copy's sidecar (NAME_1.EXT, NAME_001.EXT: no copy's sidecar)
    end
    filename = name .. ext
  end
  local names, err = film_by_name(img, known)
  if not names then
    return nil, err
  end
  local out = {}
  for _i, other in ipairs(names[filename] or {}) do
    if (tonumber(other.duplicate_index) or 0) == version and other.id ~= img.id then
      out[#out + 1] = other
    end
  end
  return out
end

--- Why an image cannot be processed, or nil. Virtual copies are processed like originals (apply and revert write a
--- copy's own sidecar through `--duplicate`, training reads it: `train --darktable NAME_NN.EXT.xmp`). An image whose
--- sidecar is not where darktable 4.2 names it is refused: the CLI would write (or read) another file; so is one whose
--- duplicate index another image of its file has too (darktable 4.2 can give a copy a number in use): their one
--- sidecar would be written for both, and the re-read would give it to either. (Apply and revert also check
--- name_clash.)
-- @param known optional: see same_file_images
local function precheck(img, known)
  local index = tonumber(img.duplicate_index) or 0
  local expected = darktable_sidecar(img.path, img.filename, index)
  if img.sidecar ~= expected then
    return msg("unusual_sidecar", tostring(img.sidecar), expected)
  end
  if not filesystem.file_exists(photo_path(img)) then
    return msg("missing_file")
  end
  local sharing, err = sharing_images(img, known)
  if not sharing then
    return err
  elseif #sharing > 0 then
    return msg("shared_sidecar", index, expected)
  end
  return nil
end

--- Why apply or revert must leave `img` alone because an image of another file in its folder keeps its history in
--- the same sidecar (see name_sharing_images: copy 1 of a.png and a file a_01.png, both a_01.png.xmp), selected or
--- not; or nil. Writing the sidecar for the one puts the one's history (and autoretouch's modules) in the other's
--- sidecar, which darktable re-reads into the other (importing a.png again, as the reload does on darktable 4.2,
--- re-reads a_01.png.xmp into a.png's copy 1; "look for updated XMP files" offers it to a_01.png). darktable itself
--- writes each one's history over the other's there on every edit; autoretouch does not add its own writes to that.
-- @param known optional: see film_by_name
local function name_clash(img, known)
  local named, err = name_sharing_images(img, known)
  if not named then
    return err
  elseif #named > 0 then
    return msg("shared_sidecar_name", image_name(img), image_name(named[1]),
      darktable_sidecar(img.path, img.filename, img.duplicate_index))
  end
  return nil
end

--- Why the sidecar of the virtual copy `img` cannot be re-read by importing the file again, or nil: when the
--- original's sidecar (NAME.EXT.xmp) is not on disk (normal with "write sidecars: after edit" for an unedited
--- original), darktable 4.2's import takes the first sidecar of the file it finds, NAME_NN.EXT.xmp, for the
--- original's: the original gets the copy's number and history (seen in darktable 4.2).
local function original_sidecar_refusal(img)
  if (tonumber(img.duplicate_index) or 0) == 0 then
    return nil
  end
  local original = darktable_sidecar(img.path, img.filename, 0)
  if not filesystem.file_exists(original) then
    return msg("original_no_sidecar", original)
  end
  return nil
end

--- Make darktable load the sidecar the CLI wrote into its library (history and thumbnail); `deleted`: the CLI
-- removed a sidecar autoretouch had created (the image had no history before), so the history is reset.
-- Returns true, or nil and a message.
local function reload(img, deleted)
  local ok, err = pcall(function()
    if deleted then
      img:reset()
    elseif has_apply_sidecar(img) then
      img:apply_sidecar(img.sidecar)
    else
      -- darktable 4.2: importing an image that is already in the library re-reads its sidecar(s) and
      -- replaces the library's history with the sidecar's (checked again: the original's sidecar may be gone)
      local refusal = copy_glob_refusal(img) or original_sidecar_refusal(img)
      if refusal then
        error(refusal, 0)
      end
      dt.database.import(photo_path(img))
    end
  end)
  if not ok then
    return nil, msg("reload_failed", tostring(err))
  end
  pcall(function()
    img:drop_cache()
  end)
  return true
end

--- The other files of `img`'s folder in darktable's library (see film_by_name, `known` optional) whose sidecar
--- darktable 4.2's import of `img`'s file reads as one of that file's own: importing NAME.EXT reads every
--- NAME_N...N.EXT.xmp (two digits or more; runs over MAX_VERSION_DIGITS are left out) as the sidecar of NAME.EXT's
--- version N, creating that version when the library has none; so a file NAME_NN.EXT (or NAME_NNN.EXT) whose
--- sidecar is on disk gives its history to NAME.EXT's version NN. A list of {file = its path, sidecar = that
--- sidecar, version = N} (maybe empty; kept per film roll in `known`), or nil and a message.
local function reimport_readers(img, known)
  local names, err = film_by_name(img, known)
  if not names then
    return nil, err
  end
  local key = "\0reimport:" .. tostring(img.path) -- no folder has a NUL in its name: apart from film_by_name's keys
  local by_file = known and known[key]
  if not by_file then
    by_file = {}
    for filename in pairs(names) do
      local base, digits, ext = filename:match("^(.*)_(%d%d+)(%.[^.]*)$")
      if base and #digits <= MAX_VERSION_DIGITS then
        local list = by_file[base .. ext] or {}
        list[#list + 1] = { filename = filename, version = tonumber(digits) }
        by_file[base .. ext] = list
      end
    end
    if known then
      known[key] = by_file
    end
  end
  local out = {}
  for _i, other in ipairs(by_file[img.filename] or {}) do
    local file = tostring(img.path) .. "/" .. other.filename
    if filesystem.file_exists(file .. ".xmp") then
      out[#out + 1] = { file = file, sidecar = file .. ".xmp", version = other.version }
    end
  end
  table.sort(out, function(a, b) return a.file < b.file end)
  return out
end

--- Why a sidecar written for `img` cannot be re-read safely, or nil: darktable 4.2 (no image:apply_sidecar) re-reads
--- one only by importing the original's file again, which re-reads the original's and all its virtual copies'
--- sidecars; when darktable writes no sidecars they may be older than the library (edits made since, a history
--- discarded since), and the import would put them back; it also reads the sidecar of another file NAME_NN.EXT in
--- the library as NAME.EXT's copy NN (see reimport_readers). And when the original of the virtual copy `img` is not in
--- the library (removed from it, the file still there), that import takes the first image of the file it finds,
--- this copy, for the original: the copy gets number 0 and the original's sidecar, and a new image the copy's.
--- Where the import's glob misses the copies' sidecars (see copy_glob), a virtual copy is refused (its sidecar would
--- not be read back) and other files' sidecars are not a reason (the import reads none).
-- @param known optional: see same_file_images
local function reload_refusal(img, known)
  if has_apply_sidecar(img) then
    return nil
  end
  local glob_refusal = copy_glob_refusal(img)
  if glob_refusal then
    return glob_refusal
  elseif sidecars_never() then
    return msg("reload_needs_sidecars")
  end
  local readers, err = {}, nil
  local _unreliable, misses = copy_glob(img)
  if not misses then -- else the import reads no NAME_<digits>.EXT.xmp at all
    readers, err = reimport_readers(img, known)
  end
  if not readers then
    return err
  elseif #readers > 0 then
    local version = readers[1].version
    local as = version == 0 and msg("reimport_as_original") or msg("reimport_as_copy", version)
    return msg("reimport_reads_other", photo_path(img), readers[1].sidecar, readers[1].file, as)
  end
  if (tonumber(img.duplicate_index) or 0) ~= 0 then
    local images
    images, err = same_file_images(img, known)
    if not images then
      return err
    end
    local original = false
    for _i, other in ipairs(images) do
      original = original or (tonumber(other.duplicate_index) or 0) == 0
    end
    if not original then
      return msg("original_not_in_library")
    end
    return original_sidecar_refusal(img)
  end
  return nil
end

return {
  photo_path = photo_path,
  image_name = image_name,
  sync_sidecar = sync_sidecar,
  reload = reload,
  darktable_sidecar = darktable_sidecar,
  base_name = base_name,
  same_file_images = same_file_images,
  sharing_images = sharing_images,
  name_sharing_images = name_sharing_images,
  precheck = precheck,
  name_clash = name_clash,
  reimport_readers = reimport_readers,
  reload_refusal = reload_refusal,
  sidecars_never = sidecars_never,
}
