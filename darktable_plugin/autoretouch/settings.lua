--[[
  autoretouch/settings.lua: settings (darktable preferences, overridable per call) ]]

local dt = require("darktable")
local constants = require("autoretouch/constants")
local strings = require("autoretouch/strings")

local msg = strings.msg

local PREFS = {
  { name = "cli_path", kind = "string", default = "autoretouch", label = "pref_cli_label", tip = "pref_cli_tooltip" },
  { name = "style", kind = "string", default = "", label = "pref_style_label", tip = "pref_style_tooltip" },
  { name = "strength", kind = "float", default = 1.0, label = "pref_strength_label", tip = "pref_strength_tooltip",
    min = 0.0, max = 1.0, step = 0.05 },
  { name = "server", kind = "string", default = "", label = "pref_server_label", tip = "pref_server_tooltip" },
  { name = "start_daemon", kind = "bool", default = true, label = "pref_start_daemon_label",
    tip = "pref_start_daemon_tooltip" },
  { name = "daemon_port", kind = "integer", default = 50151, label = "pref_daemon_port_label",
    tip = "pref_daemon_port_tooltip", min = 1, max = 65535 },
  { name = "recipe", kind = "string", default = "", label = "pref_recipe_label", tip = "pref_recipe_tooltip" },
  { name = "train_name", kind = "string", default = "my-darktable-style", label = "pref_train_name_label",
    tip = "pref_train_name_tooltip" },
  { name = "train_minutes", kind = "float", default = 5.0, label = "pref_train_minutes_label",
    tip = "pref_train_minutes_tooltip", min = 1.0, max = 240.0, step = 1.0 },
  { name = "mix", kind = "string", default = "", label = "pref_mix_label", tip = "pref_mix_tooltip" },
  { name = "preview_images", kind = "integer", default = 3, label = "pref_preview_images_label",
    tip = "pref_preview_images_tooltip", min = 1, max = 10 },
  { name = "preview_variants", kind = "integer", default = 1, label = "pref_preview_variants_label",
    tip = "pref_preview_variants_tooltip", min = 1, max = 4 },
  { name = "preview_seed", kind = "integer", default = 0, label = "pref_preview_seed_label",
    tip = "pref_preview_seed_tooltip", min = 0, max = 999999 },
}

local function register_preferences()
  for _i, p in ipairs(PREFS) do
    if p.kind == "float" then
      dt.preferences.register(constants.MODULE, p.name, p.kind, msg(p.label), msg(p.tip), p.default, p.min, p.max,
        p.step)
    elseif p.kind == "integer" then
      dt.preferences.register(constants.MODULE, p.name, p.kind, msg(p.label), msg(p.tip), p.default, p.min, p.max)
    else
      dt.preferences.register(constants.MODULE, p.name, p.kind, msg(p.label), msg(p.tip), p.default)
    end
  end
end

local function trim(s)
  return (tostring(s):gsub("^%s+", ""):gsub("%s+$", ""))
end

--- Why the style mix `mix` (STYLE:WEIGHT,STYLE:WEIGHT) would be refused by the command line's `--mix` (parse_mix
--- in backend/agent/suggest.py, which parse_mix_arg in backend/cli/style_options.py calls), or nil: each entry a
--- style name, a colon (the last one) and a weight, a number that is finite and not negative; no style named twice;
--- the weights adding up to a finite number above 0. Whether the styles exist is for the command line to say. The
--- plug-in is a little stricter than Python's float(): it reads a weight as Lua's tonumber does (without
--- hexadecimal), so `1_000` and full-width digits, which float() takes, are refused here. The weights are added as
--- floats: under Lua 5.3 and later tonumber gives integers, whose sum would wrap around (a:9223372036854775807,b:1).
local function check_mix(mix)
  local names, total = {}, 0
  for entry in (mix .. ","):gmatch("([^,]*),") do
    entry = trim(entry)
    local name, weight = entry:match("^(.*):([^:]*)$")
    name = name and trim(name)
    local w = weight and not weight:find("[xX]") and tonumber(weight) -- no hexadecimal: Python's float has none
    w = w and w * 1.0 -- a float (an integer of Lua 5.3+ would wrap around when added)
    if not name or name == "" then
      return msg("bad_mix_entry", entry)
    elseif not w or w ~= w or w < 0 or w == math.huge then
      return msg("bad_mix_weight", entry)
    elseif names[name] then
      return msg("bad_mix_twice", name)
    end
    names[name], total = true, total + w
  end
  if not (total > 0 and total < math.huge) then
    return msg("bad_mix_total")
  end
  return nil
end

--- The settings for one run: preferences, then `overrides` (same keys). Returns the table, or nil and a
-- message for the user.
local function read_settings(overrides)
  local cfg = {}
  for _i, p in ipairs(PREFS) do
    local value = overrides and overrides[p.name]
    if value == nil then
      value = dt.preferences.read(constants.MODULE, p.name, p.kind)
    end
    cfg[p.name] = value
  end
  for _i, p in ipairs(PREFS) do
    if p.kind == "string" then
      cfg[p.name] = trim(cfg[p.name] or "")
      if cfg[p.name]:find("\0", 1, true) then
        return nil, msg("bad_text", p.name)
      end
    end
  end
  if cfg.cli_path == "" then
    return nil, msg("bad_cli")
  end
  local home = os.getenv("HOME")
  for _i, name in ipairs({ "cli_path", "recipe" }) do
    if home and cfg[name]:sub(1, 2) == "~/" then -- the shell does not expand ~ inside quotes
      cfg[name] = home .. cfg[name]:sub(2)
    end
  end
  local strength = tonumber(cfg.strength)
  if strength == nil or strength ~= strength or strength < 0 or strength > 1 then
    return nil, msg("bad_strength", tostring(cfg.strength))
  end
  cfg.strength = strength
  if cfg.server ~= "" and not cfg.server:match("^[%w%.%-_:%[%]]*[%w%]]:%d+$") then
    return nil, msg("bad_server", cfg.server)
  end
  local port = tonumber(cfg.daemon_port)
  if port == nil or port ~= math.floor(port) or port < 1 or port > 65535 then
    return nil, msg("bad_port", tostring(cfg.daemon_port))
  end
  cfg.daemon_port = string.format("%d", port)
  cfg.start_daemon = cfg.start_daemon == true
  local mix_problem = cfg.mix ~= "" and check_mix(cfg.mix)
  if mix_problem then
    return nil, msg("bad_mix", cfg.mix, mix_problem)
  end
  for _i, p in ipairs(PREFS) do
    if p.kind == "integer" and p.name ~= "daemon_port" then
      local n = tonumber(cfg[p.name])
      if n == nil or n ~= math.floor(n) or n < p.min or n > p.max then
        return nil, msg("bad_preview_number", p.name, p.min, p.max, tostring(cfg[p.name]))
      end
      cfg[p.name] = n
    end
  end
  return cfg
end

return {
  register_preferences = register_preferences,
  trim = trim,
  read_settings = read_settings,
}
