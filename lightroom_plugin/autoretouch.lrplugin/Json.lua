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

--- U+FFFD (the replacement character) in UTF-8.
local REPLACEMENT = "\239\191\189"

--- `value` (decoded) with each lone surrogate U+FFFD. A lone surrogate (\udce9) is how autoretouch names a file
-- whose name is not UTF-8 (Python's os.fsdecode writes the byte 0xE9 of b"caf\xe9.jpg" as U+DCE9, json.dump that
-- as \udce9); it stands for no character, and dkjson writes it as its code point's three bytes, which are not
-- UTF-8 (ED A0..BF 80..BF; a surrogate pair it joins into one character).
local function withoutSurrogates(value)
  if type(value) == "string" then
    return (value:gsub("\237[\160-\191][\128-\191]", REPLACEMENT))
  elseif type(value) == "table" then
    local out = {}
    for k, v in pairs(value) do
      out[withoutSurrogates(k)] = withoutSurrogates(v)
    end
    return out
  end
  return value
end

--- Decodes JSON text into plain Lua tables (no metatables; JSON null becomes nil). A lone surrogate (\udce9, a file
-- name that is not UTF-8) becomes U+FFFD.
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
  if text:find("\\[uU][dD][89a-fA-F]") then -- a surrogate, alone or in a pair
    return withoutSurrogates(value)
  end
  return value
end

return Json
