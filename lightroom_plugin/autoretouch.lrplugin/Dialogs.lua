--[[----------------------------------------------------------------------------
Dialogs.lua -- the options dialogs (style, strength, scope, preview, variant,
mix) and the summaries.
------------------------------------------------------------------------------]]

local LrBinding = import "LrBinding"
local LrDialogs = import "LrDialogs"
local LrTasks = import "LrTasks"
local LrView = import "LrView"

local ApplyFlow = require("ApplyFlow")
local PreviewFlow = require("PreviewFlow")
local S = require("Strings")

local Dialogs = {}

--- Popup items for style names.
function Dialogs.styleItems(names)
  local items = {}
  for i, name in ipairs(names) do
    items[i] = { title = name, value = name }
  end
  return items
end

--- The style to preselect: the last one used, else the daemon's default, else the first.
-- @param styles table from DaemonClient:listStyles
-- @param last name or nil
function Dialogs.initialStyle(styles, last)
  local known = {}
  for _, name in ipairs(styles.names) do
    known[name] = true
  end
  if last and known[last] then
    return last
  end
  if styles.default and known[styles.default] then
    return styles.default
  end
  return styles.names[1]
end

--- A strength field value (percent) as a fraction in [0, 1].
function Dialogs.fraction(percent)
  local value = tonumber(percent) or 100
  return math.max(0, math.min(100, value)) / 100
end

--- Shows a modal dialog with the plug-in's Cancel button.
-- @return true when the user pressed the action button
local function confirmed(title, contents, actionVerb)
  local answer = LrDialogs.presentModalDialog {
    title = title,
    contents = contents,
    actionVerb = actionVerb,
    cancelVerb = S.cancelVerb,
  }
  return answer == "ok"
end

--- What the apply and sidecar dialogs start with: a view factory, a property table holding the preselected
-- style and strength (0..100), and the style and strength rows bound to it.
-- @return factory, props, styleRow, strengthRow
local function styleDialog(context, opts)
  local f = LrView.osFactory()
  local props = LrBinding.makePropertyTable(context)
  props.style = opts.style
  props.strength = opts.strength
  local bind = LrView.bind
  local label = LrView.share "autoretouch_label"
  return f, props, f:row {
    f:static_text { title = S.styleLabel, alignment = "right", width = label },
    f:popup_menu { items = Dialogs.styleItems(opts.styles.names), value = bind "style", width_in_chars = 24 },
  }, f:row {
    f:static_text { title = S.strengthLabel, alignment = "right", width = label },
    f:slider { value = bind "strength", min = 0, max = 100, integral = true, width_in_chars = 20 },
    f:edit_field { value = bind "strength", min = 0, max = 100, precision = 0, width_in_digits = 4 },
  }
end

--- Shows the picture of the chosen variant at the chosen strength (no request).
function Dialogs.showAfter(props)
  props.afterPath = PreviewFlow.afterFor(props.preview, props.variant, props.strength)
end

--- Fetches the preview for the dialog's current style choice (inside a task).
-- @param props the dialog's property table
-- @param preview function(choice) -> preview table or nil, error (see PreviewFlow.fetch)
function Dialogs.loadPreview(props, preview)
  props.previewStatus = S.previewLoading
  local got, err = preview { style = props.style, mixWith = props.mixWith, mixWeight = props.mixWeight }
  if not got then
    props.preview = nil
    props.previewStatus = S.previewFailed(ApplyFlow.message(err))
    return
  end
  props.preview = got
  props.previewStatus = ""
  props.beforePath = got.before
  Dialogs.showAfter(props)
end

