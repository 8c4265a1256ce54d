-- "Train style from selected photos...": the selection's own develop settings go to the daemon as
-- lightroom_edits; the flow polls the background training, shows progress, cancels, and sums up.

local expect = require("expect")
local menus = require("menus")
local sdk = require("sdk")

local S = require("Strings")
local TrainFlow = require("TrainFlow")

--- Runs "Train style from selected photos..." with the dialog's name (default "mine") and minutes (default 3).
local function runTrain(name, minutes)
  menus.train { name = name or "mine", minutes = minutes or 3 }
end

local EDITED = { ProcessVersion = "11.0", Exposure2012 = 0.7, Contrast2012 = 15, WhiteBalance = "As Shot" }

--- A catalog of one photo with develop settings (EDITED) to learn from.
local function oneEditedPhoto()
  sdk.newCatalog { sdk.newPhoto { path = "/photos/a.nef", develop = EDITED } }
end

--- From fresh stubs: trains on one edited photo, the fake daemon's training set up with `training`'s fields.
local function trainOnEditedPhoto(training)
  sdk.reset()
  oneEditedPhoto()
  for key, value in pairs(training) do
    sdk.daemon.training[key] = value
  end
  runTrain()
end

--- Whether the plug-in log has a line that is exactly `text`.
local function logged(text)
  for _, entry in ipairs(sdk.logs) do
    if entry.text == text then
      return true
    end
  end
  return false
end

