-- The plug-in's whole Lightroom flow against a REAL daemon on loopback (LrHttp backed by LuaSocket), run
-- through its menu scripts as a user would: train a style from selected photos, find it in the daemon's
-- style list, preview it, apply variant 2, revert. Started by tests/test_lightroom_plugin.py, which gives
-- AUTORETOUCH_IT_FLOW, a JSON file:
--   url, token        the daemon's JSON bridge and its token
--   style             the name of the style to train
--   steps             the steps that training runs (the test daemon's worker sets them)
--   train             { { path, develop }, ... }: generated photos under the daemon's root and their develop
--                     settings (the photographer's edits the style learns from)
--   photo             { path, develop }: the photo to auto-retouch and its develop settings before
--   strength, variant what the apply dialog is set to (0..100; a variant other than 1)
--   report            a file this spec writes for pytest's checks: the settings the photo received, the
--                     preview files shown for variant 1 and for the chosen variant
-- The daemon's training worker trains for seconds (testing/tiny_train_worker.py).

local sdk = require("sdk")
local socket = require("socket")
local socketHttp = require("socket_http")
local menus = require("menus")

local DaemonClient = require("DaemonClient")
local S = require("Strings")

local flowFile = os.getenv "AUTORETOUCH_IT_FLOW"

local function readJson(path)
  local file = assert(io.open(path, "rb"))
  local text = file:read "*a"
  file:close()
  return sdk.decode(text)
end

local function readBytes(path)
  local file = assert(io.open(assert(path, "no picture shown"), "rb"))
  local data = file:read "*a"
  file:close()
  return data
end

--- Copies a picture the dialog shows into `dir` (the plug-in removes its own copy when the dialog is done).
-- @return the copy's path
local function keepCopy(path, dir, name)
  local copy = dir .. "/" .. name
  local out = assert(io.open(copy, "wb"))
  out:write(readBytes(path))
  out:close()
  return copy
end

--- Fresh stubs talking to the real daemon; LrTasks.sleep really sleeps (the training is polled).
local function freshSdk(flow)
  sdk.reset()
  socketHttp.install(sdk.ns.LrHttp)
  sdk.prefs.daemonUrl = flow.url
  sdk.prefs.token = flow.token
  sdk.onSleep = socket.sleep
end

local function contains(list, value)
  for _, item in ipairs(list) do
    if item == value then
      return true
    end
  end
  return false
end

describe("live flow #integration", function()
  if not flowFile then
    pending("AUTORETOUCH_IT_FLOW is not set (run through tests/test_lightroom_plugin.py)")
    return
  end

  it("trains a style from selected photos, lists it, previews it, applies variant 2 and reverts", function()
    local flow = readJson(flowFile)
    local report = {}

    -- 1. Train style from selected photos: their develop settings are the edits learnt.
    freshSdk(flow)
    local selected = {}
    for i, item in ipairs(flow.train) do
      selected[i] = sdk.newPhoto { path = item.path, develop = item.develop }
    end
    sdk.newCatalog(selected)
    menus.train { name = flow.style, minutes = 1 }
    local trained = menus.lastMessage()
    assert.are.equal(S.trainSummaryTitle, trained.message)
    assert.are.equal("info", trained.style, trained.info) -- finished, installed, nothing left out
    assert.matches(S.trainInstalled(flow.style, #selected, flow.steps), trained.info, 1, true)

    -- 1b. Trained again under the same name: the daemon's notes (the version replaced) are shown and logged whole.
    freshSdk(flow)
    local againSelected = {}
    for i, item in ipairs(flow.train) do
      againSelected[i] = sdk.newPhoto { path = item.path, develop = item.develop }
    end
    sdk.newCatalog(againSelected)
    menus.train { name = flow.style, minutes = 1 }
    local again = menus.lastMessage()
    assert.are.equal("info", again.style, again.info)
    local replaced = flow.style .. "@1 (created "
    assert.matches("\nNote: " .. replaced, again.info, 1, true)
    assert.matches(" is replaced by " .. flow.style .. "@2", again.info, 1, true)
    local logged = false
    for _, entry in ipairs(sdk.logs) do
      logged = logged or entry.text:find("train: note: " .. replaced, 1, true) == 1
    end
    assert.is_true(logged, "the note is in the plug-in log")

    -- 2. The daemon lists the new style.
    local styles = assert(DaemonClient.new({ url = flow.url, token = flow.token }):listStyles())
    assert.is_true(contains(styles.names, flow.style), "the new style is in the daemon's style list")

    -- 3. Preview on a new photo, variant `flow.variant` chosen; 4. apply it.
    freshSdk(flow)
    local photo = sdk.newPhoto { path = flow.photo.path, develop = flow.photo.develop }
    sdk.newCatalog { photo }
    local shown = {}
    -- the pictures pytest decodes, kept in a folder of their own (pytest removes it)
    local kept = assert(flow.report:match("^(.*)/[^/]*$")) .. "/flow-previews"
    assert(os.execute("mkdir -p '" .. kept .. "'") == 0)
    sdk.modalHandler = function(args, props)
      local listed = {}
      for _, item in ipairs(sdk.find(args.contents, "popup_menu")[1].args.items) do
        listed[#listed + 1] = item.value
      end
      assert.is_true(contains(listed, flow.style), "the apply dialog lists the new style")
      props.style = flow.style
      props.strength = flow.strength
      for _, button in ipairs(sdk.find(args.contents, "push_button")) do
        if button.args.title == S.previewVerb then
          button.args.action()
        end
      end
      shown.status = props.previewStatus
      shown.folder = props.beforePath and props.beforePath:match("^(.*)/[^/]*$")
      shown.before = keepCopy(props.beforePath, kept, "before.jpg")
      shown.first = keepCopy(props.afterPath, kept, "first.jpg")
      props.variant = flow.variant
      shown.chosen = keepCopy(props.afterPath, kept, "chosen.jpg")
      return "ok"
    end
    menus.apply()
    assert.are.equal("", shown.status)
    for _, key in ipairs { "before", "first", "chosen" } do
      assert.are.equal("\255\216\255", readBytes(shown[key]):sub(1, 3), key .. " is a JPEG") -- FF D8 FF
    end
    assert.are_not.equal(readBytes(shown.first), readBytes(shown.chosen)) -- choosing the variant switched pictures
    assert.is_false(sdk.exists(shown.folder)) -- the plug-in removed its preview folder
    local applied = menus.lastMessage()
    assert.matches(S.summaryApplied(1, 1), applied.info, 1, true)
    assert.are.equal("info", applied.style, applied.info)
    assert.are.equal(1, #photo.applied)
    assert.are.equal(S.historyName(flow.style), photo.applied[1].history)
    assert.are.equal(1, #photo.snapshots)
    assert.are.same(flow.photo.develop, photo.snapshots[1].settings)
    assert.are_not.same(flow.photo.develop, photo.develop)
    report.applied = photo.applied[1].settings
    report.previews = { before = shown.before, first = shown.first, chosen = shown.chosen }

    -- 5. Revert auto-retouch: back to the settings before, snapshot and relative base gone.
    menus.revert()
    local reverted = menus.lastMessage()
    assert.are.equal(S.revertSummaryTitle, reverted.message)
    assert.matches(S.revertSummary(1, 1), reverted.info, 1, true)
    assert.are.same(flow.photo.develop, photo:getDevelopSettings())
    assert.are.same({}, photo.snapshots)
    assert.is_nil(photo.properties.relativeBase)

    local out = assert(io.open(flow.report, "wb"))
    out:write(sdk.encode(report))
    out:close()
  end)
end)