local function previewRows(f, props, opts)
  local bind = LrView.bind
  local label = LrView.share "autoretouch_label"
  local variants = {}
  for k = 1, PreviewFlow.VARIANTS do
    variants[k] = { title = S.variantItem(k), value = k }
  end
  local mixItems = { { title = S.mixNone, value = "" } }
  for _, item in ipairs(Dialogs.styleItems(opts.styles.names)) do
    mixItems[#mixItems + 1] = item
  end
  local size = PreviewFlow.SIZE
  return {
    f:row {
      f:static_text { title = S.variantLabel, alignment = "right", width = label },
      f:popup_menu { items = variants, value = bind "variant" },
    },
    f:row {
      f:static_text { title = S.mixLabel, alignment = "right", width = label },
      f:popup_menu { items = mixItems, value = bind "mixWith", width_in_chars = 24 },
    },
    f:row {
      f:static_text { title = S.mixWeightLabel, alignment = "right", width = label },
      f:slider { value = bind "mixWeight", min = 0, max = 100, integral = true, width_in_chars = 20 },
    },
    f:row {
      f:push_button {
        title = S.previewVerb,
        action = function()
          LrTasks.startAsyncTask(function()
            Dialogs.loadPreview(props, opts.preview)
          end, "autoretouch.preview")
        end,
      },
      f:static_text { title = bind "previewStatus", fill_horizontal = 1 },
    },
    f:row {
      f:column {
        f:static_text { title = S.previewBefore },
        f:picture { value = bind "beforePath", width = size, height = size },
      },
      f:column {
        f:static_text { title = S.previewAfter },
        f:picture { value = bind "afterPath", width = size, height = size },
      },
    },
    f:static_text { title = S.previewHint, fill_horizontal = 1 },
  }
end

--- The apply options dialog; with opts.preview, a preview of the first photo, a variant choice and a mix.
-- @param context LrFunctionContext
-- @param opts table { styles = from listStyles, style = preselected name, strength = 0..100, count = selected photos,
--   preview = function(choice) -> preview, err (optional) }
-- @return { style, strength = [0, 1], applyToAll = boolean, variant = 1.., mixWith = name or "", mixWeight = 0..100 },
--   or nil when cancelled
function Dialogs.applyOptions(context, opts)
  local f, props, styleRow, strengthRow = styleDialog(context, opts)
  props.applyToAll = opts.count > 1
  props.variant = 1
  props.mixWith = ""
  props.mixWeight = 50
  props.previewStatus = ""
  local rows = {
    bind_to_object = props,
    spacing = f:control_spacing(),
    styleRow,
    strengthRow,
    f:row {
      f:checkbox { title = S.applyToAll(opts.count), value = LrView.bind "applyToAll", enabled = opts.count > 1 },
    },
  }
  if opts.preview then
    for _, row in ipairs(previewRows(f, props, opts)) do
      rows[#rows + 1] = row
    end
    props:addObserver("strength", Dialogs.showAfter)
    props:addObserver("variant", Dialogs.showAfter)
    local function stale()
      if props.preview then
        props.preview, props.afterPath, props.beforePath = nil, nil, nil
        props.previewStatus = S.previewStale
      end
    end
    props:addObserver("style", stale)
    props:addObserver("mixWith", stale)
    props:addObserver("mixWeight", stale)
  end
  if not confirmed(S.applyDialogTitle, f:column(rows), S.applyVerb) then
    return nil
  end
  return {
    style = props.style,
    strength = Dialogs.fraction(props.strength),
    applyToAll = props.applyToAll == true,
    variant = tonumber(props.variant) or 1,
    mixWith = props.mixWith or "",
    mixWeight = tonumber(props.mixWeight) or 50,
  }
end

--- The sidecar options dialog.
-- @param context LrFunctionContext
-- @param opts table { styles, style, strength = 0..100, count, overwrite = boolean }
-- @return { style, strength = [0, 1], overwrite = boolean }, or nil when cancelled
function Dialogs.sidecarOptions(context, opts)
  local f, props, styleRow, strengthRow = styleDialog(context, opts)
  props.overwrite = opts.overwrite == true
  local contents = f:column {
    bind_to_object = props,
    spacing = f:control_spacing(),
    f:static_text { title = S.sidecarsCount(opts.count) },
    styleRow,
    strengthRow,
    f:row { f:checkbox { title = S.overwriteLabel, value = LrView.bind "overwrite" } },
  }
  if not confirmed(S.sidecarsDialogTitle, contents, S.writeVerb) then
    return nil
  end
  return { style = props.style, strength = Dialogs.fraction(props.strength), overwrite = props.overwrite == true }
end

--- The "train style from selected photos" dialog: the new style's name and the time it may take.
-- @param context LrFunctionContext
-- @param opts table { count = selected photos, name = suggested name, minutes = default minutes }
-- @return { name = string, minutes = number > 0 }, or nil when cancelled
function Dialogs.trainOptions(context, opts)
  local f = LrView.osFactory()
  local props = LrBinding.makePropertyTable(context)
  props.name = opts.name
  props.minutes = opts.minutes
  local label = LrView.share "autoretouch_train_label"
  local contents = f:column {
    bind_to_object = props,
    spacing = f:control_spacing(),
    f:static_text { title = S.trainCount(opts.count) },
    f:row {
      f:static_text { title = S.trainNameLabel, alignment = "right", width = label },
      f:edit_field { value = LrView.bind "name", width_in_chars = 24 },
    },
    f:row {
      f:static_text { title = S.trainMinutesLabel, alignment = "right", width = label },
      f:edit_field { value = LrView.bind "minutes", min = 1, max = 240, precision = 0, width_in_digits = 4 },
    },
    f:static_text { title = S.trainHint, fill_horizontal = 1 },
  }
  if not confirmed(S.trainDialogTitle, contents, S.trainVerb) then
    return nil
  end
  local minutes = tonumber(props.minutes) or opts.minutes
  return { name = tostring(props.name or ""):gsub("^%s+", ""):gsub("%s+$", ""), minutes = math.max(1, minutes) }
end

--- Shows a summary; a warning when something failed or stopped.
function Dialogs.summary(title, text, problems)
  LrDialogs.message(title, text, problems and "warning" or "info")
end

--- Shows a daemon error (a token problem gets its own explanation).
-- @param err error table from DaemonClient
function Dialogs.daemonError(err)
  if err.kind == "auth" then
    LrDialogs.message(S.authTitle, S.authInfo, "critical")
  else
    LrDialogs.message(S.daemonErrorTitle, tostring(err.message), "critical")
  end
end

return Dialogs
