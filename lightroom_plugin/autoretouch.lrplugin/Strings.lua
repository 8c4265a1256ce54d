--[[----------------------------------------------------------------------------
Strings.lua -- every text the user sees, in one place, each through LOC so that
Lightroom can translate it ("$$$/Autoretouch/<Key>=English default").

Plain entries are strings; entries that take values are functions (LOC
substitutes ^1, ^2, ..., given as strings). Sentences are joined with "\n" by the callers, never
inside a LOC text. Info.lua cannot load modules, so it repeats the three LOC
texts it needs with the same keys (a spec checks they agree).
------------------------------------------------------------------------------]]

local S = {}

--- A text that takes values: a function of as many values as the text has ^1, ^2, ..., which LOC fills in
-- (each value through tostring).
local function filled(text)
  local count = 0
  for n in text:gmatch("%^(%d)") do
    count = math.max(count, tonumber(n))
  end
  return function(...)
    local values = { ... }
    for i = 1, count do
      values[i] = tostring(values[i])
    end
    return LOC(text, unpack(values, 1, count))
  end
end

-- Plug-in and menus ----------------------------------------------------------

S.pluginName = LOC "$$$/Autoretouch/PluginName=autoretouch"
S.menuApply = LOC "$$$/Autoretouch/Menu/Apply=Auto-retouch (learned style)"
S.menuSidecars = LOC "$$$/Autoretouch/Menu/Sidecars=Write XMP sidecars for selection"
S.menuRevert = LOC "$$$/Autoretouch/Menu/Revert=Revert auto-retouch"
S.menuTrain = LOC "$$$/Autoretouch/Menu/Train=Train style from selected photos..."

-- Catalog history -------------------------------------------------------------

S.undoName = LOC "$$$/Autoretouch/Undo=Auto-retouch"
S.revertUndoName = LOC "$$$/Autoretouch/RevertUndo=Revert auto-retouch"
--- The develop snapshot taken before a photo's first auto-retouch (Revert auto-retouch returns to it) is named
-- with this text and then S.snapshotTag, which no translation changes: Revert finds the snapshot by the tag,
-- whatever language Lightroom spoke when it was taken.
S.snapshotText = LOC "$$$/Autoretouch/Snapshot=Before auto-retouch"
--- Not translated (see S.snapshotText).
S.snapshotTag = "[autoretouch]"
S.snapshotName = S.snapshotText .. " " .. S.snapshotTag
--- The names versions before the tag gave the snapshot: the text alone, in English (they shipped no translation)
-- or translated. Revert and a new auto-retouch still find those, but only on a photo that carries the plug-in's
-- record of an earlier apply (ApplyFlow.findSnapshot): a user's own snapshot of that name is left alone.
S.untaggedSnapshotNames = { "Before auto-retouch", S.snapshotText }

S.historyName = filled "$$$/Autoretouch/History=Auto-retouch: ^1"

-- Options dialogs -------------------------------------------------------------

S.applyDialogTitle = LOC "$$$/Autoretouch/Apply/Title=Auto-retouch (learned style)"
S.styleLabel = LOC "$$$/Autoretouch/Dialog/Style=Style:"
S.strengthLabel = LOC "$$$/Autoretouch/Dialog/Strength=Strength (%):"
S.applyVerb = LOC "$$$/Autoretouch/Apply/Verb=Apply"
S.cancelVerb = LOC "$$$/Autoretouch/Dialog/Cancel=Cancel"

S.applyToAll = filled "$$$/Autoretouch/Apply/All=Apply to all selected (^1)"

S.previewVerb = LOC "$$$/Autoretouch/Preview/Verb=Preview"
S.previewBefore = LOC "$$$/Autoretouch/Preview/Before=Before"
S.previewAfter = LOC "$$$/Autoretouch/Preview/After=After"
S.variantLabel = LOC "$$$/Autoretouch/Preview/Variant=Variant:"
S.mixLabel = LOC "$$$/Autoretouch/Preview/Mix=Mix with:"
S.mixNone = LOC "$$$/Autoretouch/Preview/MixNone=(no mix)"
S.mixWeightLabel = LOC "$$$/Autoretouch/Preview/MixWeight=Share of the first style (%):"
S.previewHint = LOC "$$$/Autoretouch/Preview/Hint=Preview renders the first selected photo; strength and variant then switch pictures at once."
S.previewLoading = LOC "$$$/Autoretouch/Preview/Loading=Rendering the preview..."
S.previewStale = LOC "$$$/Autoretouch/Preview/Stale=The style changed: press Preview again."

