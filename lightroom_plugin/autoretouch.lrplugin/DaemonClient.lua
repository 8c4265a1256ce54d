--[[----------------------------------------------------------------------------
DaemonClient.lua -- the daemon's loopback HTTP/JSON bridge, through LrHttp.

Bodies are the proto messages of protos/autoretouch/v1/retoucher.proto in their
JSON form. Requests use the proto's field names; answers are read under both
spellings (snake_case as the bridge prints them, lowerCamelCase as the proto
JSON mapping allows). Every call runs inside a task and returns either its
result or nil and an error table:

  { kind = "down" | "timeout" | "network" | "auth" | "not_serving" | "server" | "protocol",
    message = text for the user, status = HTTP status, code = gRPC code name }
------------------------------------------------------------------------------]]

local LrHttp = import "LrHttp"

local Json = require("Json")
local S = require("Strings")

local DaemonClient = {}
DaemonClient.__index = DaemonClient

DaemonClient.PROTOCOL_VERSION = 1
DaemonClient.HOST_LIGHTROOM = "HOST_LIGHTROOM"

-- LrHttp errorCode values that mean "nothing listens there".
local DOWN = {
  cannotConnectToHost = true,
  cannotFindHost = true,
  networkConnectionLost = true,
  resourceUnavailable = true,
}

--- A client.
-- @param opts table { url = "http://127.0.0.1:50052", token = string or nil,
--   timeout = seconds (default 120), http = LrHttp replacement (tests) }
-- @return DaemonClient
function DaemonClient.new(opts)
  return setmetatable({
    url = opts.url,
    token = opts.token,
    timeout = opts.timeout or 120,
    http = opts.http or LrHttp,
  }, DaemonClient)
end

--- A field under its proto name or its lowerCamelCase JSON name.
local function field(data, snake)
  if type(data) ~= "table" then
    return nil
  end
  local value = data[snake]
  if value == nil then
    local camel = snake:gsub("_(%l)", string.upper)
    value = data[camel]
  end
  return value
end
DaemonClient.field = field

