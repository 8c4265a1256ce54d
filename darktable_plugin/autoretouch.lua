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
  * install: copy this file and the folder next to it, autoretouch/ (its modules, loaded with
    require "autoretouch/NAME"), to ~/.config/darktable/lua/ (giving lua/autoretouch.lua and lua/autoretouch/*.lua)
    and add the line
      require "autoretouch"
    to ~/.config/darktable/luarc (or enable it in script_manager).
  * lighttable > "selected image[s]" module > "auto-retouch (learned style)" (again: replaces the previous
    auto-retouch) and "revert auto-retouch", or assign a key under
    preferences > shortcuts > lua > "auto-retouch (learned style)". Both work on the user's own virtual copies
    too: a copy's own sidecar (NAME_NN.EXT.xmp) is written (`--duplicate=NN`, one call per duplicate index) and
    re-read by importing the original's file again; the original is not touched. Training learns a selected copy's
    own history: the copy's sidecar is written first and given in place of the photo (`train --darktable
    NAME_NN.EXT.xmp`).
  * "preview on virtual copies" (same module): the suggestion on virtual copies of the first selected images
    (at most "images previewed", 3 by default; "preview variants" copies each), made by darktable itself:
    darktable writes each image's sidecar first (the temporary tag apply uses), then
    one `autoretouch suggest --json --dtstyle=TMP` call per duplicate index writes each suggestion as a .dtstyle
    (the user's own virtual copies N with `--duplicate=N`: their styles are built on the copy's own sidecar
    NAME_NN.EXT.xmp, as apply would extend it); per image and variant the plug-in makes a virtual copy
    (dt.database.duplicate), gives it that image's history (a style created from the original or the user's copy),
    applies the suggestion's style after it (dt.styles.import + dt.styles.apply),
    deletes both styles from the style list again, tags the copy autoretouch|preview and groups it with the
    original. Pressing it again (another style, strength, mix, variant count or seed) replaces the copies;
    "discard previews" deletes them, and so does "auto-retouch", which applies to the originals only. Only
    virtual copies carrying that tag are ever deleted; originals and the user's own copies are not touched.
    darktable 4.2's Lua has no image widget, so there is no before/after dialog: the lighttable shows each
    original beside its copies.
  * "apply chosen preview" (same module): select one preview copy per image (any variant; an original with a
    single preview copy chooses it) and apply the edit it shows to the image it was made from (the original, or the
    user's own virtual copy that was previewed, with --duplicate=N): the exact recipe suggest returned
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

  MODULES (autoretouch/, one role each; this file registers the preferences, actions and events)
  * json: the JSON codec; constants: names, limits, timings; strings: every text shown to the user (gettext);
    state: the state shared while darktable runs; filesystem: reading files, probing paths; shell: POSIX quoting;
    text: file names in messages (cut without breaking a character, escaped onto one line as the CLI does);
    settings: preferences; commands: the CLI's argument lists; cli: running the CLI and reading its answer;
    daemon: the daemon started on demand; sidecars: sidecar freshness and reload; virtual_copies: the preview
    copies in the library; jobs: runs, progress and summaries; apply: apply, revert and "apply chosen preview";
    preview: "preview on virtual copies" and "discard previews"; check: "check autoretouch"; train: training.

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
  * 1.9: the code split by role into modules under autoretouch/ (install the whole folder); behaviour unchanged.
  * 1.10: a preview copy never takes the number (and sidecar) of another image of its file: darktable 4.2 numbers a
    copy made after the file was imported again (the plug-in's reload) as copy 1 again and writes its sidecar over
    the user's copy 1's; such a copy is deleted, the sidecar put back, and darktable asked again. An image whose
    number another image of its file has is skipped; a deleted preview copy's sidecar is kept when another image
    has its number.
  * 1.11: "apply chosen preview" applies to the image the preview was made from (kept with its recipe): a preview of
    the user's own virtual copy goes to that copy (`apply --recipe --duplicate=N`), not to the original; skipped
    when that image is gone. Apply and apply chosen preview delete the preview copies made from the images they
    wrote (by the kept record; without one, the copies of the originals' files written).
  * 1.12: a virtual copy whose original is not in the library is skipped by apply, revert and apply chosen preview
    (darktable 4.2's reload, an import of the original's file, would make the copy the original with the
    original's history, and put the copy's edit into a new image).
  * 1.13: a preview of an image whose file is missing says so (was: "select original images").
  * 1.14: preview copies kept because their edits cannot be checked (no sidecar, no record) are counted apart from
    those the user edited ("kept N preview copies it cannot check for edits"; summary.previews_unchecked,
    preview's unchecked); with sidecar writing off, the preview says up front that copies are kept for that reason
    and that "apply chosen preview" cannot apply them in darktable 4.2.
  * 1.15: training by the command line keeps its run folder in darktable's cache folder,
    <cache>/autoretouch/runs/NAME (`train --run-dir`), not runs/NAME in darktable's working directory; through a
    daemon, the daemon keeps it. A style not installed says where it stays.
  * 1.16: the notes autoretouch gives for the images it changed (its modules override the user's own instances, the
    user's module order, ...) are shown in the run's message (the first three; all in the Lua log).
  * 1.17: a preview of the user's own virtual copy is built on that copy's sidecar: one `suggest` call per duplicate
    index, copies N with `--duplicate=N` (needs an autoretouch with `suggest --duplicate`; an older one is named in
    the message, "too old to preview a virtual copy", and the originals are still previewed); each image gets the
    rows of its own call (an original and its copy selected together: one call each, the file named once in each).
  * 1.18: training by the command line passes the folder of its run folders, <cache>/autoretouch/runs (`train
    --runs-dir`), instead of one run folder: training a name again goes to the next free runs/NAME-2, NAME-3, ...
    (was: refused, the run folder holding a trained style); the run folder autoretouch names is in the Lua log (an
    autoretouch without `train --runs-dir` is named as too old).
  * 1.19: apply's, revert's and "apply chosen preview"'s messages and Lua log name the user's virtual copy N as
    `FILE (version N)`, as the preview does (was: the file alone, like its original); summary rows gain `name`.
  * 1.20: the preview makes darktable write each image's sidecar first (a temporary tag, as apply does), so that
    `suggest --dtstyle` builds on the image's current history, not on a sidecar older than the last edit; an edited
    image whose sidecar darktable does not write is left out, saying why. An image whose sidecar another selected
    image has (selected twice, or two images of a file with one version number; or a.png's copy 1 and a file
    a_01.png, both a_01.png.xmp, the message saying so) is previewed once, the message naming both.
  * 1.21: "train style from selected images" learns from the user's own virtual copies: a selected copy N is given as
    its own sidecar, NAME_NN.EXT.xmp (written by darktable first), and trained as that copy's edit (was: left out,
    "training reads the original image's sidecar only"); skipped copies are named `FILE (version N)`. An autoretouch
    from before training on copies refuses the copy's sidecar as not a photo, and is named as too old.
  * 1.22: apply, revert and "apply chosen preview" skip an image whose sidecar an image of another file in its folder
    has, selected or not (a.png's copy 1 and a file a_01.png in the library: both a_01.png.xmp), the message naming
    both: the one's write would go into the other's sidecar, which darktable re-reads into the other (was: only
    images of the same file were compared). The rest of the run goes on. On darktable 4.2 they also skip NAME.EXT
    and its copies while a file NAME_NN.EXT with a sidecar is in the library: the reload, an import of NAME.EXT,
    reads NAME_NN.EXT.xmp as NAME.EXT's copy NN. Training leaves out the second of two such images selected together
    (the sidecar darktable writes for it would replace the first's history before training reads it).
]]

local dt = require("darktable")
--: the JSON codec (the CLI's --json output in, recipes out), installed as lua/autoretouch/json.lua; the other
--: modules of autoretouch/ hold the plug-in's parts, by role (see the module list above).
local json = require("autoretouch/json")
local constants = require("autoretouch/constants")
local strings = require("autoretouch/strings")
local shell = require("autoretouch/shell")
local settings = require("autoretouch/settings")
local commands = require("autoretouch/commands")
local state = require("autoretouch/state")
local daemon = require("autoretouch/daemon")
local virtual_copies = require("autoretouch/virtual_copies")
local apply = require("autoretouch/apply")
local preview = require("autoretouch/preview")
local check = require("autoretouch/check")
local train = require("autoretouch/train")
local user_text = require("autoretouch/text")

local msg = strings.msg
local apply_to_images = apply.apply_to_images

local ACTION_NAME = "autoretouch_apply"
local REVERT_ACTION_NAME = "autoretouch_revert"
local TRAIN_ACTION_NAME = "autoretouch_train"
local CHECK_ACTION_NAME = "autoretouch_check"
local PREVIEW_ACTION_NAME = "autoretouch_preview"
local DISCARD_ACTION_NAME = "autoretouch_discard_previews"
local CHOSEN_ACTION_NAME = "autoretouch_apply_chosen_preview"

local SHORTCUT_EVENT = "autoretouch_shortcut"
--: darktable 4.2 (Lua API 9.0.0) is the oldest release that reads the module versions autoretouch writes.
local MIN_API_VERSION = "9.0.0"

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

--- The lighttable's buttons ("selected image[s]"), in their order: the action's name, the key of its label and
--- tooltip messages (KEY_label, KEY_tooltip), and what it runs on the images.
local ACTIONS = {
  { name = ACTION_NAME, key = "action", run = apply_to_images },
  { name = PREVIEW_ACTION_NAME, key = "preview", run = preview.preview_images },
  { name = CHOSEN_ACTION_NAME, key = "chosen", run = apply.apply_chosen_previews },
  { name = DISCARD_ACTION_NAME, key = "discard", run = function(_images)
    preview.discard_previews()
  end },
  { name = REVERT_ACTION_NAME, key = "revert", run = apply.revert_images },
  { name = TRAIN_ACTION_NAME, key = "train", run = train.train_from_images },
  { name = CHECK_ACTION_NAME, key = "check", run = function(_images)
    check.check_autoretouch()
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
  daemon.stop_own_daemon()
  if state.exit_hooked then
    dt.destroy_event(constants.EXIT_EVENT, "exit")
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

settings.register_preferences()
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

--- Public: retouch images from other scripts (see apply_to_images in autoretouch/apply.lua), or revert them.
script_data.apply_to_images = apply_to_images
script_data.revert_images = apply.revert_images
script_data.preview_images = preview.preview_images
script_data.discard_previews = preview.discard_previews
script_data.apply_chosen_previews = apply.apply_chosen_previews
script_data.train_from_images = train.train_from_images
script_data.check_autoretouch = check.check_autoretouch

--- Internals, for the specs and for scripts that build their own commands.
script_data.internals = {
  shell_quote = shell.shell_quote,
  command_line = shell.command_line,
  json_decode = json.decode,
  json_encode = json.encode,
  NULL = json.NULL,
  version_at_least = version_at_least,
  read_settings = settings.read_settings,
  apply_argv = commands.apply_argv,
  revert_argv = commands.revert_argv,
  suggest_argv = commands.suggest_argv,
  recipe_apply_argv = commands.recipe_apply_argv,
  preview_recipe_path = virtual_copies.preview_recipe_path,
  preview_mark = virtual_copies.preview_mark,
  is_preview_copy = virtual_copies.is_preview_copy,
  PREVIEW_TAG = constants.PREVIEW_TAG,
  train_argv = commands.train_argv,
  styles_argv = commands.styles_argv,
  serve_argv = commands.serve_argv,
  background_start_line = shell.background_start_line,
  root_set = daemon.root_set,
  process_alive = daemon.process_alive,
  stop_own_daemon = daemon.stop_own_daemon,
  daemon_timing = constants.DAEMON_TIMING,
  background_line = train.background_line,
  stop_training = train.stop_training,
  exit_status = shell.exit_status,
  printable = user_text.printable,
  messages = strings.MSG,
  state = state,
}

return script_data

