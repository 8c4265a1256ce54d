--[[----------------------------------------------------------------------------
Text.lua -- texts naming the user's files (a training's notes), as the plug-in
shows them: cut to a length without breaking a UTF-8 character, and escaped
onto one line as autoretouch's command line escapes them (backend/text.py).
------------------------------------------------------------------------------]]

local Text = {}

--- `text` cut to at most `limit` bytes, never inside a UTF-8 character (as it is when it is short enough).
function Text.shorten(text, limit)
  if #text <= limit then
    return text
  end
  local cut = limit
  while cut > 0 and (text:byte(cut + 1) or 0) >= 0x80 and text:byte(cut + 1) < 0xC0 do -- a continuation byte
    cut = cut - 1
  end
  return text:sub(1, cut)
end

local SHORT_ESCAPES = { [0x0A] = "\\n", [0x0D] = "\\r", [0x09] = "\\t" }

--- The code points the CLI escapes (backend/text.py): Unicode's categories Cc (C0, DEL, C1 with U+0085), Cf (soft
-- hyphen, Arabic marks, U+180E, zero-width space, LRM/RLM, bidi embeddings, overrides and isolates, word joiner and
-- invisible operators, BOM, interlinear annotations, ..., tag characters), Zl and Zp (U+2028 and U+2029: Pango
-- breaks the line there) and Cs (surrogates), as of Unicode 15, but the zero-width (non-)joiners U+200C and U+200D
-- that emoji sequences and several scripts need; sorted ranges.
local ESCAPED = { { 0x0, 0x1F }, { 0x7F, 0x9F }, { 0xAD, 0xAD }, { 0x600, 0x605 }, { 0x61C, 0x61C }, { 0x6DD, 0x6DD },
  { 0x70F, 0x70F }, { 0x890, 0x891 }, { 0x8E2, 0x8E2 }, { 0x180E, 0x180E }, { 0x200B, 0x200B }, { 0x200E, 0x200F },
  { 0x2028, 0x202E }, { 0x2060, 0x2064 }, { 0x2066, 0x206F }, { 0xD800, 0xDFFF }, { 0xFEFF, 0xFEFF },
  { 0xFFF9, 0xFFFB }, { 0x110BD, 0x110BD }, { 0x110CD, 0x110CD }, { 0x13430, 0x1343F }, { 0x1BCA0, 0x1BCA3 },
  { 0x1D173, 0x1D17A }, { 0xE0001, 0xE0001 }, { 0xE0020, 0xE007F } }

--- Whether the CLI escapes the code point `code`.
local function escaped(code)
  for _, range in ipairs(ESCAPED) do
    if code < range[1] then
      return false
    elseif code <= range[2] then
      return true
    end
  end
  return false
end

--- The code point `code` as Python's repr writes it: \n, \xNN, \uNNNN or \UNNNNNNNN.
local function escape(code)
  if code < 0x100 then
    return SHORT_ESCAPES[code] or string.format("\\x%02x", code)
  end
  return string.format(code < 0x10000 and "\\u%04x" or "\\U%08x", code)
end

--- What the lead byte of a UTF-8 sequence of 2, 3 or 4 bytes holds of its code point: its value modulo this.
local LEAD_BITS = { [2] = 0x20, [3] = 0x10, [4] = 0x08 }

--- The UTF-8 character at byte `i` of `text`: its code point and length in bytes; nil and 1 for a byte that starts
-- no well-formed sequence (left as it is).
local function charAt(text, i)
  local b = text:byte(i)
  local len = b < 0x80 and 1 or b >= 0xF8 and 0 or b >= 0xF0 and 4 or b >= 0xE0 and 3 or b >= 0xC2 and 2 or 0
  if len == 0 then
    return nil, 1
  end
  local code = len == 1 and b or b % LEAD_BITS[len]
  for k = 1, len - 1 do
    local c = text:byte(i + k)
    if not c or c < 0x80 or c > 0xBF then
      return nil, 1
    end
    code = code * 0x40 + (c - 0x80)
  end
  return code, len
end

--- `text` (a message naming the user's files) on one line, as the CLI's text output escapes it (backend/text.py):
-- the characters of ESCAPED (controls, line separators, bidi overrides, zero-width and other invisible characters)
-- as Python writes them (\n, \x1b, \x85, \u202e, \U000e0041); ordinary Unicode (accents, CJK, emoji with their
-- zero-width joiners) as it is. Bytes are read as UTF-8, never through the C library's locale.
function Text.printable(text)
  if not text:find("[^ -~]") then -- printable ASCII only
    return text
  end
  local out, i = {}, 1
  while i <= #text do
    local code, len = charAt(text, i)
    out[#out + 1] = code and escaped(code) and escape(code) or text:sub(i, i + len - 1)
    i = i + len
  end
  return table.concat(out)
end

return Text
