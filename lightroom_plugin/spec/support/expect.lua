--[[----------------------------------------------------------------------------
expect.lua -- assertions the specs share about what a dialog shows.

  local expect = require("expect")
  expect.showsAll(menus.lastMessage().info, { "Applied to 2 of 6 photos.", "4 photos failed:" })
------------------------------------------------------------------------------]]

-- busted's assert is not a global in modules the specs require.
local assert = require("luassert")

local expect = {}

--- Asserts that `text` holds each of `parts` as plain text (no Lua patterns), in any order: one
-- assert.matches(part, text, 1, true) per part, so a failure names the part that is missing.
-- @param text string, e.g. a message dialog's info
-- @param parts list of strings
function expect.showsAll(text, parts)
  for _, part in ipairs(parts) do
    assert.matches(part, text, 1, true)
  end
end

return expect
