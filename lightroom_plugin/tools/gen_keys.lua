--[[----------------------------------------------------------------------------
gen_keys.lua -- writes AutoretouchKeys.lua (the whitelist) from the slider catalog.

  lua5.1 tools/gen_keys.lua CATALOG.json OUT.lua

CATALOG.json is the output of `autoretouch sliders --json`. Run by
scripts/build_lrplugin.sh; needs dkjson on the Lua path (Debian lua-dkjson).
------------------------------------------------------------------------------]]

local here = (arg[0]:match("^(.*)[/\\]") or ".")
package.path = here .. "/../autoretouch.lrplugin/?.lua;" .. package.path

local dkjson = require("dkjson")
local Whitelist = require("Whitelist")

local input, output = arg[1], arg[2]
if not input or not output then
  io.stderr:write("usage: lua5.1 gen_keys.lua CATALOG.json OUT.lua\n")
  os.exit(2)
end

local file = assert(io.open(input, "rb"))
local text = file:read("*a")
file:close()

local catalog, _, err = dkjson.decode(text, 1, nil, nil, nil)
if not catalog then
  io.stderr:write("gen_keys: " .. input .. " is not JSON: " .. tostring(err) .. "\n")
  os.exit(1)
end

local source, problem = Whitelist.render(catalog)
if not source then
  io.stderr:write("gen_keys: " .. input .. ": " .. problem .. "\n")
  os.exit(1)
end

local out = assert(io.open(output, "wb"))
out:write(source)
out:close()
