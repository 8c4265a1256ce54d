-- luacheck configuration for the darktable plugin (run from darktable_plugin/: `luacheck .`)
-- The plugin runs on darktable's Lua 5.4 and its specs on busted's Lua 5.1: only the common subset.
std = "min"
max_line_length = 120
-- `_` is the gettext function: unused loop variables and arguments are named _i, _k, _event, ...
ignore = { "211/_.+", "212/_.+", "213/_.+" }
files["spec/"] = { std = "+busted" }