function S.variantItem(k)
  if k == 1 then
    return LOC "$$$/Autoretouch/Preview/VariantMain=1 (the style's own choice)"
  end
  return LOC("$$$/Autoretouch/Preview/VariantK=^1 (an alternative)", tostring(k))
end

S.previewFailed = filled "$$$/Autoretouch/Preview/Failed=No preview: ^1"

S.sidecarsDialogTitle = LOC "$$$/Autoretouch/Sidecars/Title=Write XMP sidecars"
S.overwriteLabel = LOC "$$$/Autoretouch/Sidecars/Overwrite=Replace existing develop settings in the sidecars"
S.writeVerb = LOC "$$$/Autoretouch/Sidecars/Verb=Write"

S.sidecarsCount = filled "$$$/Autoretouch/Sidecars/Count=^1 selected photos (Lightroom sidecars, raw files only)"

S.trainDialogTitle = LOC "$$$/Autoretouch/Train/Title=Train a style from the selected photos"
S.trainNameLabel = LOC "$$$/Autoretouch/Train/Name=Style name:"
S.trainMinutesLabel = LOC "$$$/Autoretouch/Train/Minutes=Minutes:"
S.trainHint = LOC "$$$/Autoretouch/Train/Hint=Each photo's own develop settings are the edit to learn; the style is checked on photos it did not see and installed only if it beats doing nothing."
S.trainVerb = LOC "$$$/Autoretouch/Train/Verb=Train"
S.badStyleName = LOC "$$$/Autoretouch/Train/BadName=A style name uses letters, digits, '_', '.' and '-' (at most 64), and starts with a letter or digit."

S.trainCount = filled "$$$/Autoretouch/Train/Count=^1 selected photos (their originals and develop settings)"

S.trainDescription = filled "$$$/Autoretouch/Train/Description=learnt in Lightroom from ^1 edited photos"

S.noPhotos = LOC "$$$/Autoretouch/NoPhotos=Select one or more photos first."
S.noStylesTitle = LOC "$$$/Autoretouch/NoStyles/Title=No usable style"
S.noStylesInfo = LOC "$$$/Autoretouch/NoStyles/Info=The daemon knows no style it can use. Check `autoretouch styles` in a terminal."

-- Progress --------------------------------------------------------------------

S.progressApply = filled "$$$/Autoretouch/Progress/Apply=Auto-retouch: ^1"

S.progressSidecars = LOC "$$$/Autoretouch/Progress/Sidecars=Writing XMP sidecars"
S.progressRevert = LOC "$$$/Autoretouch/Progress/Revert=Reverting auto-retouch"

S.progressTrain = filled "$$$/Autoretouch/Progress/Train=Training style ^1"

S.trainCaption = filled "$$$/Autoretouch/Progress/TrainCaption=^1: step ^2 of ^3"
S.progressStarting = LOC "$$$/Autoretouch/Progress/Starting=Starting the autoretouch daemon"

S.progressCaption = filled "$$$/Autoretouch/Progress/Caption=^1 of ^2 photos"

-- Summaries -------------------------------------------------------------------

S.summaryTitle = LOC "$$$/Autoretouch/Summary/Title=Auto-retouch finished"

S.summaryApplied = filled "$$$/Autoretouch/Summary/Applied=Applied to ^1 of ^2 photos."

S.summaryUnchanged = filled "$$$/Autoretouch/Summary/Unchanged=^1 photos needed no change."

S.summaryFailed = filled "$$$/Autoretouch/Summary/Failed=^1 photos failed:"

S.summaryItem = filled "$$$/Autoretouch/Summary/Item=^1: ^2"

S.summaryMore = filled "$$$/Autoretouch/Summary/More=... and ^1 more (see the plug-in log)."

S.summaryDropped = filled "$$$/Autoretouch/Summary/Dropped=Not applied (not in the slider catalog): ^1"

S.summaryCanceled = filled "$$$/Autoretouch/Summary/Canceled=Canceled: ^1 photos were not processed."

S.summaryUpdated = filled "$$$/Autoretouch/Summary/Updated=^1 photos were updated to process version 5 first:"

S.updatedProcessVersion = filled "$$$/Autoretouch/Summary/UpdatedFrom=was process version ^1"

S.summaryMismatches = filled "$$$/Autoretouch/Summary/Mismatches=On ^1 photos Lightroom kept other values than were sent:"

S.mismatchKey = filled "$$$/Autoretouch/Summary/MismatchKey=^1 sent ^2, now ^3"

S.summaryNoSnapshotApi = LOC "$$$/Autoretouch/Summary/NoSnapshotApi=This Lightroom has no develop-snapshot API, so no 'Before auto-retouch' snapshot was made; use Edit > Undo to take the run back."

