--[[----------------------------------------------------------------------------
Json.lua -- JSON through dkjson (David Kolf, MIT licence), which the build step
(scripts/build_lrplugin.sh) copies into the package; it is never committed.
------------------------------------------------------------------------------]]

local dkjson = require("dkjson")

local Json = {}

--- Encodes a Lua value as JSON text.
-- @param value table, string, number or boolean
-- @return string, or nil and a message
function Json.encode(value)
  local ok, text = pcall(dkjson.encode, value)
  if not ok or type(text) ~= "string" then
    return nil, tostring(text)
  end
  return text
end

--- Decodes JSON text into plain Lua tables (no metatables; JSON null becomes nil).
-- @param text string
-- @return the value, or nil and a message
function Json.decode(text)
  if type(text) ~= "string" then
    return nil, "no text"
  end
  local value, _, err = dkjson.decode(text, 1, nil, nil, nil)
  if err then
    return nil, err
  end
  return value
end

return Json
