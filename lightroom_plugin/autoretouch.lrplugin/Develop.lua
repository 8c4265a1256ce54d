--[[----------------------------------------------------------------------------
Develop.lua -- what the plug-in decides about a photo's develop settings,
without touching the catalog (pure functions, specced directly):

* process version: our keys are the 2012 names; a photo in an older process
  version (2003, 2010: ProcessVersion below 6.6) is refused or updated,
  per the "older process versions" preference;
* relative keys (Suggestion.lightroom_relative, e.g. Sharpness: Lightroom's
  default is not zero): clamp(base + add, min, max), where base is the
  photo's value before its first auto-retouch (kept with the photo, see
  ApplyFlow), so trying again at another strength does not add twice;
* read-back: the keys Lightroom kept at a different value than was sent.
------------------------------------------------------------------------------]]

local Json = require("Json")
local Whitelist = require("Whitelist")

local Develop = {}

--- The lowest ProcessVersion of the 2012 tone controls (Exposure2012 ... Blacks2012): PV2012 is 6.7, and 6.6
-- also occurs (lightroom.md §8).
Develop.PV2012 = 6.6
--- ProcessVersion the plug-in sets when asked to update an older photo ("Version 5", Lightroom Classic 8+),
-- the process version the daemon writes to XMP sidecars.
Develop.UPDATE_TO = "11.0"
--- How far a number Lightroom reads back may differ from the one sent (Exposure has 2 decimals).
Develop.TOLERANCE = 0.011

local finite = Whitelist.finite

--- Whether a photo's settings need a process-version decision.
-- @param current table the photo's getDevelopSettings() (may be empty)
-- @return nil when the photo uses the 2012 controls (or says nothing: new photos get the current version),
--   else the ProcessVersion text
function Develop.oldProcessVersion(current)
  local pv = type(current) == "table" and current.ProcessVersion or nil
  local number = tonumber(pv)
  if number and number < Develop.PV2012 then
    return tostring(pv)
  end
  return nil
end

--- The relative keys of a suggestion, validated.
-- @param relative table key -> { add = n, min = n, max = n } as the daemon sent it (may be nil)
-- @param whitelist Whitelist
-- @return table key -> { add, min, max }, sorted list of dropped keys
function Develop.relativeKeys(relative, whitelist)
  local function valid(spec)
    return type(spec) == "table" and finite(spec.add) and finite(spec.min) and finite(spec.max) and spec.min <= spec.max
  end
  local function copy(spec)
    return { add = spec.add, min = spec.min, max = spec.max }
  end
  return whitelist:keep(type(relative) == "table" and relative or nil, valid, copy)
end

--- The values of the relative keys before the first auto-retouch.
-- @param stored string or nil: the JSON kept with the photo by an earlier run
-- @param current table the photo's develop settings now
-- @param keys table key -> spec (from relativeKeys)
-- @return base table key -> number, and whether it came from the stored value
function Develop.base(stored, current, keys)
  local decoded = type(stored) == "string" and Json.decode(stored) or nil
  local base, fromStored = {}, type(decoded) == "table"
  for key in pairs(keys) do
    local value = fromStored and decoded[key] or nil
    if not finite(value) then
      value = type(current) == "table" and tonumber(current[key]) or nil
    end
    base[key] = finite(value) and value or 0
  end
  return base, fromStored
end

--- Adds the relative keys to a settings table (rounded to integers, clamped).
-- @param settings table (modified)
-- @param keys table key -> { add, min, max }
-- @param base table key -> number
function Develop.applyRelative(settings, keys, base)
  for key, spec in pairs(keys) do
    local value = math.floor((base[key] or 0) + spec.add + 0.5)
    settings[key] = math.max(spec.min, math.min(spec.max, value))
  end
end

--- The base as the JSON kept with the photo.
function Develop.encodeBase(base)
  return Json.encode(base)
end

local function same(sent, now)
  if type(sent) == "number" then
    return finite(now) and math.abs(sent - now) <= Develop.TOLERANCE + 1e-9 * math.abs(sent)
  elseif type(sent) == "table" then
    if type(now) ~= "table" or #now ~= #sent then
      return false
    end
    for i = 1, #sent do
      if not same(sent[i], now[i]) then
        return false
      end
    end
    return true
  end
  return sent == now
end

local function show(value)
  if type(value) == "table" then
    local parts = {}
    for i = 1, #value do
      parts[i] = tostring(value[i])
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return tostring(value)
end

--- Keys Lightroom kept at another value than the one sent.
-- @param sent table the settings applied
-- @param now table the photo's getDevelopSettings() afterwards
-- @return sorted list of { key, sent = text, now = text }
function Develop.mismatches(sent, now)
  local out = {}
  for key, value in pairs(sent) do
    local got = nil
    if type(now) == "table" then
      got = now[key] -- may be false: not `and ... or`
    end
    if not same(value, got) then
      out[#out + 1] = { key = key, sent = show(value), now = show(got) }
    end
  end
  table.sort(out, function(a, b)
    return a.key < b.key
  end)
  return out
end

return Develop
