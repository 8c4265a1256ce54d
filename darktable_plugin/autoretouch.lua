--[[
  autoretouch.lua - "auto-retouch (learned style)" for darktable 4.2 and later

  Copyright (c) autoretouch contributors. Licensed under the MIT license (see the project's LICENSE).
]]
--[[
  autoretouch

  Retouch the selected images with a learned style: one `autoretouch apply --style` call per batch of images
  proposes a few sliders for each image and appends them, as native darktable modules, after the image's
  existing history in its XMP sidecar; darktable then reloads the sidecar. The user's history is never
  dropped.

  With no daemon address set, the first action that needs autoretouch starts `autoretouch serve` in the
  background (loopback port from the preferences, --root = the film rolls' folders and the images' folders,
  output in darktable's cache folder, autoretouch-daemon.log) and every batch after it runs through that daemon
  (`--server=127.0.0.1:PORT`: no Python, torch and style start-up per batch); a daemon already answering on the
  port is used instead (and left running). The plug-in stops the daemon it started when darktable quits. If the
  daemon does not answer within 30 s, the batch runs the command line as before. Not on Windows.

  ADDITIONAL SOFTWARE NEEDED FOR THIS SCRIPT
  * the autoretouch command line (`autoretouch`), on the PATH or at the path set in
    preferences > lua options, with its daemon (`autoretouch serve`); or a daemon running elsewhere.
  * darktable must write sidecar files (preferences > storage > "write sidecar file for each image" set to
    "on import" or "after edit") for images that already have a history.

  USAGE
  * install: copy this file and the folder next to it, autoretouch/ (its JSON codec, autoretouch/json.lua),
    to ~/.config/darktable/lua/ (giving lua/autoretouch.lua and lua/autoretouch/json.lua) and add the line
      require "autoretouch"
    to ~/.config/darktable/luarc (or enable it in script_manager).
  * lighttable > "selected image[s]" module > "auto-retouch (learned style)" (again: replaces the previous
    auto-retouch) and "revert auto-retouch", or assign a key under
    preferences > shortcuts > lua > "auto-retouch (learned style)". Both work on the user's own virtual copies
    too: a copy's own sidecar (NAME_NN.EXT.xmp) is written (`--duplicate=NN`, one call per duplicate index) and
    re-read by importing the original's file again; the original is not touched. Training leaves copies out.
  * "preview on virtual copies" (same module): the suggestion on virtual copies of the first selected images
    (at most "images previewed", 3 by default; "preview variants" copies each), made by darktable itself:
    one `autoretouch suggest --json --dtstyle=TMP` call writes each suggestion as a .dtstyle; per image and
    variant the plug-in makes a virtual copy (dt.database.duplicate), gives it the original's history (a style
    created from the original), applies the suggestion's style after it (dt.styles.import + dt.styles.apply),
    deletes both styles from the style list again, tags the copy autoretouch|preview and groups it with the
    original. Pressing it again (another style, strength, mix, variant count or seed) replaces the copies;
    "discard previews" deletes them, and so does "auto-retouch", which applies to the originals only. Only
    virtual copies carrying that tag are ever deleted; originals and the user's own copies are not touched.
    darktable 4.2's Lua has no image widget, so there is no before/after dialog: the lighttable shows each
    original beside its copies.
  * "apply chosen preview" (same module): select one preview copy per image (any variant; an original with a
    single preview copy chooses it) and apply the edit it shows to its original: the exact recipe suggest returned
    for that copy (kept in darktable's cache folder as autoretouch-preview-<copy id>.json until the copy is
    deleted) goes through `autoretouch apply --recipe=FILE --overwrite` (one call per distinct recipe and batch;
    again = replace autoretouch's modules, the user's history stays); then the preview copies of the originals it
    wrote are deleted (not one the user edited since the preview). Two
    copies of one image are refused; a copy whose recipe is gone is skipped, the others carry on.
  * preferences > lua options: style (or a mix of styles), strength, command path, daemon address, start a daemon
    (on/off) and its port, fixed recipe, the name and minutes of a style trained from images, the number of
    images previewed, preview variants and their seed.
  * other scripts: require("autoretouch").apply_to_images(images, overrides), .revert_images(images),
    .preview_images(images, overrides), .apply_chosen_previews(images, overrides) and .discard_previews() (see
    the end of this file).

  BUGS, COMMENTS, SUGGESTIONS
  * see docs/darktable-plugin.md in the autoretouch repository.

  CHANGES
  * 1.0: first version (darktable 4.2, Lua API 9.0.0).
  * 1.1: one `autoretouch apply --style` (or `--recipe`) call per batch instead of suggest plus one apply per
    image; an image whose history was reset in darktable is retouched again (the CLI drops the stale record).
  * 1.2: running it again replaces autoretouch's previous modules (`apply --overwrite`: try another strength);
    "revert auto-retouch" removes them (`autoretouch revert`), the user's own history entries stay;
    "train style from selected images" learns a style from their darktable edits (`autoretouch train
    --darktable PHOTO...`), with a cancel button.
  * 1.3: the JSON codec moved to autoretouch/json.lua (install the autoretouch/ folder too); behaviour unchanged.
  * 1.4: the daemon started on demand (preferences "start a daemon when none is set", on by default, and its
    port, 50151); stopped when darktable quits.
  * 1.5: "preview on virtual copies" and "discard previews" (needs `autoretouch suggest --dtstyle`); a style mix
    preference (`--mix`, for apply and preview); apply leaves preview copies out and removes them.
  * 1.6: "apply chosen preview": the recipe a chosen preview copy shows (any variant) applied to its original
    (`apply --recipe --overwrite`), then the preview copies removed; each copy's recipe is kept in the cache folder.
  * 1.7: apply and "apply chosen preview" delete only the preview copies of the images they wrote, never one the
    user edited since the preview (kept and counted in the message: "kept N preview copies you edited"; the
    removed count is shown too); a deleted copy's sidecar is removed only when it is that copy's (its name,
    DerivedFrom and the autoretouch|preview tag), also for a half-made copy.
    The preview's private temporary folder is removed with everything in it however the preview ends.
    "check autoretouch" while a run is going on only asks the daemon in use (never stops or restarts it).
    The daemon's log is only ever written in darktable's cache folder (no /tmp fallback: without one, no daemon).
    A preview copy's recipe is likewise kept only in darktable's cache folder (without one it is not kept).
    Documented: a wrapper script used as the command must `exec autoretouch "$@"`.
  * 1.8: apply and revert work on the user's own virtual copies (`apply/revert --duplicate=N`, needs an autoretouch
    with that option); a copy is reloaded only when the file autoretouch reports written is its own sidecar. An image
    whose sidecar is not where darktable 4.2 names it is skipped. Applying to a copy leaves the original's preview
    copies in place. Apply and revert skip every image when darktable writes no sidecars and has no
    image:apply_sidecar (the re-import would put older sidecars of the original and its copies back over their edits).
]]

