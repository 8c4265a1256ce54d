-- Shell quoting: POSIX arguments survive a real /bin/sh unchanged; Windows rules.

require("sdk")

local Shell = require("Shell")

local NASTY = {
  "plain",
  "with space",
  "it's",
  [[double "quotes"]],
  "$HOME and `id` and $(id)",
  "semi;colon|pipe&amp>redirect<in",
  "back\\slash\\",
  "*?[glob]",
  "",
  "tab\there",
  "-n",
}

describe("Shell", function()
  it("quotes POSIX arguments so /bin/sh passes them through verbatim", function()
    local argv = { "printf", "%s\\n" }
    for _, arg in ipairs(NASTY) do
      argv[#argv + 1] = arg
    end
    local pipe = assert(io.popen(Shell.commandLine(argv, false)))
    local out = pipe:read("*a")
    pipe:close()
    assert.are.equal(table.concat(NASTY, "\n") .. "\n", out)
  end)

  it("quotes Windows arguments with the C runtime's backslash rule and refuses what cmd.exe expands", function()
    assert.are.equal([["C:\Program Files\x.exe"]], Shell.quoteWindows [[C:\Program Files\x.exe]])
    assert.are.equal([["C:\Photos\\"]], Shell.quoteWindows [[C:\Photos\]])
    assert.are.equal([[""]], Shell.quoteWindows "")
    for _, bad in ipairs { [[a"b]], "100%", "line\nbreak" } do
      local quoted, err = Shell.quoteWindows(bad)
      assert.is_nil(quoted)
      assert.matches("cannot pass", err)
    end
    assert.is_nil((Shell.commandLine({ "x", [[a"b]] }, true)))
  end)

  it("says why an argument cannot go to cmd.exe in a text of Strings.lua, through LOC", function()
    local saved = { LOC = LOC, Strings = package.loaded.Strings, Shell = package.loaded.Shell }
    -- Lightroom in another language: every LOC text translated ("[xx] ..."); Strings and Shell loaded afresh.
    rawset(_G, "LOC", function(text, ...)
      return "[xx] " .. saved.LOC(text, ...)
    end)
    package.loaded.Strings, package.loaded.Shell = nil, nil
    local ok, err = pcall(function()
      local S = require("Strings")
      local quoted, message = require("Shell").quoteWindows "100%"
      assert.is_nil(quoted)
      assert.are.equal(S.cannotPassToCmd "100%", message)
      assert.matches("^%[xx%] .*100%%", message)
    end)
    rawset(_G, "LOC", saved.LOC)
    package.loaded.Strings, package.loaded.Shell = saved.Strings, saved.Shell
    assert(ok, err)
  end)

  --- Runs argv in the background (Shell.background) and waits (at most 2 s) for its log to say it ended.
  -- @return the log's text
  local function runInBackground(argv)
    local dir = os.tmpname()
    os.remove(dir)
    local log = dir .. " log's.txt"
    local command = Shell.background(argv, { logFile = log })
    assert.matches("^nohup ", command)
    assert.matches(" &$", command)
    assert.are.equal(0, (os.execute(command)))
    local text
    for _ = 1, 200 do
      local file = io.open(log, "r")
      text = file and file:read("*a") or ""
      if file then
        file:close()
      end
      if Shell.exitStatus(text) then
        break
      end
      os.execute("sleep 0.01")
    end
    os.remove(log)
    return text
  end

  it("starts POSIX commands in the background with their output in a log file, then how they ended", function()
    local text = runInBackground { "sh", "-c", "echo started; echo \"$0\"; exit 4", "arg one" }
    assert.matches("started\narg one\n", text, 1, true)
    local status, output = Shell.exitStatus(text)
    assert.are.equal(4, status)
    assert.are.equal("started\narg one", output)
  end)

  it("logs that a program is missing, with the shell's exit status 127", function()
    local status, output = Shell.exitStatus(runInBackground { "/nonexistent dir/autoretouch", "serve" })
    assert.are.equal(127, status)
    assert.matches("/nonexistent dir/autoretouch", output, 1, true)
    assert.is_nil(Shell.exitStatus "serving on 127.0.0.1:50052\n") -- still running
  end)
end)
