--[[----------------------------------------------------------------------------
PreviewFlow.lua -- before/after previews in the Auto-retouch dialog.

"Preview" asks the daemon (POST /v1/preview) for the first selected photo:
the photo before, and after each of VARIANTS variants at each of STRENGTHS,
as small JPEGs rendered by the daemon. They are written to a temporary
folder and shown with f:picture; moving the strength slider or choosing
another variant only switches pictures (no new request). The variants use
seed 0, as the run does, so the variant chosen is the one applied to that
photo (and the same variant number is used for the others).
------------------------------------------------------------------------------]]

local LrPathUtils = import "LrPathUtils"
local LrStringUtils = import "LrStringUtils"

local Log = require("Log")
local S = require("Strings")

local PreviewFlow = {}

PreviewFlow.STRENGTHS = { 0.25, 0.5, 0.75, 1.0 }
PreviewFlow.VARIANTS = 3
PreviewFlow.SIZE = 320
--- The seed of the variants, previewed and applied (ApplyFlow asks for the same ones).
PreviewFlow.SEED = 0

local counter = 0

--- The style part of a suggest request: one style, or a mix of two (weight = share of the first, 0..1).
-- @param choice table { style, mixWith = name or nil/"", mixWeight = 0..100 }
function PreviewFlow.styleChoice(choice)
  local other = choice.mixWith
  if type(other) ~= "string" or other == "" or other == choice.style then
    return { style = choice.style }
  end
  local share = math.max(0, math.min(100, tonumber(choice.mixWeight) or 50)) / 100
  return {
    mix = { entries = { { style = choice.style, weight = share }, { style = other, weight = 1 - share } } },
  }
end

local function write(dir, name, base64)
  local data = type(base64) == "string" and LrStringUtils.decodeBase64(base64) or nil
  if type(data) ~= "string" or data == "" then
    return nil
  end
  local path = LrPathUtils.child(dir, name)
  local f = io.open(path, "wb")
  if not f then
    return nil
  end
  f:write(data)
  f:close()
  return path
end

--- Fetches the preview of one photo and writes its images.
-- @param client DaemonClient
-- @param path the photo
-- @param choice table { style, mixWith, mixWeight }
-- @return { before = file, strengths = {...}, variants = { { files... }, ... } }, or nil and an error table
function PreviewFlow.fetch(client, path, choice)
  local suggest = PreviewFlow.styleChoice(choice)
  suggest.path = path
  suggest.variants = PreviewFlow.VARIANTS
  suggest.seed = PreviewFlow.SEED
  local data, err = client:preview {
    suggest = suggest,
    strengths = PreviewFlow.STRENGTHS,
    size = PreviewFlow.SIZE,
  }
  if not data then
    return nil, err
  end
  counter = counter + 1
  local name = string.format("autoretouch-preview-%d-%d", os.time(), counter)
  local dir = LrPathUtils.child(LrPathUtils.getStandardFilePath "temp", name)
  local made = os.execute(string.format("mkdir -p %q", dir))
  if made ~= 0 and made ~= true then
    Log:warnf("preview: could not create %s", dir)
  end
  local out = { before = write(dir, "before.jpg", data.before), strengths = {}, variants = {} }
  for i, s in ipairs(type(data.strengths) == "table" and data.strengths or {}) do
    out.strengths[i] = tonumber(s) or 0
  end
  for v, variant in ipairs(type(data.variants) == "table" and data.variants or {}) do
    local files = {}
    for i, image in ipairs(type(variant.after) == "table" and variant.after or {}) do
      files[i] = write(dir, string.format("after-%d-%d.jpg", v, i), image)
    end
    out.variants[v] = files
  end
  if not out.before or #out.variants == 0 then
    return nil, { kind = "protocol", message = S.errorNoPreview }
  end
  return out
end

--- The picture for a variant at a strength (the nearest one rendered).
-- @param preview from fetch
-- @param variant 1..VARIANTS
-- @param percent strength 0..100
-- @return file path or nil
function PreviewFlow.afterFor(preview, variant, percent)
  local files = preview and preview.variants[tonumber(variant) or 1]
  if not files then
    return nil
  end
  local want = (tonumber(percent) or 100) / 100
  if want <= 0 then
    return preview.before
  end
  local best, distance = nil, math.huge
  for i, s in ipairs(preview.strengths) do
    local d = math.abs(s - want)
    if d < distance then
      best, distance = files[i], d
    end
  end
  return best
end

return PreviewFlow
