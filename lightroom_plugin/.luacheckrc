-- luacheck configuration of the Lightroom Classic plug-in (run from lightroom_plugin/: `luacheck .`).
std = "lua51"
max_line_length = 130
-- The plug-in runtime provides these; the plug-in only reads them.
read_globals = { "import", "LOC", "_PLUGIN", "WIN_ENV", "MAC_ENV" }

files["spec"] = { std = "+busted" }
-- The stubbed SDK defines the runtime's globals.
files["spec/support/sdk.lua"] = { globals = { "import", "LOC", "_PLUGIN", "WIN_ENV", "MAC_ENV" } }
-- Info.lua runs in Lightroom's restricted manifest environment.
files["autoretouch.lrplugin/Info.lua"] = { std = "min", read_globals = { "LOC", "WIN_ENV", "MAC_ENV" } }

-- LOC texts stay on one line each (their keys and defaults are read as one literal).
files["autoretouch.lrplugin/Strings.lua"] = { max_line_length = false }

exclude_files = { "autoretouch.lrplugin/dkjson.lua", "autoretouch.lrplugin/AutoretouchKeys.lua" }
