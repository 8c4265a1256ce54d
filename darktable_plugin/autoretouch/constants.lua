--[[
  autoretouch/constants.lua: constants shared by the plug-in's modules (names, limits, timings) ]]

local MODULE = "autoretouch"

--: the tag that marks the plug-in's preview copies; only virtual copies carrying it are ever deleted.
local PREVIEW_TAG = MODULE .. "|preview"
--: each preview copy's recipe (what suggest returned for it) is kept in darktable's cache folder as
--: PREFIX<copy id>.json, for "apply chosen preview"; removed with the copy.
local PREVIEW_RECIPE_PREFIX = "autoretouch-preview-"
--: backups of the sidecars a new preview copy could take, in darktable's cache folder: PREFIX<time>-<n>-<n>-<sidecar
--: name>; removed once the copy is made, kept when a sidecar could not be put back (the message names it).
local SIDECAR_BACKUP_PREFIX = "autoretouch-sidecar-backup-"
--: the sidecar numbers (NAME_NN.EXT.xmp) always probed (and backed up when a file is there) before a preview copy
--: is made: every two-digit one; higher numbers only up to the copies' own count (see preview.lua unused_copy).
local SIDECAR_PROBE_MAX = 99

--: photos sent to one `autoretouch apply` call (one start-up for several photos; cancel acts between calls).
local BATCH_SIZE = 8
--: the style `autoretouch` uses when none is named (the empty style preference).
local DEFAULT_STYLE = "default"
--: longest piece of the CLI's error output quoted in a message, in characters.
local MAX_REASON_CHARS = 300
--: the notes autoretouch gave for the images it changed that a run's message shows (the rest: the Lua log).
local MAX_NOTES_SHOWN = 3
--: longest note of a training (photos it left out, and why) a message shows, in bytes (the whole note: the Lua log).
local MAX_NOTE_CHARS = 200
--: the address the plug-in's own daemon listens on (`autoretouch serve` binds loopback by default).
local LOOPBACK = "127.0.0.1"
--: the started daemon's output, in darktable's cache folder.
local DAEMON_LOG_NAME = "autoretouch-daemon.log"
--: the run folders of trainings run by the command line (not a daemon), in darktable's cache folder: RUNS_DIR/NAME,
--: then RUNS_DIR/NAME-2, ... (`train --runs-dir`).
local RUNS_DIR = "autoretouch/runs"
--: the CLI's exit statuses for a call a daemon refuses as a whole, writing nothing: a style it has not loaded
--: (NotFoundError: installed after it started?) and a path outside its --root folders (PermissionDeniedError).
local EXIT_NOT_FOUND, EXIT_OUTSIDE_ROOTS = 6, 7
--: the CLI's exit status for a usage error (an option it does not know: an older autoretouch).
local EXIT_USAGE = 2
--: the "exit" event registration that stops the started daemon when darktable quits.
local EXIT_EVENT = "autoretouch_exit"
--: how long a started daemon may take to answer (s), how often it is asked (ms), how long a stopped one may
--: take to free its port before it is started again (s). A table, so that the specs can shorten the waits.
local DAEMON_TIMING = { start_wait_s = 30, poll_ms = 500, stop_wait_s = 10 }

return {
  MODULE = MODULE,
  PREVIEW_TAG = PREVIEW_TAG,
  PREVIEW_RECIPE_PREFIX = PREVIEW_RECIPE_PREFIX,
  SIDECAR_BACKUP_PREFIX = SIDECAR_BACKUP_PREFIX,
  SIDECAR_PROBE_MAX = SIDECAR_PROBE_MAX,
  BATCH_SIZE = BATCH_SIZE,
  DEFAULT_STYLE = DEFAULT_STYLE,
  MAX_REASON_CHARS = MAX_REASON_CHARS,
  MAX_NOTES_SHOWN = MAX_NOTES_SHOWN,
  MAX_NOTE_CHARS = MAX_NOTE_CHARS,
  LOOPBACK = LOOPBACK,
  DAEMON_LOG_NAME = DAEMON_LOG_NAME,
  RUNS_DIR = RUNS_DIR,
  EXIT_NOT_FOUND = EXIT_NOT_FOUND,
  EXIT_OUTSIDE_ROOTS = EXIT_OUTSIDE_ROOTS,
  EXIT_USAGE = EXIT_USAGE,
  EXIT_EVENT = EXIT_EVENT,
  DAEMON_TIMING = DAEMON_TIMING,
}
