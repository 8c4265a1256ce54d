--[[
  autoretouch/json.lua - the JSON codec of autoretouch.lua (the CLI's --json output in, recipe files out):
  json.decode(text), json.encode(value) and json.NULL. A helper module, not a script: autoretouch.lua loads it
  with `require "autoretouch/json"`, so it is installed as <configdir>/lua/autoretouch/json.lua.

  Copyright (c) autoretouch contributors. Licensed under the MIT license (see the project's LICENSE).
]]

--- JSON's null.
local NULL = setmetatable({}, { __tostring = function() return "null" end })

local json = { NULL = NULL }

--- U+FFFD, what a lone surrogate (\udce9) decodes to.
local REPLACEMENT = 0xFFFD

local ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

--- A code point as UTF-8 bytes.
local function utf8_char(code)
  if code < 0x80 then
    return string.char(code)
  elseif code < 0x800 then
    return string.char(0xC0 + math.floor(code / 0x40), 0x80 + code % 0x40)
  elseif code < 0x10000 then
    return string.char(0xE0 + math.floor(code / 0x1000), 0x80 + math.floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
  end
  return string.char(0xF0 + math.floor(code / 0x40000), 0x80 + math.floor(code / 0x1000) % 0x40,
    0x80 + math.floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
end

local decode_value -- forward declaration (recursive descent)

local function skip_space(text, pos)
  return text:find("[^ \t\r\n]", pos) or #text + 1
end

local function decode_error(pos, what)
  error({ json = string.format("invalid JSON at character %d: %s", pos, what) }, 0)
end

local function decode_string(text, pos)
  -- pos is at the opening quote
  local parts, i = {}, pos + 1
  while true do
    local j = text:find('["\\%c]', i)
    if not j then
      decode_error(pos, "unterminated string")
    end
    parts[#parts + 1] = text:sub(i, j - 1)
    local c = text:sub(j, j)
    if c == '"' then
      return table.concat(parts), j + 1
    elseif c == "\\" then
      local e = text:sub(j + 1, j + 1)
      if e == "u" then
        local hex = text:sub(j + 2, j + 5)
        if not hex:match("^%x%x%x%x$") then
          decode_error(j, "bad \\u escape")
        end
        local code, next_i = tonumber(hex, 16), j + 6
        local low = code >= 0xD800 and code <= 0xDBFF and text:match("^\\u(%x%x%x%x)", next_i)
        local low_code = low and tonumber(low, 16)
        if low_code and low_code >= 0xDC00 and low_code <= 0xDFFF then -- a surrogate pair: one character
          code = 0x10000 + (code - 0xD800) * 0x400 + (low_code - 0xDC00)
          next_i = next_i + 6
        elseif code >= 0xD800 and code <= 0xDFFF then
          -- A lone surrogate: the CLI's name of a file whose name is not UTF-8 (Python's os.fsdecode writes the
          -- byte 0xE9 of b"caf\xe9.jpg" as U+DCE9, and json.dump that as \udce9). It stands for no character:
          -- U+FFFD (the replacement character) instead, so that the rest of the document is still read.
          code = REPLACEMENT
        end
        parts[#parts + 1] = utf8_char(code)
        i = next_i
      elseif ESCAPES[e] then
        parts[#parts + 1] = ESCAPES[e]
        i = j + 2
      else
        decode_error(j, "bad escape")
      end
    else
      decode_error(j, "control character in string")
    end
  end
end

local function decode_number(text, pos)
  local number_text = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if not number_text or not number_text:match("^-?%d") or number_text:match("^-?0%d") then
    decode_error(pos, "bad number")
  end
  local value = tonumber(number_text)
  if value == nil then
    decode_error(pos, "bad number")
  end
  return value, pos + #number_text
end

--- Reads the comma-separated items of an array or object, from its opening character at pos to the closing
-- one, close ("]" or "}"); read_item(pos) reads one item and returns the position after it.
local function decode_items(text, pos, close, read_item)
  pos = skip_space(text, pos + 1)
  if text:sub(pos, pos) == close then
    return pos + 1
  end
  while true do
    pos = skip_space(text, read_item(pos))
    local c = text:sub(pos, pos)
    if c == close then
      return pos + 1
    elseif c ~= "," then
      decode_error(pos, "expected ',' or '" .. close .. "'")
    end
    pos = skip_space(text, pos + 1)
  end
end

local function decode_array(text, pos)
  local result, n = {}, 0
  pos = decode_items(text, pos, "]", function(at)
    local value, after = decode_value(text, at)
    n = n + 1
    result[n] = value
    return after
  end)
  return result, pos
end

local function decode_object(text, pos)
  local result = {}
  pos = decode_items(text, pos, "}", function(at)
    if text:sub(at, at) ~= '"' then
      decode_error(at, "expected a key")
    end
    local key, after = decode_string(text, at)
    after = skip_space(text, after)
    if text:sub(after, after) ~= ":" then
      decode_error(after, "expected ':'")
    end
    local value
    value, after = decode_value(text, skip_space(text, after + 1))
    result[key] = value
    return after
  end)
  return result, pos
end

local LITERALS = { ["true"] = true, ["false"] = false, ["null"] = NULL }

decode_value = function(text, pos)
  pos = skip_space(text, pos)
  local c = text:sub(pos, pos)
  if c == "{" then
    return decode_object(text, pos)
  elseif c == "[" then
    return decode_array(text, pos)
  elseif c == '"' then
    return decode_string(text, pos)
  elseif c == "-" or c:match("%d") then
    return decode_number(text, pos)
  end
  for word, value in pairs(LITERALS) do
    if text:sub(pos, pos + #word - 1) == word then
      return value, pos + #word
    end
  end
  decode_error(pos, c == "" and "unexpected end" or "unexpected character")
end

--- Parse one JSON document. Returns the value (objects and arrays as tables, null as NULL), or nil and a
-- message.
function json.decode(text)
  if type(text) ~= "string" then
    return nil, "invalid JSON: not a string"
  end
  local ok, value, pos = pcall(decode_value, text, 1)
  if not ok then
    if type(value) == "table" and value.json then
      return nil, value.json
    end
    error(value, 0)
  end
  pos = skip_space(text, pos)
  if pos <= #text then
    return nil, string.format("invalid JSON at character %d: trailing text", pos)
  end
  return value
end

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local named = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
    return named[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

--- Whether a table is a JSON array (keys 1..n, or empty).
local function is_array(t)
  local n = 0
  for _k in pairs(t) do
    n = n + 1
  end
  for i = 1, n do
    if t[i] == nil then
      return false
    end
  end
  return true
end

--- Encode a Lua value as JSON. Numbers keep every bit (%.17g); keys are sorted (stable output).
function json.encode(value)
  local kind = type(value)
  if value == NULL or value == nil then
    return "null"
  elseif kind == "boolean" then
    return value and "true" or "false"
  elseif kind == "number" then
    if value ~= value or value == math.huge or value == -math.huge then
      error("JSON cannot hold " .. tostring(value))
    end
    if value == math.floor(value) and math.abs(value) < 2 ^ 53 then
      return string.format("%d", value)
    end
    return string.format("%.17g", value)
  elseif kind == "string" then
    return encode_string(value)
  elseif kind == "table" then
    local parts = {}
    if is_array(value) and next(value) ~= nil then
      for i = 1, #value do
        parts[i] = json.encode(value[i])
      end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    if next(value) == nil then
      return "[]"
    end
    local keys = {}
    for k in pairs(value) do
      keys[#keys + 1] = tostring(k)
    end
    table.sort(keys)
    for i, k in ipairs(keys) do
      parts[i] = encode_string(k) .. ":" .. json.encode(value[k])
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  error("JSON cannot hold a " .. kind)
end

return json
