--[[ Reading what the specs recorded: the messages the stub logged (dt._log.prints, logs, errors) and the argv
  the fake CLI was called with. Shared by the spec files. ]]

local M = {}

--- The first text of `list` holding `text` (plain), or nil.
function M.find(list, text)
  for _i, item in ipairs(list) do
    if tostring(item):find(text, 1, true) then
      return item
    end
  end
  return nil
end

--- The first text of `list` matching the Lua pattern `pattern`, or nil.
function M.match(list, pattern)
  for _i, item in ipairs(list) do
    if tostring(item):find(pattern) then
      return item
    end
  end
  return nil
end

--- How many items of `list` satisfy `pred`.
function M.count(list, pred)
  local n = 0
  for _i, v in ipairs(list) do
    if pred(v) then
      n = n + 1
    end
  end
  return n
end

--- The arguments after "--" (the photos).
function M.after_dashes(argv)
  local out, seen = {}, false
  for _i, a in ipairs(argv) do
    if seen then
      out[#out + 1] = a
    elseif a == "--" then
      seen = true
    end
  end
  return out
end

--- Every value of the option `--NAME=VALUE` in argv, in order.
function M.options(argv, name)
  local values = {}
  for _i, a in ipairs(argv) do
    values[#values + 1] = a:match("^%-%-" .. name:gsub("%p", "%%%0") .. "=(.*)$") -- NAME as written (run-dir)
  end
  return values
end

--- The first value of the option `--NAME=VALUE` in argv, or nil.
function M.option(argv, name)
  return M.options(argv, name)[1]
end

return M