describe("train from selected photos", function()
  before_each(sdk.reset)

  it("sends each photo's original and develop settings, polls progress, and reports the new style", function()
    local photos = {
      sdk.newPhoto { path = "/photos/a.nef", format = "RAW", develop = EDITED },
      sdk.newPhoto { path = "/photos/b.jpg", develop = { ProcessVersion = "15.4", Exposure2012 = -0.3 } },
      sdk.newPhoto { path = "/photos/old.nef", format = "RAW", develop = { ProcessVersion = "5.7", Exposure = 1 } },
      sdk.newPhoto { path = "/photos/clip.mov", format = "VIDEO", develop = EDITED },
      sdk.newPhoto { path = "/photos/never.dng" },
    }
    sdk.newCatalog(photos)
    runTrain("portraits", 7)

    assert.are.same({ "autoretouch.train" }, sdk.tasks)
    local modal = sdk.dialogsOf("modal")[1]
    assert.are.equal(S.trainDialogTitle, modal.args.title)
    local request = sdk.requestsTo("/v1/train/start")[1].body
    assert.are.equal("portraits", request.name)
    assert.are.equal(7, request.minutes)
    assert.are.equal(1, request.protocol_version)
    assert.are.same({
      { path = "/photos/a.nef", settings = EDITED },
      { path = "/photos/b.jpg", settings = { ProcessVersion = "15.4", Exposure2012 = -0.3 } },
    }, request.lightroom_edits)
    assert.are.equal(3, #sdk.requestsTo "/v1/train/status?protocol_version=1") -- polled until finished
    assert.are.equal(3, sdk.slept) -- one second between polls
    local scope = sdk.progressScopes[1]
    assert.are.same({ 3, 10 }, scope.portions[2])
    assert.matches("training: step 6 of 10", scope.captions[3], 1, true)
    assert.is_true(scope.isDone)

    local summary = menus.lastMessage()
    assert.are.equal(S.trainSummaryTitle, summary.message)
    expect.showsAll(summary.info, {
      "The style portraits learnt from 2 photos (10 steps) and is in the style list now.",
      "3 photos were left out:",
      "old.nef: process version 5.7",
      "clip.mov: videos cannot be retouched",
      "never.dng: no develop settings",
    })
  end)

  it("cancels the daemon's training from the progress scope", function()
    oneEditedPhoto()
    sdk.daemon.training.pollsToFinish = 100
    sdk.isCanceled = function(scope)
      return scope.checks >= 2
    end
    runTrain()
    assert.are.equal(1, #sdk.requestsTo "/v1/train/cancel")
    assert.are.equal("cancelled", sdk.daemon.training.state)
    assert.matches(S.trainCancelled, menus.lastMessage().info, 1, true)
    assert.are.equal("warning", menus.lastMessage().style)
  end)

  it("says why a style was not installed, and why a training failed", function()
    trainOnEditedPhoto { rejected = "held-out check: worse than doing nothing (-0.8 dB)" }
    expect.showsAll(menus.lastMessage().info, { "The style mine was trained but not installed:", "worse than doing nothing" })

    trainOnEditedPhoto { outcome = "failed" }
    expect.showsAll(menus.lastMessage().info, { "The style mine could not be trained:", "none of the photos can be used" })

    trainOnEditedPhoto { refuse = { status = 429, code = "RESOURCE_EXHAUSTED", message = "a training is already running" } }
    assert.matches("a training is already running", menus.lastMessage().info, 1, true)
    assert.are.equal(0, #sdk.requestsTo "/v1/train/status?protocol_version=1")
  end)

  it("shows the training's notes after what became of the style: the first three, cut, escaped; all in the log",
    function()
      local long = "12 photos could not be read, left out: "
      for i = 1, 12 do
        long = long .. string.format("IMG_%04d.CR2 (truncated file); ", i)
      end
      long = long:gsub("; $", "")
      local notes = {
        "mine@1 was replaced by mine@2 (kept in replaced/mine@1.safetensors)",
        long,
        "1 photo could not be read, left out: x\nforged\27[2J\226\128\174.nef (empty file)",
        "   ", -- blank: not a note
        "fourth note",
        "fifth note",
      }
      trainOnEditedPhoto { notes = notes }
      local summary = menus.lastMessage()
      local lines = {}
      for line in (summary.info .. "\n"):gmatch("(.-)\n") do
        lines[#lines + 1] = line
      end
      assert.are.equal("The style mine learnt from 1 photos (10 steps) and is in the style list now.", lines[1])
      assert.are.equal("Note: " .. notes[1], lines[2])
      local cut = "Note: 12 photos could not be read, left out: IMG_0001.CR2 (truncated file); IMG_0002.CR2 (truncated "
        .. "file); IMG_0003.CR2 (truncated file); IMG_0004.CR2 (truncated file); IMG_0005.CR2 (truncated file) ... "
        .. "(the whole note is in the plug-in log)" -- cut after the last whole name (200 bytes at most)
      assert.are.equal(cut, lines[3])
      local escaped = "1 photo could not be read, left out: x\\nforged\\x1b[2J\\u202e.nef (empty file)"
      assert.are.equal("Note: " .. escaped, lines[4])
      assert.are.equal("2 more notes in the plug-in log (autoretouch.log in Lightroom's log folder).", lines[5])
      assert.are.equal(5, #lines)
      assert.are.equal("info", summary.style) -- notes are no problem (the replaced version, photos left out: said)
      for _, note in ipairs { notes[1], long, escaped, notes[5], notes[6] } do -- each whole, in the plug-in log
        assert.is_truthy(logged("train: note: " .. note), note)
      end

      -- after a rejected style too; a daemon without notes (older): none, nothing more
      trainOnEditedPhoto { rejected = "held-out check: worse than doing nothing", notes = { "a note" } }
      expect.showsAll(menus.lastMessage().info, { "worse than doing nothing\nNote: a note" })
      trainOnEditedPhoto {}
      assert.are.equal("The style mine learnt from 1 photos (10 steps) and is in the style list now.",
        menus.lastMessage().info)
      -- a UTF-8 character is never cut in two
      local e = "\195\169" -- é
      local shown = TrainFlow.shownNote(string.rep("a", 199) .. e .. string.rep("b", 10))
      assert.are.equal(string.rep("a", 199) .. " ... (the whole note is in the plug-in log)", shown)
    end)

  it("cuts a long note on the note as the daemon wrote it, never inside a UTF-8 character, then escapes it", function()
    local cut = " ... (the whole note is in the plug-in log)"
    local e, east, smile = "\195\169", "\230\157\177", "\240\159\152\128" -- é, 東, 😀
    -- byte 200 is the first byte of a character: cut before it (the one space is too early to cut after a word)
    local cases = {
      { "xy " .. e:rep(100), "xy " .. e:rep(98) .. cut },
      { "xy " .. east:rep(70), "xy " .. east:rep(65) .. cut },
      { "x " .. smile:rep(50), "x " .. smile:rep(49) .. cut },
      -- an escaped character whole at the cap (U+2028: bytes 198-200), not "\u20"
      { "x " .. ("a"):rep(195) .. "\226\128\168tail", "x " .. ("a"):rep(195) .. "\\u2028" .. cut },
      -- 200 bytes, longer than that once escaped: whole
      { ("a"):rep(199) .. "\n", ("a"):rep(199) .. "\\n" },
      { "caf" .. e .. " " .. east .. " " .. smile .. ".jpg", "caf" .. e .. " " .. east .. " " .. smile .. ".jpg" },
    }
    for _, case in ipairs(cases) do
      assert.are.equal(case[2], TrainFlow.shownNote(case[1]), case[1])
    end
    -- in the summary, and whole (escaped) in the log
    trainOnEditedPhoto { notes = { cases[4][1] } }
    assert.are.equal("Note: " .. cases[4][2], menus.lastMessage().info:match("\n([^\n]*)$"))
    assert.is_truthy(logged("train: note: " .. require("Text").printable(cases[4][1])))
  end)

  it("refuses a style name the daemon would refuse, before sending anything", function()
    oneEditedPhoto()
    runTrain "../evil name"
    assert.are.equal(S.badStyleName, menus.lastMessage().message)
    assert.are.equal(0, #sdk.requestsTo "/v1/train/start")
    assert.is_true(TrainFlow.validName "my-style_2.1")
    assert.is_false(TrainFlow.validName(string.rep("a", 65)))
  end)

  it("sends nothing when no selected photo can be learnt from", function()
    sdk.newCatalog { sdk.newPhoto { path = "/photos/never.dng" } }
    runTrain()
    assert.are.equal(0, #sdk.requestsTo "/v1/train/start")
    assert.matches(S.trainNothing, menus.lastMessage().info, 1, true)
  end)
end)
