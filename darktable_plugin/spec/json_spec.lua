-- autoretouch/json.lua: the small JSON reader/writer the plugin uses for the CLI's --json output and recipe files.

local json = require("autoretouch/json")
local load = require("helpers.load")

local decode, encode, NULL = json.decode, json.encode, json.NULL

describe("json.decode", function()
  it("reads what the CLI prints", function()
    local row = decode('{"photo": "/p/a b.png", "ok": true, "recipes": [{"version": 1, "steps": '
      .. '[{"slider": "exposure", "value": 0.30000000000000004}, {"slider": "tone_curve", "value": '
      .. '[0.0, 0.5, 1e0, 2.5E-1, -3]}], "style": null}], "strength": 1.0}')
    assert.are.equal("/p/a b.png", row.photo)
    assert.is_true(row.ok)
    local recipe = row.recipes[1]
    assert.are.equal(1, recipe.version)
    assert.are.equal(0.1 + 0.2, recipe.steps[1].value)
    assert.are.same({ 0, 0.5, 1, 0.25, -3 }, recipe.steps[2].value)
    assert.are.equal(NULL, recipe.style)
    assert.are.same({}, decode("[]"))
    assert.are.same({}, decode(" {\n} "))
    assert.is_false(decode("false"))
  end)

  it("decodes escapes and \\u sequences to UTF-8", function()
    assert.are.equal("a\"b\\c/d\be\ff\ng\rh\ti", decode('"a\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti"'))
    assert.are.equal("\195\169\226\152\131", decode('"\\u00e9\\u2603"'))
    assert.are.equal("\240\159\152\128", decode('"\\ud83d\\ude00"'))
    assert.are.equal("\0", decode('"\\u0000"'))
    assert.are.equal("caf\195\169", decode('"caf\195\169"'))
  end)

  it("decodes a lone surrogate (a file name that is not UTF-8, as the CLI writes it) to U+FFFD, not an error",
    function()
      -- json.dump(os.fsdecode(b"caf\xe9.jpg")) in the CLI's --json summary: the rest of the document is still read
      local summary = decode('{"notes": ["left out: caf\\udce9.jpg (empty file)"], "run_dir": "runs/x"}')
      assert.are.same({ "left out: caf\239\191\189.jpg (empty file)" }, summary.notes)
      assert.are.equal("runs/x", summary.run_dir)
      assert.are.equal("\239\191\189", decode('"\\ude00"')) -- a low surrogate alone
      assert.are.equal("\239\191\189x", decode('"\\ud83dx"')) -- a high one, not followed by an escape
      assert.are.equal("\239\191\189A", decode('"\\ud83d\\u0041"')) -- nor by a low surrogate: that is read on
      assert.are.equal("\239\191\189\240\159\152\128", decode('"\\ud83d\\ud83d\\ude00"')) -- then a pair
      assert.are.equal("\239\191\189", decode('"\\ud83d"')) -- at the end of the string
    end)

  it("rejects malformed documents with a position", function()
    local bad = { "", "{", "[1,]", "[1 2]", '{"a" 1}', '{"a":}', '{a: 1}', '"abc', '"\\x"', '"\\u12"', "01", "-",
      "1.5.2", "tru", "nul", "[1] x", '"a\nb"', "1e" }
    for _i, text in ipairs(bad) do
      local value, err = decode(text)
      assert.is_nil(value, text)
      assert.truthy(err:find("^invalid JSON"), text)
    end
    assert.is_nil((decode(nil)))
  end)
end)

describe("json.encode", function()
  it("writes what Python's json reads back exactly", function()
    assert.are.equal('{"a":[1,2.5,"x\\"y\\\\z\\n"],"b":true,"c":null}', encode({ b = true, a = { 1, 2.5, 'x"y\\z\n' },
      c = NULL }))
    assert.are.equal("0.30000000000000004", encode(0.1 + 0.2))
    assert.are.equal('"\\u0001\\u007f"', encode("\1\127"))
    assert.are.equal("[]", encode({}))
    assert.has_error(function() encode(0 / 0) end)
    assert.has_error(function() encode(math.huge) end)
    assert.has_error(function() encode(print) end)
  end)

  it("round-trips doubles bit for bit and nested tables", function()
    math.randomseed(99)
    for _n = 1, 500 do
      local x = (math.random() - 0.5) * 10 ^ math.random(-12, 12)
      assert.are.equal(x, decode(encode(x)))
    end
    local doc = { version = 1, steps = { { slider = "hsl", value = { { 1, -2.5, 3 }, { 0, 0, 100 } } } },
      style = "t\195\169st \"q\" \\ \n" }
    assert.are.same(doc, decode(encode(doc)))
  end)
end)

describe("autoretouch.lua", function()
  it("uses the module (its internals are the module's functions)", function()
    local internals = load.plugin().internals
    assert.are.equal(decode, internals.json_decode)
    assert.are.equal(encode, internals.json_encode)
    assert.are.equal(NULL, internals.NULL)
  end)
end)