S.trainSummaryTitle = LOC "$$$/Autoretouch/Train/Summary/Title=Style training finished"

S.trainInstalled = filled "$$$/Autoretouch/Train/Summary/Installed=The style ^1 learnt from ^2 photos (^3 steps) and is in the style list now."

S.trainRejected = filled "$$$/Autoretouch/Train/Summary/Rejected=The style ^1 was trained but not installed:"

S.trainFailed = filled "$$$/Autoretouch/Train/Summary/Failed=The style ^1 could not be trained:"

S.trainSkipped = filled "$$$/Autoretouch/Train/Summary/Skipped=^1 photos were left out:"

S.trainNote = filled "$$$/Autoretouch/Train/Summary/Note=Note: ^1"

S.trainNoteCut = filled "$$$/Autoretouch/Train/Summary/NoteCut=^1 ... (the whole note is in the plug-in log)"

S.trainMoreNotes = filled "$$$/Autoretouch/Train/Summary/MoreNotes=^1 more notes in the plug-in log (autoretouch.log in Lightroom's log folder)."

S.trainCancelled = LOC "$$$/Autoretouch/Train/Summary/Cancelled=Training cancelled; nothing was installed."
S.trainNothing = LOC "$$$/Autoretouch/Train/Summary/Nothing=None of the selected photos can be learnt from."
S.trainFailedUnknown = LOC "$$$/Autoretouch/Train/Summary/Unknown=the daemon gave no reason"
S.trainNoSettings = LOC "$$$/Autoretouch/Train/NoSettings=no develop settings"

S.trainOldProcessVersion = filled "$$$/Autoretouch/Train/OldProcessVersion=process version ^1 (only 2012 and later are learnt from)"

S.revertSummaryTitle = LOC "$$$/Autoretouch/Revert/Title=Revert auto-retouch finished"

S.revertSummary = filled "$$$/Autoretouch/Revert/Reverted=Returned ^1 of ^2 photos to their 'Before auto-retouch' snapshot."

S.revertNoSnapshot = filled "$$$/Autoretouch/Revert/NoSnapshot=^1 photos have no 'Before auto-retouch' snapshot (not auto-retouched, or already reverted)."

S.revertNoApi = LOC "$$$/Autoretouch/Revert/NoApi=This Lightroom has no develop-snapshot API; use Edit > Undo or the photo's History panel instead."

S.summaryStopped = LOC "$$$/Autoretouch/Summary/Stopped=The daemon stopped answering; the remaining photos were not processed."

S.sidecarsSummaryTitle = LOC "$$$/Autoretouch/Sidecars/Summary/Title=XMP sidecars"

S.sidecarsSummary = filled "$$$/Autoretouch/Sidecars/Summary/Counts=Written: ^1, skipped: ^2, failed: ^3."
S.sidecarsSummaryRemoved = filled "$$$/Autoretouch/Sidecars/Summary/CountsRemoved=Written: ^1, removed: ^2, skipped: ^3, failed: ^4."
S.sidecarsRemovedNote = LOC "$$$/Autoretouch/Sidecars/Summary/RemovedNote=Removed: sidecars autoretouch had created, deleted again once its edit was taken out (strength 0 with Replace)."

S.sidecarsSkippedHeader = LOC "$$$/Autoretouch/Sidecars/Summary/Skipped=Skipped:"
S.sidecarsFailedHeader = LOC "$$$/Autoretouch/Sidecars/Summary/FailedHeader=Failed:"
S.sidecarsReadHint = LOC "$$$/Autoretouch/Sidecars/Summary/Hint=Lightroom reads a sidecar at import, or for photos already in the catalog with Metadata > Read Metadata from Files."

-- Daemon down / start ---------------------------------------------------------

S.daemonDownTitle = LOC "$$$/Autoretouch/Down/Title=The autoretouch daemon is not running"

S.daemonDownNoAnswer = filled "$$$/Autoretouch/Down/NoAnswer=Nothing answers at ^1."

S.daemonDownHowTo = LOC "$$$/Autoretouch/Down/HowTo=Start it in a terminal with:"
S.daemonDownButton = LOC "$$$/Autoretouch/Down/ButtonHint=or click Start daemon to run that command now."
S.startDaemonVerb = LOC "$$$/Autoretouch/Down/Start=Start daemon"
S.startFailedTitle = LOC "$$$/Autoretouch/Start/FailedTitle=The daemon did not start"

S.startFailedTimeout = filled "$$$/Autoretouch/Start/Timeout=No answer after ^1 seconds."

S.startFailedLog = filled "$$$/Autoretouch/Start/Log=Its output is in ^1"

