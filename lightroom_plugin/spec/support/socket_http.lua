--[[----------------------------------------------------------------------------
socket_http.lua -- an LrHttp stand-in backed by LuaSocket (Debian lua-socket),
for the integration spec: same signatures and the same results as LrHttp
(body and headers with .status; nil and { error = { errorCode = ... } } on a
network error).
------------------------------------------------------------------------------]]

local http = require("socket.http")
local ltn12 = require("ltn12")

local M = {}

local CODES = {
  ["connection refused"] = "cannotConnectToHost",
  ["timeout"] = "timedOut",
  ["host not found"] = "cannotFindHost",
  ["closed"] = "networkConnectionLost",
}

local function request(url, method, body, headerList, timeout)
  local headers = {}
  for _, h in ipairs(headerList or {}) do
    if h.value ~= "skip" then
      headers[h.field:lower()] = h.value
    end
  end
  if body then
    headers["content-length"] = tostring(#body)
    headers["content-type"] = headers["content-type"] or "text/plain"
  end
  http.TIMEOUT = timeout or 60
  local chunks = {}
  local ok, status, responseHeaders = http.request {
    url = url,
    method = method,
    headers = headers,
    source = body and ltn12.source.string(body) or nil,
    sink = ltn12.sink.table(chunks),
  }
  if not ok then
    local code = CODES[tostring(status)] or "badServerResponse"
    return nil, { error = { errorCode = code, name = tostring(status) } }
  end
  local out = {}
  for k, v in pairs(responseHeaders or {}) do
    out[#out + 1] = { field = k, value = v }
  end
  out.status = status
  return table.concat(chunks), out
end

function M.get(url, headers, timeout)
  return request(url, "GET", nil, headers, timeout)
end

function M.post(url, body, headers, method, timeout)
  return request(url, method or "POST", body, headers, timeout)
end

--- Puts the LuaSocket functions behind the stubbed LrHttp namespace.
function M.install(LrHttp)
  LrHttp.get = M.get
  LrHttp.post = M.post
end

return M
