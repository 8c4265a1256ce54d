--[[
  autoretouch/strings.lua: strings: every text shown to the user lives here (translated through gettext, formatted
  after translation) ]]

local dt = require("darktable")
local constants = require("autoretouch/constants")


local gettext = dt.gettext
pcall(gettext.bindtextdomain, constants.MODULE, dt.configuration.config_dir .. "/lua/locale/")

local function _(msgid)
  return gettext.dgettext(constants.MODULE, msgid)
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
  train_same_sidecar_name = "its history is in the same sidecar (%s) as that of %s, which is trained on (darktable "
    .. "names a virtual copy's sidecar NAME_NN.EXT.xmp, as it names that of a file called NAME_NN.EXT): left out",
  train_installed = "train style: '%s' learnt from %d images (%d steps) and is installed",
  train_rejected = "train style: '%s' was trained but not installed: %s",
  train_failed = "train style: '%s' could not be trained: %s",
  train_cancelled = "train style: cancelled; nothing was installed",
  train_no_run_dir = "train style: darktable has no cache folder (%s) to keep the training's run folder in",
  train_kept_in = " (it stays in its run folder, %s)",
  train_runs_dir_unsupported = "this autoretouch is too old to keep its run folders in darktable's cache folder: its "
    .. "train has no --runs-dir; update autoretouch (%s)",
  train_copies_unsupported = "this autoretouch is too old to train on a virtual copy: it takes the copy's sidecar "
    .. "for a photo's; update autoretouch, or select the originals only (%s)",
  train_skipped = "%d images left out, first: %s",
  train_note = "note: %s",
  train_note_cut = " ... (the whole note is in darktable's Lua log)",
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
  pref_strength_tooltip = "0 = no change (an earlier autoretouch edit is taken out), 1 = the full style",
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
  reload_needs_sidecars = "darktable writes no sidecars here, and darktable 4.2 re-reads one only by importing the "
    .. "image's file again, which also puts the older sidecars of the original and its virtual copies back over their "
    .. "edits: set preferences > storage > 'write sidecar file for each image' to 'on import' or 'after edit'",
  original_not_in_library = "the original image of this virtual copy is not in darktable's library, and darktable "
    .. "4.2 re-reads a copy's sidecar only by importing the original's file again, which would make this copy the "
    .. "original, with the original's sidecar: not changed",
  original_no_sidecar = "the original image of this virtual copy has no sidecar (%s; darktable writes one only "
    .. "after an edit with 'write sidecar file for each image' set to 'after edit'), and darktable 4.2 re-reads a "
    .. "copy's sidecar only by importing the original's file again, which would then give the original this copy's "
    .. "sidecar and number: not changed; edit the original first (any change, e.g. a tag), or set that preference to "
    .. "'on import'",
  unusual_sidecar = "darktable keeps this image's history in '%s', not where darktable 4.2 names it (%s)",
  wrong_sidecar = "autoretouch wrote '%s', not this image's sidecar '%s' (an autoretouch or daemon without "
    .. "virtual copy support?); not reloaded",
  missing_file = "the image file is missing",
  film_unreadable = "could not list the images of this file in darktable's library: %s",
  shared_sidecar = "another image of this file in darktable's library has the same version number (%d), so both "
    .. "keep their history in one sidecar, %s: not changed",
  shared_sidecar_name = "%s and %s, both in darktable's library, keep their history in one sidecar, %s (darktable "
    .. "names a virtual copy's sidecar NAME_NN.EXT.xmp, as it names that of a file called NAME_NN.EXT), so writing it "
    .. "for the one would write over the other's history: not changed",
  reimport_reads_other = "this darktable (before 5.2) re-reads a changed sidecar only by importing %s again, which "
    .. "also reads %s, the sidecar of the file %s in darktable's library, as that of this file's %s (its import reads "
    .. "each NAME_<digits>.EXT.xmp beside NAME.EXT as the sidecar of version <digits>), and so would give that file's "
    .. "history to it: not changed",
  reimport_as_copy = "virtual copy %d",
  reimport_as_original = "original (version 0)",
  copy_glob_folder = "this darktable (before 5.2) re-reads a virtual copy's sidecar only by importing the file again, "
    .. "and that import finds no copy's sidecar when the file's path has a bracket pattern ([...]) or a backslash, as "
    .. "%s has: the copy's history would stay as it was, and darktable's next write would replace the change; not "
    .. "changed: rename the folder (or the file), or use the original",
  sidecar_not_written = "darktable did not write this image's sidecar, so its history could be lost: set "
    .. "preferences > storage > 'write sidecar file for each image' to 'on import' or 'after edit'",
  sync_failed = "could not make darktable write the sidecar: %s",
  preview_sidecar_not_written = "darktable did not write this image's sidecar, so the suggestion would be built on "
    .. "an older history: set preferences > storage > 'write sidecar file for each image' to 'on import' or 'after "
    .. "edit'",
  preview_same_sidecar = "its history is in the same sidecar (%s) as that of %s, which is previewed (the image "
    .. "selected twice, or darktable gave two images of this file the same version number): not previewed again",
  preview_same_sidecar_name = "its history is in the same sidecar (%s) as that of %s, which is previewed (darktable "
    .. "names a virtual copy's sidecar NAME_NN.EXT.xmp, as it names that of a file called NAME_NN.EXT): not previewed "
    .. "again",
  reload_failed = "sidecar written but darktable could not reload it: %s",
  not_reloaded = "sidecar written but not reloaded: darktable is shutting down",
  cancelled = "cancelled",
  summary = "auto-retouch: %d retouched, %d skipped, %d failed",
  summary_cancelled = "auto-retouch cancelled: %d retouched, %d skipped, %d failed, %d not done",
  first_problem = "%s: %s",
  image_version = "%s (version %d)",
  summary_note = "note, %s: %s",
  summary_more_notes = "%d more notes in darktable's Lua log (start darktable with -d lua to see it)",
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
  bad_mix = "auto-retouch: the style mix must read STYLE:WEIGHT,STYLE:WEIGHT (e.g. warm:0.7,film:0.3), got "
    .. "'%s': %s",
  bad_mix_entry = "the entry '%s' is not STYLE:WEIGHT",
  bad_mix_weight = "the weight of the entry '%s' is not a finite number of 0 or more",
  bad_mix_twice = "the style '%s' is named twice",
  bad_mix_total = "the weights must add up to a finite number above 0",
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
  preview_nothing = "auto-retouch preview: nothing to preview; %s",
  preview_summary = "auto-retouch preview: %d copies of %d images (style %s, strength %s); %d previous copies removed",
  preview_failed = "auto-retouch preview: %s",
  preview_style_missing = "darktable did not import the style file %s",
  preview_copy_failed = "could not make the preview copy: %s",
  preview_no_free_version = "darktable kept giving the new virtual copy a version number another image of this "
    .. "file has (last %d)",
  preview_version_taken = "darktable gave the new virtual copy the version number %d, which another image of this "
    .. "file has (its sidecar %s); that copy was removed, %s",
  preview_sidecar_restored = "the sidecar restored",
  preview_sidecar_not_restored = "the sidecar not restored (not attempted: darktable named the copy's sidecar "
    .. "otherwise)",
  preview_no_backup_folder = "preview stopped: darktable has no cache folder to back up the sidecar %s in before "
    .. "making a virtual copy",
  preview_backup_failed = "preview stopped: could not back up the sidecar %s to %s before making a virtual copy: %s",
  preview_restore_failed = "preview stopped: darktable gave the new virtual copy the version number %d, which "
    .. "another image of this file has, and wrote over its sidecar %s; putting it back failed (%s): its content "
    .. "before is in the backup %s",
  preview_copy_not_deleted = "preview stopped: darktable gave the new virtual copy the version number %d, which "
    .. "another image of this file has (its sidecar %s), and the copy could not be deleted again (%s): delete it "
    .. "yourself; the sidecar's content before is in the backup %s",
  preview_duplicate_unsupported = "this autoretouch is too old to preview a virtual copy (version %d) on the copy's "
    .. "own history: its suggest has no --duplicate; update autoretouch (%s)",
  preview_dir_failed = "could not make a temporary folder for the style files",
  preview_dir_not_removed = "could not remove this temporary folder",
  no_cache_folder = "darktable has no cache folder",
  preview_discarded = "auto-retouch: %d preview copies removed",
  previews_removed = "; %d preview copies removed",
  previews_kept = "; kept %d preview copies you edited",
  previews_unchecked = "; kept %d preview copies it cannot check for edits (darktable wrote no sidecar for them, or "
    .. "their record is gone): 'discard previews' deletes them",
  preview_never_note = "note: darktable writes no sidecars here (preferences > storage > 'write sidecar file for "
    .. "each image': never), so the plug-in cannot tell whether you edit these copies: a new preview keeps them, "
    .. "'discard previews' deletes them",
  preview_never_chosen = "; and 'apply chosen preview' cannot apply them (darktable 4.2 re-reads a sidecar only by "
    .. "importing the image's file again, which would put older sidecars back)",
  log_kept_edited = "preview copy edited since the preview",
  log_kept_unchecked = "preview copy not checked for edits: no sidecar, or no record of it",
  log_kept_sidecar = "not recognised as the preview copy's sidecar",
  preview_title = "autoretouch preview %d: %s, strength %s",
  preview_recipe_not_kept = "could not keep the recipe of preview copy %s in %s: %s",
  chosen_label = "apply chosen preview",
  chosen_tooltip = "apply the edit each selected preview copy shows (one copy per image) to the image it was made "
    .. "from, replacing an earlier auto-retouch (your own history stays); then its unedited preview copies are deleted",
  chosen_job_label = "auto-retouch: apply chosen preview",
  chosen_none = "auto-retouch: select the preview copies to apply (made by 'preview on virtual copies')",
  chosen_two = "auto-retouch: %d preview copies of %s are chosen; select one copy per image",
  chosen_which = "auto-retouch: %s has %d preview copies; select the one to apply",
  chosen_recipe_missing = "the recipe of its preview copy is gone (the cache folder was cleared, or the copy was "
    .. "made by an older plug-in?): preview again",
  chosen_no_original = "the image its preview copy was made from is not in darktable's library any more",
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

return {
  MSG = MSG,
  msg = msg,
}