S.startFailedWindow = LOC "$$$/Autoretouch/Start/Window=Its output is in the daemon's own window."

S.startFailedMissing = filled "$$$/Autoretouch/Start/Missing=There is no autoretouch program at ^1."

S.startFailedNotFound = filled "$$$/Autoretouch/Start/NotFound=Lightroom finds no program named ^1 (it does not see your terminal's PATH)."

S.startFailedExited = filled "$$$/Autoretouch/Start/Exited=The daemon stopped at once (exit status ^1). Its last output:"

S.startFailedStatus = filled "$$$/Autoretouch/Start/Status=The start command ended with status ^1."

S.cannotPassToCmd = filled "$$$/Autoretouch/Start/CannotPass=cannot pass ^1 to cmd.exe (contains \", % or a line break)"

S.startFailedPath = LOC "$$$/Autoretouch/Start/Path=Set the full path of the autoretouch program in File > Plug-in Manager > autoretouch."
S.notServing = LOC "$$$/Autoretouch/NotServing=The daemon is running but not ready yet (it is loading its styles). Try again in a moment."
S.authTitle = LOC "$$$/Autoretouch/Auth/Title=The daemon refused the token"
S.authInfo = LOC "$$$/Autoretouch/Auth/Info=Enter the token given to `autoretouch serve --token` in File > Plug-in Manager > autoretouch."
S.daemonErrorTitle = LOC "$$$/Autoretouch/Error/Title=The daemon reported an error"

-- Error messages (per photo and per call) -------------------------------------

S.errorDown = filled "$$$/Autoretouch/Error/Down=no answer from the daemon at ^1"

S.errorTimeout = filled "$$$/Autoretouch/Error/Timeout=the daemon did not answer within ^1 seconds"

S.errorNetwork = filled "$$$/Autoretouch/Error/Network=network error (^1)"

S.errorHttp = filled "$$$/Autoretouch/Error/Http=HTTP ^1: ^2"

S.errorBadAnswer = LOC "$$$/Autoretouch/Error/BadAnswer=the daemon's answer could not be read"
S.errorNoSettings = LOC "$$$/Autoretouch/Error/NoSettings=the daemon returned no Lightroom settings"
S.errorNoPreview = LOC "$$$/Autoretouch/Error/NoPreview=the daemon returned no preview images"
S.errorPreviewFolder = filled "$$$/Autoretouch/Error/PreviewFolder=could not create the folder ^1"
S.errorCatalogBusy = LOC "$$$/Autoretouch/Error/CatalogBusy=the catalog was busy; nothing was written"
S.errorVideo = LOC "$$$/Autoretouch/Error/Video=videos cannot be retouched"
S.errorOldProcessVersion = filled "$$$/Autoretouch/Error/OldProcessVersion=process version ^1 is older than 2012, whose controls the style sets; update it in Develop > Settings > Process, or choose 'update them' in File > Plug-in Manager > autoretouch"

S.errorNoPath = LOC "$$$/Autoretouch/Error/NoPath=the photo has no file path (missing or offline?)"

-- Plug-in Manager -------------------------------------------------------------

S.settingsSection = LOC "$$$/Autoretouch/Settings/Section=Daemon connection"
S.urlLabel = LOC "$$$/Autoretouch/Settings/Url=Daemon URL:"
S.tokenLabel = LOC "$$$/Autoretouch/Settings/Token=Token:"
S.commandLabel = LOC "$$$/Autoretouch/Settings/Command=autoretouch program:"
S.rootsLabel = LOC "$$$/Autoretouch/Settings/Roots=Photo folders:"
S.rootsHint = LOC "$$$/Autoretouch/Settings/RootsHint=Folders the started daemon may read (--root), separated by ;. Empty: the catalog's top-level folders."
S.processVersionLabel = LOC "$$$/Autoretouch/Settings/ProcessVersion=Photos in an older process version:"
S.processVersionRefuse = LOC "$$$/Autoretouch/Settings/ProcessVersionRefuse=leave them alone (report them)"
S.processVersionUpdate = LOC "$$$/Autoretouch/Settings/ProcessVersionUpdate=update them to process version 5, then apply"
S.testConnection = LOC "$$$/Autoretouch/Settings/Test=Test connection"
S.testing = LOC "$$$/Autoretouch/Settings/Testing=Testing..."
S.logHint = LOC "$$$/Autoretouch/Settings/Log=The plug-in logs to autoretouch.log in Lightroom's log folder."

S.connected = filled "$$$/Autoretouch/Settings/Connected=Connected to autoretouch ^1; ^2 usable styles."

S.connectionFailed = filled "$$$/Autoretouch/Settings/Failed=Not connected: ^1"

return S
