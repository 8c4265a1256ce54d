--[[----------------------------------------------------------------------------
PreviewFlow.lua -- before/after previews in the Auto-retouch dialog.

"Preview" asks the daemon (POST /v1/preview) for the first selected photo:
the photo before, and after each of VARIANTS variants at each of STRENGTHS,
as small JPEGs rendered by the daemon. They are written to a temporary
folder (LrFileUtils) and shown with f:picture; moving the strength slider or
choosing another variant only switches pictures (no new request). A preview
session removes each folder when the next preview replaces it, and the last
one when the dialog is done or its function context ends. The variants use
seed 0, as the run does, so the variant chosen is the one applied to that
photo (and the same variant number is used for the others).
------------------------------------------------------------------------------]]

local LrFileUtils = import "LrFileUtils"
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

--- Writes one picture into the preview's folder.
-- @param preview table with dir and files (the file is added to files)
-- @return the file's path, or nil
local function write(preview, name, base64)
  local data = type(base64) == "string" and LrStringUtils.decodeBase64(base64) or nil
  if type(data) ~= "string" or data == "" then
    return nil
  end
  local path = LrPathUtils.child(preview.dir, name)
  local f = io.open(path, "wb")
  if not f then
    return nil
  end
  preview.files[#preview.files + 1] = path
  local ok = f:write(data)
  f:close()
  return ok and path or nil
end

--- Removes a preview's pictures and folder (nothing for nil). A file or folder that cannot be removed is logged.
-- @param preview from fetch, or nil
function PreviewFlow.discard(preview)
  if not preview or not preview.dir then
    return
  end
  for _, path in ipairs(preview.files) do
    local ok, err = LrFileUtils.delete(path)
    if not ok then
      Log:warnf("preview: could not remove %s: %s", path, tostring(err))
    end
  end
  local ok, err = LrFileUtils.delete(preview.dir)
  if not ok then
    Log:warnf("preview: could not remove %s: %s", preview.dir, tostring(err))
  end
  preview.dir, preview.files = nil, {}
end

--- A preview session: the dialog's current preview, whose folder the next preview replaces.
-- @param context LrFunctionContext or nil: its cleanup removes the last preview's folder
-- @return session for fetch and close
function PreviewFlow.newSession(context)
  local session = {}
  if context then
    context:addCleanupHandler(function()
      PreviewFlow.close(session)
    end)
  end
  return session
end

--- Removes the session's last preview folder; a preview that arrives afterwards (its task was still waiting for
-- the daemon) is removed at once. Closing again does nothing.
function PreviewFlow.close(session)
  PreviewFlow.discard(session.current)
  session.current, session.closed = nil, true
end

--- Makes a new, empty folder for a preview's pictures under Lightroom's temporary folder.
-- @return preview table { dir, files = {} }, or nil and an error table
local function newFolder()
  counter = counter + 1
  local name = string.format("autoretouch-preview-%d-%d", os.time(), counter)
  local dir = LrPathUtils.child(LrPathUtils.getStandardFilePath "temp", name)
  LrFileUtils.createAllDirectories(dir)
  if LrFileUtils.exists(dir) ~= "directory" then
    Log:warnf("preview: could not create %s", dir)
    return nil, { kind = "protocol", message = S.errorPreviewFolder(dir) }
  end
  return { dir = dir, files = {} }
end

--- Fetches the preview of one photo and writes its images into a new folder.
-- @param client DaemonClient
-- @param path the photo
-- @param choice table { style, mixWith, mixWeight }
-- @param session from newSession, or nil: a preview written replaces the session's current one (whose folder
--   is removed then); without a session the caller removes the folder (discard)
-- @return { before = file, strengths = {...}, variants = { { files... }, ... }, dir, files }, or nil and an
--   error table
function PreviewFlow.fetch(client, path, choice, session)
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
  local out, problem = newFolder()
  if not out then
    return nil, problem
  end
  out.before, out.strengths, out.variants = write(out, "before.jpg", data.before), {}, {}
  for i, s in ipairs(type(data.strengths) == "table" and data.strengths or {}) do
    out.strengths[i] = tonumber(s) or 0
  end
  for v, variant in ipairs(type(data.variants) == "table" and data.variants or {}) do
    local files = {}
    for i, image in ipairs(type(variant.after) == "table" and variant.after or {}) do
      files[i] = write(out, string.format("after-%d-%d.jpg", v, i), image)
    end
    out.variants[v] = files
  end
  if not out.before or #out.variants == 0 then
    PreviewFlow.discard(out)
    return nil, { kind = "protocol", message = S.errorNoPreview }
  end
  if session and session.closed then
    PreviewFlow.discard(out)
    return nil, { kind = "protocol", message = S.errorNoPreview }
  elseif session then
    PreviewFlow.discard(session.current)
    session.current = out
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
