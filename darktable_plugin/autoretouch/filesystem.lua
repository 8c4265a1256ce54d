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

return {
  read_file = read_file,
  file_exists = file_exists,
  folder_exists = folder_exists,
}