function DaemonClient:headers(withBody)
  local headers = {}
  if withBody then
    headers[#headers + 1] = { field = "Content-Type", value = "application/json" }
  end
  if self.token then
    headers[#headers + 1] = { field = "X-Autoretouch-Token", value = self.token }
  end
  headers[#headers + 1] = { field = "X-Autoretouch-Timeout", value = tostring(self.timeout) }
  return headers
end

function DaemonClient:networkError(info)
  local code = type(info) == "table" and type(info.error) == "table" and info.error.errorCode or "unknown"
  if DOWN[code] then
    return { kind = "down", code = code, message = S.errorDown(self.url) }
  elseif code == "timedOut" then
    return { kind = "timeout", code = code, message = S.errorTimeout(self.timeout) }
  end
  return { kind = "network", code = code, message = S.errorNetwork(tostring(code)) }
end

local function httpError(status, body)
  local data = Json.decode(body or "")
  local code = field(data, "code")
  local message = field(data, "message")
  local kind = "server"
  if status == 401 or code == "UNAUTHENTICATED" then
    kind = "auth"
  elseif status == 503 and field(data, "status") == "NOT_SERVING" then
    kind = "not_serving"
    message = S.notServing
  end
  if type(message) ~= "string" or message == "" then
    message = S.errorHttp(status, tostring(code or ""))
  end
  return { kind = kind, status = status, code = code, message = message }
end

--- One HTTP exchange.
-- @param method "GET" or "POST"
-- @param path e.g. "/v1/suggest"
-- @param body table (POST) or nil
-- @return body text, or nil and an error table
function DaemonClient:request(method, path, body)
  local url = self.url .. path
  local text, headers
  if method == "GET" then
    text, headers = self.http.get(url, self:headers(false), self.timeout)
  else
    local payload = assert(Json.encode(body))
    text, headers = self.http.post(url, payload, self:headers(true), "POST", self.timeout)
  end
  local status = type(headers) == "table" and tonumber(headers.status) or nil
  if not status then
    if text == nil or (type(headers) == "table" and headers.error) then
      return nil, self:networkError(headers)
    end
    return nil, { kind = "protocol", message = S.errorBadAnswer }
  end
  if status < 200 or status > 299 then
    return nil, httpError(status, text)
  end
  return text or ""
end

--- A request whose answer is one JSON object.
function DaemonClient:call(method, path, body)
  local text, err = self:request(method, path, body)
  if not text then
    return nil, err
  end
  local data = Json.decode(text)
  if type(data) ~= "table" then
    return nil, { kind = "protocol", message = S.errorBadAnswer }
  end
  return data
end

--- GET /healthz.
-- @return { status = "SERVING", server_version = ... }, or nil and an error
--   (kind "not_serving" while the daemon loads its styles)
function DaemonClient:health()
  local data, err = self:call("GET", "/healthz")
  if data and data.status ~= "SERVING" then
    return nil, { kind = "not_serving", message = S.notServing }
  end
  return data, err
end

--- GET /v1/styles: the styles the daemon can use.
-- @return { names = { "default", ... }, default = name or nil, serverVersion = string }, or nil and an error
function DaemonClient:listStyles()
  local data, err = self:call("GET", "/v1/styles?protocol_version=" .. DaemonClient.PROTOCOL_VERSION)
  if not data then
    return nil, err
  end
  local names = {}
  for _, style in ipairs(data.styles or {}) do
    local broken = field(style, "error")
    if type(style.name) == "string" and style.loaded and (broken == nil or broken == "") and not style.shadowed then
      names[#names + 1] = style.name
    end
  end
  local default = field(data, "default_style")
  return {
    names = names,
    default = default ~= "" and default or nil,
    serverVersion = field(data, "server_version") or "",
  }
end

--- POST /v1/suggest for one photo, Lightroom settings requested.
-- @param path absolute path of the photo
-- @param style style name, or nil for the daemon's default
-- @param strength number in [0, 1]
-- @param opts table or nil: { mix = StyleMix table (instead of style), variants = count, seed = number }
-- @return SuggestResponse table, or nil and an error
function DaemonClient:suggest(path, style, strength, opts)
  opts = opts or {}
  return self:call("POST", "/v1/suggest", {
    protocol_version = DaemonClient.PROTOCOL_VERSION,
    path = path,
    style = opts.mix == nil and style or nil,
    mix = opts.mix,
    strength = strength,
    variants = opts.variants,
    seed = opts.seed,
    hosts = { DaemonClient.HOST_LIGHTROOM },
  })
end

--- POST /v1/preview: before/after JPEGs (base64) of one photo's variants at several strengths.
-- @param request PreviewRequest table (protocol_version and the Lightroom host are filled in)
-- @return PreviewResponse table, or nil and an error
function DaemonClient:preview(request)
  request.protocol_version = DaemonClient.PROTOCOL_VERSION
  request.suggest.hosts = { DaemonClient.HOST_LIGHTROOM }
  return self:call("POST", "/v1/preview", request)
end

--- POST /v1/train/start: starts a training that runs on in the daemon (LrHttp cannot follow a stream).
-- @param request TrainStyleRequest table (protocol_version is filled in)
-- @return TrainStatus table, or nil and an error (kind "server", code RESOURCE_EXHAUSTED when busy)
function DaemonClient:trainStart(request)
  request.protocol_version = DaemonClient.PROTOCOL_VERSION
  return self:call("POST", "/v1/train/start", request)
end

--- GET /v1/train/status: { state = "running"|"finished"|"failed"|"cancelled"|"idle", name, last, error }.
function DaemonClient:trainStatus()
  return self:call("GET", "/v1/train/status?protocol_version=" .. DaemonClient.PROTOCOL_VERSION)
end

--- POST /v1/train/cancel: stops the running training (nothing is installed).
function DaemonClient:trainCancel()
  return self:call("POST", "/v1/train/cancel", { protocol_version = DaemonClient.PROTOCOL_VERSION })
end

-- Suggestion `index` (default 1) of a decoded SuggestResponse, or nil.
local function suggestion(response, index)
  local suggestions = type(response) == "table" and response.suggestions
  return type(suggestions) == "table" and suggestions[index or 1] or nil
end

--- The Lightroom settings of one suggestion of a SuggestResponse (the first unless `index` says otherwise).
-- @return settings table and list of warnings, or nil and an error
function DaemonClient.lightroomSettings(response, index)
  local chosen = suggestion(response, index)
  local settings = field(chosen, "lightroom_settings")
  if type(settings) ~= "table" then
    return nil, { kind = "protocol", message = S.errorNoSettings }
  end
  return settings, field(chosen, "lightroom_warnings") or {}
end

--- The relative Lightroom keys of one suggestion (the first unless `index` says otherwise; key -> { add, min,
-- max }; {} when none).
-- @param response decoded SuggestResponse
-- @return table (unvalidated; see Develop.relativeKeys)
function DaemonClient.lightroomRelative(response, index)
  local relative = field(suggestion(response, index), "lightroom_relative")
  return type(relative) == "table" and relative or {}
end

--- Parses the NDJSON stream of POST /v1/sidecars.
-- @param text the whole body
-- @return { files = { FileResult, ... }, summary = Summary or nil, error = error table or nil },
--   or nil and an error when a line is not JSON
function DaemonClient.parseSidecarStream(text)
  local result = { files = {} }
  for line in tostring(text):gmatch("[^\n]+") do
    line = line:gsub("%s+$", "")
    if line ~= "" then
      local data = Json.decode(line)
      if type(data) ~= "table" then
        return nil, { kind = "protocol", message = S.errorBadAnswer }
      end
      if type(data.file) == "table" then
        result.files[#result.files + 1] = data.file
      elseif type(data.summary) == "table" then
        result.summary = data.summary
      elseif data.code then
        result.error = { kind = "server", code = data.code, message = data.message or tostring(data.code) }
      end
    end
  end
  return result
end

--- POST /v1/sidecars: writes Lightroom sidecars for the given photos.
-- @param paths list of absolute paths
-- @param opts table { style = name or nil, strength = [0, 1], overwrite = boolean }
-- @return parsed stream (see parseSidecarStream), or nil and an error
function DaemonClient:writeSidecars(paths, opts)
  local text, err = self:request("POST", "/v1/sidecars", {
    protocol_version = DaemonClient.PROTOCOL_VERSION,
    paths = paths,
    hosts = { DaemonClient.HOST_LIGHTROOM },
    style = opts.style,
    strength = opts.strength,
    overwrite = opts.overwrite == true,
  })
  if not text then
    return nil, err
  end
  return DaemonClient.parseSidecarStream(text)
end

return DaemonClient
