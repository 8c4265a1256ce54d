-- shell_quote / command_line: every argument reaches the program byte for byte through the real /bin/sh.

local load = require("helpers.load")
local stub = require("helpers.stub_darktable")

local plugin = load.plugin()
local quote, command_line = plugin.internals.shell_quote, plugin.internals.command_line

--- Run `printf %s ARG` through sh with our quoting; returns what printf wrote.
local function through_shell(dir, text)
  local out, err = dir .. "/out", dir .. "/err"
  os.remove(out)
  local line = assert(command_line({ "printf", "%s", text }, out, err))
  os.execute(line)
  return stub.read_file(out)
end

local NASTY = {
  "", " ", "plain", "two words", "it's", "''", "'", "\\'", "\"", "\"'\"'", "$HOME", "${HOME}", "$(id)", "`id`",
  "a\nb", "\n", "trailing\n\n", "\r\n", "\t tab", "*", "?", "[a-z]", "~", "~root", "a;b", "a&&b", "a|b", "a>b",
  "<in", "!", "!!", "#comment", "-n", "--help", "-e \\n", "\\", "\\\\", "\\n", "%s", "%%", "{a,b}", "a=b c",
  "caf\195\169 \226\152\131 \240\159\152\128", "\1\2\3\127", "\255\254", "' ; touch PWNED ; '", "\"; touch PWNED; \"",
  "$(touch PWNED)", "`touch PWNED`", "a'b\"c$d`e\\f\ng",
}

describe("shell_quote", function()
  it("wraps in single quotes and escapes single quotes", function()
    assert.are.equal("'abc'", quote("abc"))
    assert.are.equal("''", quote(""))
    assert.are.equal("'it'\\''s'", quote("it's"))
    assert.are.equal("'$HOME `x` \"y\"'", quote("$HOME `x` \"y\""))
    assert.are.equal("'a\nb'", quote("a\nb"))
    assert.are.equal("'12'", quote(12))
  end)

  it("rejects NUL bytes instead of cutting the argument", function()
    for _i, text in ipairs({ "\0", "a\0b", "abc\0" }) do
      local q, err = quote(text)
      assert.is_nil(q)
      assert.truthy(err:find("NUL", 1, true))
    end
    local line, err = command_line({ "printf", "a\0b" }, "/tmp/o", "/tmp/e")
    assert.is_nil(line)
    assert.truthy(err:find("NUL", 1, true))
    assert.is_nil((command_line({ "printf" }, "/tmp/o\0x", "/tmp/e")))
  end)
end)

describe("command_line through /bin/sh", function()
  local dir

  before_each(function()
    dir = stub.temp_dir(" q'uo\"te $x `y`")
  end)

  after_each(function()
    stub.remove_tree(dir)
  end)

  it("delivers awkward arguments unchanged and runs nothing they contain", function()
    for _i, text in ipairs(NASTY) do
      assert.are.equal(text, through_shell(dir, text))
    end
    assert.is_nil(io.open(dir .. "/PWNED", "rb"))
    assert.is_nil(io.open("PWNED", "rb"))
  end)

  it("delivers random byte strings unchanged", function()
    math.randomseed(1234)
    for _n = 1, 150 do
      local bytes = {}
      for i = 1, math.random(1, 24) do
        bytes[i] = string.char(math.random(1, 255))
      end
      local text = table.concat(bytes)
      assert.are.equal(text, through_shell(dir, text))
    end
  end)

  it("redirects into paths that need quoting", function()
    local out, err = dir .. "/o u't $x", dir .. "/e `r`"
    local line = assert(command_line({ "sh", "-c", "echo out; echo err >&2" }, out, err))
    os.execute(line)
    assert.are.equal("out\n", stub.read_file(out))
    assert.are.equal("err\n", stub.read_file(err))
  end)

  it("keeps several arguments apart", function()
    local out, err = dir .. "/o", dir .. "/e"
    os.execute(assert(command_line({ "printf", "<%s>", "a b", "", "c'd", "e\nf" }, out, err)))
    assert.are.equal("<a b><><c'd><e\nf>", stub.read_file(out))
  end)
end)
