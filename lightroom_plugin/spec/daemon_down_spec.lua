-- What the user sees when the daemon does not answer, and the optional "Start daemon".

local expect = require("expect")
local menus = require("menus")
local sdk = require("sdk")

local Daemon = require("Daemon")
local S = require("Strings")
local Shell = require("Shell")

describe("daemon down", function()
  before_each(function()
    sdk.reset()
    sdk.daemon.down = true
  end)

  --- Runs Auto-retouch on one photo and answers "Start daemon"; every shell command that matches `pattern`
  -- exits with `status`, the others with 0.
  local function startWithFailing(pattern, status)
    sdk.newCatalog(sdk.photos(1))
    sdk.confirmAnswer = "ok"
    sdk.onExecute = function(command)
      return command:find(pattern) and status or 0
    end
    menus.apply()
  end

  it("explains how to start the daemon and stops when the user cancels", function()
    local photos = sdk.photos(2)
    sdk.newCatalog(photos).folders = { "/Users/me/Pictures", "/Volumes/Photo Disk/It's mine" }
    menus.apply()
    local confirm = sdk.dialogsOf("confirm")[1]
    assert.are.equal(S.daemonDownTitle, confirm.message)
    assert.are.equal("Start daemon", confirm.action)
    assert.matches("Nothing answers at http://127.0.0.1:50052.", confirm.info, 1, true)
    assert.matches(
      "'autoretouch' 'serve' '--http-port' '50052' '--root' '/Users/me/Pictures' '--root' '/Volumes/Photo Disk/It'\\''s mine'",
      confirm.info,
      1,
      true
    )
    assert.are.equal(0, #sdk.executed)
    assert.are.equal(0, #sdk.requestsTo "/v1/suggest")
    assert.are.equal(0, #sdk.dialogsOf "modal")
    assert.are.equal(0, #photos[1].applied)
  end)

  it("starts the daemon in the background with quoted arguments, waits for it, then carries on", function()
    local photos = sdk.photos(1, { path = "/shoot 1/a.jpg" })
    sdk.newCatalog(photos)
    sdk.prefs.command = "/Applications/auto retouch/bin/autoretouch"
    sdk.files[sdk.prefs.command] = "file"
    sdk.prefs.daemonUrl = "127.0.0.1:6000/"
    sdk.prefs.token = "t'ok"
    sdk.confirmAnswer = "ok"
    sdk.onSleep = function()
      if sdk.slept >= 2 then
        sdk.daemon.down = false -- the daemon answers after two seconds
      end
    end
    menus.apply()
    assert.are.equal(1, #sdk.executed) -- the program was found by its path: no PATH lookup
    assert.are.equal(
      "nohup sh -c '\"$@\"; echo \"" .. Shell.EXIT_MARKER .. " $?\"' sh"
        .. " '/Applications/auto retouch/bin/autoretouch' 'serve' '--http-port' '6000' '--root' '/shoot 1'"
        .. " '--token' 't'\\''ok' >'" .. sdk.tempDir .. "/autoretouch-daemon.log' 2>&1 </dev/null &",
      sdk.executed[1]
    )
    assert.are.equal(2, sdk.slept)
    assert.are.equal(1, #photos[1].applied)
    assert.are.equal("http://127.0.0.1:6000/v1/suggest", sdk.requestsTo("/v1/suggest")[1].url)
    for _, entry in ipairs(sdk.logs) do
      assert.is_nil(entry.text:find("t'ok", 1, true), "the token must not be logged")
    end
  end)

  it("says where the output is when the started daemon never answers", function()
    sdk.newCatalog(sdk.photos(1))
    sdk.confirmAnswer = "ok"
    menus.apply()
    assert.are.equal(Daemon.START_WAIT_S, sdk.slept)
    local failure = sdk.dialogsOf("message")[1]
    assert.are.equal(S.startFailedTitle, failure.message)
    assert.matches(sdk.tempDir .. "/autoretouch-daemon.log", failure.info, 1, true)
    assert.matches("Plug-in Manager", failure.info, 1, true)
    assert.are.equal(0, #sdk.requestsTo "/v1/suggest")
  end)

  it("reports a failing start command at once", function()
    startWithFailing("^nohup ", 127)
    assert.are.equal(0, sdk.slept)
    assert.matches("status 127", sdk.dialogsOf("message")[1].info, 1, true)
  end)

  it("says at once that the autoretouch program is not where the settings say", function()
    sdk.newCatalog(sdk.photos(1))
    sdk.prefs.command = "/Applications/autoretouch/bin/autoretouch"
    sdk.confirmAnswer = "ok"
    menus.apply()
    assert.are.equal(0, #sdk.executed)
    assert.are.equal(0, sdk.slept)
    local failure = sdk.dialogsOf("message")[1]
    assert.are.equal(S.startFailedTitle, failure.message)
    expect.showsAll(failure.info, { S.startFailedMissing "/Applications/autoretouch/bin/autoretouch", S.startFailedPath })
  end)

  it("looks a bare program name up on Lightroom's PATH first (macOS) and says at once when it is not there", function()
    startWithFailing("^command %-v ", 1)
    assert.are.same({ "command -v 'autoretouch' >/dev/null 2>&1" }, sdk.executed)
    assert.are.equal(0, sdk.slept)
    expect.showsAll(sdk.dialogsOf("message")[1].info, { S.startFailedNotFound "autoretouch", S.startFailedPath })
  end)

  it("stops waiting as soon as the started daemon exits, and shows its last output", function()
    -- A real start through /bin/sh: the program prints an error and exits, as a daemon that cannot bind does.
    local program = sdk.tempDir .. "/fake autoretouch"
    local file = assert(io.open(program, "w"))
    file:write("#!/bin/sh\necho 'starting'\necho \"error: cannot bind port $3: address in use\" >&2\nexit 3\n")
    file:close()
    assert(os.execute("chmod +x '" .. program .. "'") == 0)
    sdk.newCatalog(sdk.photos(1))
    sdk.prefs.command = program
    sdk.confirmAnswer = "ok"
    sdk.onExecute = function(command)
      return os.execute(command)
    end
    sdk.onSleep = function()
      os.execute("sleep 0.05")
    end
    menus.apply()
    os.remove(program)
    os.remove(Daemon.logFile())
    assert.is_true(sdk.slept < Daemon.START_WAIT_S, "waited " .. sdk.slept .. " s")
    local failure = sdk.dialogsOf("message")[1]
    assert.are.equal(S.startFailedTitle, failure.message)
    expect.showsAll(failure.info, {
      S.startFailedExited(3),
      "starting",
      "error: cannot bind port 50052: address in use",
      Daemon.logFile(),
      S.startFailedPath,
    })
    assert.is_nil(failure.info:find(Shell.EXIT_MARKER, 1, true))
    assert.are.equal(0, #sdk.requestsTo "/v1/suggest")
  end)

  it("builds a Windows start command with the whole line in one more pair of quotes", function()
    sdk.newCatalog(sdk.photos(1, { path = [[C:\Photos\2024\a.jpg]] }))
    sdk.prefs.command = [[C:\Program Files\autoretouch\autoretouch.exe]]
    sdk.files[sdk.prefs.command] = "file"
    sdk.prefs.roots = [[C:\Photos\;D:\Archive]]
    sdk.confirmAnswer = "ok"
    sdk.setWindows(true)
    menus.apply()
    assert.are.equal(
      [["start "autoretouch" /MIN "C:\Program Files\autoretouch\autoretouch.exe" "serve" "--http-port" "50052" ]]
        .. [["--root" "C:\Photos\\" "--root" "D:\Archive""]],
      sdk.executed[1]
    )
    assert.matches("own window", sdk.dialogsOf("message")[1].info, 1, true)
  end)

  it("finds a Windows program named without its .exe, as cmd.exe does, and says when it is not there", function()
    sdk.newCatalog(sdk.photos(1, { path = [[C:\Photos\a.jpg]] }))
    sdk.prefs.command = [[C:\Tools\autoretouch]]
    local exe = [[C:\Tools\autoretouch.exe]]
    sdk.files[exe] = "file"
    sdk.confirmAnswer = "ok"
    sdk.setWindows(true)
    menus.apply()
    assert.are.equal(1, #sdk.executed)
    assert.matches([["C:\Tools\autoretouch" "serve"]], sdk.executed[1], 1, true)

    sdk.reset()
    sdk.daemon.down = true
    sdk.newCatalog(sdk.photos(1, { path = [[C:\Photos\a.jpg]] }))
    sdk.prefs.command = [[D:\autoretouch.exe]]
    sdk.confirmAnswer = "ok"
    sdk.setWindows(true)
    menus.apply()
    assert.are.equal(0, #sdk.executed)
    assert.matches(S.startFailedMissing [[D:\autoretouch.exe]], sdk.dialogsOf("message")[1].info, 1, true)
  end)

  it("refuses a Windows argument that cmd.exe would expand", function()
    sdk.newCatalog(sdk.photos(1))
    sdk.prefs.roots = [[C:\100% done]]
    sdk.confirmAnswer = "ok"
    sdk.setWindows(true)
    menus.apply()
    assert.are.equal(0, #sdk.executed)
    assert.matches("100%% done", sdk.dialogsOf("message")[1].info)
  end)

  it("says the daemon is still loading instead of offering to start a second one", function()
    sdk.newCatalog(sdk.photos(1))
    sdk.daemon.down = false
    sdk.daemon.health = "NOT_SERVING"
    menus.apply()
    assert.are.equal(0, #sdk.dialogsOf "confirm")
    assert.are.equal(S.notServing, sdk.dialogsOf("message")[1].info)
  end)

  it("explains an empty style list", function()
    sdk.newCatalog(sdk.photos(1))
    sdk.daemon.down = false
    sdk.daemon.styles = {}
    menus.apply()
    assert.are.equal(S.noStylesTitle, sdk.dialogsOf("message")[1].message)
  end)
end)
