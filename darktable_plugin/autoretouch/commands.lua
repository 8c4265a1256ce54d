--[[
  autoretouch/commands.lua: the autoretouch command lines the plug-in runs (argv lists) and what apply and revert
  do ]]

local constants = require("autoretouch/constants")


local function format_number(x)
  return string.format("%.6g", x)
end

--- `argv` plus the daemon address (when set), then `separator` and the photos.
local function with_photos(argv, cfg, separator, photos)
  if cfg.server ~= "" then
    argv[#argv + 1] = "--server=" .. cfg.server
  end
  argv[#argv + 1] = separator
  for _i, photo in ipairs(photos) do
    argv[#argv + 1] = photo
  end
  return argv
end

--- `--mix=A:W,B:W` when a mix is set, else `--style=S` (the default style when none is named).
local function style_option(cfg)
  if cfg.mix ~= "" then
    return "--mix=" .. cfg.mix
  end
  return "--style=" .. (cfg.style ~= "" and cfg.style or constants.DEFAULT_STYLE)
end

--- `argv` plus `--duplicate=N` when `duplicate` N > 0: the sidecars of darktable's virtual copy N of the photos.
local function with_duplicate(argv, duplicate)
  if (tonumber(duplicate) or 0) > 0 then
    argv[#argv + 1] = string.format("--duplicate=%d", duplicate)
  end
  return argv
end

--- argv of one `autoretouch apply` call writing the darktable sidecars of several photos: the user's fixed
-- recipe (`--recipe`), else each photo's own suggestion from the style (`--style`), at the chosen strength;
-- `duplicate` N > 0: the sidecars of their virtual copy N (NAME_NN.EXT.xmp).
local function apply_argv(cfg, photos, duplicate)
  -- --overwrite: a second run replaces autoretouch's previous modules (never the user's own history entries)
  local argv = { cfg.cli_path, "apply", "--host=darktable", "--json", "--overwrite",
    "--strength=" .. format_number(cfg.strength) }
  if cfg.recipe ~= "" then
    argv[#argv + 1] = "--recipe=" .. cfg.recipe
  else
    argv[#argv + 1] = style_option(cfg)
  end
  return with_photos(with_duplicate(argv, duplicate), cfg, "--", photos)
end

--- argv of one `autoretouch apply` call writing the recipe file `recipe` (a chosen preview's, already at the
--- preview's strength: no --strength) to the darktable sidecars of several photos (`duplicate` as for apply_argv).
local function recipe_apply_argv(cfg, recipe, photos, duplicate)
  local argv = { cfg.cli_path, "apply", "--host=darktable", "--json", "--overwrite", "--recipe=" .. recipe }
  return with_photos(with_duplicate(argv, duplicate), cfg, "--", photos)
end

--- argv of one `autoretouch suggest` call writing each suggestion as a .dtstyle into `folder` (the preview):
--- the style or mix at the chosen strength, `cfg.preview_variants` variants seeded by `cfg.preview_seed`;
--- `duplicate` N > 0: the styles are built on the history of the photos' virtual copy N (its sidecar
--- NAME_NN.EXT.xmp, as apply_argv with the same `duplicate` would extend it).
local function suggest_argv(cfg, photos, folder, duplicate)
  local argv = { cfg.cli_path, "suggest", "--json", "--dtstyle=" .. folder,
    "--strength=" .. format_number(cfg.strength), style_option(cfg),
    string.format("--variants=%d", cfg.preview_variants), string.format("--seed=%d", cfg.preview_seed) }
  return with_photos(with_duplicate(argv, duplicate), cfg, "--", photos)
end

--- argv of one `autoretouch revert` call on the darktable sidecars of several photos (`duplicate` as for
--- apply_argv).
local function revert_argv(cfg, photos, duplicate)
  return with_photos(with_duplicate({ cfg.cli_path, "revert", "--host=darktable", "--json" }, duplicate), cfg, "--",
    photos)
end

--- argv of `autoretouch train` learning a style from photos with darktable sidecars (`--darktable PHOTO...`; a
--- virtual copy's edit is given as its own sidecar, NAME_NN.EXT.xmp, in place of a photo);
--- `runs_dir` (optional): the folder of its run folders (`--runs-dir`: the trainer picks RUNS/NAME, or the next free
--- RUNS/NAME-2, ... once that holds a finished run; a daemon keeps its run folders in its own run directory and
--- refuses the option: give none with a daemon address).
local function train_argv(cfg, photos, runs_dir)
  local argv = { cfg.cli_path, "train", "--style=" .. cfg.train_name, "--minutes=" .. format_number(cfg.train_minutes),
    "--json", "--quiet" }
  if runs_dir then
    argv[#argv + 1] = "--runs-dir=" .. runs_dir
  end
  return with_photos(argv, cfg, "--darktable", photos)
end

--- argv of `autoretouch styles --json` (the daemon's styles with --server): the plug-in's health check.
local function styles_argv(cfg)
  local argv = { cfg.cli_path, "styles", "--json" }
  if cfg.server ~= "" then
    argv[#argv + 1] = "--server=" .. cfg.server
  end
  return argv
end

--- argv of `autoretouch serve` for the daemon the plug-in starts: gRPC on the loopback port `cfg.daemon_port`,
--- no JSON bridge (the plug-in speaks to the daemon through the CLI's --server), and the folders it may touch.
local function serve_argv(cfg, roots)
  local argv = { cfg.cli_path, "serve", "--port=" .. cfg.daemon_port, "--no-http" }
  for _i, root in ipairs(roots) do
    argv[#argv + 1] = "--root=" .. root
  end
  return argv
end

--- What a run does: apply the style, or revert autoretouch's modules.
--- argv(cfg, photos, duplicate): the CLI call for a batch; done: the CLI actions that changed the sidecar (the image
--- is reloaded); summary/summary_cancelled/job: message keys.
local MODES = {
  apply = { argv = apply_argv, done = { written = true, deleted = true }, summary = "summary",
    summary_cancelled = "summary_cancelled", job = "job_label", drop_previews = true },
  revert = { argv = revert_argv, done = { reverted = true, deleted = true }, summary = "revert_summary",
    summary_cancelled = "revert_summary_cancelled", job = "revert_job_label" },
}

return {
  format_number = format_number,
  apply_argv = apply_argv,
  recipe_apply_argv = recipe_apply_argv,
  suggest_argv = suggest_argv,
  revert_argv = revert_argv,
  train_argv = train_argv,
  styles_argv = styles_argv,
  serve_argv = serve_argv,
  MODES = MODES,
}
