--[[----------------------------------------------------------------------------
Main.lua -- the commands, run inside LrTasks.startAsyncTask by the menu
scripts: check the daemon, ask for options, run the flow with a cancellable
LrProgressScope, show a summary. Revert needs no daemon.
------------------------------------------------------------------------------]]

local LrApplication = import "LrApplication"
local LrDialogs = import "LrDialogs"
local LrFunctionContext = import "LrFunctionContext"
local LrProgressScope = import "LrProgressScope"

local ApplyFlow = require("ApplyFlow")
local Config = require("Config")
local Daemon = require("Daemon")
local DaemonClient = require("DaemonClient")
local Dialogs = require("Dialogs")
local S = require("Strings")
local SidecarFlow = require("SidecarFlow")
local TrainFlow = require("TrainFlow")
local PreviewFlow = require("PreviewFlow")
local RevertFlow = require("RevertFlow")
local Whitelist = require("Whitelist")

local Main = {}

--- The active catalog and its selected photos; nil after telling the user to select some.
-- @return LrCatalog, list of LrPhoto; or nil
local function selection()
  local catalog = LrApplication.activeCatalog()
  local photos = catalog:getTargetPhotos()
  if #photos == 0 then
    LrDialogs.message(S.noPhotos)
    return nil
  end
  return catalog, photos
end

--- Selection, settings, a serving daemon and its styles; nil after telling the user why not.
-- @param context LrFunctionContext
-- @return table { catalog, photos, config, client, styles } or nil
function Main.prepare(context)
  local catalog, photos = selection()
  if not catalog then
    return nil
  end
  local config = Config.load()
  local client = DaemonClient.new { url = config.url, token = config.token, timeout = Config.TIMEOUT_S }
  local function roots()
    return Daemon.roots(config, catalog, photos)
  end
  if not Daemon.ensure(client, config, roots, context) then
    return nil
  end
  local styles, err = client:listStyles()
  if not styles then
    Dialogs.daemonError(err)
    return nil
  end
  if #styles.names == 0 then
    LrDialogs.message(S.noStylesTitle, S.noStylesInfo, "critical")
    return nil
  end
  return { catalog = catalog, photos = photos, config = config, client = client, styles = styles }
end

--- Runs a command in a function context once Main.prepare has found the selection and a serving daemon.
-- @param name the function context's name
-- @param command function(context, env) with env from Main.prepare
local function withDaemon(name, command)
  LrFunctionContext.callWithContext(name, function(context)
    local env = Main.prepare(context)
    if env then
      command(context, env)
    end
  end)
end

--- Runs a flow under a cancellable progress scope (args.progress), which is done when the flow returns.
-- @param flow a module with run(args) -> summary
-- @return the flow's summary
local function runWithProgress(context, title, flow, args)
  local progress = LrProgressScope { title = title, functionContext = context }
  progress:setCancelable(true)
  args.progress = progress
  local summary = flow.run(args)
  progress:done()
  return summary
end

--- Explains a refused token when that is what stopped a run.
-- @param stopped error table that ended the run, or nil
-- @return true when it did (the summary is not shown then)
local function refusedToken(stopped)
  if stopped and stopped.kind == "auth" then
    Dialogs.daemonError(stopped)
    return true
  end
  return false
end

--- "Auto-retouch (learned style)".
function Main.autoRetouch()
  withDaemon("autoretouch.apply", function(context, env)
    local first = env.catalog:getTargetPhoto() or env.photos[1]
    local previews = PreviewFlow.newSession(context) -- the context's end removes the last preview's folder
    local choice = Dialogs.applyOptions(context, {
      styles = env.styles,
      style = Dialogs.initialStyle(env.styles, env.config.lastStyle),
      strength = env.config.strength,
      count = #env.photos,
      preview = function(styleChoice)
        return PreviewFlow.fetch(env.client, first:getRawMetadata "path", styleChoice, previews)
      end,
    })
    PreviewFlow.close(previews) -- the dialog no longer shows the pictures
    if not choice then
      return
    end
    Config.remember(choice)
    local targets = env.photos
    if not choice.applyToAll then
      targets = { first }
    end
    local styles = PreviewFlow.styleChoice(choice)
    local label = styles.mix and (choice.style .. "+" .. choice.mixWith) or choice.style
    local summary = runWithProgress(context, S.progressApply(label), ApplyFlow, {
      photos = targets,
      catalog = env.catalog,
      client = env.client,
      whitelist = Whitelist.packaged(),
      style = choice.style,
      mix = styles.mix,
      variant = choice.variant,
      historyLabel = label,
      strength = choice.strength,
      processVersion = env.config.processVersion,
      batchSize = Config.BATCH_SIZE,
    })
    if refusedToken(summary.stopped) then
      return
    end
    local problems = #summary.failures > 0 or summary.stopped ~= nil or #summary.mismatches > 0
    Dialogs.summary(S.summaryTitle, ApplyFlow.summaryText(summary), problems)
  end)
end

--- "Revert auto-retouch" (needs no daemon: it only applies each photo's snapshot).
function Main.revert()
  LrFunctionContext.callWithContext("autoretouch.revert", function(context)
    local catalog, photos = selection()
    if not catalog then
      return
    end
    local summary = runWithProgress(context, S.progressRevert, RevertFlow, { photos = photos, catalog = catalog })
    local problems = #summary.failures > 0 or summary.noApi
    Dialogs.summary(S.revertSummaryTitle, RevertFlow.summaryText(summary), problems)
  end)
end

--- "Train style from selected photos...".
function Main.train()
  withDaemon("autoretouch.train", function(context, env)
    local choice = Dialogs.trainOptions(context, { count = #env.photos, name = "my-style", minutes = Config.TRAIN_MINUTES })
    if not choice then
      return
    end
    if not TrainFlow.validName(choice.name) then
      LrDialogs.message(S.badStyleName, nil, "critical")
      return
    end
    local summary = runWithProgress(context, S.progressTrain(choice.name), TrainFlow, {
      photos = env.photos,
      client = env.client,
      name = choice.name,
      minutes = choice.minutes,
    })
    if refusedToken(summary.error) then
      return
    end
    local problems = summary.state ~= "finished" or TrainFlow.rejected(summary) ~= nil or #summary.skipped > 0
    Dialogs.summary(S.trainSummaryTitle, TrainFlow.summaryText(summary), problems)
  end)
end

--- "Write XMP sidecars for selection".
function Main.writeSidecars()
  withDaemon("autoretouch.sidecars", function(context, env)
    local paths, missing = SidecarFlow.paths(env.photos)
    local choice = Dialogs.sidecarOptions(context, {
      styles = env.styles,
      style = Dialogs.initialStyle(env.styles, env.config.lastStyle),
      strength = env.config.strength,
      count = #paths,
      overwrite = env.config.overwrite,
    })
    if not choice then
      return
    end
    Config.remember(choice)
    local summary = runWithProgress(context, S.progressSidecars, SidecarFlow, {
      client = env.client,
      paths = paths,
      style = choice.style,
      strength = choice.strength,
      overwrite = choice.overwrite,
    })
    for _, item in ipairs(missing) do
      summary.failed = summary.failed + 1
      summary.failures[#summary.failures + 1] = item
    end
    if refusedToken(summary.stopped) then
      return
    end
    local problems = summary.failed > 0 or summary.stopped ~= nil
    Dialogs.summary(S.sidecarsSummaryTitle, SidecarFlow.summaryText(summary), problems)
  end)
end

return Main