local dt = require "darktable"
--: the JSON codec (the CLI's --json output in, recipes out), installed as lua/autoretouch/json.lua.
local json = require "autoretouch/json"

local MODULE = "autoretouch"
local ACTION_NAME = "autoretouch_apply"
local REVERT_ACTION_NAME = "autoretouch_revert"
local TRAIN_ACTION_NAME = "autoretouch_train"
local CHECK_ACTION_NAME = "autoretouch_check"
local PREVIEW_ACTION_NAME = "autoretouch_preview"
local DISCARD_ACTION_NAME = "autoretouch_discard_previews"
local CHOSEN_ACTION_NAME = "autoretouch_apply_chosen_preview"
--: the tag that marks the plug-in's preview copies; only virtual copies carrying it are ever deleted.
local PREVIEW_TAG = MODULE .. "|preview"
--: each preview copy's recipe (what suggest returned for it) is kept in darktable's cache folder as
--: PREFIX<copy id>.json, for "apply chosen preview"; removed with the copy.
local PREVIEW_RECIPE_PREFIX = "autoretouch-preview-"
local SHORTCUT_EVENT = "autoretouch_shortcut"
--: darktable 4.2 (Lua API 9.0.0) is the oldest release that reads the module versions autoretouch writes.
local MIN_API_VERSION = "9.0.0"
--: photos sent to one `autoretouch apply` call (one start-up for several photos; cancel acts between calls).
local BATCH_SIZE = 8
--: the style `autoretouch` uses when none is named (the empty style preference).
local DEFAULT_STYLE = "default"
--: longest piece of the CLI's error output quoted in a message, in characters.
local MAX_REASON_CHARS = 300
--: the address the plug-in's own daemon listens on (`autoretouch serve` binds loopback by default).
local LOOPBACK = "127.0.0.1"
--: the started daemon's output, in darktable's cache folder.
local DAEMON_LOG_NAME = "autoretouch-daemon.log"
--: the CLI's exit statuses for a call a daemon refuses as a whole, writing nothing: a style it has not loaded
--: (NotFoundError: installed after it started?) and a path outside its --root folders (PermissionDeniedError).
local EXIT_NOT_FOUND, EXIT_OUTSIDE_ROOTS = 6, 7
--: the "exit" event registration that stops the started daemon when darktable quits.
local EXIT_EVENT = "autoretouch_exit"
--: how long a started daemon may take to answer (s), how often it is asked (ms), how long a stopped one may
--: take to free its port before it is started again (s). A table, so that the specs can shorten the waits.
local DAEMON_TIMING = { start_wait_s = 30, poll_ms = 500, stop_wait_s = 10 }

-- ---------------------------------------------------------------------------------------------------------
-- strings: every text shown to the user lives here (translated through gettext, formatted after translation)
-- ---------------------------------------------------------------------------------------------------------

local gettext = dt.gettext
pcall(gettext.bindtextdomain, MODULE, dt.configuration.config_dir .. "/lua/locale/")

local function _(msgid)
  return gettext.dgettext(MODULE, msgid)
end

local MSG = {
  action_label = "auto-retouch (learned style)",
  action_tooltip = "append a learned style's edit to the selected images' history (existing history is kept)",
  job_label = "auto-retouch",
  train_label = "train style from selected images",
  train_tooltip = "learn a style from the selected images' darktable edits (name, minutes: preferences > lua options)",
  train_job_label = "training autoretouch style",
  pref_train_name_label = "autoretouch: name of a style trained from images",
  pref_train_name_tooltip = "the style 'train style from selected images' makes (letters, digits, _ . -)",
  pref_train_minutes_label = "autoretouch: training minutes",
  pref_train_minutes_tooltip = "how long 'train style from selected images' may take",
  bad_style_name = "train style: '%s' is not a style name (letters, digits, _ . -; at most 64)",
  train_nothing = "train style: none of the selected images has a darktable edit to learn from",
  no_history = "no darktable edit (empty history)",
  train_installed = "train style: '%s' learnt from %d images (%d steps) and is installed",
  train_rejected = "train style: '%s' was trained but not installed: %s",
  train_failed = "train style: '%s' could not be trained: %s",
  train_cancelled = "train style: cancelled; nothing was installed",
  train_skipped = "%d images left out, first: %s",
  revert_label = "revert auto-retouch",
  revert_tooltip = "remove autoretouch's modules from the selected images' history (the rest of the history stays)",
  revert_job_label = "revert auto-retouch",
  revert_summary = "revert auto-retouch: %d reverted, %d skipped, %d failed",
  revert_summary_cancelled = "revert auto-retouch cancelled: %d reverted, %d skipped, %d failed, %d not done",
  purpose = "retouch the selected images with a learned style (autoretouch)",
  api_too_old = "autoretouch needs darktable 4.2 or later (Lua API %s), this is Lua API %s",
  pref_cli_label = "autoretouch: command",
  pref_cli_tooltip = "the autoretouch command line program: a name on the PATH or a full path",
  pref_style_label = "autoretouch: style",
  pref_style_tooltip = "name of the learned style (see `autoretouch styles`); empty = the default style",
  pref_strength_label = "autoretouch: strength",
  pref_strength_tooltip = "0 = no change, 1 = the full style",
  pref_server_label = "autoretouch: daemon address",
  pref_server_tooltip = "HOST:PORT of a running `autoretouch serve`; empty = run the command in-process",
  pref_start_daemon_label = "autoretouch: start a daemon when none is set",
  pref_start_daemon_tooltip = "with no daemon address, start `autoretouch serve` on the port below at the first "
    .. "use and keep it for later batches (no start-up per batch); it stops when darktable quits",
  pref_daemon_port_label = "autoretouch: port of the started daemon",
  pref_daemon_port_tooltip = "loopback port of the daemon the plug-in starts; one already answering there is used",
  pref_recipe_label = "autoretouch: fixed recipe file",
  pref_recipe_tooltip = "apply this recipe JSON to every image instead of the style's suggestion; empty = the style",
  no_images = "auto-retouch: no image selected",
  busy = "auto-retouch is already running; wait for it to finish or cancel it",
  not_lighttable = "auto-retouch works in the lighttable; leave the darkroom first",
  windows_unsupported = "auto-retouch: Windows is not supported yet",
  bad_cli = "auto-retouch: set the autoretouch command in preferences > lua options",
  bad_strength = "auto-retouch: strength must lie between 0 and 1, got %s",
  bad_server = "auto-retouch: the daemon address must be HOST:PORT, got '%s'",
  bad_port = "auto-retouch: the daemon port must be a whole number from 1 to 65535, got '%s'",
  bad_text = "auto-retouch: the setting '%s' contains a NUL character",
  nul_in_argument = "an argument contains a NUL character",
  cli_not_found = "cannot run the autoretouch command '%s' (not found); set it in preferences > lua options",
  cli_not_executable = "cannot run the autoretouch command '%s' (not executable)",
  cli_failed = "autoretouch exited with status %d: %s",
  cli_no_output = "autoretouch gave no usable answer (exit status %d): %s",
  no_result = "autoretouch reported nothing for this photo",
  duplicate = "a virtual copy (duplicate): training reads the original image's sidecar only",
  reload_needs_sidecars = "darktable writes no sidecars here, and darktable 4.2 re-reads one only by importing the "
    .. "image's file again, which also puts the older sidecars of the original and its virtual copies back over their "
    .. "edits: set preferences > storage > 'write sidecar file for each image' to 'on import' or 'after edit'",
  unusual_sidecar = "darktable keeps this image's history in '%s', not where darktable 4.2 names it (%s)",
  wrong_sidecar = "autoretouch wrote '%s', not this image's sidecar '%s' (an autoretouch or daemon without "
    .. "virtual copy support?); not reloaded",
  missing_file = "the image file is missing",
  sidecar_not_written = "darktable did not write this image's sidecar, so its history could be lost: set "
    .. "preferences > storage > 'write sidecar file for each image' to 'on import' or 'after edit'",
  sync_failed = "could not make darktable write the sidecar: %s",
  reload_failed = "sidecar written but darktable could not reload it: %s",
  not_reloaded = "sidecar written but not reloaded: darktable is shutting down",
  cancelled = "cancelled",
  summary = "auto-retouch: %d retouched, %d skipped, %d failed",
  summary_cancelled = "auto-retouch cancelled: %d retouched, %d skipped, %d failed, %d not done",
  first_problem = "%s: %s",
  log_line = "autoretouch: %s %s: %s",
  check_label = "check autoretouch and its styles",
  check_tooltip = "run the autoretouch command (or reach the daemon) and list the styles it can use",
  check_where_local = "command line",
  check_where_daemon = "daemon at %s, autoretouch %s",
  check_where_started = "daemon started by the plug-in at %s, autoretouch %s",
  check_ok = "autoretouch ready (%s): %d styles: %s",
  check_style_ok = "the style preference '%s' is installed",
  check_style_missing = "the style '%s' set in preferences is not installed",
  check_style_unusable = "the style '%s' cannot be used: %s",
  check_failed = "autoretouch check failed: %s",
  check_style_line = "style %s (%s): %s",
  check_unusable_line = "UNUSABLE: %s",
  daemon_starting = "autoretouch: starting the daemon at %s (its output goes to %s)",
  daemon_started = "autoretouch: daemon started at %s (process %s), folders: %s",
  daemon_reused = "autoretouch: using the daemon already answering at %s (not started here, so it is left running)",
  daemon_restarting = "autoretouch: restarting the daemon at %s to add the folder %s",
  daemon_gone = "autoretouch: the daemon started at %s (process %s) is no longer running",
  daemon_stopped = "autoretouch: stopped the daemon it started (process %s)",
  daemon_no_cache = "autoretouch starts no daemon: darktable's cache folder (%s) is missing, and its output would "
    .. "have no safe place; the command line runs each batch",
  daemon_not_started = "the autoretouch daemon did not start (%s; its output is in %s): "
    .. "the command line is used instead",
  daemon_slow = "the autoretouch daemon gave no answer within %d seconds (its output is in %s): the command line "
    .. "is used until it answers",
  daemon_still_starting = "the autoretouch daemon is still starting (its output is in %s): the command line is "
    .. "used until it answers",
  daemon_exited = "it exited",
  daemon_no_pid = "the shell gave no process id: '%s'",
  daemon_refused = "autoretouch: the daemon at %s refused the batch (%s): the command line runs it instead",
  daemon_refused_folders = "outside its folders",
  daemon_refused_style = "a style it has not loaded",
  daemon_restarting_styles = "autoretouch: restarting the daemon at %s to load the styles installed since it started",
  pref_mix_label = "autoretouch: style mix",
  pref_mix_tooltip = "blend styles instead of one style, e.g. 'warm:0.7,film:0.3' (apply and preview); empty = the "
    .. "style above",
  pref_preview_images_label = "autoretouch: images previewed",
  pref_preview_images_tooltip = "'preview on virtual copies' makes copies of at most this many of the selected "
    .. "images",
  pref_preview_variants_label = "autoretouch: preview variants",
  pref_preview_variants_tooltip = "copies per previewed image: 1 = the suggestion apply makes; more = also other "
    .. "plausible variants (seeded below)",
  pref_preview_seed_label = "autoretouch: seed of the preview variants",
  pref_preview_seed_tooltip = "another seed gives other variants 2, 3, ...; variant 1 never changes",
  bad_mix = "auto-retouch: the style mix must read NAME:WEIGHT,NAME:WEIGHT, got '%s'",
  bad_preview_number = "auto-retouch: the setting '%s' must be a whole number from %d to %d, got '%s'",
  preview_label = "preview on virtual copies",
  preview_tooltip = "put the suggested edit on virtual copies of the first selected images (grouped with each "
    .. "original, tagged autoretouch|preview); pressing it again replaces them; the originals are not changed",
  preview_job_label = "auto-retouch preview",
  discard_label = "discard previews",
  discard_tooltip = "delete the virtual copies 'preview on virtual copies' made (only copies tagged "
    .. "autoretouch|preview)",
  preview_recipe = "auto-retouch preview shows a style's suggestion: clear the fixed recipe preference first",
  preview_no_original = "auto-retouch preview: select original images (preview copies are not previewed again)",
  preview_summary = "auto-retouch preview: %d copies of %d images (style %s, strength %s); %d previous copies removed",
  preview_failed = "auto-retouch preview: %s",
  preview_style_missing = "darktable did not import the style file %s",
  preview_copy_failed = "could not make the preview copy: %s",
  preview_dir_failed = "could not make a temporary folder for the style files",
  preview_discarded = "auto-retouch: %d preview copies removed",
  previews_removed = "; %d preview copies removed",
  previews_kept = "; kept %d preview copies you edited",
  preview_title = "autoretouch preview %d: %s, strength %s",
  preview_recipe_not_kept = "could not keep the recipe of preview copy %s in %s: %s",
  chosen_label = "apply chosen preview",
  chosen_tooltip = "apply the edit each selected preview copy shows (one copy per image) to its original, "
    .. "replacing an earlier auto-retouch (your own history stays); then its unedited preview copies are deleted",
  chosen_job_label = "auto-retouch: apply chosen preview",
  chosen_none = "auto-retouch: select the preview copies to apply (made by 'preview on virtual copies')",
  chosen_two = "auto-retouch: %d preview copies of %s are chosen; select one copy per image",
  chosen_which = "auto-retouch: %s has %d preview copies; select the one to apply",
  chosen_recipe_missing = "the recipe of its preview copy is gone (the cache folder was cleared, or the copy was "
    .. "made by an older plug-in?): preview again",
  chosen_no_original = "the original of its preview copy is not in darktable's library",
  chosen_recipe_file_failed = "could not write the recipe file: %s",
  chosen_summary = "auto-retouch: chosen preview applied to %d images, %d skipped, %d failed",
  chosen_summary_cancelled = "auto-retouch cancelled: chosen preview applied to %d images, %d skipped, %d failed, "
    .. "%d not done",
}

--- The translated, formatted message `key` (format arguments follow).
local function msg(key, ...)
  local text = MSG[key]
  assert(text, "unknown message " .. tostring(key))
  if select("#", ...) == 0 then
    return _(text)
  end
  return string.format(_(text), ...)
end

-- ---------------------------------------------------------------------------------------------------------
-- API version check (self-contained: the script must not depend on lua-scripts' lib/dtutils)
-- ---------------------------------------------------------------------------------------------------------

--- "9.0.0" -> {9, 0, 0}; missing parts count as 0.
local function parse_version(text)
  local parts = {}
  for number in tostring(text):gmatch("%d+") do
    parts[#parts + 1] = tonumber(number)
  end
  for i = #parts + 1, 3 do
    parts[i] = 0
  end
  return parts
end

--- Whether version string `have` is at least `need` (major, minor, patch).
local function version_at_least(have, need)
  local a, b = parse_version(have), parse_version(need)
  for i = 1, 3 do
    if a[i] ~= b[i] then
      return a[i] > b[i]
    end
  end
  return true
end

local API_VERSION = dt.configuration.api_version_string
if not version_at_least(API_VERSION, MIN_API_VERSION) then
  local text = msg("api_too_old", MIN_API_VERSION, API_VERSION)
  dt.print_error(text)
  error(text)
end

-- ---------------------------------------------------------------------------------------------------------
-- shell quoting (POSIX sh): the only way arguments reach the shell
-- ---------------------------------------------------------------------------------------------------------

--- One argument quoted for /bin/sh: wrapped in single quotes, each ' written as '\''.
-- Everything else ($, `, \, ", newlines, spaces, globs) is literal inside single quotes.
-- Returns nil and a message when the text holds a NUL byte (the shell would cut it there).
local function shell_quote(text)
  text = tostring(text)
  if text:find("\0", 1, true) then
    return nil, msg("nul_in_argument")
  end
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

--- The words of an argument list, each quoted, joined by spaces; nil and a message when one cannot be quoted.
local function quoted_words(argv)
  local words = {}
  for i, arg in ipairs(argv) do
    local quoted, err = shell_quote(arg)
    if not quoted then
      return nil, err
    end
    words[i] = quoted
  end
  return table.concat(words, " ")
end

--- A command line from an argument list plus redirections of stdin (/dev/null), stdout and stderr.
-- Returns nil and a message when an argument cannot be quoted.
local function command_line(argv, stdout_path, stderr_path)
  local words, err = quoted_words(argv)
  local out, err_out = shell_quote(stdout_path), shell_quote(stderr_path)
  if not words then
    return nil, err
  elseif not out or not err_out then
    return nil, msg("nul_in_argument")
  end
  return words .. " </dev/null >" .. out .. " 2>" .. err_out
end

--- A command line that starts an argument list in the background (stdin closed, stdout and stderr to `log`)
-- and prints its process id, for io.popen. Returns nil and a message when an argument cannot be quoted.
local function background_start_line(argv, log)
  local words, err = quoted_words(argv)
  local out = shell_quote(log)
  if not words then
    return nil, err
  elseif not out then
    return nil, msg("nul_in_argument")
  end
  return words .. " </dev/null >" .. out .. " 2>&1 & echo $!"
end

-- ---------------------------------------------------------------------------------------------------------
-- settings (darktable preferences, overridable per call)
-- ---------------------------------------------------------------------------------------------------------

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
      dt.preferences.register(MODULE, p.name, p.kind, msg(p.label), msg(p.tip), p.default, p.min, p.max, p.step)
    elseif p.kind == "integer" then
      dt.preferences.register(MODULE, p.name, p.kind, msg(p.label), msg(p.tip), p.default, p.min, p.max)
    else
      dt.preferences.register(MODULE, p.name, p.kind, msg(p.label), msg(p.tip), p.default)
    end
  end
end

local function trim(s)
  return (tostring(s):gsub("^%s+", ""):gsub("%s+$", ""))
end

--- The settings for one run: preferences, then `overrides` (same keys). Returns the table, or nil and a
-- message for the user.
local function read_settings(overrides)
  local cfg = {}
  for _i, p in ipairs(PREFS) do
    local value = overrides and overrides[p.name]
    if value == nil then
      value = dt.preferences.read(MODULE, p.name, p.kind)
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
  if cfg.mix ~= "" and not cfg.mix:match("^[%w_%.%-]+:%d") then
    -- NAME:WEIGHT,NAME:WEIGHT (the command line checks the rest: names, weights)
    return nil, msg("bad_mix", cfg.mix)
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
  return "--style=" .. (cfg.style ~= "" and cfg.style or DEFAULT_STYLE)
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
--- preview's strength: no --strength) to the darktable sidecars of several photos.
local function recipe_apply_argv(cfg, recipe, photos)
  return with_photos({ cfg.cli_path, "apply", "--host=darktable", "--json", "--overwrite", "--recipe=" .. recipe },
    cfg, "--", photos)
end

--- argv of one `autoretouch suggest` call writing each suggestion as a .dtstyle into `folder` (the preview):
--- the style or mix at the chosen strength, `cfg.preview_variants` variants seeded by `cfg.preview_seed`.
local function suggest_argv(cfg, photos, folder)
  local argv = { cfg.cli_path, "suggest", "--json", "--dtstyle=" .. folder,
    "--strength=" .. format_number(cfg.strength), style_option(cfg),
    string.format("--variants=%d", cfg.preview_variants), string.format("--seed=%d", cfg.preview_seed) }
  return with_photos(argv, cfg, "--", photos)
end

--- argv of one `autoretouch revert` call on the darktable sidecars of several photos (`duplicate` as for
--- apply_argv).
local function revert_argv(cfg, photos, duplicate)
  return with_photos(with_duplicate({ cfg.cli_path, "revert", "--host=darktable", "--json" }, duplicate), cfg, "--",
    photos)
end

--- argv of `autoretouch train` learning a style from photos with darktable sidecars (`--darktable PHOTO...`).
local function train_argv(cfg, photos)
  local argv = { cfg.cli_path, "train", "--style=" .. cfg.train_name, "--minutes=" .. format_number(cfg.train_minutes),
    "--json", "--quiet" }
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
  apply = { argv = apply_argv, done = { written = true }, summary = "summary",
    summary_cancelled = "summary_cancelled", job = "job_label", drop_previews = true },
  revert = { argv = revert_argv, done = { reverted = true, deleted = true }, summary = "revert_summary",
    summary_cancelled = "revert_summary_cancelled", job = "revert_job_label" },
}

-- ---------------------------------------------------------------------------------------------------------
-- running the CLI
-- ---------------------------------------------------------------------------------------------------------

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local text = f:read("*a")
  f:close()
  return text
end

--- exit status from what `system()` returns (a raw wait status on POSIX: code * 256).
local function exit_status(raw)
  raw = tonumber(raw) or -1
  if raw >= 256 then
    return math.floor(raw / 256)
  end
  return raw
end

--- The last non-empty line of the CLI's error output, shortened.
local function last_line(text)
  local line = ""
  for l in (text or ""):gmatch("[^\n]+") do
    if l:match("%S") then
      line = l
    end
  end
  line = trim(line:gsub("^autoretouch: error: ", ""))
  if #line > MAX_REASON_CHARS then
    line = line:sub(1, MAX_REASON_CHARS) .. "..."
  end
  return line
end

--- Run the CLI with `argv`. Returns {status, stdout, stderr}, or nil and a message (quoting or temp files).
-- dt.control.execute releases darktable's Lua lock while the command runs, so the GUI (and the job's
-- cancel button) stays responsive.
-- @param make_line optional function(argv, out_path, err_path) -> shell line or nil, message (default
--   command_line)
local function run_cli(argv, make_line)
  local out_path, err_path = os.tmpname(), os.tmpname()
  local line, quote_err = (make_line or command_line)(argv, out_path, err_path)
  if not line then
    os.remove(out_path)
    os.remove(err_path)
    return nil, quote_err
  end
  local status = exit_status(dt.control.execute(line))
  local result = { status = status, stdout = read_file(out_path) or "", stderr = read_file(err_path) or "" }
  os.remove(out_path)
  os.remove(err_path)
  return result
end

--- A message for a CLI run that gave no usable JSON.
local function cli_problem(cfg, result)
  if result.status == 127 then
    return msg("cli_not_found", cfg.cli_path)
  elseif result.status == 126 then
    return msg("cli_not_executable", cfg.cli_path)
  end
  local detail = last_line(result.stderr)
  if result.status ~= 0 then
    return msg("cli_failed", result.status, detail)
  end
  return msg("cli_no_output", result.status, detail)
end

--- One outcome from a row of `apply --json`'s (or `revert --json`'s) "results"; a row whose action changed
--- the sidecar (mode.done) counts as "written".
local function outcome_of(cfg, result, row, mode)
  local warnings = {}
  if type(row.warnings) == "table" then
    for _i, w in ipairs(row.warnings) do
      warnings[#warnings + 1] = tostring(w)
    end
  end
  local reason = type(row.reason) == "string" and row.reason or ""
  if mode.done[row.action] then
    return { action = "written", cli_action = row.action, reason = reason, warnings = warnings,
      sidecar = type(row.sidecar) == "string" and row.sidecar or nil }
  elseif row.action == "skipped" then
    return { action = row.action, reason = reason, warnings = warnings }
  end
  return { action = "failed", reason = reason ~= "" and reason or cli_problem(cfg, result), warnings = warnings }
end

--- Why a daemon refused a CLI run as a whole (no JSON answer: nothing was written): a message key, or nil.
local function daemon_refusal(result)
  if result == nil or json.decode(result.stdout) ~= nil then
    return nil
  elseif result.status == EXIT_OUTSIDE_ROOTS then
    return "daemon_refused_folders"
  elseif result.status == EXIT_NOT_FOUND then
    return "daemon_refused_style"
  end
  return nil
end

--- run_cli with `argv_of(cfg)`; when `cfg` uses the daemon the plug-in started or found (`cfg.daemon`) and that
--- daemon refuses the run as a whole (a photo outside its folders, a style it has not loaded), the run is repeated
--- with `local_cfg`, the per-batch command line, which reads the style folders afresh. When that finds the
--- style, the plug-in's own daemon is marked `stale`: the next batch restarts it.
-- @param local_cfg the settings without the plug-in's daemon, or nil (no second try)
-- @param make_line optional, as for run_cli
local function run_cli_or_local(cfg, local_cfg, argv_of, make_line)
  local result, err = run_cli(argv_of(cfg), make_line)
  local refusal = local_cfg and daemon_refusal(result)
  if not refusal then
    return result, err
  end
  dt.print_log(msg("daemon_refused", cfg.server, msg(refusal)))
  result, err = run_cli(argv_of(local_cfg), make_line)
  if refusal == "daemon_refused_style" and result and daemon_refusal(result) == nil and cfg.daemon.own then
    cfg.daemon.stale = true
  end
  return result, err
end

--- Change the darktable sidecars of several photos with one `autoretouch apply` (or `revert`) call.
-- Returns photo path -> outcome {action = "written"|"skipped"|"failed", reason, warnings, sidecar (the file the CLI
-- changed, for "written")}, one per photo.
-- @param local_cfg see run_cli_or_local
-- @param duplicate optional: the photos' virtual copy N whose sidecars to change (0 or nil: the originals')
local function cli_batch(cfg, photos, mode, local_cfg, duplicate)
  local outcomes = {}
  local result, err = run_cli_or_local(cfg, local_cfg, function(c)
    return mode.argv(c, photos, duplicate)
  end)
  if not result then
    for _i, photo in ipairs(photos) do
      outcomes[photo] = { action = "failed", reason = err, warnings = {} }
    end
    return outcomes
  end
  local doc = json.decode(result.stdout)
  local rows = type(doc) == "table" and type(doc.results) == "table" and doc.results or {}
  local darktable_rows = {}
  for _i, row in ipairs(rows) do
    if type(row) == "table" and row.host == "darktable" and type(row.action) == "string" then
      darktable_rows[#darktable_rows + 1] = row
      if type(row.photo) == "string" and outcomes[row.photo] == nil then
        outcomes[row.photo] = outcome_of(cfg, result, row, mode)
      end
    end
  end
  for i, photo in ipairs(photos) do
    if outcomes[photo] == nil then
      -- the CLI names photos as given; should it have spelled one differently, rows still come in order
      local row = #darktable_rows == #photos and darktable_rows[i] or nil
      outcomes[photo] = row and outcome_of(cfg, result, row, mode)
        or { action = "failed", reason = #darktable_rows > 0 and msg("no_result") or cli_problem(cfg, result),
          warnings = {} }
    end
  end
  return outcomes
end

-- ---------------------------------------------------------------------------------------------------------
-- the daemon started on demand (POSIX): with no daemon address set, one `autoretouch serve` on a loopback port
-- serves every later batch (no Python, torch and style start-up per batch) until darktable quits
-- ---------------------------------------------------------------------------------------------------------

--- running: a run is going on; registered: the actions are registered; exit_hooked: the "exit" event is;
--- daemon: the daemon in use, {server, port, own, pid, roots, log} (own: started by this plug-in, which alone
--- stops it; pid and roots only then), or nil; daemon_busy: a start is under way (another caller does not wait).
--: preview_made: copy id -> {index = its duplicate_index, mark = preview_mark when it was made} (this session's
--: copies; a copy's kept recipe holds its mark too).
local state = { running = false, registered = false, exit_hooked = false, daemon = nil, daemon_busy = false,
  preview_made = {} }

--- Whether a shell line exits with status 0 (os.execute gives a number in Lua 5.1, true or nil in 5.2 and later).
local function shell_succeeds(line)
  local result = os.execute(line)
  return result == true or result == 0
end

--- Whether process `pid` (digits) is running; a zombie (exited, not yet reaped) is not.
local function process_alive(pid)
  local stat = read_file("/proc/" .. pid .. "/stat")
  if stat then
    return stat:match("^%d+ %b() (%a)") ~= "Z"
  end
  return shell_succeeds("kill -0 " .. pid .. " 2>/dev/null")
end

--- The command line of process `pid` as " ARG ARG ... " (/proc on Linux, else ps), or nil when unreadable.
local function process_command(pid)
  local text = read_file("/proc/" .. pid .. "/cmdline")
  if text then
    text = text:gsub("%z", " ")
  else
    local pipe = io.popen("ps -p " .. pid .. " -o args= 2>/dev/null")
    text = pipe and pipe:read("*a") or ""
    if pipe then
      pipe:close()
    end
  end
  text = trim(text)
  return text ~= "" and " " .. text .. " " or nil
end

--- Whether `daemon` is one this plug-in started and its process still runs `autoretouch serve` on its port (a
--- recycled process id, or one whose command line cannot be read, is never taken for it).
local function own_daemon_running(daemon)
  if not (daemon and daemon.own and daemon.pid and process_alive(daemon.pid)) then
    return false
  end
  local command = process_command(daemon.pid)
  return command ~= nil and command:find(" serve ", 1, true) ~= nil
    and command:find(" --port=" .. daemon.port .. " ", 1, true) ~= nil
end

--- Stop a daemon this plug-in started (SIGTERM to its process id; never a daemon it found running).
-- @param wait true: wait until it is gone (at most DAEMON_TIMING.stop_wait_s), so that its port is free again
-- @return true when it was stopped
local function stop_daemon(daemon, wait)
  if not own_daemon_running(daemon) then
    return false
  end
  os.execute("kill " .. daemon.pid .. " 2>/dev/null")
  dt.print_log(msg("daemon_stopped", daemon.pid))
  local deadline = os.time() + DAEMON_TIMING.stop_wait_s
  while wait and process_alive(daemon.pid) and os.time() < deadline do
    dt.control.sleep(100)
  end
  return true
end

--- The "exit" event (darktable quits) and destroy: stop the daemon this plug-in started.
local function stop_own_daemon()
  stop_daemon(state.daemon, false)
  state.daemon = nil
end

local function on_exit(_event)
  stop_own_daemon()
end

--- Register the "exit" event once, when the first daemon is started.
local function hook_exit()
  if not state.exit_hooked then
    dt.register_event(EXIT_EVENT, "exit", on_exit)
    state.exit_hooked = true
  end
end

--- Whether a run with these settings uses the plug-in's daemon: no address set, the preference on, not Windows
--- (no background start there: each batch runs the command line), and the style a name (a daemon does not
--- take a style file's path; the command line does).
local function wants_daemon(cfg)
  local style_is_file = cfg.style:find("/", 1, true) or cfg.style:match("%.safetensors$") or cfg.style:match("%.json$")
  return cfg.server == "" and cfg.start_daemon and dt.configuration.running_os ~= "windows" and not style_is_file
end

--- Whether `path` can be opened for reading (an existing file, or a folder on Linux).
local function file_exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return false
end

--- Whether `path` is an existing folder (opening "path/." fails for a missing one and for a file).
local function folder_exists(path)
  return file_exists(path .. "/.")
end

--- The started daemon's log file, in darktable's cache folder (the user's own), or nil when darktable has no
--- existing one: then no daemon is started. Never a shared temporary folder, where another user could have put a
--- link of that name for the `>` redirection to follow.
local function daemon_log_path()
  local dir = dt.configuration.cache_dir
  if type(dir) ~= "string" or dir == "" or not folder_exists(dir) then
    return nil
  end
  return dir .. "/" .. DAEMON_LOG_NAME
end

--- Whether `folder` is `root` or lies under it, by name (trailing slashes removed).
local function inside(folder, root)
  return folder == root or root == "/" or folder:sub(1, #root + 1) == root .. "/"
end

local function inside_any(folder, roots)
  for _i, root in ipairs(roots) do
    if inside(folder, root) then
      return true
    end
  end
  return false
end

--- `path` without trailing slashes ("/" stays).
local function strip_slashes(path)
  local stripped = path:gsub("/+$", "")
  return stripped == "" and "/" or stripped
end

--- The first of `folders` that lies outside `roots`, or nil.
local function first_outside(folders, roots)
  for _i, folder in ipairs(folders) do
    if not inside_any(strip_slashes(folder), roots) then
      return folder
    end
  end
  return nil
end

--- The --root folders for a daemon that must reach every folder of the given lists: absolute, existing ones
--- only (the daemon refuses a missing root), each once, none inside another, sorted.
local function root_set(...)
  local candidates = {}
  for _i, folders in ipairs({ ... }) do
    for _j, folder in ipairs(folders) do
      if type(folder) == "string" and folder:sub(1, 1) == "/" and folder_exists(folder) then
        candidates[#candidates + 1] = strip_slashes(folder)
      end
    end
  end
  table.sort(candidates, function(a, b)
    return #a < #b or (#a == #b and a < b)
  end)
  local roots = {}
  for _i, folder in ipairs(candidates) do
    if not inside_any(folder, roots) then
      roots[#roots + 1] = folder
    end
  end
  table.sort(roots)
  return roots
end

--- The folders of darktable's film rolls.
local function film_folders()
  local folders = {}
  pcall(function()
    for i = 1, #dt.films do
      folders[#folders + 1] = dt.films[i].path
    end
  end)
  return folders
end

--- The styles answer (`autoretouch styles --json --server=SERVER`, a table) of the daemon at `server`, or nil.
local function daemon_answer(cfg, server)
  local result = run_cli(styles_argv({ cli_path = cfg.cli_path, server = server }))
  local doc = result and result.status == 0 and json.decode(result.stdout) or nil
  return type(doc) == "table" and type(doc.styles) == "table" and doc or nil
end

--- Start `argv` in the background, its output going to `log`: its process id (digits), or nil and a message.
local function spawn(argv, log)
  local line, err = background_start_line(argv, log)
  if not line then
    return nil, err
  end
  local pipe = io.popen(line, "r")
  local out = pipe and pipe:read("*a") or ""
  if pipe then
    pipe:close()
  end
  local pid = out:match("^%s*(%d+)%s*$")
  if not pid then
    return nil, msg("daemon_no_pid", trim(out))
  end
  return pid
end

--- Ask the started daemon for its styles until it answers: the answer, or nil and why not: "exited" (its
--- process ended), "slow" (DAEMON_TIMING.start_wait_s passed) or "cancelled" (`stopped()` says so).
local function wait_for_daemon(cfg, daemon, stopped)
  local deadline = os.time() + DAEMON_TIMING.start_wait_s
  while true do
    if not process_alive(daemon.pid) then
      return nil, "exited"
    end
    local doc = daemon_answer(cfg, daemon.server)
    if doc then
      return doc
    elseif os.time() >= deadline then
      return nil, "slow"
    elseif stopped and stopped() then
      return nil, "cancelled"
    end
    dt.control.sleep(DAEMON_TIMING.poll_ms)
  end
end

--- Start this plug-in's daemon with `roots` and wait until it answers. Returns the daemon and its styles answer;
--- or nil and a message naming the log file. A daemon that is still starting when the wait ends is kept
--- (`pending`): later batches use it once it answers.
local function start_daemon(cfg, server, roots, stopped)
  local log = daemon_log_path()
  if not log then
    return nil, msg("daemon_no_cache", tostring(dt.configuration.cache_dir))
  end
  local daemon = { server = server, port = cfg.daemon_port, own = true, roots = roots, log = log }
  dt.print(msg("daemon_starting", server, daemon.log))
  local pid, err = spawn(serve_argv(cfg, roots), daemon.log)
  if not pid then
    return nil, msg("daemon_not_started", err, daemon.log)
  end
  daemon.pid = pid
  hook_exit()
  local doc, why = wait_for_daemon(cfg, daemon, stopped)
  if why == "exited" then
    return nil, msg("daemon_not_started", msg("daemon_exited"), daemon.log)
  elseif why then
    daemon.pending = true
    state.daemon = daemon
    return nil, why == "slow" and msg("daemon_slow", DAEMON_TIMING.start_wait_s, daemon.log)
      or msg("daemon_still_starting", daemon.log)
  end
  dt.print_log(msg("daemon_started", server, pid, table.concat(roots, ", ")))
  return daemon, doc
end

--- The daemon in use if it can still serve `cfg`: not when its port preference changed (one this plug-in started
--- is stopped then) or when the process this plug-in started has ended.
local function current_daemon(cfg)
  local daemon = state.daemon
  if daemon and daemon.port ~= cfg.daemon_port then
    stop_daemon(daemon, true)
    daemon = nil
  elseif daemon and daemon.own and not process_alive(daemon.pid) then
    dt.print_log(msg("daemon_gone", daemon.server, daemon.pid))
    daemon = nil
  end
  state.daemon = daemon
  return daemon
end

--- Whether this plug-in's daemon that was still starting (`pending`) answers now: its answer, or nil.
local function pending_answer(cfg, daemon)
  local doc = daemon_answer(cfg, daemon.server)
  if doc then
    daemon.pending = nil
    dt.print_log(msg("daemon_started", daemon.server, daemon.pid, table.concat(daemon.roots, ", ")))
  end
  return doc
end

--- The daemon for photos in `folders`: the one in use when it reaches them all (a daemon this plug-in did not
--- start is used as it is: its folders are unknown); else one already answering on the port; else this plug-in
--- starts one, for the film rolls' folders plus `folders` (its own earlier daemon, short of a folder, is
--- restarted with the larger set). Returns the daemon and, when it was just found or started, its styles
--- answer; or nil and a message (the command line is used then).
local function find_or_start_daemon(cfg, folders, stopped)
  local server = LOOPBACK .. ":" .. cfg.daemon_port
  local daemon, doc = current_daemon(cfg), nil
  if daemon and daemon.pending then
    doc = pending_answer(cfg, daemon)
    if not doc then
      return nil, msg("daemon_still_starting", daemon.log)
    end
  end
  local missing = daemon and daemon.own and first_outside(folders, daemon.roots)
  if daemon and not missing and not daemon.stale then
    return daemon, doc
  end
  local roots = root_set(film_folders(), folders, daemon and daemon.roots or {})
  if missing and first_outside(folders, roots) and not daemon.stale then
    return daemon, doc -- a folder that cannot be a root (unreadable): the daemon refuses it, the command line runs it
  end
  if daemon then
    dt.print_log(missing and msg("daemon_restarting", server, missing) or msg("daemon_restarting_styles", server))
    stop_daemon(daemon, true)
    state.daemon = nil
  else
    doc = daemon_answer(cfg, server)
    if doc then
      dt.print_log(msg("daemon_reused", server))
      state.daemon = { server = server, port = cfg.daemon_port, own = false }
      return state.daemon, doc
    end
  end
  local started, doc_or_err = start_daemon(cfg, server, roots, stopped)
  state.daemon = started or state.daemon
  return started, doc_or_err
end

--- A copy of the settings `cfg` that runs through `daemon`.
local function through_daemon(cfg, daemon)
  local with_daemon = {}
  for k, v in pairs(cfg) do
    with_daemon[k] = v
  end
  with_daemon.server = daemon.server
  with_daemon.daemon = daemon
  return with_daemon
end

--- The settings for a batch of photos in `folders`: `cfg` itself, or a copy whose `server` is the plug-in's
--- daemon (started on first need; see find_or_start_daemon). When the daemon does not start, the message is
--- shown and the batch runs the command line; `run.failed` then keeps later batches of the run from trying again.
-- @param run per-run memory (a table)
-- @param stopped optional function() -> true when the run was cancelled
-- @return the settings; the daemon's styles answer when it was just found or started; the start problem
local function batch_settings(cfg, folders, run, stopped)
  if not wants_daemon(cfg) or run.failed or state.daemon_busy then
    return cfg
  end
  state.daemon_busy = true
  local ok, daemon, doc_or_err = pcall(find_or_start_daemon, cfg, folders, stopped)
  state.daemon_busy = false
  if not ok then
    error(daemon, 0)
  elseif not daemon then
    run.failed = true
    dt.print(doc_or_err)
    return cfg, nil, doc_or_err
  end
  return through_daemon(cfg, daemon), doc_or_err
end

--- The settings for a question asked while a run is going on: through the daemon in use when there is one that
--- answers (whatever the preferences say now), else `cfg` (the command line). Nothing is started, stopped or
--- restarted: the run may be using that daemon.
local function asking_settings(cfg)
  local daemon = state.daemon
  if not wants_daemon(cfg) or not daemon or daemon.pending or (daemon.own and not process_alive(daemon.pid)) then
    return cfg
  end
  return through_daemon(cfg, daemon)
end

--- One run of the CLI for photos in `folders`, as a single batch: through the plug-in's daemon when one is
--- wanted (see batch_settings), else the command line; run_cli_or_local with `argv_of` and `make_line`.
-- @param stopped function() -> true when the run was cancelled
local function run_cli_for(cfg, folders, stopped, argv_of, make_line)
  local run_cfg = batch_settings(cfg, folders, {}, stopped)
  return run_cli_or_local(run_cfg, run_cfg ~= cfg and cfg or nil, argv_of, make_line)
end

-- ---------------------------------------------------------------------------------------------------------
-- darktable side: sidecar freshness, reloading the history
-- ---------------------------------------------------------------------------------------------------------

local function photo_path(img)
  return img.path .. "/" .. img.filename
end


local sync_counter = 0

--- Make darktable write the image's sidecar from its library now, and check that it did.
-- The autoretouch CLI appends to the sidecar, and the reload replaces darktable's history with the
-- sidecar's; so the sidecar must hold darktable's current history first. Attaching a tag makes darktable
-- rewrite the sidecar (unless sidecar writing is off); a unique, temporary tag proves the rewrite happened.
-- Returns true, or nil and the reason to skip the image.
local function sync_sidecar(img)
  sync_counter = sync_counter + 1
  local token = string.format("sync-%d-%d-%d-%d", img.id, os.time(), sync_counter, math.random(0, 999999))
  local sidecar = img.sidecar
  local before = read_file(sidecar)
  local made, tag = pcall(dt.tags.create, MODULE .. "|" .. token)
  if not made then
    return nil, msg("sync_failed", tostring(tag))
  end
  local ok, fresh = pcall(function()
    img:attach_tag(tag)
    local text = read_file(sidecar)
    local written = text ~= nil and text:find(token, 1, true) ~= nil and not (before or ""):find(token, 1, true)
    img:detach_tag(tag)
    return written
  end)
  pcall(dt.tags.delete, tag)
  if not ok then
    return nil, msg("sync_failed", tostring(fresh))
  end
  if fresh or not img.is_altered then
    return true -- fresh, or there is no history in darktable that could be lost
  end
  return nil, msg("sidecar_not_written")
end

--- Whether this darktable has image:apply_sidecar (darktable 5.2+); 4.2 has not.
local function has_apply_sidecar(img)
  local ok, method = pcall(function()
    return img.apply_sidecar
  end)
  return ok and type(method) == "function"
end

--- Make darktable load the sidecar the CLI wrote into its library (history and thumbnail); `deleted`: the CLI
-- removed a sidecar autoretouch had created (the image had no history before), so the history is reset.
-- Returns true, or nil and a message.
local function reload(img, deleted)
  local ok, err = pcall(function()
    if deleted then
      img:reset()
    elseif has_apply_sidecar(img) then
      img:apply_sidecar(img.sidecar)
    else
      -- darktable 4.2: importing an image that is already in the library re-reads its sidecar(s) and
      -- replaces the library's history with the sidecar's
      dt.database.import(photo_path(img))
    end
  end)
  if not ok then
    return nil, msg("reload_failed", tostring(err))
  end
  pcall(function()
    img:drop_cache()
  end)
  return true
end

--- Whether darktable writes no sidecars (its "write sidecar file for each image" preference is "never"): then a
--- sidecar may be older than the library's history.
local function sidecars_never()
  local ok, value = pcall(dt.preferences.read, "darktable", "write_sidecar_files", "string")
  return ok and value == "never"
end

--- The sidecar darktable 4.2 names for the image `filename` in the folder `dir` with duplicate index `index`:
--- NAME.EXT.xmp for the original (0), NAME_NN.EXT.xmp for virtual copy NN (at least two digits).
local function darktable_sidecar(dir, filename, index)
  index = tonumber(index) or 0
  if index == 0 then
    return tostring(dir) .. "/" .. filename .. ".xmp"
  end
  local base, ext = filename:match("^(.-)(%.[^.]*)$")
  if not base then
    base, ext = filename, ""
  end
  return string.format("%s/%s_%02d%s.xmp", tostring(dir), base, index, ext)
end

--- The last part of a path.
local function base_name(path)
  return (tostring(path):match("([^/]*)$"))
end

--- Why an image cannot be processed, or nil. Virtual copies are processed only with `copies` (apply and revert
--- write a copy's own sidecar through `--duplicate`; training reads the original's sidecar, so there a copy is
--- refused). An image whose sidecar is not where darktable 4.2 names it is refused: the CLI would write another file.
local function precheck(img, copies)
  local index = tonumber(img.duplicate_index) or 0
  if index ~= 0 and not copies then
    return msg("duplicate")
  end
  local expected = darktable_sidecar(img.path, img.filename, index)
  if img.sidecar ~= expected then
    return msg("unusual_sidecar", tostring(img.sidecar), expected)
  end
  if not file_exists(photo_path(img)) then
    return msg("missing_file")
  end
  return nil
end

--- Why a sidecar written for `img` cannot be re-read safely, or nil: darktable 4.2 (no image:apply_sidecar) re-reads
--- one only by importing the original's file again, which re-reads the original's and all its virtual copies'
--- sidecars; when darktable writes no sidecars they may be older than the library (edits made since, a history
--- discarded since), and the import would put them back.
local function reload_refusal(img)
  if sidecars_never() and not has_apply_sidecar(img) then
    return msg("reload_needs_sidecars")
  end
  return nil
end

-- ---------------------------------------------------------------------------------------------------------
-- preview copies: the suggestion on virtual copies (darktable 4.2's Lua has no image widget for a before/after
-- dialog; darktable itself renders each copy beside its original). Only virtual copies carrying PREVIEW_TAG are
-- ever deleted: never an original, never a copy the user made.
-- ---------------------------------------------------------------------------------------------------------

--- Whether `img` is one of the plug-in's preview copies: a virtual copy (duplicate_index > 0) tagged PREVIEW_TAG.
local function is_preview_copy(img)
  if (tonumber(img.duplicate_index) or 0) == 0 then
    return false
  end
  local ok, tags = pcall(function()
    return img:get_tags()
  end)
  if not ok or tags == nil then
    return false
  end
  for _i, tag in ipairs(tags) do
    if tag.name == PREVIEW_TAG then
      return true
    end
  end
  return false
end

--- `images` without the preview copies.
local function without_previews(images)
  local out = {}
  for _i, img in ipairs(images) do
    if not is_preview_copy(img) then
      out[#out + 1] = img
    end
  end
  return out
end

--- Where the recipe of the preview copy `copy` is kept (darktable's cache folder, by the copy's id).
local function preview_recipe_path(copy)
  local dir = dt.configuration.cache_dir
  if type(dir) ~= "string" or dir == "" or not folder_exists(dir) then
    return nil -- never a shared folder such as /tmp: another user could plant a link there
  end
  return string.format("%s/%s%s.json", dir, PREVIEW_RECIPE_PREFIX, tostring(copy.id))
end

--- The record keep_preview_recipe kept for the preview copy `copy` ({photo, original_id, variant, recipe = JSON
--- text, mark = its preview_mark when it was made}), or nil when there is none or it belongs to another image (an
--- id darktable gave again).
local function preview_recipe(copy)
  local path = preview_recipe_path(copy)
  local doc = path and json.decode(read_file(path) or "")
  if type(doc) ~= "table" or doc.copy_id ~= copy.id or doc.duplicate_index ~= copy.duplicate_index
    or doc.photo ~= photo_path(copy) or type(doc.recipe) ~= "string" then
    return nil
  end
  return doc
end

--- The preview copies in darktable's library: the virtual copies carrying PREVIEW_TAG.
local function preview_copies()
  local ok, tag = pcall(dt.tags.find, PREVIEW_TAG)
  local out = {}
  if not ok or tag == nil then
    return out
  end
  for i = 1, #tag do
    local img = tag[i]
    if (tonumber(img.duplicate_index) or 0) > 0 then
      out[#out + 1] = img
    end
  end
  return out
end

--- A short checksum of `text` (its length and a polynomial hash; plain arithmetic, exact in Lua 5.1's doubles).
local function checksum(text)
  local h = 0
  for i = 1, #text do
    h = (h * 31 + text:byte(i)) % 2147483647
  end
  return string.format("%d:%d", #text, h)
end

--- What changes in darktable whenever the history of `img` changes, as text: darktable 4.2's Lua has no such
--- field (no change_timestamp, no history end), so it is read from the sidecar darktable rewrites on every history
--- change: its darktable:history_end and darktable:history_current_hash, and a checksum of its darktable:history
--- (not its darktable:change_timestamp, which darktable drops when it rereads a copy's sidecar on a re-import of
--- the original). nil when there is no sidecar (sidecars switched off) or it holds none of these.
local function preview_mark(img)
  local ok, sidecar = pcall(function()
    return img.sidecar
  end)
  local text = ok and type(sidecar) == "string" and read_file(sidecar) or nil
  if not text then
    return nil
  end
  local last = text:match('darktable:history_end%s*=%s*"([^"]*)"')
  local hash = text:match('darktable:history_current_hash%s*=%s*"([^"]*)"')
  local history = text:match("<darktable:history>.-</darktable:history>")
  if not (last or hash or history) then
    return nil
  end
  return string.format("%s|%s|%s", last or "", hash or "", checksum(history or ""))
end

--- XML text with its five predefined entities (and numeric references) resolved.
local function xml_unescape(text)
  text = text:gsub("&#(%d+);", function(n)
    local code = tonumber(n)
    return code < 128 and string.char(code) or nil
  end)
  return (text:gsub("&(%a+);", { lt = "<", gt = ">", quot = '"', apos = "'", amp = "&" }))
end

--- Whether the file `sidecar` is the sidecar darktable wrote for the preview copy `filename` (its file name) with
--- duplicate index `index` in the folder `dir`: named NAME_NN.EXT.xmp there, its xmpMM:DerivedFrom is `filename`
--- and it carries PREVIEW_TAG. A user's own file of a look-alike name (IMG_01.CR2.xmp) fails one of these.
local function is_copy_sidecar(sidecar, dir, filename, index)
  if type(sidecar) ~= "string" or type(filename) ~= "string" or (tonumber(index) or 0) < 1 then
    return false
  end
  if sidecar ~= darktable_sidecar(dir, filename, index) then
    return false
  end
  local text = read_file(sidecar)
  if not text then
    return false
  end
  local derived = text:match('xmpMM:DerivedFrom%s*=%s*"([^"]*)"') or text:match("xmpMM:DerivedFrom%s*=%s*'([^']*)'")
    or text:match("<xmpMM:DerivedFrom>([^<]*)</xmpMM:DerivedFrom>")
  return derived ~= nil and xml_unescape(derived) == filename and text:find(">" .. PREVIEW_TAG .. "<", 1, true) ~= nil
end

--- Delete the preview copy (or half-made copy) `img` from darktable's library, its kept recipe, and the sidecar
--- darktable 4.2 leaves behind for a deleted virtual copy (a later import of the folder would bring the copy back)
--- when is_copy_sidecar confirms it is that copy's. Returns true, or false (logged) when darktable refused.
local function delete_preview_copy(img)
  local sidecar, recipe = img.sidecar, preview_recipe_path(img)
  local ours = is_copy_sidecar(sidecar, img.path, img.filename, img.duplicate_index)
  local id = img.id
  local ok, err = pcall(function()
    img:delete()
  end)
  if not ok then
    dt.print_log(msg("log_line", "failed", photo_path(img), tostring(err)))
    return false
  end
  state.preview_made[id] = nil
  if recipe then
    os.remove(recipe)
  end
  if ours then
    os.remove(sidecar)
  elseif type(sidecar) == "string" and file_exists(sidecar) then
    dt.print_log(msg("log_line", "kept", sidecar, "not recognised as the preview copy's sidecar"))
  end
  return true
end

--- Whether the history of the preview copy `img` is the one the plug-in gave it: its preview_mark is the one
--- recorded when it was made (this session's record, else the one kept with its recipe). No record: false.
local function unchanged_preview(img, kept)
  local now = preview_mark(img)
  local made = state.preview_made[img.id]
  local recorded = made and made.index == img.duplicate_index and made.mark or (kept and kept.mark)
  return now ~= nil and recorded ~= nil and now == recorded
end

--- Delete preview copies (see delete_preview_copy). Returns how many were removed and how many were kept.
-- @param opts optional: photos = {[photo path] = true} (only the copies of these files; default: all),
--   keep_edited = true (a copy whose history changed since it was made, or whose record is gone, is kept)
local function delete_preview_copies(opts)
  opts = opts or {}
  local removed, kept = 0, 0
  for _i, img in ipairs(preview_copies()) do
    if opts.photos == nil or opts.photos[photo_path(img)] then
      if opts.keep_edited and not unchanged_preview(img, preview_recipe(img)) then
        kept = kept + 1
        dt.print_log(msg("log_line", "kept", photo_path(img), "preview copy edited since the preview"))
      elseif delete_preview_copy(img) then
        removed = removed + 1
      end
    end
  end
  return removed, kept
end

-- ---------------------------------------------------------------------------------------------------------
-- the batch
-- ---------------------------------------------------------------------------------------------------------

local function new_summary(total)
  return { total = total, written = 0, skipped = 0, failed = 0, cancelled = false, details = {} }
end

local function record(summary, img, action, reason, warnings)
  summary[action] = summary[action] + 1
  local path = photo_path(img)
  summary.details[#summary.details + 1] = { image = img, photo = path, action = action, reason = reason or "",
    warnings = warnings or {} }
  if action ~= "written" then
    dt.print_log(msg("log_line", action, path, reason or ""))
  end
  for _i, w in ipairs(warnings or {}) do
    dt.print_log(msg("log_line", "note", path, tostring(w)))
  end
end

--- A progress reporter: a darktable job with a cancel button when there is a GUI.
-- @param opts optional {percent = false (a job without a progress bar), on_cancel = function() (called when
--   the job's cancel button is pressed)}
local function new_progress(total, label, opts)
  opts = opts or {}
  local progress = { cancelled = false, done = 0 }
  if dt.gui ~= nil and dt.configuration.has_gui then
    local ok, job = pcall(dt.gui.create_job, label, opts.percent ~= false, function(j)
      progress.cancelled = true
      if opts.on_cancel then
        opts.on_cancel()
      end
      pcall(function()
        j.valid = false
      end)
    end)
    if ok then
      progress.job = job
    end
  end
  function progress.step()
    progress.done = progress.done + 1
    if progress.job then
      pcall(function()
        if progress.job.valid then
          progress.job.percent = math.min(progress.done / math.max(total, 1), 1.0)
        end
      end)
    end
  end
  function progress.stopped()
    if progress.cancelled or dt.control.ending then
      return true
    end
    if progress.job then
      local ok, valid = pcall(function()
        return progress.job.valid
      end)
      if ok and not valid then
        progress.cancelled = true
      end
    end
    return progress.cancelled
  end
  function progress.finish()
    if progress.job then
      pcall(function()
        progress.job.valid = false
      end)
    end
  end
  return progress
end

--- The folders of images.
local function folders_of(images)
  local folders = {}
  for i, img in ipairs(images) do
    folders[i] = img.path
  end
  return folders
end

--- Process one batch of images (already checked): find or start the daemon (when one is wanted), have
-- darktable write each sidecar, run one `apply` for the batch, reload the images whose sidecar was written.
-- An image is reloaded only when the file the CLI reports changed is its own sidecar.
-- @param run per-run memory (see batch_settings)
-- @param duplicate optional: the batch's images are all virtual copy N (their duplicate_index; 0 or nil: originals)
local function process_batch(cfg, batch, summary, progress, mode, run, duplicate)
  local batch_cfg = batch_settings(cfg, folders_of(batch), run, progress.stopped)
  local ready, photos = {}, {}
  for _i, img in ipairs(batch) do
    if progress.stopped() then
      return
    end
    local synced, sync_err = sync_sidecar(img) -- right before the CLI appends to the sidecar
    if synced then
      ready[#ready + 1] = img
      photos[#photos + 1] = photo_path(img)
    else
      record(summary, img, "skipped", sync_err)
      progress.step()
    end
  end
  if #ready == 0 or progress.stopped() then
    return
  end
  local outcomes = cli_batch(batch_cfg, photos, mode, batch_cfg ~= cfg and cfg or nil, duplicate)
  -- the sidecars are written now: reload them all, even when cancel was pressed during the call
  for i, img in ipairs(ready) do
    local outcome = outcomes[photos[i]]
    if outcome.action ~= "written" then
      record(summary, img, outcome.action, outcome.reason, outcome.warnings)
    elseif outcome.sidecar and base_name(outcome.sidecar) ~= base_name(img.sidecar) then
      record(summary, img, "failed", msg("wrong_sidecar", outcome.sidecar, img.sidecar), outcome.warnings)
    elseif dt.control.ending then
      record(summary, img, "failed", msg("not_reloaded"), outcome.warnings)
    else
      local ok, err = reload(img, outcome.cli_action == "deleted")
      if ok then
        record(summary, img, "written", outcome.reason, outcome.warnings)
      else
        record(summary, img, "failed", err, outcome.warnings)
      end
    end
    progress.step()
  end
end

local function summary_text(summary, mode)
  local text
  if summary.cancelled then
    local not_done = summary.total - summary.written - summary.skipped - summary.failed
    text = msg(mode.summary_cancelled, summary.written, summary.skipped, summary.failed, not_done)
  else
    text = msg(mode.summary, summary.written, summary.skipped, summary.failed)
  end
  if (summary.previews_removed or 0) > 0 then
    text = text .. msg("previews_removed", summary.previews_removed)
  end
  if (summary.previews_kept or 0) > 0 then
    text = text .. msg("previews_kept", summary.previews_kept)
  end
  for _k, action in ipairs({ "failed", "skipped" }) do -- the first failure, else the first skipped image
    for _i, d in ipairs(summary.details) do
      if d.action == action then
        return text .. "\n" .. msg("first_problem", d.photo, d.reason)
      end
    end
  end
  return text
end

--- Why a run cannot start (no image, another run, Windows, or the darkroom when `lighttable_only`), or nil.
local function cannot_start(images, lighttable_only)
  if type(images) ~= "table" or #images == 0 then
    return msg("no_images")
  elseif state.running then
    return msg("busy")
  elseif dt.configuration.running_os == "windows" then
    return msg("windows_unsupported")
  elseif lighttable_only and dt.gui ~= nil and dt.gui.current_view
    and dt.gui.current_view() == dt.gui.views.darkroom then
    return msg("not_lighttable")
  end
  return nil
end

--- A run that does not start: `text` is shown with dt.print; returns nil and `text`.
local function refuse(text)
  dt.print(text)
  return nil, text
end

--- The settings of a run that can start, or nil and why not (also shown with dt.print).
local function prepare(images, overrides, lighttable_only)
  local refused = cannot_start(images, lighttable_only)
  if refused then
    return refuse(refused)
  end
  local cfg, err = read_settings(overrides)
  if not cfg then
    return refuse(err)
  end
  return cfg
end

--- Run `work(progress)` as the run going on (state.running), with a progress job of `total` steps labelled
--- `label`, finished afterwards. Returns what `work` returns; when it raised an error, nil and a message (also
--- shown with dt.print and logged with dt.print_error).
-- @param opts optional: as for new_progress, plus failed = the key of the message taking the error (default:
--   first_problem with `label`)
local function run_job(total, label, opts, work)
  state.running = true
  local progress = new_progress(total, label, opts)
  local ok, result = pcall(work, progress)
  progress.finish()
  state.running = false
  if not ok then
    local failure = tostring(result)
    local text = opts and opts.failed and msg(opts.failed, failure) or msg("first_problem", label, failure)
    dt.print(text)
    dt.print_error(text)
    return nil, text
  end
  return result
end

--- The photo files of the originals `summary` records as written: {[photo path] = true} (a virtual copy of the
--- user's written is not the original's edit: the original's preview copies stay).
local function written_photos(summary)
  local out = {}
  for _i, d in ipairs(summary.details) do
    if d.action == "written" and (tonumber(d.image and d.image.duplicate_index) or 0) == 0 then
      out[d.photo] = true
    end
  end
  return out
end

--- Run `fill(summary, progress)` as the run going on (see run_job), recording `total` images in a new summary;
--- then, when `drop_previews(summary)` says so, delete the preview copies of the originals written (except those
--- edited since the preview), and show the summary (the texts of `mode`). Returns the summary, or nil and a
--- message.
local function run_summary_job(total, label, mode, drop_previews, fill)
  local summary, failure = run_job(total, label, nil, function(progress)
    local summary = new_summary(total)
    fill(summary, progress)
    summary.cancelled = progress.cancelled
    return summary
  end)
  if not summary then
    return nil, failure
  end
  if drop_previews(summary) then
    summary.previews_removed, summary.previews_kept = delete_preview_copies(
      { photos = written_photos(summary), keep_edited = true })
  end
  dt.print(summary_text(summary, mode))
  return summary
end

--- Run `mode` (MODES.apply or MODES.revert) on images, in batches, with progress and cancel.
local function run_images(images, overrides, mode)
  if mode.drop_previews and type(images) == "table" then
    images = without_previews(images) -- the originals only; their preview copies go at the end
  end
  local cfg, err = prepare(images, overrides, true)
  if not cfg then
    return nil, err
  end
  local function drop_previews(summary)
    return mode.drop_previews and not summary.cancelled
  end
  return run_summary_job(#images, msg(mode.job), mode, drop_previews, function(summary, progress)
    -- one CLI call changes one kind of sidecar: a batch per duplicate index (0: originals, N: virtual copies N)
    local batches, run = {}, {}
    local function flush(index)
      if batches[index] and #batches[index] > 0 then
        process_batch(cfg, batches[index], summary, progress, mode, run, index)
      end
      batches[index] = nil
    end
    for _i, img in ipairs(images) do
      if progress.stopped() then
        break
      end
      local reason = precheck(img, true) or reload_refusal(img)
      if reason then
        record(summary, img, "skipped", reason)
        progress.step()
      else
        local index = tonumber(img.duplicate_index) or 0
        batches[index] = batches[index] or {}
        local batch = batches[index]
        batch[#batch + 1] = img
        if #batch >= BATCH_SIZE then
          flush(index)
        end
      end
    end
    local indices = {}
    for index in pairs(batches) do
      indices[#indices + 1] = index
    end
    table.sort(indices)
    for _i, index in ipairs(indices) do
      if progress.stopped() then
        break
      end
      flush(index)
    end
  end)
end

--- Retouch images: add the style's (or the fixed recipe's) edit to each image's history. Running it again
-- replaces autoretouch's previous modules (e.g. at another strength); the user's own history stays.
-- @param images a list of darktable images
-- @param overrides optional table of settings overriding the preferences: cli_path, style, strength,
--   server, start_daemon, daemon_port, recipe (e.g. {recipe = "/path/plus1ev.json"})
-- @return a summary {total, written, skipped, failed, cancelled,
--   details = {{image, photo, action, reason, warnings = {text, ...}}, ...}, previews_removed, previews_kept (the
--   preview copies of the written images deleted, and kept because the user edited them)},
--   or nil and a message (nothing was done); the summary is also shown with dt.print
local function apply_to_images(images, overrides)
  return run_images(images, overrides, MODES.apply)
end

--- Remove autoretouch's modules from images' histories (the user's own entries stay); `written` in the
-- summary counts the images reverted. Same arguments and result as apply_to_images.
local function revert_images(images, overrides)
  return run_images(images, overrides, MODES.revert)
end

--- The rows (tables) of `suggest --json`'s output, one JSON object a line.
local function json_rows(text)
  local rows = {}
  for line in text:gmatch("[^\n]+") do
    local row = json.decode(line)
    if type(row) == "table" then
      rows[#rows + 1] = row
    end
  end
  return rows
end

--- A new private temporary folder (for the style files), or nil.
local function make_temp_dir()
  local dir = os.tmpname()
  os.remove(dir)
  local line = command_line({ "mkdir", "-m", "700", "--", dir }, "/dev/null", "/dev/null")
  if line and exit_status(dt.control.execute(line)) == 0 then
    return dir
  end
  return nil
end

--- Remove the private temporary folder `dir` that make_temp_dir made, with whatever is in it (`rm -r -f`).
local function remove_temp_dir(dir)
  local line = command_line({ "rm", "-r", "-f", "--", dir }, "/dev/null", "/dev/null")
  if not line or exit_status(dt.control.execute(line)) ~= 0 then
    dt.print_log(msg("log_line", "failed", dir, "could not remove this temporary folder"))
  end
end

--- Import the .dtstyle at `path` into darktable's style list: the new style, or nil and a message.
local function import_style(path)
  local before = {}
  for _i, style in ipairs(dt.styles) do
    before[style.name] = true
  end
  local ok, err = pcall(dt.styles.import, path)
  if not ok then
    return nil, tostring(err)
  end
  for _i, style in ipairs(dt.styles) do
    if not before[style.name] then
      return style
    end
  end
  return nil, msg("preview_style_missing", path)
end

local copy_counter = 0

--- One preview copy of `img`: a virtual copy with the original's history (a fresh copy has none: a style made
--- from the original is applied, then deleted), then the suggestion's style file `path` appended, tagged
--- PREVIEW_TAG, grouped with the original. The imported styles are deleted again. Returns the copy, or nil and a
--- message (a copy that failed half-way is deleted).
local function make_preview_copy(img, path, title)
  local style, err = import_style(path)
  if not style then
    return nil, msg("preview_copy_failed", err)
  end
  local copy
  local ok, failure = pcall(function()
    copy = dt.database.duplicate(img)
    copy:attach_tag(dt.tags.create(PREVIEW_TAG))
    if img.is_altered then
      copy_counter = copy_counter + 1
      local name = string.format("autoretouch preview base %d %d %d %d", img.id, os.time(), copy_counter,
        math.random(0, 999999))
      local own = dt.styles.create(img, name, "")
      local applied, apply_err = pcall(dt.styles.apply, own, copy)
      pcall(function()
        own:delete()
      end)
      if not applied then
        error(apply_err, 0)
      end
    end
    dt.styles.apply(style, copy)
    copy:group_with(img)
    copy.title = title
  end)
  pcall(function()
    style:delete()
  end)
  if not ok then
    if copy then
      delete_preview_copy(copy)
    end
    return nil, msg("preview_copy_failed", tostring(failure))
  end
  state.preview_made[copy.id] = { index = copy.duplicate_index, mark = preview_mark(copy) }
  return copy
end

--- Keep the recipe `recipe` (a row of suggest's "recipes", without its style file) that the preview copy `copy` of
--- `img` shows as variant `k`, for "apply chosen preview": written to a temporary file, then renamed over
--- preview_recipe_path(copy). Returns true, or nil and a message.
local function keep_preview_recipe(copy, img, k, recipe)
  local bare = {}
  for key, value in pairs(recipe) do
    if key ~= "dtstyle" then
      bare[key] = value
    end
  end
  local path = preview_recipe_path(copy)
  if not path then
    return nil, msg("preview_recipe_not_kept", photo_path(copy), "-", "darktable has no cache folder")
  end
  local ok, err = pcall(function()
    local entry = { copy_id = copy.id, duplicate_index = copy.duplicate_index, original_id = img.id,
      photo = photo_path(img), variant = k, recipe = json.encode(bare), mark = preview_mark(copy) }
    local f = assert(io.open(path .. ".tmp", "wb"))
    local written, write_err = f:write(json.encode(entry))
    f:close()
    assert(written, write_err)
    assert(os.rename(path .. ".tmp", path))
  end)
  if not ok then
    os.remove(path .. ".tmp")
    return nil, msg("preview_recipe_not_kept", photo_path(copy), path, tostring(err))
  end
  return true
end

--- The preview's work (see run_preview), with the style files in the temporary folder `folder`.
local function preview_in(folder, cfg, originals, progress)
  local photos = {}
  for i, img in ipairs(originals) do
    photos[i] = photo_path(img)
  end
  local summary = { images = #originals, copies = {}, removed = 0, kept = 0, failed = {} }
  local result, err = run_cli_for(cfg, folders_of(originals), progress.stopped, function(c)
    return suggest_argv(c, photos, folder)
  end)
  local rows = result and json_rows(result.stdout) or {}
  local by_photo, any_ok = {}, false
  for _i, row in ipairs(rows) do
    if type(row.photo) == "string" then
      by_photo[row.photo] = row
    end
    any_ok = any_ok or row.ok == true
  end
  if any_ok and not progress.stopped() then
    -- the new suggestions are there: replace the previous copies (not those the user edited since)
    summary.removed, summary.kept = delete_preview_copies({ keep_edited = true })
  end
  local label = cfg.mix ~= "" and cfg.mix or (cfg.style ~= "" and cfg.style or DEFAULT_STYLE)
  for i, img in ipairs(originals) do
    local row = by_photo[photos[i]] or (#rows == #photos and rows[i]) or nil
    if progress.stopped() then
      break
    elseif row and row.ok == true and type(row.recipes) == "table" then
      for k, recipe in ipairs(row.recipes) do
        local path = type(recipe) == "table" and recipe.dtstyle
        local copy, why = nil, msg("no_result")
        if type(path) == "string" then
          copy, why = make_preview_copy(img, path, msg("preview_title", k, label, format_number(cfg.strength)))
        end
        if copy then
          summary.copies[#summary.copies + 1] = copy
          local kept, why_not = keep_preview_recipe(copy, img, k, recipe)
          if not kept then
            dt.print_log(why_not) -- the copy still shows the edit; "apply chosen preview" will say it cannot
          end
        else
          summary.failed[#summary.failed + 1] = { photo = photos[i], reason = why }
        end
      end
    else
      local reason = row and type(row.error) == "string" and row.error
        or (result and cli_problem(cfg, result)) or tostring(err)
      summary.failed[#summary.failed + 1] = { photo = photos[i], reason = reason }
    end
    progress.step()
  end
  summary.cancelled = progress.cancelled
  summary.text = msg("preview_summary", #summary.copies, #originals, label, format_number(cfg.strength),
    summary.removed)
  if summary.kept > 0 then
    summary.text = summary.text .. msg("previews_kept", summary.kept)
  end
  for _i, f in ipairs(summary.failed) do
    dt.print_log(msg("log_line", "failed", f.photo, f.reason))
  end
  if summary.failed[1] then
    summary.text = summary.text .. "\n" .. msg("first_problem", summary.failed[1].photo, summary.failed[1].reason)
  end
  return summary
end

--- The preview's work (see preview_images): one `suggest --dtstyle` call, then the copies. The style files go to a
--- private temporary folder the plug-in makes, removed with everything in it however the work ends (an error is
--- raised again afterwards).
local function run_preview(cfg, originals, progress)
  local folder = make_temp_dir()
  if not folder then
    error(msg("preview_dir_failed"), 0)
  end
  local ok, result = pcall(preview_in, folder, cfg, originals, progress)
  remove_temp_dir(folder)
  if not ok then
    error(result, 0)
  end
  return result
end

--- Preview the suggestion on virtual copies of the first `preview_images` selected images (preview copies in
--- the selection are left out): one `autoretouch suggest --json --dtstyle=TMP` call (through the daemon when one
--- is used), then per image and variant a virtual copy with the original's history plus the suggestion,
--- tagged autoretouch|preview and grouped with the original. The previous preview copies are deleted first (once
--- the new suggestions are there). The originals are never changed.
-- @param images a list of darktable images
-- @param overrides optional settings overriding the preferences (as for apply_to_images, plus mix,
--   preview_images, preview_variants, preview_seed)
-- @return {images, copies = {image, ...}, removed, kept (edited copies not replaced), failed = {{photo, reason},
--   ...}, cancelled, text}, or nil and a message
local function preview_images(images, overrides)
  local cfg, err = prepare(images, overrides, true)
  if not cfg then
    return nil, err
  end
  if cfg.recipe ~= "" then
    return refuse(msg("preview_recipe"))
  end
  local originals = {}
  for _i, img in ipairs(without_previews(images)) do
    if #originals < cfg.preview_images and file_exists(photo_path(img)) then
      originals[#originals + 1] = img
    end
  end
  if #originals == 0 then
    return refuse(msg("preview_no_original"))
  end
  local summary, failure = run_job(#originals, msg("preview_job_label"), { failed = "preview_failed" },
    function(progress)
      return run_preview(cfg, originals, progress)
    end)
  if not summary then
    return nil, failure
  end
  dt.print(summary.text)
  return summary
end

--- Delete the preview copies (only virtual copies tagged autoretouch|preview). Returns how many, or nil and a
--- message when a run is going on.
local function discard_previews()
  if state.running then
    return refuse(msg("busy"))
  end
  local removed = delete_preview_copies()
  dt.print(msg("preview_discarded", removed))
  return removed
end

--- The original of the preview copy `copy`: its group leader, else the image under the id kept with its recipe
--- (`kept`, when there is one), else one of `candidates`; whichever is the original (no virtual copy) of the same
--- file. Or nil.
local function original_of(copy, kept, candidates)
  local photo = photo_path(copy)
  local function fits(img)
    return img ~= nil and (tonumber(img.duplicate_index) or 0) == 0 and photo_path(img) == photo
  end
  local found = {
    function() return copy.group_leader end,
    function() return kept and dt.database.get_image(kept.original_id) end,
  }
  for _i, img in ipairs(candidates) do
    found[#found + 1] = function() return img end
  end
  for _i, get in ipairs(found) do
    local ok, img = pcall(get)
    local fit_ok, fit = pcall(fits, img)
    if ok and fit_ok and fit then
      return img
    end
  end
  return nil
end

--- The preview copies chosen in `images`, at most one per original, in the selection's order, and the originals
--- selected; an original selected without any of its copies chooses its one preview copy (it has none: left
--- out). Or nil and a message: two copies of one image chosen, or an original alone with several copies.
local function chosen_copies(images)
  local order, chosen, originals, all = {}, {}, {}, nil
  for _i, img in ipairs(images) do
    local photo = photo_path(img)
    local copy, original = is_preview_copy(img), (tonumber(img.duplicate_index) or 0) == 0
    if (copy or original) and not chosen[photo] then -- the user's own virtual copies are left out
      chosen[photo] = {}
      order[#order + 1] = photo
    end
    if copy then
      table.insert(chosen[photo], img)
    elseif original then
      originals[#originals + 1] = img
    end
  end
  local out = {}
  for _i, photo in ipairs(order) do
    local copies = chosen[photo]
    if #copies > 1 then
      return nil, msg("chosen_two", #copies, photo)
    elseif #copies == 0 then
      all = all or preview_copies()
      for _k, copy in ipairs(all) do
        if photo_path(copy) == photo then
          copies[#copies + 1] = copy
        end
      end
      if #copies > 1 then
        return nil, msg("chosen_which", photo, #copies)
      end
    end
    out[#out + 1] = copies[1]
  end
  return out, originals
end

--- What "apply chosen preview" runs per distinct recipe (as MODES.apply, with recipe_apply_argv and the recipe
--- file `file`), and its messages.
local function chosen_mode(file)
  return { argv = function(cfg, photos)
    return recipe_apply_argv(cfg, file, photos)
  end, done = MODES.apply.done, summary = "chosen_summary", summary_cancelled = "chosen_summary_cancelled" }
end

--- Apply the recipe `group.text` (JSON) to the originals `group.images` in batches: the recipe goes to a temporary
--- file for `apply --recipe`, removed afterwards.
local function apply_recipe_group(cfg, group, summary, progress, run)
  local file = os.tmpname()
  local f = io.open(file, "wb")
  local ok = f ~= nil and f:write(group.text) ~= nil
  if f then
    ok = f:close() and ok
  end
  if not ok then
    os.remove(file)
    for _i, img in ipairs(group.images) do
      record(summary, img, "failed", msg("chosen_recipe_file_failed", file))
      progress.step()
    end
    return
  end
  local mode = chosen_mode(file)
  local batch = {}
  for i, img in ipairs(group.images) do
    batch[#batch + 1] = img
    if #batch >= BATCH_SIZE or i == #group.images then
      if progress.stopped() then
        break
      end
      process_batch(cfg, batch, summary, progress, mode, run)
      batch = {}
    end
  end
  os.remove(file)
end

--- Apply the edit the chosen preview copies show to their originals: each copy's own recipe (what suggest returned
--- for that image and variant, at the preview's strength or mix, kept with the copy) goes through
--- `autoretouch apply --recipe=FILE --overwrite` (one call per distinct recipe and batch), so running it again
--- replaces autoretouch's previous modules and the user's history stays. Then the preview copies of the originals
--- it wrote are deleted, except those the user edited since the preview (as apply does; not when the run was
--- cancelled). A copy whose recipe is gone (darktable
--- restarted since the preview, cache cleared) is skipped; the others carry on.
-- @param images the selection: preview copies (one per image) and/or originals (an original with exactly one
--   preview copy chooses it)
-- @param overrides optional settings overriding the preferences (cli_path, server, start_daemon, daemon_port)
-- @return a summary as apply_to_images' (with previews_removed, previews_kept), or nil and a message (nothing was
--   done: no copy chosen, two copies of one image chosen)
local function apply_chosen_previews(images, overrides)
  local cfg, err = prepare(images, overrides, true)
  if not cfg then
    return nil, err
  end
  local copies, originals = chosen_copies(images)
  if not copies then
    return refuse(originals)
  elseif #copies == 0 then
    return refuse(msg("chosen_none"))
  end
  local function drop_previews(summary)
    return not summary.cancelled and summary.written > 0
  end
  local label, mode = msg("chosen_job_label"), chosen_mode(nil)
  return run_summary_job(#copies, label, mode, drop_previews, function(summary, progress)
    local groups, by_text = {}, {}
    for _i, copy in ipairs(copies) do
      local kept = preview_recipe(copy)
      local original = original_of(copy, kept, originals)
      local reason = (not original and msg("chosen_no_original")) or (not kept and msg("chosen_recipe_missing"))
        or precheck(original) or reload_refusal(original)
      if reason then
        record(summary, original or copy, "skipped", reason)
        progress.step()
      else
        local group = by_text[kept.recipe]
        if not group then
          group = { text = kept.recipe, images = {} }
          by_text[kept.recipe] = group
          groups[#groups + 1] = group
        end
        group.images[#group.images + 1] = original
      end
    end
    local run = {}
    for _i, group in ipairs(groups) do
      if progress.stopped() then
        break
      end
      apply_recipe_group(cfg, group, summary, progress, run)
    end
  end)
end

-- ---------------------------------------------------------------------------------------------------------
-- training a style from the selected images
-- ---------------------------------------------------------------------------------------------------------

--- Stop a training started by train_from_images: mark it cancelled (it then does not start) and kill its
--- process. `files` = {pid = path of the PID file, cancel = path of the marker}.
local function stop_training(files)
  local marker = io.open(files.cancel, "wb")
  if marker then
    marker:close()
  end
  local pid = read_file(files.pid)
  pid = pid and pid:match("^%s*(%d+)%s*$")
  if pid then
    os.execute("kill " .. pid .. " 2>/dev/null")
  end
end

--- Where the health check's answer came from: the command line, a daemon this plug-in started, or another.
local function check_where(cfg, doc)
  local version = tostring(doc.server_version or "?")
  if cfg.daemon and cfg.daemon.own then
    return msg("check_where_started", cfg.server, version)
  elseif cfg.server ~= "" then
    return msg("check_where_daemon", cfg.server, version)
  end
  return msg("check_where_local")
end

--- The usable, unshadowed style names of a `styles --json` answer, and name -> true or why it is unusable;
--- each style goes to the Lua log with its description.
local function usable_styles(doc)
  local names, usable = {}, {}
  for _i, style in ipairs(doc.styles) do
    if type(style) == "table" and type(style.name) == "string" and style.shadowed ~= true then
      local problem = type(style.error) == "string" and style.error or nil
      if problem then
        usable[style.name] = usable[style.name] or problem
        dt.print_log(msg("check_style_line", style.name, tostring(style.source), msg("check_unusable_line", problem)))
      else
        usable[style.name] = true
        names[#names + 1] = style.name
        dt.print_log(msg("check_style_line", style.name, tostring(style.source), tostring(style.description or "")))
      end
    end
  end
  return names, usable
end

--- Check that autoretouch answers (the command line, or the daemon: the address set, else the plug-in's own,
-- started when the preference allows it; while a run is going on, only the daemon in use is asked, never
-- started, stopped or restarted) and list its styles. Every usable style goes to the Lua log with its
-- description; the message says how many there are and whether the style preference names one of them (and,
-- when the plug-in's daemon did not start, why).
-- @param overrides optional settings: cli_path, server, style, start_daemon, daemon_port
-- @return {ok = true|false, styles = {name, ...} (usable, unshadowed), style_ok = true|false|nil, message}
local function check_autoretouch(overrides)
  local cfg, err = read_settings(overrides)
  if not cfg then
    dt.print(err)
    return { ok = false, styles = {}, message = err }
  end
  local run_cfg, doc, start_problem
  if state.running then -- only ask: the run may be using the daemon, which must not be stopped or restarted now
    run_cfg = asking_settings(cfg)
  else
    run_cfg, doc, start_problem = batch_settings(cfg, {}, {}, nil)
  end
  local note = start_problem and "\n" .. start_problem or ""
  if not doc then
    local result, run_err = run_cli(styles_argv(run_cfg))
    doc = result and result.status == 0 and json.decode(result.stdout) or nil
    if type(doc) ~= "table" or type(doc.styles) ~= "table" then
      local text = msg("check_failed", run_err or cli_problem(cfg, result)) .. note
      dt.print(text)
      return { ok = false, styles = {}, message = text }
    end
  end
  local names, usable = usable_styles(doc)
  local text = msg("check_ok", check_where(run_cfg, doc), #names, table.concat(names, ", "))
  local wanted = cfg.style ~= "" and cfg.style or (type(doc.default) == "string" and doc.default or DEFAULT_STYLE)
  local style_ok = usable[wanted] == true
  if style_ok then
    text = text .. "; " .. msg("check_style_ok", wanted)
  elseif usable[wanted] then
    text = text .. "; " .. msg("check_style_unusable", wanted, usable[wanted])
  else
    text = text .. "; " .. msg("check_style_missing", wanted)
  end
  text = text .. note
  dt.print(text)
  return { ok = true, styles = names, style_ok = style_ok, message = text }
end

--- The shell line running `argv` in the background (its PID in files.pid) and waiting for it, so that the job's
--- cancel button can kill it (darktable releases its Lua lock while dt.control.execute waits).
local function background_line(argv, out_path, err_path, files)
  local line, err = command_line(argv, out_path, err_path)
  if not line then
    return nil, err
  end
  local pid, cancel = shell_quote(files.pid), shell_quote(files.cancel)
  return "[ -e " .. cancel .. " ] && exit 130; ( exec " .. line .. " ) & echo $! >" .. pid .. "; wait $!"
end

--- Learn a style from images' darktable edits: `autoretouch train --darktable PHOTO...` (darktable-cli renders
-- each image with its history; the CLI installs the style unless it does worse than doing nothing).
-- @param images a list of darktable images (each image's history, as darktable wrote it to the sidecar)
-- @param overrides optional settings: cli_path, server, start_daemon, daemon_port, train_name, train_minutes
-- @return a summary {state = "finished"|"rejected"|"failed"|"cancelled"|"nothing", name, used, skipped =
--   {{photo, reason}}, result = the CLI's JSON summary or nil, message}, or nil and a message
local function train_from_images(images, overrides)
  local cfg, err = prepare(images, overrides, false)
  if not cfg then
    return nil, err
  end
  if #cfg.train_name > 64 or not cfg.train_name:match("^[%w][%w_%.%-]*$") then
    return refuse(msg("bad_style_name", cfg.train_name))
  end
  local summary = { name = cfg.train_name, used = 0, skipped = {} }
  local files = { pid = os.tmpname(), cancel = os.tmpname() }
  os.remove(files.cancel)
  local job = {
    percent = false,
    on_cancel = function()
      stop_training(files)
    end,
  }
  local ok, failure = run_job(1, msg("train_job_label"), job, function(progress)
    local photos, folders = {}, {}
    for _i, img in ipairs(images) do
      local reason = precheck(img)
      if not reason then
        local synced, sync_err = sync_sidecar(img)
        reason = not synced and sync_err or (not img.is_altered and msg("no_history")) or nil
      end
      if reason then
        summary.skipped[#summary.skipped + 1] = { photo = photo_path(img), reason = reason }
        dt.print_log(msg("log_line", "skipped", photo_path(img), reason))
      else
        photos[#photos + 1] = photo_path(img)
        folders[#folders + 1] = img.path
      end
    end
    summary.used = #photos
    if #photos == 0 then
      summary.state, summary.message = "nothing", msg("train_nothing")
      return true
    end
    local result, quote_err = run_cli_for(cfg, folders, progress.stopped, function(c)
      return train_argv(c, photos)
    end, function(argv, out_path, err_path)
      return background_line(argv, out_path, err_path, files)
    end)
    if not result then
      summary.state, summary.message = "failed", msg("train_failed", cfg.train_name, quote_err)
      return true
    end
    local doc = json.decode(result.stdout)
    summary.result = type(doc) == "table" and doc or nil
    if file_exists(files.cancel) then
      summary.state, summary.message = "cancelled", msg("train_cancelled")
    elseif summary.result and type(summary.result.rejected) == "string" and summary.result.rejected ~= "" then
      summary.state = "rejected"
      summary.message = msg("train_rejected", cfg.train_name, summary.result.rejected)
    elseif result.status == 0 and summary.result then
      summary.state = "finished"
      summary.message = msg("train_installed", cfg.train_name, #photos, tonumber(summary.result.steps) or 0)
    else
      summary.state, summary.message = "failed", msg("train_failed", cfg.train_name, cli_problem(cfg, result))
    end
    return true
  end)
  os.remove(files.pid)
  os.remove(files.cancel)
  if not ok then
    return nil, failure
  end
  local text = summary.message
  if #summary.skipped > 0 then
    text = text .. "\n" .. msg("train_skipped", #summary.skipped,
      msg("first_problem", summary.skipped[1].photo, summary.skipped[1].reason))
  end
  dt.print(text)
  return summary
end

-- ---------------------------------------------------------------------------------------------------------
-- registration
-- ---------------------------------------------------------------------------------------------------------

--- The lighttable's buttons ("selected image[s]"), in their order: the action's name, the key of its label and
--- tooltip messages (KEY_label, KEY_tooltip), and what it runs on the images.
local ACTIONS = {
  { name = ACTION_NAME, key = "action", run = apply_to_images },
  { name = PREVIEW_ACTION_NAME, key = "preview", run = preview_images },
  { name = CHOSEN_ACTION_NAME, key = "chosen", run = apply_chosen_previews },
  { name = DISCARD_ACTION_NAME, key = "discard", run = function(_images)
    discard_previews()
  end },
  { name = REVERT_ACTION_NAME, key = "revert", run = revert_images },
  { name = TRAIN_ACTION_NAME, key = "train", run = train_from_images },
  { name = CHECK_ACTION_NAME, key = "check", run = function(_images)
    check_autoretouch()
  end },
}

local function on_shortcut(_event, _shortcut)
  apply_to_images(dt.gui.action_images)
end

local function register()
  if state.registered or dt.gui == nil or not dt.configuration.has_gui then
    return
  end
  for _i, action in ipairs(ACTIONS) do
    dt.gui.libs.image.register_action(action.name, msg(action.key .. "_label"), function(_action, images)
      action.run(images)
    end, msg(action.key .. "_tooltip"))
  end
  dt.register_event(SHORTCUT_EVENT, "shortcut", on_shortcut, msg("action_label"))
  state.registered = true
end

local function destroy()
  stop_own_daemon()
  if state.exit_hooked then
    dt.destroy_event(EXIT_EVENT, "exit")
    state.exit_hooked = false
  end
  if not state.registered then
    return
  end
  for _i, action in ipairs(ACTIONS) do
    dt.gui.libs.image.destroy_action(action.name)
  end
  dt.destroy_event(SHORTCUT_EVENT, "shortcut")
  state.registered = false
end

register_preferences()
register()

local script_data = {}

script_data.metadata = {
  name = "autoretouch",
  purpose = msg("purpose"),
  author = "autoretouch contributors",
  help = "docs/darktable-plugin.md in the autoretouch repository",
}

script_data.destroy = destroy
script_data.restart = register -- destroy removes the action and the shortcut; restart adds them again

--- Public: retouch images from other scripts (see apply_to_images above), or revert them.
script_data.apply_to_images = apply_to_images
script_data.revert_images = revert_images
script_data.preview_images = preview_images
script_data.discard_previews = discard_previews
script_data.apply_chosen_previews = apply_chosen_previews
script_data.train_from_images = train_from_images
script_data.check_autoretouch = check_autoretouch

--- Internals, for the specs and for scripts that build their own commands.
script_data.internals = {
  shell_quote = shell_quote,
  command_line = command_line,
  json_decode = json.decode,
  json_encode = json.encode,
  NULL = json.NULL,
  version_at_least = version_at_least,
  read_settings = read_settings,
  apply_argv = apply_argv,
  revert_argv = revert_argv,
  suggest_argv = suggest_argv,
  recipe_apply_argv = recipe_apply_argv,
  preview_recipe_path = preview_recipe_path,
  preview_mark = preview_mark,
  is_preview_copy = is_preview_copy,
  PREVIEW_TAG = PREVIEW_TAG,
  train_argv = train_argv,
  styles_argv = styles_argv,
  serve_argv = serve_argv,
  background_start_line = background_start_line,
  root_set = root_set,
  process_alive = process_alive,
  stop_own_daemon = stop_own_daemon,
  daemon_timing = DAEMON_TIMING,
  background_line = background_line,
  stop_training = stop_training,
  exit_status = exit_status,
  messages = MSG,
  state = state,
}

return script_data
