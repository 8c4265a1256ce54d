--[[
  A stand-in for darktable's `darktable` Lua module (API 9.0.0), enough to load and drive autoretouch.lua
  outside darktable. It records what the plugin registers and prints, runs shell commands for real
  (dt.control.execute -> os.execute, which returns the raw wait status like darktable's does), and fakes
  images whose sidecar darktable "writes" when a tag is attached or detached (as darktable 4.2 does).
  The previews' API is faked too: dt.database.duplicate (a virtual copy, no history, numbered as darktable 4.2
  numbers it: see dt._max_version), dt.database.get_image, image.film (its film roll: # and [i]), image:delete,
  image:group_with, image:get_tags, dt.tags.find (a tag lists its images as tag[1..n]), and dt.styles (a list of
  styles, import of a .dtstyle file, create from an image, apply, style:delete). An image's `history` is a list of
  operation names; applying a style appends the style's.

  Usage:
    local stub = require("helpers.stub_darktable")
    local dt = stub.new({ prefs = { cli_path = "/x/autoretouch" } })
    package.loaded["darktable"] = dt
    local plugin = require("autoretouch") -- again for a fresh plugin: helpers.load's unload() first
]]

local M = {}

--- Write `text` to `path`.
function M.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

--- The content of `path`, or nil (the plugin's own reader: autoretouch/filesystem.lua uses no darktable).
M.read_file = require("autoretouch/filesystem").read_file

--- Remove the first `value` from the array `list` (nothing when it is not there).
local function remove(list, value)
  for i, v in ipairs(list) do
    if v == value then
      table.remove(list, i)
      return
    end
  end
end

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = quote

--- The folder `path`, made with its parents where missing (`mkdir -p`); returns `path`.
function M.make_dir(path)
  os.execute("mkdir -p " .. quote(path))
  return path
end

--- A new empty directory (removed by M.remove_tree).
function M.temp_dir(name)
  local base = os.tmpname()
  os.remove(base)
  return M.make_dir(base .. (name or ""))
end

function M.remove_tree(dir)
  if dir and dir:match("^/tmp/") then
    os.execute("rm -rf " .. quote(dir))
  end
end

--- A new stub.
-- @param opts {prefs = {name = value}, has_gui = bool, api = "9.0.0", running_os = "linux", view = "lighttable",
--   films = {folder, ...} (dt.films: one film roll per folder), cache_dir = folder, tmp_dir = folder}
function M.new(opts)
  opts = opts or {}
  local dt = {}
  local log = { prints = {}, logs = {}, errors = {}, actions = {}, destroyed_actions = {}, events = {},
    destroyed_events = {}, imports = {}, commands = {}, jobs = {}, tags = {}, deleted_tags = {}, prefs = {},
    deleted_images = {}, style_imports = {}, style_applies = {}, deleted_styles = {} }
  dt._log = log

  dt.configuration = {
    api_version_string = opts.api or "9.0.0",
    config_dir = opts.config_dir or "/nonexistent-config",
    cache_dir = opts.cache_dir or "/nonexistent-cache",
    tmp_dir = opts.tmp_dir or "/tmp",
    has_gui = opts.has_gui ~= false,
    running_os = opts.running_os or "linux",
  }

  dt.gettext = {
    bindtextdomain = function() end,
    dgettext = function(_domain, text) return text end,
    gettext = function(text) return text end,
  }

  function dt.print(text) log.prints[#log.prints + 1] = text end
  function dt.print_log(text) log.logs[#log.logs + 1] = text end
  function dt.print_error(text) log.errors[#log.errors + 1] = text end

  local prefs = opts.prefs or {}
  dt.preferences = {
    register = function(script, name, kind, label, tooltip, default, ...)
      log.prefs[#log.prefs + 1] = { script = script, name = name, kind = kind, label = label, tooltip = tooltip,
        default = default, extra = { ... } }
      if prefs[name] == nil then
        prefs[name] = default
      end
    end,
    read = function(script, name, kind)
      if script == "darktable" then -- darktable's own preferences (opts.darktable_prefs; sidecars written on import)
        local own = opts.darktable_prefs or { write_sidecar_files = "on import" }
        return own[name]
      end
      assert(script == "autoretouch", "read of another script's preference")
      local value = prefs[name]
      if kind == "float" or kind == "integer" then
        return tonumber(value) or 0
      end
      return value
    end,
    write = function(_script, name, _kind, value) prefs[name] = value end,
  }
  dt._prefs = prefs

  dt.control = {
    ending = false,
    execute = function(cmd)
      log.commands[#log.commands + 1] = cmd
      if opts.before_execute then
        opts.before_execute(cmd, #log.commands)
      end
      local status, how, code = os.execute(cmd)
      if type(status) ~= "number" then -- Lua 5.2+: true/nil, "exit"/"signal", code
        status = how == "exit" and code * 256 or code
      end
      return status
    end,
    sleep = function(ms)
      log.sleeps = (log.sleeps or 0) + 1
      os.execute(string.format("sleep %.3f", ms / 1000))
    end,
  }

  -- dt.films: darktable's is a userdata with # and [i]; a plain list of {path = folder} behaves the same
  dt.films = {}
  for i, folder in ipairs(opts.films or {}) do
    dt.films[i] = { path = folder }
  end

  local views = { lighttable = { name = "lighttable" }, darkroom = { name = "darkroom" } }
  if dt.configuration.has_gui then
    dt.gui = {
      views = views,
      current_view = function() return views[opts.view or "lighttable"] end,
      action_images = {},
      libs = {
        image = {
          register_action = function(name, label, callback, tooltip)
            assert(not log.actions[name], "action registered twice: " .. name)
            log.actions[name] = { label = label, callback = callback, tooltip = tooltip }
          end,
          destroy_action = function(name)
            log.destroyed_actions[#log.destroyed_actions + 1] = name
            log.actions[name] = nil
          end,
        },
      },
      create_job = function(label, percent, cancel)
        local job = { label = label, percent_shown = percent, cancel = cancel, valid = true, percent = 0,
          history = {} }
        log.jobs[#log.jobs + 1] = job
        return setmetatable({}, {
          __index = function(_t, k)
            if k ~= "valid" and not job.valid then
              error("Accessing an invalid job")
            end
            return job[k]
          end,
          __newindex = function(_t, k, v)
            if not job.valid then
              error("Accessing an invalid job")
            end
            job[k] = v
            if k == "percent" then
              job.history[#job.history + 1] = v
            end
          end,
        })
      end,
    }
  end

  function dt.register_event(name, kind, callback, label)
    assert(not log.events[name], "event registered twice: " .. name)
    log.events[name] = { kind = kind, callback = callback, label = label }
  end
  function dt.destroy_event(name, kind)
    log.destroyed_events[#log.destroyed_events + 1] = { name = name, kind = kind }
    log.events[name] = nil
  end

  -- tags by name: create returns the existing tag of that name (as darktable does); a tag's array part holds its
  -- images (darktable's tag is indexable the same way)
  local tags_by_name = {}
  dt._tags_by_name = tags_by_name
  dt.tags = {
    create = function(name)
      local tag = tags_by_name[name] or { name = name }
      tags_by_name[name] = tag
      log.tags[#log.tags + 1] = tag
      return tag
    end,
    delete = function(tag)
      log.deleted_tags[#log.deleted_tags + 1] = tag
      if tags_by_name[tag.name] == tag then
        tags_by_name[tag.name] = nil
      end
    end,
    find = function(name) return tags_by_name[name] end,
  }

  dt._images = {}

  -- styles: the array part lists them (ipairs works as on darktable's dt.styles)
  local styles = {}
  dt.styles = styles
  local function new_style(name, items)
    local style = { name = name, items = items }
    function style.delete(self)
      remove(styles, self)
      log.deleted_styles[#log.deleted_styles + 1] = self.name
    end
    styles[#styles + 1] = style
    return style
  end
  styles.import = function(path)
    log.style_imports[#log.style_imports + 1] = path
    local text = assert(M.read_file(path), "no style file " .. path)
    local name = assert(text:match("<name>(.-)</name>"))
    for _i, st in ipairs(styles) do
      if st.name == name then
        return -- darktable 4.2 keeps the style it has and imports nothing
      end
    end
    local items = {}
    for op in text:gmatch("<operation>(.-)</operation>") do
      items[#items + 1] = op
    end
    new_style(name, items)
  end
  styles.create = function(img, name, _description)
    local items = {}
    for i, op in ipairs(img.history) do
      items[i] = op
    end
    return new_style(name, items)
  end
  styles.apply = function(style, img)
    if opts.style_apply_error then
      error(opts.style_apply_error)
    end
    log.style_applies[#log.style_applies + 1] = { style = style.name, image = img }
    for _i, op in ipairs(style.items) do
      img.history[#img.history + 1] = op
    end
    img.is_altered = #img.history > 0
    M.touch(img)
  end

  -- darktable 4.2 numbers a new virtual copy from a count it keeps per file (max_version): one more than the
  -- highest version made or imported so far; importing a file already in the library sets that count back to 0
  -- (it re-reads the original's sidecar first), so the next copy gets 1 again even when a copy 1 exists.
  dt._max_version = {}
  local next_id = 1000
  dt.database = {
    import = function(path)
      log.imports[#log.imports + 1] = path
      if opts.import_error then
        error(opts.import_error)
      end
      dt._max_version[path] = 0
    end,
    get_image = function(id)
      for _i, img in ipairs(dt._images) do
        if img.id == id then
          return img
        end
      end
      return nil
    end,
    duplicate = function(img)
      if opts.duplicate_error then
        error(opts.duplicate_error)
      end
      local key = img.path .. "/" .. img.filename
      local index = (dt._max_version[key] or 0) + 1
      next_id = next_id + 1
      local writes = (opts.darktable_prefs or {}).write_sidecar_files ~= "never"
      local copy = M.image(dt, next_id, img.path, img.filename,
        { duplicate_index = index, create_file = false, writes_sidecar = writes })
      copy.write_sidecar() -- darktable writes the new copy's sidecar at once (NAME_NN.EXT.xmp, over any file there)
      return copy
    end,
  }
  return dt
end

--- The film roll of the folder `dir` (darktable's film object: #film images, film[i] the i-th by id, film.path), for
--- the images of `owner` (a userdata, as darktable's is: Lua 5.1 reads # of a table without its __len).
local function film_of(owner, dir)
  owner._films = owner._films or {}
  if owner._films[dir] then
    return owner._films[dir]
  end
  local function members()
    local out = {}
    for _i, img in ipairs(owner._images) do
      if img.path == dir then
        out[#out + 1] = img
      end
    end
    table.sort(out, function(a, b) return a.id < b.id end)
    return out
  end
  local film = rawget(_G, "newproxy")(true)
  local meta = getmetatable(film)
  meta.__len = function() return #members() end
  meta.__index = function(_film, key)
    if key == "path" then
      return dir
    end
    if type(key) == "number" then -- darktable 4.2: film[i] is one library query (an OFFSET query)
      owner._film_reads = (owner._film_reads or 0) + 1
    end
    local img = type(key) == "number" and members()[key]
    if not img then
      error("incorrect index in database")
    end
    return img
  end
  owner._films[dir] = film
  return film
end

local clock = 1670000000000000

--- Change the change_timestamp in the image's sidecar, as darktable does when its history changes (an edit
-- in the darkroom).
function M.touch(img)
  clock = clock + 1
  img._stamp = clock -- darktable 4.2 keeps it out of Lua: only the sidecar shows it
  if img.write_sidecar then
    img.write_sidecar()
  end
end

--- An edit of the image in the darkroom: the module `op` added to its history (and its sidecar rewritten).
function M.edit(img, op)
  img.history[#img.history + 1] = op
  img.is_altered = true
  M.touch(img)
end

local function xml_escape(text)
  return (text:gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }))
end

--- Give `img` darktable 5.2's image:apply_sidecar(path) (4.2 has none: the plug-in then re-imports the file),
--- recording each path it is given. Returns that list of paths.
function M.with_apply_sidecar(img)
  local read = {}
  img.apply_sidecar = function(_self, path)
    read[#read + 1] = path
  end
  return read
end

--- A fake image for the file `dir/filename` (the file is created); `owner` is the stub it belongs to (the
-- image is listed in owner._images).
-- @param opts {altered = bool, writes_sidecar = bool (darktable writes sidecars), duplicate_index = n,
--   create_file = bool, create_sidecar = false (an original gets no sidecar now even with "write sidecars: on
--   import", darktable's default)}
function M.image(owner, id, dir, filename, opts)
  opts = opts or {}
  local path = dir .. "/" .. filename
  if opts.create_file ~= false then
    M.write_file(path, "not really a photo")
  end
  local img = {
    id = id,
    path = dir,
    filename = filename,
    duplicate_index = opts.duplicate_index or 0,
    is_altered = opts.altered or false,
    history = opts.history or (opts.altered and { "user" } or {}),
    attached = {},
    dropped = 0,
  }
  M.touch(img)
  if owner and owner._images then
    owner._images[#owner._images + 1] = img
    img.film = film_of(owner, dir)
    local key = dir .. "/" .. filename
    owner._max_version[key] = math.max(owner._max_version[key] or 0, img.duplicate_index)
  end
  if img.duplicate_index == 0 then
    img.sidecar = path .. ".xmp"
  else
    local base, ext = filename:match("^(.-)(%.[^.]*)$")
    img.sidecar = string.format("%s/%s_%02d%s.xmp", dir, base, img.duplicate_index, ext)
  end
  local function write_sidecar()
    if opts.writes_sidecar == false then
      return
    end
    local names = {}
    for _i, tag in ipairs(img.attached) do
      names[#names + 1] = tag.name
    end
    local items = {}
    for i, name in ipairs(names) do
      items[i] = "<rdf:li>" .. xml_escape(name) .. "</rdf:li>"
    end
    local ops = {}
    for i, op in ipairs(img.history) do
      ops[i] = '<rdf:li darktable:operation="' .. xml_escape(op) .. '"/>'
    end
    M.write_file(img.sidecar, string.format('<x:xmpmeta darktable-history="user"><rdf:Description '
      .. 'xmpMM:DerivedFrom="%s" darktable:change_timestamp="%.0f" darktable:history_end="%d">'
      .. "<lr:hierarchicalSubject><rdf:Bag>%s</rdf:Bag></lr:hierarchicalSubject>"
      .. "<darktable:history><rdf:Seq>%s</rdf:Seq></darktable:history></rdf:Description></x:xmpmeta>",
      xml_escape(filename), img._stamp, #img.history, table.concat(items), table.concat(ops)))
  end
  img.write_sidecar = write_sidecar
  if img.duplicate_index == 0 and owner and owner.preferences and opts.create_sidecar ~= false then
    -- darktable writes an imported image's sidecar at once with "write sidecars: on import" (the default)
    local mode = owner.preferences.read("darktable", "write_sidecar_files", "string")
    local f = io.open(img.sidecar, "rb")
    if f then
      f:close()
    elseif mode == "on import" then
      write_sidecar()
    end
  end
  function img.attach_tag(self, tag)
    assert(self == img)
    self.attached[#self.attached + 1] = tag
    tag[#tag + 1] = img
    write_sidecar()
  end
  function img.detach_tag(self, tag)
    remove(self.attached, tag)
    remove(tag, img)
    write_sidecar()
  end
  function img.get_tags(self)
    local out = {}
    for i, t in ipairs(self.attached) do
      out[i] = t
    end
    return out
  end
  function img.group_with(self, other)
    self.group_leader = other.group_leader or other -- darktable: the group `other` is in, led by its leader
  end
  function img.delete(self)
    assert(not self.deleted, "image deleted twice")
    self.deleted = true
    for _i, t in ipairs(self.attached) do
      remove(t, img)
    end
    if owner and owner._images then
      remove(owner._images, img)
      local log = owner._log
      log.deleted_images[#log.deleted_images + 1] = img
    end
  end
  function img.drop_cache(self)
    self.dropped = self.dropped + 1
  end
  function img.reset(self)
    self.resets = (self.resets or 0) + 1
  end
  return img
end

--- A list of `count` fake images p1.png ... pN.png in `dir` (ids 1 to N), e.g. for runs of more than one batch.
function M.images(owner, count, dir)
  local images = {}
  for i = 1, count do
    images[i] = M.image(owner, i, dir, "p" .. i .. ".png")
  end
  return images
end

return M
