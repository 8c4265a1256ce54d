--[[
  autoretouch/filesystem.lua: reading files and probing paths (plain Lua io; no darktable) ]]

--- The content of the file `path`, or nil when it cannot be opened.
local function read_file(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local text = f:read("*a")
  f:close()
  return text
end

--- Whether `path` can be opened for reading (an existing file, or a folder on Linux).
local function file_exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return false
end

--- Whether `path` is an existing folder (opening "path/." fails for a missing one and for a file).
local function folder_exists(path)
  return file_exists(path .. "/.")
end

--- `dir` when it names an existing folder, else nil (nil, not a string, "", a missing folder or a file). For
--- darktable's cache folder (dt.configuration.cache_dir), where the plug-in keeps its daemon's log, preview recipes,
--- sidecar backups and training run folders: without one they are not kept, never put in a shared folder such as
--- /tmp (another user could plant a link there) nor in darktable's working directory.
local function existing_folder(dir)
  if type(dir) ~= "string" or dir == "" or not folder_exists(dir) then
    return nil
  end
  return dir
end

--- Write `text` to the file `path` through a temporary file beside it (PATH.autoretouch-tmp, renamed over `path`),
--- checking the write, the close and, afterwards, that `path` reads back as `text`. Returns true, or nil and a
--- message (the temporary file is removed).
local function write_file(path, text)
  local tmp = path .. ".autoretouch-tmp"
  local ok, err = pcall(function()
    local f = assert(io.open(tmp, "wb"))
    local written, write_err = f:write(text)
    local closed, close_err = f:close()
    assert(written, write_err)
    assert(closed, close_err)
    assert(os.rename(tmp, path))
  end)
  if not ok then
    os.remove(tmp)
    return nil, tostring(err)
  end
  if read_file(path) ~= text then
    return nil, path .. ": does not read back as written"
  end
  return true
end

return {
  read_file = read_file,
  write_file = write_file,
  file_exists = file_exists,
  folder_exists = folder_exists,
  existing_folder = existing_folder,
}
